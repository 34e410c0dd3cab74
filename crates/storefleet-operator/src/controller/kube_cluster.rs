//! [`Cluster`] against a real apiserver, with kube.
//!
//! Children are applied with server-side apply under the field manager `storefleet-operator`
//! (`force`); Secrets and Jobs are created, never applied; finalizers and ownerReferences are
//! changed with merge patches guarded by `resourceVersion`, so a concurrent writer produces a
//! conflict (retried) instead of a lost update. Stores are read from the controller's cache.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector;
use kube::{Client, Resource};
use serde_json::{Value, json};
use storefleet_types::names::{self, labels as keys};
use storefleet_types::{Store, StoreStatus};
use tracing::warn;

use crate::metrics::Metrics;

use super::cluster::{
    Cluster, ClusterError, Created, Deleted, EventKind, Kind, ObjRef, StoreEvent,
};

/// The real cluster.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    recorder: Recorder,
    stores: reflector::Store<Store>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// A cluster over `client`, reading Stores from `stores` (the controller's cache).
    /// Requests are counted in `metrics`.
    pub fn new(
        client: Client,
        recorder: Recorder,
        stores: reflector::Store<Store>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            recorder,
            stores,
            metrics,
        }
    }
}

/// The API resource of a kind (group, version, plural), from the k8s-openapi type.
pub fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::Namespace => ApiResource::erase::<Namespace>(&()),
        Kind::ResourceQuota => ApiResource::erase::<ResourceQuota>(&()),
        Kind::LimitRange => ApiResource::erase::<LimitRange>(&()),
        Kind::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
        Kind::Secret => ApiResource::erase::<Secret>(&()),
        Kind::Service => ApiResource::erase::<Service>(&()),
        Kind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        Kind::PersistentVolumeClaim => ApiResource::erase::<PersistentVolumeClaim>(&()),
        Kind::Deployment => ApiResource::erase::<Deployment>(&()),
        Kind::Ingress => ApiResource::erase::<Ingress>(&()),
        Kind::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
        Kind::Job => ApiResource::erase::<Job>(&()),
    }
}

/// Maps a kube error to what the reconciler decides on. Messages never contain object bodies.
pub fn classify(target: &str, error: kube::Error) -> ClusterError {
    match error {
        kube::Error::Api(status) => match status.code {
            409 => ClusterError::Conflict(format!("{target}: {}", status.message)),
            429 => ClusterError::Transient {
                target: target.into(),
                message: status.message,
            },
            400..=499 => ClusterError::Rejected {
                target: target.into(),
                message: status.message,
            },
            _ => ClusterError::Transient {
                target: target.into(),
                message: status.message,
            },
        },
        other => ClusterError::Transient {
            target: target.into(),
            message: other.to_string(),
        },
    }
}

fn is_code(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

impl KubeCluster {
    fn api(&self, target: &ObjRef) -> Api<DynamicObject> {
        let ar = api_resource(target.kind);
        match &target.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    fn stores_api(&self) -> Api<Store> {
        Api::all(self.client.clone())
    }

    async fn patch_finalizers(
        &self,
        store: &Store,
        finalizers: Vec<String>,
    ) -> Result<(), ClusterError> {
        let name = store.metadata.name.clone().unwrap_or_default();
        let patch = json!({"metadata": {"resourceVersion": store.metadata.resource_version, "finalizers": finalizers}});
        match self
            .stores_api()
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, 404) => Ok(()),
            Err(e) => Err(classify(&format!("Store {name}"), e)),
        }
    }
}

