//! What every reconcile shares: the client, the caches, the configuration, the clock, the
//! metrics, the per-store backoff and the places under the store caps; and how soon a store is
//! looked at again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector;
use storefleet_types::Store;

use crate::config::OperatorConfig;
use crate::controller::memory::{JobStates, Memos, Seen};
use crate::controller::routes::RoutedHosts;
use crate::metrics::Metrics;

/// How often a store waiting for capacity (or a host, or lost credentials) checks again.
pub const LIMIT_RECHECK: Duration = Duration::from_secs(30);
/// How often a Ready store is checked even without events.
pub const READY_RESYNC: Duration = Duration::from_secs(300);
/// Longest wait between checks while provisioning.
pub const PROVISIONING_RECHECK: Duration = Duration::from_secs(30);
/// Wait while something is being deleted (a namespace, a failed Job).
pub const DELETION_RECHECK: Duration = Duration::from_secs(5);

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

/// Shared state of all reconciles.
pub struct Context {
    /// The apiserver, as the operator's ServiceAccount.
    pub client: Client,
    /// Publishes events about Stores.
    pub recorder: Recorder,
    /// Every Store, from the controller's cache (no API call).
    pub stores: reflector::Store<Store>,
    /// The children's resourceVersions as the watches last saw them.
    pub seen: Arc<Seen>,
    /// What each store's last pass applied.
    pub memos: Memos,
    /// Each setup Job's state as last read.
    pub jobs: JobStates,
    /// Operator configuration.
    pub config: OperatorConfig,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The hosts every Ingress and HTTPRoute of the cluster routes (empty until
    /// [`Context::with_routes`]).
    pub routes: Arc<RoutedHosts>,
    failures: Mutex<HashMap<String, u32>>,
    admitted: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context over `client`, reading Stores from `stores` (the controller's cache).
    pub fn new(
        client: Client,
        recorder: Recorder,
        stores: reflector::Store<Store>,
        config: OperatorConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            recorder,
            stores,
            seen: Arc::default(),
            jobs: JobStates::default(),
            memos: Memos::default(),
            config,
            clock,
            metrics,
            routes: Arc::default(),
            failures: Mutex::default(),
            admitted: Mutex::default(),
        }
    }

    /// This context, reading the cluster's routed hosts from `routes`.
    #[must_use]
    pub fn with_routes(self, routes: Arc<RoutedHosts>) -> Self {
        Self { routes, ..self }
    }

    /// Backoff for a failing store: 5 s doubling to 5 min; the count resets on success.
    pub(crate) fn backoff(&self, store: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = failures.entry(store.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 5u64.saturating_mul(1u64 << (*n - 1).min(6));
        Duration::from_secs(secs.min(300))
    }

    pub(crate) fn succeeded(&self, store: &str) {
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
    pub(crate) fn admit(&self, name: &str, owner: &str) -> Result<(), String> {
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        if admitted.contains(name) {
            return Ok(());
        }
        let stores = self.stores.state();
        // A store deleted between its admission and its finalizer leaves no event to release
        // its place: forget places of stores that no longer exist.
        admitted.retain(|n| stores.iter().any(|s| s.metadata.name.as_deref() == Some(n)));
        let owner_of = |n: &str| {
            stores
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(n))
                .map(|s| s.spec.owner.clone())
        };
        let taken: HashSet<String> = stores
            .iter()
            .filter(|s| s.has_finalizer())
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

    /// Frees the store's place under the caps.
    pub(crate) fn release(&self, name: &str) {
        self.admitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}
