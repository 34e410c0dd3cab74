//! The WP-CLI setup script against a stateful fake `wp` (`tests/fixtures/fake-wp`, which prints
//! what WP-CLI prints), only for what the real stack cannot produce here: each step failing
//! with a clear message, a pinned WooCommerce download (no internet), missing input, and the
//! zero-sample-products path. Setting a shop up, the idempotent second run and a customer's
//! order run on real WordPress + WooCommerce + WP-CLI + MariaDB in `wordpress.rs`.

use std::path::PathBuf;
use std::process::{Command, Output};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/woocommerce-setup.sh");
const FAKE_WP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-wp");

struct Shop {
    dir: PathBuf,
}

impl Shop {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("storefleet-setup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["bin", "docroot", "state"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        std::fs::copy(FAKE_WP, dir.join("bin/wp")).expect("install fake wp");
        std::fs::write(dir.join("docroot/wp-config.php"), "<?php\n").expect("wp-config");
        Self { dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn run(&self, extra: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg(SCRIPT)
            .env_clear()
            .env("PATH", path)
            .env("DOCROOT", self.dir.join("docroot"))
            .env("FAKE_WP_STATE", self.state())
            .env("STORE_URL", "http://alice.shop.local")
            .env("STORE_TITLE", "Alice's Shop")
            .env("ADMIN_USER", "storeadmin")
            .env("ADMIN_PASSWORD", "not-a-real-password")
            .env("ADMIN_EMAIL", "alice@example.com")
            .env("THEME", "storefront")
            .env("CURRENCY", "EUR")
            .env("SAMPLE_PRODUCTS", "3")
            .env("PAYMENT_METHODS", "cod bacs")
            .env("WORDPRESS_DB_HOST", "database:3306");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().expect("sh runs")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.state().join(rel))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn count(&self, prefix: &str) -> usize {
        std::fs::read_dir(self.state())
            .expect("state")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(prefix))
            })
            .count()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn existing_products_are_kept_and_zero_samples_still_verifies_an_order() {
    let shop = Shop::new("zero");
    let out = shop.run(&[("SAMPLE_PRODUCTS", "0"), ("PAYMENT_METHODS", "cod")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        shop.count("product_"),
        1,
        "one private product for the test order"
    );
    assert_eq!(shop.read("product_100"), "private");
}

#[test]
fn failures_exit_non_zero_with_the_step() {
    let cases = [
        ("plugin activate", "FAILED: could not activate WooCommerce"),
        ("plugin install", "FAILED: could not install WooCommerce"),
        (
            "theme install",
            "FAILED: could not install theme storefront",
        ),
        (
            "wc payment_gateway update cod",
            "FAILED: could not enable payment method cod",
        ),
        (
            "wc shop_order create",
            "FAILED: could not place the test order",
        ),
        ("core install", "FAILED: wp core install failed"),
    ];
    for (inject, message) in cases {
        let shop = Shop::new("fail");
        let out = shop.run(&[("FAKE_WP_FAIL", inject)]);
        assert!(!out.status.success(), "{inject} must fail the setup");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{inject}: {}",
            text(&out)
        );
    }
}

#[test]
fn pinned_woocommerce_version_is_installed() {
    let shop = Shop::new("pinned");
    assert!(
        shop.run(&[("WOOCOMMERCE_VERSION", "9.9.5")])
            .status
            .success()
    );
    assert!(
        shop.calls()
            .iter()
            .any(|c| c == "plugin install woocommerce --version=9.9.5"),
        "{:#?}",
        shop.calls()
    );
    // Every run brings the database to the code's version, WordPress's then WooCommerce's.
    assert_eq!(shop.read("db_updates"), "core update-db\nwc update");
    // A new pinned version (an upgrade): the plugin is replaced, and its updates run again.
    let out = shop.run(&[("WOOCOMMERCE_VERSION", "10.0.2")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("moving WooCommerce from 9.9.5 to 10.0.2"),
        "{}",
        text(&out)
    );
    assert!(
        shop.calls()
            .iter()
            .any(|c| c == "plugin install woocommerce --version=10.0.2 --force"),
        "{:#?}",
        shop.calls()
    );
    let updates = shop.read("db_updates");
    assert_eq!(
        updates.lines().filter(|l| *l == "wc update").count(),
        2,
        "{updates}"
    );
}

#[test]
fn missing_input_is_named() {
    let shop = Shop::new("noenv");
    let out = shop.run(&[("CURRENCY", "")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("environment variable CURRENCY is not set"),
        "{}",
        text(&out)
    );
}
