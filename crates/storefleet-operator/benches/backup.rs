//! Backup, restore and drill times of a WooCommerce shop on the real stack: the shop as the
//! real-stack tier runs it (Debian's MariaDB, the released WordPress and WooCommerce, WP-CLI;
//! `STOREFLEET_WORDPRESS_FIXTURES`), Debian's restic, and Garage on loopback
//! (`STOREFLEET_GARAGE`), with the scripts and environment of the operator's backup, restore and
//! drill pods (`tests/real_stack/wordpress_backup.rs`). One round with the sample data (two
//! products, the setup's test order), one with 1,000 more orders
//! (`STOREFLEET_BENCH_BACKUP_ORDERS`, default 1000).
//!
//! `make bench-backup` (it finds the components as `make test` does), or
//! `cargo bench -p storefleet-operator --bench backup` with the variables set.

#![allow(dead_code, unused_imports)] // the real-stack modules' tests are not compiled here, their helpers are

#[path = "../tests/customer/mod.rs"]
mod customer;
#[path = "../tests/real_stack/wordpress.rs"]
mod wordpress;
#[path = "../tests/real_stack/wordpress_backup.rs"]
mod wordpress_backup;

fn main() {
    let orders: usize = std::env::var("STOREFLEET_BENCH_BACKUP_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    println!(
        "backup bench: WooCommerce on Debian's MariaDB, restic ({}), Garage on loopback; {} cores",
        restic_version(),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for extra in [0, orders] {
        let Some(m) = wordpress_backup::measure(extra) else {
            return;
        };
        println!(
            "{:>6} orders, dump {:>8} bytes: backup {:>5.1} s, restore {:>5.1} s, drill {:>5.1} s (its report: {} s)",
            m.orders,
            m.dump_bytes,
            m.backup.as_secs_f64(),
            m.restore.as_secs_f64(),
            m.drill.as_secs_f64(),
            m.drill_reported.map_or("-".into(), |s| s.to_string()),
        );
    }
}

fn restic_version() -> String {
    std::process::Command::new("restic")
        .arg("version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "not installed".into())
}
