//! What a WooCommerce store puts into its backup, drill and restore pods (`desired/backup/`):
//! the MariaDB image (`mariadb-dump --single-transaction`, and a scratch `mariadbd` for drills),
//! the storefront's database variables, and `wp-content` on the files volume (the docroot).

use super::storefront::{WWW_DATA_UID, wordpress_env};
use crate::desired::backup::pods::{EngineParts, FilesLayout};
use crate::desired::backup::{WOOCOMMERCE_KEY, WOOCOMMERCE_SCRIPT};
use crate::validate::{ValidatedStore, Woocommerce};

/// The docroot as the storefront mounts the files volume.
const DOCROOT: &str = "/var/www/html";

/// The MariaDB image's `mysql` user.
const MARIADB_UID: i64 = 999;

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
            // The volume is the docroot: restic takes its wp-content.
            backup_mount: "files",
            backed_up: "files/wp-content",
            restore_mount: DOCROOT,
            restore_var: "DOCROOT",
        },
        uid: WWW_DATA_UID,
        drill_uid: MARIADB_UID,
    }
}
