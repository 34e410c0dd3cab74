//! The real-stack tier: the shop applications themselves, run as processes from what the
//! operator builds: WordPress + WooCommerce + MariaDB (`wordpress`,
//! `STOREFLEET_WORDPRESS_FIXTURES`) and Medusa + PostgreSQL + Redis (`medusa`,
//! `STOREFLEET_MEDUSA_MODULES`), with a customer in curl or headless Chromium. Without their
//! components the tests print one `skipped:` line.

#[path = "../customer/mod.rs"]
mod customer;

mod medusa;
mod store_keys;
mod wordpress;
mod wordpress_backup;
mod wordpress_rollback;
mod wordpress_upgrade;
