//! Backups with restic, what both engines share: the store's repository Secret (its address, its
//! password derived from the platform key, the bucket's key), the scripts, and the restic
//! container of a backup or restore pod; the pods of either engine (`pods.rs`), to which the
//! engines add what dumps and loads their data (`woocommerce/backup.rs`, `medusa/backup.rs`).
//!
//! A store's repository password is HMAC-SHA256 of its owner and name under the platform key:
//! nothing per store has to be kept, a store whose namespace is gone can still be restored, and
//! a new store of the same owner and name (the "roll my shop back" path) finds its repository
//! again. Another owner's store of the same name has another folder (`<prefix>/<owner>/<store>`)
//! and another password.

pub mod drill;
pub mod pods;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, Secret, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use storefleet_types::names::{Component, child};

use crate::desired::{child_meta, container_security, env, env_from_secret, resources};
use crate::validate::{ResolvedBackup, ResolvedRestore, ValidatedStore};

/// The restic half of a backup or restore (`backup` | `restore`).
pub const RESTIC_SCRIPT: &str = include_str!("../../../scripts/restic.sh");
/// Its key in the scripts ConfigMap.
pub const RESTIC_KEY: &str = "restic.sh";
/// The database half of a WooCommerce backup or restore (`dump` | `import`).
pub const WOOCOMMERCE_SCRIPT: &str = include_str!("../../../scripts/woocommerce-backup.sh");
/// Its key in the scripts ConfigMap.
pub const WOOCOMMERCE_KEY: &str = "woocommerce-backup.sh";
/// A drill's check of a restored WooCommerce shop (PHP, on the WP-CLI image).
pub const WOOCOMMERCE_CHECK: &str = include_str!("../../../scripts/woocommerce-drill-check.php");
/// Its key in the scripts ConfigMap.
pub const WOOCOMMERCE_CHECK_KEY: &str = "woocommerce-drill-check.php";
/// A drill's check of a restored Medusa shop (Node, on the Medusa image).
pub const MEDUSA_CHECK: &str = include_str!("../../../scripts/medusa-drill-check.js");
/// Its key in the scripts ConfigMap.
pub const MEDUSA_CHECK_KEY: &str = "medusa-drill-check.js";
/// The database half of a Medusa backup or restore (`dump` | `import` | `drill`).
pub const MEDUSA_SCRIPT: &str = include_str!("../../../scripts/medusa-backup.sh");
/// Its key in the scripts ConfigMap.
pub const MEDUSA_KEY: &str = "medusa-backup.sh";
/// Where the scripts are mounted.
pub const SCRIPT_DIR: &str = "/opt/storefleet";
/// Where a backup pod gathers what restic backs up (`dump/`, `files/`).
pub const BACKUP_ROOT: &str = "/backup";
/// Where a restore pod puts what restic restored.
pub const RESTORED: &str = "/restore";

/// Keys of the repository Secret (the variables restic and its S3 client read).
pub mod keys {
    /// The repository's address.
    pub const REPOSITORY: &str = "RESTIC_REPOSITORY";
    /// The repository's password.
    pub const PASSWORD: &str = "RESTIC_PASSWORD";
    /// The bucket's key id.
    pub const ACCESS_KEY: &str = "AWS_ACCESS_KEY_ID";
    /// The bucket's key secret.
    pub const SECRET_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// The bucket's region.
    pub const REGION: &str = "AWS_DEFAULT_REGION";
    /// A store's own bucket, in its own key's Secret (`backup.storeCredentials`).
    pub const BUCKET: &str = "BUCKET";
}

/// A store's backup objects.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupObjects {
    /// The scripts.
    pub scripts: ConfigMap,
    /// The backup and restore pods' way out.
    pub policy: NetworkPolicy,
    /// The scheduled backups (suspended when the store turns them off). Applied only while the
    /// store is set up on its current data: a shop whose data is gone is never backed up over
    /// its good snapshots.
    pub cron_job: CronJob,
    /// The repository Secret: added by the controller, which holds the platform key (None in a
    /// render, which has no cluster).
    pub secret: Option<Secret>,
    /// The Job that restores `spec.restoreFrom`'s backup before setup (a new store's, once).
    pub restore_job: Option<k8s_openapi::api::batch::v1::Job>,
    /// The Secret of the repository restored from (added by the controller, as `secret`).
    pub restore_secret: Option<Secret>,
}

