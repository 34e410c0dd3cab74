//! What the API accepts and returns, and the checks it makes before calling Kubernetes (the
//! same rules as the CRD).

use serde::{Deserialize, Serialize};
use storefleet_types::names::{self, store_name};
use storefleet_types::{Engine, Phase, Plan, Store, StoreSpec};

use crate::backend::Credentials;
use crate::error::ApiError;

/// `POST /api/v1/stores`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateStore {
    /// Store name (DNS label, at most 40 characters).
    pub name: String,
    /// `woocommerce` (default) or `medusa`.
    #[serde(default)]
    pub engine: Option<Engine>,
    /// `small` (default), `medium`, `large`.
    #[serde(default)]
    pub plan: Option<Plan>,
    /// Shop title.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Custom host name.
    #[serde(default)]
    pub domain: Option<String>,
    /// Start from a backup of one of the caller's stores (it may have been deleted since): a
    /// clone for staging under another name, or the shop rolled back under its own.
    #[serde(default)]
    pub restore_from: Option<RestoreFrom>,
}

/// `restoreFrom` of `POST /api/v1/stores`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreFrom {
    /// The caller's store whose backups to restore.
    pub store: String,
    /// A snapshot id, or `latest` (the default).
    #[serde(default)]
    pub snapshot: Option<String>,
}

impl CreateStore {
    /// Checks the request and builds the Store, owned by `owner`.
    pub fn into_store(self, owner: &str, default_tls: bool) -> Result<Store, ApiError> {
        store_name::check(&self.name).map_err(|m| ApiError::invalid("name", m))?;
        names::owner::check(owner).map_err(|m| ApiError::invalid("owner", m))?;
        if let Some(d) = &self.display_name
            && (d.is_empty() || d.chars().count() > 100)
        {
            return Err(ApiError::invalid(
                "displayName",
                "displayName must be 1 to 100 characters",
            ));
        }
        if let Some(d) = &self.domain
            && !names::is_hostname(d)
        {
            return Err(ApiError::invalid(
                "domain",
                format!("{d:?} is not a lower-case host name"),
            ));
        }
        // The owner is the caller: a restore names the caller's own repository of that store,
        // never another tenant's, whatever the name.
        let restore_from = match self.restore_from {
            Some(from) => Some(storefleet_types::RestoreFromSpec {
                store: from.store,
                snapshot: from.snapshot.unwrap_or_else(|| "latest".into()),
            }),
            None => None,
        };
        if let Some(from) = &restore_from {
            store_name::check(&from.store)
                .map_err(|m| ApiError::invalid("restoreFrom.store", m))?;
            let snapshot = &from.snapshot;
            let id = (8..=64).contains(&snapshot.len())
                && snapshot.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            if snapshot != "latest" && !id {
                return Err(ApiError::invalid(
                    "restoreFrom.snapshot",
                    format!(
                        "{snapshot:?} is neither latest nor a snapshot id (8 to 64 hex digits)"
                    ),
                ));
            }
        }
        let spec = StoreSpec {
            engine: self.engine.unwrap_or(Engine::Woocommerce),
            owner: owner.to_string(),
            plan: self.plan.unwrap_or_default(),
            display_name: self.display_name,
            domain: self.domain,
            ingress: None,
            gateway: None,
            tls: default_tls.then(storefleet_types::TlsSpec::default),
            storage: None,
            versions: None,
            setup: None,
            backup: None,
            restore_from,
            deletion_policy: Default::default(),
            hibernate: false,
        };
        Ok(Store::new(&self.name, spec))
    }
}

/// A condition as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    /// Type.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False, Unknown.
    pub status: String,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// Last transition.
    pub last_transition_time: String,
}

/// A store as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreView {
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Engine.
    pub engine: Engine,
    /// Plan.
    pub plan: Plan,
    /// Shop title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Phase (Pending until the operator has seen it).
    pub phase: Phase,
    /// Conditions.
    pub conditions: Vec<ConditionView>,
    /// Shop URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Admin URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    /// Status message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the store is being deleted.
    pub deleting: bool,
    /// Whether the store is asked to hibernate (`spec.hibernate`; the phase says whether it
    /// sleeps yet).
    pub hibernate: bool,
    /// Creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Provisioning start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_started_at: Option<String>,
    /// First Ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<String>,
    /// Admin login: only in the single-store response, only when Ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// The newest backup and the newest restore a drill proved (stores with backups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<storefleet_types::BackupStatus>,
    /// What the shop runs, as its setup read it from the shop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<storefleet_types::RunningVersions>,
}

