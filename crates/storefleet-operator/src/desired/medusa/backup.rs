//! What a Medusa store puts into its backup, drill and restore pods (`desired/backup/`): its
//! PostgreSQL image (`pg_dump --format=custom`, `pg_restore`, and a scratch server for drills),
//! the database as libpq's variables from the store's Secret, the store's URL (uploaded files'
//! addresses move with a restored shop), and the uploads on the files volume.

use k8s_openapi::api::core::v1::EnvVar;
use storefleet_types::names::{child, ports, secret_keys as keys};

use super::MEDUSA_UID;
use crate::desired::backup::pods::{CheckParts, EngineParts, FilesLayout};
use crate::desired::backup::{MEDUSA_CHECK, MEDUSA_CHECK_KEY, MEDUSA_KEY, MEDUSA_SCRIPT};
use crate::desired::{env, env_from_secret};
use crate::validate::{Medusa, ValidatedStore};

/// A Medusa store's part of its backup pods.
pub fn parts(store: &ValidatedStore, medusa: &Medusa) -> EngineParts {
    EngineParts {
        script: MEDUSA_KEY,
        script_text: MEDUSA_SCRIPT,
        image: medusa.images.postgres.clone(),
        database_env: database_env(store),
        files: FilesLayout {
            // The volume is the uploads folder itself.
            backup_mount: "files/uploads",
            backed_up: "files/uploads",
            restore_mount: "/uploads",
            restore_var: "UPLOADS",
        },
        uid: MEDUSA_UID,
        // Node on the Medusa image, in its app folder (its modules: pg, scrypt-kdf), with the
        // database as the server reaches it.
        check: CheckParts {
            image: medusa.images.medusa.clone(),
            key: MEDUSA_CHECK_KEY,
            text: MEDUSA_CHECK,
            command: vec!["node".into()],
            working_dir: Some("/app"),
            uid: MEDUSA_UID,
            env: super::medusa_env(store, "server")
                .into_iter()
                .filter(|v| v.name.starts_with("DB_") || v.name == "DATABASE_URL")
                .collect(),
        },
    }
}

/// libpq's variables for the store's database (the password from the Secret), and its URL.
fn database_env(store: &ValidatedStore) -> Vec<EnvVar> {
    let db = child::DATABASE_SECRET;
    vec![
        env("PGHOST", child::DATABASE),
        env("PGPORT", ports::POSTGRES.to_string()),
        env_from_secret("PGUSER", db, keys::DB_USER),
        env_from_secret("PGPASSWORD", db, keys::DB_PASSWORD),
        env_from_secret("PGDATABASE", db, keys::DB_NAME),
        env("STORE_URL", store.url()),
    ]
}
