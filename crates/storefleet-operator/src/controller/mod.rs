//! The controller: drives every Store from Pending to Ready, keeps it there, deletes it cleanly.
//!
//! ```text
//!  reconcile(store)                                              (reconcile.rs)
//!   ├─ deletionTimestamp set ─► cleanup: Delete → delete namespace, wait until gone
//!   │                                    Retain → drop our ownerReferences
//!   │                           then release the finalizer
//!   └─ otherwise ─► validate ─► admit (store cap) ─► finalizer ─► build
//!                   ─► server-side apply each child              [secrets: create-only]
//!                   ─► observe (observe.rs) ─► gate + run the setup Job
//!                   ─► status (status.rs), written only when it changed; events on transitions
//! ```
//!
//! All apiserver I/O goes through [`cluster::Cluster`], implemented by
//! [`kube_cluster::KubeCluster`]; the I/O shell is tested against a real kube-apiserver,
//! kube-controller-manager and etcd (`tests/control_plane.rs`, crate `storefleet-envtest`).

pub mod cluster;
pub mod kube_cluster;
pub mod observe;
pub mod reconcile;
pub mod runtime;
pub mod status;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::config::OperatorConfig;
use crate::metrics::Metrics;
use cluster::{Cluster, ClusterError};

/// Source of the current time (a fake one in tests).
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Errors a reconcile can end with. User errors are not here: they become status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An apiserver call failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl Error {
    /// The metric label of the error (its variant name).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Cluster(ClusterError::Conflict(_)) => "Conflict",
            Error::Cluster(ClusterError::Rejected { .. }) => "Rejected",
            Error::Cluster(ClusterError::Transient { .. }) => "Transient",
        }
    }
}

/// Shared state of all reconciles.
pub struct Context<C: Cluster> {
    /// The apiserver.
    pub cluster: C,
    /// Operator configuration.
    pub config: OperatorConfig,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    failures: Mutex<HashMap<String, u32>>,
    admitted: Mutex<HashSet<String>>,
}

impl<C: Cluster> std::fmt::Debug for Context<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<C: Cluster> Context<C> {
    /// A context over `cluster`.
    pub fn new(
        cluster: C,
        config: OperatorConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            cluster,
            config,
            clock,
            metrics,
            failures: Mutex::default(),
            admitted: Mutex::default(),
        }
    }

    /// Backoff for a failing store: 5 s doubling to 5 min; the count resets on success.
    fn backoff(&self, store: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = failures.entry(store.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 5u64.saturating_mul(1u64 << (*n - 1).min(6));
        Duration::from_secs(secs.min(300))
    }

    fn succeeded(&self, store: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
    }

    /// Whether the store `name` of `owner` may start provisioning under the store caps (all
    /// stores, and per owner). Stores that hold the finalizer (provisioning started) count;
    /// admission decisions are serialized so two concurrent reconciles cannot both take the
    /// last place. The operator is the one writer of finalizers, so this holds however many API
    /// replicas (or kubectl users) create Stores.
    fn admit(&self, name: &str, owner: &str) -> Result<(), String> {
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        if admitted.contains(name) {
            return Ok(());
        }
        let stores = self.cluster.stores();
        let owner_of = |n: &str| {
            stores
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(n))
                .map(|s| s.spec.owner.clone())
        };
        let taken: HashSet<String> = stores
            .iter()
            .filter(|s| reconcile::has_finalizer(s))
            .filter_map(|s| s.metadata.name.clone())
            .chain(admitted.iter().cloned())
            .filter(|n| n != name)
            .collect();
        let max = usize::try_from(self.config.max_stores).unwrap_or(usize::MAX);
        if taken.len() >= max {
            return Err(format!(
                "Waiting for capacity: {} stores exist and the operator allows {max}; this store starts when one is deleted",
                taken.len()
            ));
        }
        if let Some(per_owner) = self.config.max_stores_per_owner {
            let mine = taken
                .iter()
                .filter(|n| owner_of(n).as_deref() == Some(owner))
                .count();
            if mine >= usize::try_from(per_owner).unwrap_or(usize::MAX) {
                return Err(format!(
                    "Waiting for capacity: owner {owner} has {mine} stores and the operator allows {per_owner} per owner; this store starts when one of them is deleted"
                ));
            }
        }
        admitted.insert(name.to_string());
        Ok(())
    }

    fn release(&self, name: &str) {
        self.admitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

/// What to do after a failed reconcile: conflicts retry at once, the rest back off.
pub fn error_policy<C: Cluster>(
    store: &storefleet_types::Store,
    error: &Error,
    ctx: &Context<C>,
) -> Duration {
    let name = store.metadata.name.as_deref().unwrap_or_default();
    ctx.metrics.reconcile_error(error.metric_label());
    match error {
        Error::Cluster(ClusterError::Conflict(_)) => Duration::from_secs(1),
        _ => ctx.backoff(name),
    }
}
