//! What a WooCommerce store puts into its backup, drill and restore pods (`desired/backup/`):
//! the MariaDB image (`mariadb-dump --single-transaction`, its client for loads), the
//! storefront's database variables, the files volume's `wp-content` folder (all the volume
//! holds of the shop: core comes from the image), and a
//! drill's check in PHP on the WP-CLI image.

use super::storefront::{WWW_DATA_UID, wordpress_env};
use crate::desired::backup::pods::{CheckParts, EngineParts, FilesLayout};
use crate::desired::backup::{
    WOOCOMMERCE_CHECK, WOOCOMMERCE_CHECK_KEY, WOOCOMMERCE_KEY, WOOCOMMERCE_SCRIPT,
};
use crate::validate::{ValidatedStore, Woocommerce};

/// Where the restore pod mounts the whole files volume (its `wp-content` folder is what the
/// storefront mounts in its docroot).
const DOCROOT: &str = "/var/www/html";

/// A WooCommerce store's part of its backup pods.
pub fn parts(store: &ValidatedStore, woo: &Woocommerce) -> EngineParts {
    EngineParts {
        script: WOOCOMMERCE_KEY,
        script_text: WOOCOMMERCE_SCRIPT,
        image: woo.images.mariadb.clone(),
        database_env: wordpress_env(store)
            .into_iter()
            .filter(|v| v.name.starts_with("WORDPRESS_DB_"))
            .collect(),
        files: FilesLayout {
            // restic takes the volume's wp-content folder (an old volume's core beside it
            // is not the shop's: it comes from the image).
            backup_mount: "files",
            backed_up: "files/wp-content",
            restore_mount: DOCROOT,
            restore_var: "DOCROOT",
        },
        uid: WWW_DATA_UID,
        // PHP from the WP-CLI image, as www-data.
        check: CheckParts {
            image: woo.images.wp_cli.clone(),
            key: WOOCOMMERCE_CHECK_KEY,
            text: WOOCOMMERCE_CHECK,
            command: vec!["php".into()],
            working_dir: None,
            uid: WWW_DATA_UID,
            env: Vec::new(),
        },
    }
}
