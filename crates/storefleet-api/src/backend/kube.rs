//! The real backend: a watch of Stores (lists and gets are served from its cache and every
//! change is broadcast to the SSE clients), writes to the Store API, Events, and the one
//! credentials Secret per store (after a read of its namespace's owner uid).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store as Cache};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use storefleet_types::Store;
use storefleet_types::names::{self, child, secret_keys};
use tokio::sync::broadcast;

use super::{Backend, BackendError, Change, Credentials, EventView};

/// Every permission [`KubeBackend`] uses: (API group, resource, verb, resource name). The
/// chart's ClusterRole for the API is tested against exactly this list, and this list against
/// what the backend used on a real apiserver (`tests/kube_backend.rs`).
pub const RBAC: &[(&str, &str, &str, Option<&str>)] = &[
    // watch cache (list + watch; reads are served from it), create, delete, retry (patch)
    ("storefleet.io", "stores", "list", None),
    ("storefleet.io", "stores", "watch", None),
    ("storefleet.io", "stores", "create", None),
    ("storefleet.io", "stores", "delete", None),
    ("storefleet.io", "stores", "patch", None),
    // whose namespace it is (its store-uid annotation), before reading that Secret
    ("", "namespaces", "get", None),
];

pub use storefleet_types::names::EVENTS_NAMESPACE;

/// What the API calls in [`EVENTS_NAMESPACE`] only (a Role there, not cluster-wide).
pub const RBAC_IN_EVENTS_NAMESPACE: &[(&str, &str, &str, Option<&str>)] = &[
    // GET /api/v1/stores/{name}/events
    ("", "events", "list", None),
];

/// What the API calls in each store's namespace, granted there by the operator (a Role and
/// RoleBinding `storefleet-api-credentials`, operator config `apiServiceAccount`), never
/// cluster-wide.
pub const RBAC_IN_STORE_NAMESPACES: &[(&str, &str, &str, Option<&str>)] = &[
    // the admin login of a Ready store, and nothing else
    ("", "secrets", "get", Some(child::ADMIN_SECRET)),
];

/// Field manager of the API's writes.
pub const FIELD_MANAGER: &str = "storefleet-api";

/// The Kubernetes backend.
#[derive(Clone)]
pub struct KubeBackend {
    client: Client,
    cache: Cache<Store>,
    changes: broadcast::Sender<Change>,
}

impl std::fmt::Debug for KubeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeBackend").finish_non_exhaustive()
    }
}

fn classify(error: kube::Error, name: &str) -> BackendError {
    match error {
        kube::Error::Api(s) if s.code == 409 => BackendError::AlreadyExists(name.into()),
        kube::Error::Api(s) if s.code == 404 => BackendError::NotFound(name.into()),
        kube::Error::Api(s) if s.code == 422 || s.code == 400 => BackendError::Invalid(s.message),
        other => BackendError::Unavailable(other.to_string()),
    }
}

impl KubeBackend {
    /// Starts the Store watch; the cache fills in the background.
    pub fn start(client: Client) -> Self {
        let (cache, writer) = reflector::store();
        let (changes, _) = broadcast::channel(1024);
        let api: Api<Store> = Api::all(client.clone());
        let tx = changes.clone();
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer);
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) => {
                        let _ = tx.send(Change::Upsert(Arc::new(s)));
                    }
                    Ok(watcher::Event::Delete(s)) => {
                        let _ = tx.send(Change::Deleted(Arc::new(s)));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "store watch error; retrying"),
                }
            }
        });
        Self {
            client,
            cache,
            changes,
        }
    }

    fn stores(&self) -> Api<Store> {
        Api::all(self.client.clone())
    }

    /// A merge patch of one Store under the API's field manager.
    async fn merge(
        &self,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<Arc<Store>, BackendError> {
        self.stores()
            .patch(
                name,
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PatchParams::default()
                },
                &Patch::Merge(patch),
            )
            .await
            .map(Arc::new)
            .map_err(|e| classify(e, name))
    }

    async fn cache_ready(&self) -> Result<(), BackendError> {
        tokio::time::timeout(Duration::from_secs(10), self.cache.wait_until_ready())
            .await
            .map_err(|_| BackendError::Unavailable("the store watch has not synced yet".into()))?
            .map_err(|e| BackendError::Unavailable(e.to_string()))
    }
}

impl Backend for KubeBackend {
    async fn list(&self) -> Result<Vec<Arc<Store>>, BackendError> {
        self.cache_ready().await?;
        Ok(self.cache.state())
    }