/// The repository password of the store `name` of `owner` (64 hex digits).
pub fn repository_password(platform_key: &[u8], owner: &str, name: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, platform_key);
    // Each part with its length: no owner and name can be shifted into another pair.
    let message = format!(
        "storefleet-backup/v1:{}:{owner}:{}:{name}",
        owner.len(),
        name.len()
    );
    ring::hmac::sign(&key, message.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bucket's key, as the platform's Secret holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketKey {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: String,
}

impl std::fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketKey")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// The platform's keys: the key repository passwords are derived from, and the bucket's key
/// (None where each store has its own: `backup.storeCredentials`).
#[derive(Clone, PartialEq, Eq)]
pub struct PlatformKeys {
    /// The platform key.
    pub platform: Vec<u8>,
    /// The bucket's key.
    pub bucket: Option<BucketKey>,
}

/// The key a store's Jobs reach its repository with: the bucket's, or the store's own
/// (`backup.storeCredentials`) with, for object stores whose keys are granted whole buckets, the
/// store's own bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreKey {
    /// The key.
    pub key: BucketKey,
    /// The store's own bucket, if it has one.
    pub bucket: Option<String>,
}

impl std::fmt::Debug for PlatformKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKeys")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// The Secret `backup-repository` of a store: what restic needs to reach its repository.
pub fn repository_secret(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    password: &str,
    bucket: &BucketKey,
) -> Secret {
    secret(
        store,
        child::BACKUP_SECRET,
        &backup.repository,
        backup,
        password,
        bucket,
    )
}

/// The Secret `restore-repository` of a new store: the repository it is restored from.
pub fn restore_secret(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    restore: &ResolvedRestore,
    password: &str,
    bucket: &BucketKey,
) -> Secret {
    secret(
        store,
        child::RESTORE_SECRET,
        &restore.repository,
        backup,
        password,
        bucket,
    )
}

