//! WooCommerce (`engine: woocommerce`): MariaDB (`database.rs`), WordPress from the official
//! image (`storefront.rs`, on the store's files volume and behind its Service from `shop.rs`) and
//! the WP-CLI setup (`setup.rs`), as Medusa's objects are in `medusa/`.
//!
//! ```text
//!  database (MariaDB StatefulSet, own volume)  ◄──3306── storefront, setup Job
//!  storefront (WordPress Deployment, files volume) ◄──80── edge
//!  setup-<hash of its inputs> (WP-CLI Job, on the storefront's node: the files volume is RWO)
//! ```

pub mod backup;
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
}

/// Builds a WooCommerce store's application objects.
pub fn build_woocommerce(store: &ValidatedStore, woo: &Woocommerce) -> WoocommerceObjects {
    WoocommerceObjects {
        database: database::build_database(store, woo),
        storefront: storefront::build_storefront(store, woo),
        setup: setup::build_setup(store, woo),
    }
}