    async fn get(&self, name: &str) -> Result<Option<Arc<Store>>, BackendError> {
        self.cache_ready().await?;
        Ok(self.cache.get(&reflector::ObjectRef::new(name)))
    }

    async fn create(&self, store: Store) -> Result<Arc<Store>, BackendError> {
        let name = store.name_any();
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        self.stores()
            .create(&params, &store)
            .await
            .map(Arc::new)
            .map_err(|e| classify(e, &name))
    }

    async fn delete(&self, store: &Store) -> Result<(), BackendError> {
        let name = store.name_any();
        // The caller's ownership was checked on this uid (from the watch cache, which may lag):
        // the apiserver deletes only that object, never a newer store of the same name.
        let params = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: store.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.stores().delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(BackendError::NotFound(name)),
            Err(e) => Err(classify(e, &name)),
        }
    }

    async fn annotate(
        &self,
        name: &str,
        annotation: &str,
        value: &str,
    ) -> Result<Arc<Store>, BackendError> {
        let patch = serde_json::json!({"metadata": {"annotations": {annotation: value}}});
        self.merge(name, &patch).await
    }

    async fn hibernate(&self, name: &str, hibernate: bool) -> Result<Arc<Store>, BackendError> {
        self.merge(name, &serde_json::json!({"spec": {"hibernate": hibernate}}))
            .await
    }

    async fn events(&self, store: &Store) -> Result<Vec<EventView>, BackendError> {
        let name = store.name_any();
        let api: Api<Event> = Api::namespaced(self.client.clone(), EVENTS_NAMESPACE);
        // By uid: an earlier store with the same name has its own events.
        let uid = store.metadata.uid.clone().unwrap_or_default();
        let selector = format!(
            "involvedObject.kind={},involvedObject.name={name},involvedObject.uid={uid}",
            names::KIND
        );
        let list = api
            .list(&ListParams::default().fields(&selector))
            .await
            .map_err(|e| classify(e, &name))?;
        let mut events: Vec<(String, EventView)> = list
            .items
            .into_iter()
            .filter(|e| e.involved_object.api_version.as_deref() == Some(names::API_VERSION))
            .map(|e| {
                let time = e
                    .event_time
                    .map(|t| t.0.to_string())
                    .or_else(|| e.last_timestamp.map(|t| t.0.to_string()))
                    .or_else(|| e.metadata.creation_timestamp.map(|t| t.0.to_string()));
                let view = EventView {
                    type_: e.type_.unwrap_or_default(),
                    reason: e.reason.unwrap_or_default(),
                    message: e.message.unwrap_or_default(),
                    time: time.clone(),
                };
                (time.unwrap_or_default(), view)
            })
            .collect();
        events.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(events.into_iter().map(|(_, v)| v).collect())
    }

    async fn credentials(&self, store: &Store) -> Result<Option<Credentials>, BackendError> {
        let Some(namespace) = store.status.as_ref().and_then(|s| s.namespace.clone()) else {
            return Ok(None);
        };
        let secret_name = store
            .status
            .as_ref()
            .and_then(|s| s.credentials_secret.clone());
        // Only the fixed name is ever read (RBAC allows nothing else).
        if secret_name.as_deref() != Some(child::ADMIN_SECRET) {
            return Ok(None);
        }
        // The namespace must be this store's (by uid): a lagging cache or a retained namespace
        // of an earlier store with the same name never yields another store's login.
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let owner_uid = namespaces
            .get_metadata_opt(&namespace)
            .await
            .map_err(|e| classify(e, &store.name_any()))?
            .and_then(|ns| {
                ns.metadata
                    .annotations
                    .and_then(|a| a.get(names::STORE_UID_ANNOTATION).cloned())
            });
        if owner_uid.is_none() || owner_uid != store.metadata.uid {
            return Ok(None);
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let secret = api
            .get_opt(child::ADMIN_SECRET)
            .await
            .map_err(|e| classify(e, &store.name_any()))?;
        let Some(data) = secret.and_then(|s| s.data) else {
            return Ok(None);
        };
        let read = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(&v.0).to_string())
        };
        Ok(
            match (
                read(secret_keys::ADMIN_USER),
                read(secret_keys::ADMIN_PASSWORD),
            ) {
                (Some(username), Some(password)) => Some(Credentials { username, password }),
                _ => None,
            },
        )
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn ready(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(3), self.client.apiserver_version()).await,
            Ok(Ok(_))
        )
    }
}
