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
use crate::desired::backup::{self, BucketKey, PlatformKeys};
use crate::validate::ValidatedStore;

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
    let password = backup::repository_password(&keys.platform, &resolved.owner, &store.name);
    objects.secret = Some(backup::repository_secret(
        store,
        resolved,
        &password,
        &keys.bucket,
    ));
    // The repository restored from is the owner's too: its password is the owner's and the
    // source store's (another owner's repository is neither reachable nor readable).
    objects.restore_secret = resolved.restore.as_ref().map(|restore| {
        let password = backup::repository_password(&keys.platform, &resolved.owner, &restore.store);
        backup::restore_secret(store, resolved, restore, &password, &keys.bucket)
    });
    Ok(())
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
    let keys = PlatformKeys {
        platform,
        bucket: BucketKey {
            access_key: text(
                value(
                    ctx,
                    namespace,
                    &config.credentials_secret,
                    backup::keys::ACCESS_KEY,
                )
                .await?,
            ),
            secret_key: text(
                value(
                    ctx,
                    namespace,
                    &config.credentials_secret,
                    backup::keys::SECRET_KEY,
                )
                .await?,
            ),
        },
    };
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
    ctx.metrics.api_request("get");
    let missing = || BackupKeyError::Missing {
        namespace: namespace.to_string(),
        secret: secret.to_string(),
        key: key.to_string(),
    };
    let found = match Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .get(secret)
        .await
    {
        Ok(found) => found,
        Err(e) if status_code(&e) == Some(404) => return Err(missing()),
        Err(source) => {
            return Err(BackupKeyError::Read {
                namespace: namespace.to_string(),
                secret: secret.to_string(),
                source,
            });
        }
    };
    found
        .data
        .and_then(|mut d| d.remove(key))
        .map(|v| v.0)
        .filter(|v| !v.is_empty())
        .ok_or_else(missing)
}