fn secret(
    store: &ValidatedStore,
    name: &str,
    repository: &str,
    backup: &ResolvedBackup,
    password: &str,
    bucket: &BucketKey,
) -> Secret {
    Secret {
        metadata: child_meta(store, name, Component::Backup),
        type_: Some("Opaque".into()),
        // `data`, not `stringData`: server-side apply then compares like with like, and an
        // unchanged Secret is no write.
        data: Some(BTreeMap::from([
            (
                keys::REPOSITORY.into(),
                ByteString(repository.as_bytes().to_vec()),
            ),
            (
                keys::PASSWORD.into(),
                ByteString(password.as_bytes().to_vec()),
            ),
            (
                keys::ACCESS_KEY.into(),
                ByteString(bucket.access_key.clone().into_bytes()),
            ),
            (
                keys::SECRET_KEY.into(),
                ByteString(bucket.secret_key.clone().into_bytes()),
            ),
            (
                keys::REGION.into(),
                ByteString(backup.region.clone().into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// Points a repository Secret at `repository` (a store's own bucket).
pub fn set_repository(secret: &mut Secret, repository: &str) {
    secret.data.get_or_insert_default().insert(
        keys::REPOSITORY.into(),
        ByteString(repository.as_bytes().to_vec()),
    );
}

/// The ConfigMap with the scripts: restic's and the store's engine's.
pub fn scripts(store: &ValidatedStore, parts: &pods::EngineParts) -> ConfigMap {
    ConfigMap {
        metadata: child_meta(store, child::BACKUP_SCRIPTS, Component::Backup),
        data: Some(BTreeMap::from([
            (RESTIC_KEY.to_string(), RESTIC_SCRIPT.to_string()),
            (parts.script.to_string(), parts.script_text.to_string()),
        ])),
        ..ConfigMap::default()
    }
}

/// The scripts' volume.
pub fn scripts_volume() -> Volume {
    Volume {
        name: "scripts".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: child::BACKUP_SCRIPTS.into(),
            default_mode: Some(0o555),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A mount of `volume` at `path`, read-only or not.
pub fn mount_at(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// The repository's variables, from its Secret, and the store's name (restic's host; the
/// source store's when restoring another store's backups).
fn repository_env(secret: &str, host: &str) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = [
        keys::REPOSITORY,
        keys::PASSWORD,
        keys::ACCESS_KEY,
        keys::SECRET_KEY,
        keys::REGION,
    ]
    .into_iter()
    .map(|key| env_from_secret(key, secret, key))
    .collect();
    out.push(env("STORE", host));
    out
}

/// What a restic container does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResticRun {
    /// Back up `dump/` and `files/` under [`BACKUP_ROOT`], tagged with why.
    Backup {
        /// `scheduled`, `manual`, ...
        reason: String,
    },
    /// Restore the store's own newest snapshot into [`RESTORED`] (a drill).
    Verify,
    /// Restore a snapshot (an id or `latest`) of `from`'s repository into [`RESTORED`].
    Restore {
        /// The store whose backups these are.
        from: String,
        /// The snapshot.
        snapshot: String,
    },
}

/// The restic container of a backup or restore pod, with `mounts` besides the scripts and
/// `/tmp`.
pub fn restic_container(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    run: &ResticRun,
    mounts: Vec<VolumeMount>,
) -> Container {
    let mut env_vars = match run {
        ResticRun::Backup { .. } => repository_env(child::BACKUP_SECRET, &store.name),
        ResticRun::Restore { from, .. } => repository_env(child::RESTORE_SECRET, from),
        ResticRun::Verify => repository_env(child::BACKUP_SECRET, &store.name),
    };
    let verb = match run {
        ResticRun::Backup { reason } => {
            let r = &backup.retention;
            env_vars.extend([
                env("BACKUP_ROOT", BACKUP_ROOT),
                env("REASON", reason.clone()),
                env("KEEP_DAILY", r.daily.to_string()),
                env("KEEP_WEEKLY", r.weekly.to_string()),
                env("KEEP_MONTHLY", r.monthly.to_string()),
            ]);
            "backup"
        }
        ResticRun::Restore { snapshot, .. } => {
            env_vars.extend([env("SNAPSHOT", snapshot.clone()), env("RESTORED", RESTORED)]);
            "restore"
        }
        ResticRun::Verify => {
            env_vars.extend([env("SNAPSHOT", "latest"), env("RESTORED", RESTORED)]);
            "restore"
        }
    };
    let mut volume_mounts = vec![
        mount_at("scripts", SCRIPT_DIR, true),
        mount_at("tmp", "/tmp", false),
    ];
    volume_mounts.extend(mounts);
    Container {
        name: "restic".into(),
        image: Some(backup.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![
            "sh".into(),
            format!("{SCRIPT_DIR}/{RESTIC_KEY}"),
            verb.into(),
        ]),
        env: Some(env_vars),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_the_owners_and_the_stores_under_the_platform_key() {
        let key = b"a platform key of at least thirty-two bytes";
        let alice = repository_password(key, "alice", "shop");
        assert_eq!(alice.len(), 64);
        assert!(alice.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(alice, repository_password(key, "alice", "shop"), "stable");
        assert_ne!(alice, repository_password(key, "bob", "shop"));
        assert_ne!(alice, repository_password(key, "alice", "shop2"));
        assert_ne!(
            repository_password(key, "a", "lice\0shop"),
            repository_password(key, "a\0lice", "shop"),
            "the parts cannot be shifted into each other"
        );
        assert_ne!(
            alice,
            repository_password(b"another platform key", "alice", "shop")
        );
    }

    #[test]
    fn the_bucket_key_is_never_printed() {
        let key = BucketKey {
            access_key: "GK123".into(),
            secret_key: "very-secret".into(),
        };
        assert!(!format!("{key:?}").contains("very-secret"));
    }
}
