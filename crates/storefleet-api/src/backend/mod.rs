//! Kubernetes access, through one small trait so the handlers are tested without a cluster.
//!
//! The API touches only Store CRs (get/list/watch/create/delete/patch), Events (list) and one
//! Secret per store (get, by its fixed name).

pub mod kube;
pub mod memory;

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use storefleet_types::Store;
use tokio::sync::broadcast;

/// A change of a Store, as the watch sees it.
#[derive(Debug, Clone)]
pub enum Change {
    /// Created or changed.
    Upsert(Arc<Store>),
    /// Deleted.
    Deleted(Arc<Store>),
}

/// An event about a store, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub type_: String,
    /// CamelCase reason.
    pub reason: String,
    /// What happened.
    pub message: String,
    /// When (RFC 3339), if known.
    pub time: Option<String>,
}

/// The shop's admin login.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// Admin user.
    pub username: String,
    /// Admin password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How a backend call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The name is taken.
    #[error("a store named {0} already exists")]
    AlreadyExists(String),
    /// Not there.
    #[error("store {0} not found")]
    NotFound(String),
    /// The apiserver rejected the object (admission).
    #[error("{0}")]
    Invalid(String),
    /// Kubernetes is unreachable or failing.
    #[error("Kubernetes is unavailable: {0}")]
    Unavailable(String),
}

/// What the handlers need from Kubernetes.
pub trait Backend: Send + Sync + 'static {
    /// Every Store (from a watch cache where the backend has one).
    fn list(&self) -> impl Future<Output = Result<Vec<Arc<Store>>, BackendError>> + Send;
    /// One Store.
    fn get(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Arc<Store>>, BackendError>> + Send;
    /// Creates a Store.
    fn create(&self, store: Store)
    -> impl Future<Output = Result<Arc<Store>, BackendError>> + Send;
    /// Deletes this Store (by uid: a newer store of the same name is never touched, it is
    /// NotFound); Ok when it was not there.
    fn delete(&self, store: &Store) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Sets the annotation `annotation` (`storefleet.io/retry`, `storefleet.io/backup-now`) of
    /// a Store to `value`.
    fn annotate(
        &self,
        name: &str,
        annotation: &str,
        value: &str,
    ) -> impl Future<Output = Result<Arc<Store>, BackendError>> + Send;
    /// Sets `spec.hibernate` of a Store (the only spec field the API changes after creation).
    fn hibernate(
        &self,
        name: &str,
        hibernate: bool,
    ) -> impl Future<Output = Result<Arc<Store>, BackendError>> + Send;
    /// Events about a Store, newest first.
    fn events(
        &self,
        store: &Store,
    ) -> impl Future<Output = Result<Vec<EventView>, BackendError>> + Send;
    /// The admin login from the store's credentials Secret.
    fn credentials(
        &self,
        store: &Store,
    ) -> impl Future<Output = Result<Option<Credentials>, BackendError>> + Send;
    /// Changes from now on.
    fn subscribe(&self) -> broadcast::Receiver<Change>;
    /// Whether Kubernetes answers.
    fn ready(&self) -> impl Future<Output = bool> + Send;
}
