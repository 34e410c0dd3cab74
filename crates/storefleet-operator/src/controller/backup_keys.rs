//! The platform's backup keys: the key every repository password is derived from and the
//! bucket's key, read from the two Secrets the operator configuration names (in the operator's
//! namespace), kept for a minute, and turned into each store's repository Secret. No value ever
//! reaches a log, an event, a status or an error message.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::config::BackupConfig;
use crate::controller::context::Context;
use crate::controller::requests::status_code;
use crate::desired::StoreObjects;
use crate::desired::backup::{self, BucketKey, PlatformKeys, StoreKey};
use crate::validate::ValidatedStore;
use storefleet_types::names;

/// How long the keys are used before they are read again (a rotated bucket key is picked up).
pub const KEYS_TTL: Duration = Duration::from_secs(60);
/// The shortest platform key accepted.
pub const MIN_KEY_BYTES: usize = 32;

/// Why the backup keys cannot be used: an admin's to fix; the store's reconcile waits.
#[derive(Debug, thiserror::Error)]
pub enum BackupKeyError {
    /// A Secret or one of its keys is missing.
    #[error(
        "backups: Secret {namespace}/{secret} has no key {key}: create it as the operator configuration's backup section says"
    )]
    Missing {
        /// Its namespace.
        namespace: String,
        /// The Secret.
        secret: String,
        /// The key.
        key: String,
    },
    /// The platform key is too short.
    #[error(
        "backups: the platform key in {namespace}/{secret} has fewer than {MIN_KEY_BYTES} bytes"
    )]
    TooShort {
        /// Its namespace.
        namespace: String,
        /// The Secret.
        secret: String,
    },
    /// A store's own key is annotated for another owner.
    #[error(
        "backups: Secret {namespace}/{secret} is the key of another owner's store (annotation storefleet.io/owner): make the store's own"
    )]
    WrongOwner {
        /// Its namespace.
        namespace: String,
        /// The Secret.
        secret: String,
    },
    /// Reading a Secret failed.
    #[error("backups: cannot read Secret {namespace}/{secret}")]
    Read {
        /// Its namespace.
        namespace: String,
        /// The Secret.
        secret: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl BackupKeyError {
    /// The apiserver's error, if any.
    pub fn kube(&self) -> Option<&kube::Error> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Gives the store's backup objects their repository Secret (when it has backups).
pub async fn attach(
    ctx: &Context,
    store: &ValidatedStore,
    objects: &mut StoreObjects,
) -> Result<(), BackupKeyError> {
    let (Some(objects), Some(resolved), Some(config)) = (
        objects.backup.as_mut(),
        store.backup.as_ref(),
        ctx.config.backup.as_ref(),
    ) else {
        return Ok(());
    };
    let keys = keys(ctx, config).await?;
    let owner = &resolved.owner;
    let password = backup::repository_password(&keys.platform, owner, &store.name);
    let own = store_key(ctx, config, &keys, &store.name, owner).await?;
    let mut secret = backup::repository_secret(store, resolved, &password, &own.key);
    if let Some(bucket) = &own.bucket {
        backup::set_repository(
            &mut secret,
            &config.repository_in(bucket, owner, &store.name),
        );
    }
    objects.secret = Some(secret);
    // The repository restored from is the owner's too: its password is the owner's and the
    // source store's (another owner's repository is neither reachable nor readable), its key
    // the source store's (with `storeCredentials`).
    objects.restore_secret = match resolved.restore.as_ref() {
        None => None,
        Some(restore) => {
            let password = backup::repository_password(&keys.platform, owner, &restore.store);
            let from = store_key(ctx, config, &keys, &restore.store, owner).await?;
            let mut secret = backup::restore_secret(store, resolved, restore, &password, &from.key);
            if let Some(bucket) = &from.bucket {
                let repository = config.repository_in(bucket, owner, &restore.store);
                backup::set_repository(&mut secret, &repository);
            }
            Some(secret)
        }
    };
    Ok(())
}

/// The name of the store `store`'s own key Secret (`backup.storeCredentials`).
pub fn store_key_secret(config: &BackupConfig, store: &str) -> String {
    format!("{}-{store}", config.credentials_secret)
}

/// The key the store `store` of `owner` reaches its repository with: the bucket's, or with
/// `storeCredentials` its own Secret's (kept for [`KEYS_TTL`]), which must be annotated for
/// `owner`.
async fn store_key(
    ctx: &Context,
    config: &BackupConfig,
    keys: &PlatformKeys,
    store: &str,
    owner: &str,
) -> Result<StoreKey, BackupKeyError> {
    if let (false, Some(bucket)) = (config.store_credentials, &keys.bucket) {
        return Ok(StoreKey {
            key: bucket.clone(),
            bucket: None,
        });
    }
    let namespace = &config.secrets_namespace;
    let name = store_key_secret(config, store);
    let cache_key = format!("{owner}\n{store}");
    if let Some(key) = ctx.store_keys.get(&cache_key, KEYS_TTL) {
        return Ok(key);
    }
    let secret = read(ctx, namespace, &name).await?;
    let annotated = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::STORE_KEY_OWNER_ANNOTATION));
    if annotated.map(String::as_str) != Some(owner) {
        return Err(BackupKeyError::WrongOwner {
            namespace: namespace.clone(),
            secret: name,
        });
    }
    let text = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let missing = |key: &str| BackupKeyError::Missing {
        namespace: namespace.clone(),
        secret: name.clone(),
        key: key.to_string(),
    };
    let key = StoreKey {
        key: BucketKey {
            access_key: text(backup::keys::ACCESS_KEY)
                .ok_or_else(|| missing(backup::keys::ACCESS_KEY))?,
            secret_key: text(backup::keys::SECRET_KEY)
                .ok_or_else(|| missing(backup::keys::SECRET_KEY))?,
        },
        bucket: text(backup::keys::BUCKET),
    };
    ctx.store_keys.put(&cache_key, key.clone(), KEYS_TTL);
    Ok(key)
}