impl StoreView {
    /// The view of a Store (no credentials).
    pub fn of(store: &Store) -> Self {
        let status = store.status.clone().unwrap_or_default();
        Self {
            name: store.metadata.name.clone().unwrap_or_default(),
            owner: store.spec.owner.clone(),
            engine: store.spec.engine,
            plan: store.spec.plan,
            display_name: store.spec.display_name.clone(),
            phase: if store.metadata.deletion_timestamp.is_some() {
                Phase::Deleting
            } else {
                status.phase.unwrap_or(Phase::Pending)
            },
            conditions: status
                .conditions
                .iter()
                .map(|c| ConditionView {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_transition_time: c.last_transition_time.0.to_string(),
                })
                .collect(),
            url: status.url,
            admin_url: status.admin_url,
            message: status.message,
            deleting: store.metadata.deletion_timestamp.is_some(),
            hibernate: store.spec.hibernate,
            created_at: store
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string()),
            provisioning_started_at: status.provisioning_started_at.map(|t| t.0.to_string()),
            ready_at: status.ready_at.map(|t| t.0.to_string()),
            credentials: None,
            backup: status.backup,
            versions: status.versions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> CreateStore {
        CreateStore {
            name: name.into(),
            engine: None,
            plan: None,
            display_name: None,
            domain: None,
            restore_from: None,
        }
    }

    #[test]
    fn requests_are_checked_like_the_crd() {
        let store = req("shop-1").into_store("alice", false).expect("valid");
        assert_eq!(store.spec.owner, "alice");
        assert_eq!(store.spec.engine, Engine::Woocommerce);
        assert_eq!(store.spec.plan, Plan::Small);
        for (r, field) in [
            (req("Bad"), "name"),
            (req(&"a".repeat(41)), "name"),
            (
                CreateStore {
                    domain: Some("Not_Host".into()),
                    ..req("a")
                },
                "domain",
            ),
            (
                CreateStore {
                    display_name: Some(String::new()),
                    ..req("a")
                },
                "displayName",
            ),
            (
                CreateStore {
                    restore_from: Some(RestoreFrom {
                        store: "Bad".into(),
                        snapshot: None,
                    }),
                    ..req("a")
                },
                "restoreFrom.store",
            ),
            (
                CreateStore {
                    restore_from: Some(RestoreFrom {
                        store: "shop".into(),
                        snapshot: Some("yesterday".into()),
                    }),
                    ..req("a")
                },
                "restoreFrom.snapshot",
            ),
        ] {
            assert_eq!(
                r.into_store("alice", false)
                    .expect_err("invalid")
                    .field
                    .as_deref(),
                Some(field)
            );
        }
    }

    #[test]
    fn a_restore_is_from_the_callers_own_store() {
        let request: CreateStore =
            serde_json::from_str(r#"{"name":"shop-staging","restoreFrom":{"store":"shop"}}"#)
                .expect("json");
        let store = request.into_store("alice", false).expect("valid");
        let from = store.spec.restore_from.expect("restoreFrom");
        assert_eq!(
            (from.store.as_str(), from.snapshot.as_str()),
            ("shop", "latest")
        );
        assert_eq!(store.spec.owner, "alice", "the caller's own repository");
        serde_json::from_str::<CreateStore>(
            r#"{"name":"a","restoreFrom":{"store":"shop","owner":"bob"}}"#,
        )
        .expect_err("no owner of another's");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<CreateStore>(r#"{"name":"a","owner":"mallory"}"#)
            .expect_err("unknown field");
        assert!(err.to_string().contains("owner"));
    }

    #[test]
    fn a_new_store_shows_pending() {
        let view = StoreView::of(&req("a").into_store("alice", false).expect("valid"));
        assert_eq!(view.phase, Phase::Pending);
        assert!(view.credentials.is_none());
        let json = serde_json::to_value(&view).expect("json");
        assert!(json.get("credentials").is_none());
    }
}
