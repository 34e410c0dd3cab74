//! The I/O shell: every call the reconciler makes to the apiserver goes through [`Cluster`].
//!
//! Objects cross this boundary as JSON (`serde_json::Value` serialized from the typed
//! k8s-openapi structs the builders made), addressed by an [`ObjRef`]. [`KubeCluster`]
//! (in `kube_cluster.rs`) is the implementation; it is tested against a real kube-apiserver
//! (`tests/control_plane.rs`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use storefleet_types::{Store, StoreStatus};

/// The kinds of object a Store is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// core/v1 Namespace (cluster-scoped).
    Namespace,
    /// core/v1 ResourceQuota.
    ResourceQuota,
    /// core/v1 LimitRange.
    LimitRange,
    /// networking.k8s.io/v1 NetworkPolicy.
    NetworkPolicy,
    /// core/v1 Secret.
    Secret,
    /// core/v1 Service.
    Service,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// core/v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// apps/v1 Deployment.
    Deployment,
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// batch/v1 Job.
    Job,
}

impl Kind {
    /// Every kind, in apply order.
    pub const ALL: [Kind; 12] = [
        Kind::Namespace,
        Kind::ResourceQuota,
        Kind::LimitRange,
        Kind::NetworkPolicy,
        Kind::Secret,
        Kind::Service,
        Kind::StatefulSet,
        Kind::PersistentVolumeClaim,
        Kind::Deployment,
        Kind::Ingress,
        Kind::ConfigMap,
        Kind::Job,
    ];

    /// The Kubernetes kind name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::ResourceQuota => "ResourceQuota",
            Kind::LimitRange => "LimitRange",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::Secret => "Secret",
            Kind::Service => "Service",
            Kind::StatefulSet => "StatefulSet",
            Kind::PersistentVolumeClaim => "PersistentVolumeClaim",
            Kind::Deployment => "Deployment",
            Kind::Ingress => "Ingress",
            Kind::ConfigMap => "ConfigMap",
            Kind::Job => "Job",
        }
    }
}

/// Address of one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    /// Kind.
    pub kind: Kind,
    /// Namespace; None for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjRef {
    /// A namespaced object.
    pub fn namespaced(kind: Kind, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// A cluster-scoped object.
    pub fn cluster(kind: Kind, name: &str) -> Self {
        Self {
            kind,
            namespace: None,
            name: name.into(),
        }
    }

    /// Reads the address from an object's JSON (`kind` as given by the caller).
    pub fn of(kind: Kind, object: &Value) -> Self {
        let meta = &object["metadata"];
        Self {
            kind,
            namespace: meta["namespace"].as_str().map(String::from),
            name: meta["name"].as_str().unwrap_or_default().to_string(),
        }
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind.as_str(), ns, self.name),
            None => write!(f, "{} {}", self.kind.as_str(), self.name),
        }
    }
}

/// How an apiserver call failed, reduced to what the reconciler decides on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// 409 on update: someone else changed the object; retry soon.
    #[error("conflict on {0}")]
    Conflict(String),
    /// 4xx other than 404/409/429: the apiserver refuses the request (validation, quota, RBAC).
    #[error("{target} was rejected: {message}")]
    Rejected {
        /// What was written.
        target: String,
        /// The apiserver's message.
        message: String,
    },
    /// Network, 5xx, 429, timeouts: retry with backoff.
    #[error("{target}: {message}")]
    Transient {
        /// What was called.
        target: String,
        /// What happened.
        message: String,
    },
}

/// Result of a create-if-absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// Created now.
    New,
    /// It was there already (left untouched).
    AlreadyExists,
}

/// Result of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Deletion accepted (the object may linger while its finalizers run).
    Deleting,
    /// It was not there.
    NotFound,
}

/// Severity of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Normal.
    Normal,
    /// Warning.
    Warning,
}

/// An event about a Store. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEvent {
    /// Normal or Warning.
    pub kind: EventKind,
    /// CamelCase reason.
    pub reason: String,
    /// CamelCase action.
    pub action: String,
    /// Human-readable note.
    pub note: String,
}

/// Everything the reconciler asks of the apiserver.
pub trait Cluster: Send + Sync + 'static {
    /// Reads an object; None when absent. A Secret is read as metadata only (no values).
    fn get(
        &self,
        target: &ObjRef,
    ) -> impl Future<Output = Result<Option<Value>, ClusterError>> + Send;

    /// Server-side apply under the operator's field manager, with force; returns the object as
    /// stored. An apply that changes nothing writes nothing (the resourceVersion stays).
    fn apply(
        &self,
        target: &ObjRef,
        object: &Value,
    ) -> impl Future<Output = Result<Value, ClusterError>> + Send;

    /// Creates the object unless it exists; never modifies an existing one.
    fn create(
        &self,
        target: &ObjRef,
        object: &Value,
    ) -> impl Future<Output = Result<Created, ClusterError>> + Send;

    /// Deletes the object (background propagation); absent is fine.
    fn delete(&self, target: &ObjRef)
    -> impl Future<Output = Result<Deleted, ClusterError>> + Send;

    /// Every object of `kind` labelled `storefleet.io/store=<store>`, in all namespaces.
    fn list_labelled(
        &self,
        kind: Kind,
        store: &str,
    ) -> impl Future<Output = Result<Vec<Value>, ClusterError>> + Send;

    /// The store's setup Jobs in `namespace` (labelled for `store`, component `setup`), whole.
    fn list_setup_jobs(
        &self,
        namespace: &str,
        store: &str,
    ) -> impl Future<Output = Result<Vec<Value>, ClusterError>> + Send;

    /// Sets `metadata.ownerReferences` of an existing object (JSON patch guarded by a test of the
    /// current value, so a concurrent change is a conflict, not a lost update).
    fn set_owner_references(
        &self,
        target: &ObjRef,
        current: &Value,
        owners: &Value,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Adds the Store finalizer.
    fn add_finalizer(&self, store: &Store)
    -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Removes the Store finalizer.
    fn remove_finalizer(
        &self,
        store: &Store,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Server-side apply of the Store's status subresource.
    fn patch_status(
        &self,
        store: &Store,
        status: &StoreStatus,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send;

    /// Records an event about the Store.
    fn publish(&self, store: &Store, event: StoreEvent) -> impl Future<Output = ()> + Send;

    /// All Stores, from the controller's cache (no API call).
    fn stores(&self) -> Vec<Arc<Store>>;
}