async fn keys(ctx: &Context, config: &BackupConfig) -> Result<PlatformKeys, BackupKeyError> {
    if let Some(keys) = ctx.backup_keys.get(KEYS_TTL) {
        return Ok(keys);
    }
    let namespace = &config.secrets_namespace;
    let platform = value(ctx, namespace, &config.key_secret, "key").await?;
    if platform.len() < MIN_KEY_BYTES {
        return Err(BackupKeyError::TooShort {
            namespace: namespace.clone(),
            secret: config.key_secret.clone(),
        });
    }
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).trim().to_string();
    let bucket = if config.store_credentials {
        None
    } else {
        let secret = &config.credentials_secret;
        Some(BucketKey {
            access_key: text(value(ctx, namespace, secret, backup::keys::ACCESS_KEY).await?),
            secret_key: text(value(ctx, namespace, secret, backup::keys::SECRET_KEY).await?),
        })
    };
    let keys = PlatformKeys { platform, bucket };
    ctx.backup_keys.put(keys.clone());
    Ok(keys)
}

/// One key of one Secret.
async fn value(
    ctx: &Context,
    namespace: &str,
    secret: &str,
    key: &str,
) -> Result<Vec<u8>, BackupKeyError> {
    let missing = || BackupKeyError::Missing {
        namespace: namespace.to_string(),
        secret: secret.to_string(),
        key: key.to_string(),
    };
    read(ctx, namespace, secret)
        .await
        .map_err(|e| match e {
            BackupKeyError::Missing { .. } => missing(),
            other => other,
        })?
        .data
        .and_then(|mut d| d.remove(key))
        .map(|v| v.0)
        .filter(|v| !v.is_empty())
        .ok_or_else(missing)
}

/// The Secret `secret` of `namespace`; absent is [`BackupKeyError::Missing`] (of its first key).
async fn read(ctx: &Context, namespace: &str, secret: &str) -> Result<Secret, BackupKeyError> {
    ctx.metrics.api_request("get");
    match Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .get(secret)
        .await
    {
        Ok(found) => Ok(found),
        Err(e) if status_code(&e) == Some(404) => Err(BackupKeyError::Missing {
            namespace: namespace.to_string(),
            secret: secret.to_string(),
            key: backup::keys::ACCESS_KEY.to_string(),
        }),
        Err(source) => Err(BackupKeyError::Read {
            namespace: namespace.to_string(),
            secret: secret.to_string(),
            source,
        }),
    }
}
