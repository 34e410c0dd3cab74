//! WooCommerce (`engine: woocommerce`): MariaDB (`database.rs`), WordPress from the official
//! image (`storefront.rs`, on the store's files volume and behind its Service from `shop.rs`) and
//! the WP-CLI setup (`setup.rs`), as Medusa's objects are in `medusa/`.
//!
//! ```text
//!  database (MariaDB StatefulSet, own volume)  ◄──3306── storefront, setup Job
//!  storefront (WordPress Deployment, files volume) ◄──80── edge
//!  setup-<hash of its inputs> (WP-CLI Job, on the storefront's node: the files volume is RWO)
//!  cron (WP-CLI CronJob: due events, Action Scheduler; once set up)    ──3306──► database
//! ```

pub mod backup;
pub mod cron;
pub mod database;
pub mod setup;
pub mod storefront;

use crate::validate::{ValidatedStore, Woocommerce};

/// A WooCommerce store's application.
#[derive(Debug, Clone, PartialEq)]
pub struct WoocommerceObjects {
    /// MariaDB.
    pub database: database::DatabaseObjects,
    /// WordPress.
    pub storefront: storefront::StorefrontObjects,
    /// The WP-CLI setup.
    pub setup: setup::SetupObjects,
    /// WordPress's scheduled work, every few minutes (applied once set up).
    pub cron: k8s_openapi::api::batch::v1::CronJob,
}

/// Builds a WooCommerce store's application objects.
pub fn build_woocommerce(store: &ValidatedStore, woo: &Woocommerce) -> WoocommerceObjects {
    WoocommerceObjects {
        database: database::build_database(store, woo),
        storefront: storefront::build_storefront(store, woo),
        setup: setup::build_setup(store, woo),
        cron: cron::build_cron_job(store, woo),
    }
}