impl Cluster for KubeCluster {
    async fn get(&self, target: &ObjRef) -> Result<Option<Value>, ClusterError> {
        self.metrics.api_request("get");
        if target.kind == Kind::Secret {
            // Metadata only: the operator never reads a Secret's values back.
            let meta = self
                .api(target)
                .get_metadata_opt(&target.name)
                .await
                .map_err(|e| classify(&target.to_string(), e))?;
            return Ok(meta.map(|m| json!({"metadata": m.metadata})));
        }
        let object = self
            .api(target)
            .get_opt(&target.name)
            .await
            .map_err(|e| classify(&target.to_string(), e))?;
        object
            .map(|o| {
                serde_json::to_value(o).map_err(|e| ClusterError::Transient {
                    target: target.to_string(),
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    async fn apply(&self, target: &ObjRef, object: &Value) -> Result<Value, ClusterError> {
        self.metrics.api_request("apply");
        let params = PatchParams::apply(names::FIELD_MANAGER).force();
        let applied = self
            .api(target)
            .patch(&target.name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| classify(&target.to_string(), e))?;
        serde_json::to_value(applied).map_err(|e| ClusterError::Transient {
            target: target.to_string(),
            message: e.to_string(),
        })
    }

    async fn create(&self, target: &ObjRef, object: &Value) -> Result<Created, ClusterError> {
        self.metrics.api_request("create");
        let body: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| ClusterError::Transient {
                target: target.to_string(),
                message: format!("cannot encode: {e}"),
            })?;
        let params = PostParams {
            field_manager: Some(names::FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        match self.api(target).create(&params, &body).await {
            Ok(_) => Ok(Created::New),
            Err(e) if is_code(&e, 409) => Ok(Created::AlreadyExists),
            Err(e) => Err(classify(&target.to_string(), e)),
        }
    }

    async fn delete(&self, target: &ObjRef) -> Result<Deleted, ClusterError> {
        self.metrics.api_request("delete");
        match self
            .api(target)
            .delete(&target.name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(Deleted::Deleting),
            Err(e) if is_code(&e, 404) => Ok(Deleted::NotFound),
            Err(e) => Err(classify(&target.to_string(), e)),
        }
    }

    async fn list_labelled(&self, kind: Kind, store: &str) -> Result<Vec<Value>, ClusterError> {
        self.metrics.api_request("list");
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &api_resource(kind));
        let params = ListParams::default().labels(&format!("{}={store}", keys::STORE));
        // Metadata only: ownerReferences is all cleanup needs, and Secrets' data stays unread.
        let list = api
            .list_metadata(&params)
            .await
            .map_err(|e| classify(kind.as_str(), e))?;
        Ok(list
            .items
            .into_iter()
            .map(|o| json!({"metadata": o.metadata}))
            .collect())
    }

    async fn list_setup_jobs(
        &self,
        namespace: &str,
        store: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        self.metrics.api_request("list");
        let api: Api<Job> = Api::namespaced(self.client.clone(), namespace);
        let selector = format!(
            "{}={store},{}={}",
            keys::STORE,
            keys::COMPONENT,
            names::Component::Setup.as_str()
        );
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| classify(&format!("Jobs in {namespace}"), e))?;
        list.items
            .into_iter()
            .map(|j| {
                serde_json::to_value(j).map_err(|e| ClusterError::Transient {
                    target: format!("Jobs in {namespace}"),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    async fn set_owner_references(
        &self,
        target: &ObjRef,
        current: &Value,
        owners: &Value,
    ) -> Result<(), ClusterError> {
        self.metrics.api_request("patch");
        let patch = json!({"metadata": {
            "resourceVersion": current["metadata"]["resourceVersion"],
            "ownerReferences": owners,
        }});
        match self
            .api(target)
            .patch(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, 404) => Ok(()),
            Err(e) => Err(classify(&target.to_string(), e)),
        }
    }

    async fn add_finalizer(&self, store: &Store) -> Result<(), ClusterError> {
        let mut finalizers = store.metadata.finalizers.clone().unwrap_or_default();
        if finalizers.iter().any(|f| f == names::FINALIZER) {
            return Ok(());
        }
        finalizers.push(names::FINALIZER.into());
        self.patch_finalizers(store, finalizers).await
    }

    async fn remove_finalizer(&self, store: &Store) -> Result<(), ClusterError> {
        let finalizers: Vec<String> = store
            .metadata
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != names::FINALIZER)
            .cloned()
            .collect();
        self.patch_finalizers(store, finalizers).await
    }

    async fn patch_status(&self, store: &Store, status: &StoreStatus) -> Result<(), ClusterError> {
        self.metrics.api_request("patch_status");
        let name = store.metadata.name.clone().unwrap_or_default();
        let body = json!({"apiVersion": names::API_VERSION, "kind": names::KIND, "status": status});
        let params = PatchParams::apply(names::FIELD_MANAGER).force();
        match self
            .stores_api()
            .patch_status(&name, &params, &Patch::Apply(&body))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, 404) => Ok(()),
            Err(e) => Err(classify(&format!("Store {name} status"), e)),
        }
    }

    async fn publish(&self, store: &Store, event: StoreEvent) {
        let ev = Event {
            type_: match event.kind {
                EventKind::Normal => EventType::Normal,
                EventKind::Warning => EventType::Warning,
            },
            reason: event.reason,
            note: Some(event.note),
            action: event.action,
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &store.object_ref(&())).await {
            warn!(store = store.metadata.name.as_deref().unwrap_or_default(), error = %e, "cannot publish event");
        }
    }

    fn stores(&self) -> Vec<Arc<Store>> {
        self.stores.state()
    }
}
