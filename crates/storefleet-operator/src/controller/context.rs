//! What every reconcile shares: the client, the Store cache, the controller's memory, the
//! configuration, the clock, the metrics; and how soon a store is looked at again.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::runtime::reflector;
use storefleet_types::{Store, StoreRollout};

use crate::config::OperatorConfig;
use crate::controller::events::Events;
use crate::controller::memory::{Cached, CachedBy, Memory};
use crate::controller::routes::RoutedHosts;
use crate::desired::backup::{PlatformKeys, StoreKey};
use crate::metrics::Metrics;

/// How often a store waiting for capacity (or a host, or lost credentials) checks again.
pub const LIMIT_RECHECK: Duration = Duration::from_secs(30);
/// How often a Ready store is checked even without events.
pub const READY_RESYNC: Duration = Duration::from_secs(300);
/// Longest wait between checks while provisioning.
pub const PROVISIONING_RECHECK: Duration = Duration::from_secs(30);
/// Wait while something is being deleted (a namespace, a failed Job).
pub const DELETION_RECHECK: Duration = Duration::from_secs(5);
/// A deleted store whose namespaces are still going looks again when the namespace watch shows
/// them gone (their deletion is an event of the store's); this is only the fallback, in case an
/// event was missed.
pub const NAMESPACE_GONE_FALLBACK: Duration = Duration::from_secs(60);

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
    pub events: Events,
    /// Every Store, from the controller's cache (no API call).
    pub stores: reflector::Store<Store>,
    /// Every StoreRollout, from a cache (empty until [`Context::with_rollouts`]).
    pub rollouts: reflector::Store<StoreRollout>,
    /// What the controller remembers between passes: memos, what the watches saw, backoffs,
    /// places under the caps.
    pub memory: Memory,
    /// Operator configuration.
    pub config: OperatorConfig,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The hosts every Ingress and HTTPRoute of the cluster routes (empty until
    /// [`Context::with_routes`]).
    pub routes: Arc<RoutedHosts>,
    /// The platform's backup keys, as last read.
    pub backup_keys: Cached<PlatformKeys>,
    /// Each store's own bucket key (`backup.storeCredentials`), kept as long.
    pub store_keys: CachedBy<StoreKey>,
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
        events: Events,
        stores: reflector::Store<Store>,
        config: OperatorConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            events,
            stores,
            rollouts: reflector::store().0,
            memory: Memory::default(),
            config,
            clock,
            metrics,
            routes: Arc::default(),
            backup_keys: Default::default(),
            store_keys: Default::default(),
        }
    }

    /// This context, reading the StoreRollouts from `rollouts`.
    #[must_use]
    pub fn with_rollouts(self, rollouts: reflector::Store<StoreRollout>) -> Self {
        Self { rollouts, ..self }
    }

    /// This context, reading the cluster's routed hosts from `routes`.
    #[must_use]
    pub fn with_routes(self, routes: Arc<RoutedHosts>) -> Self {
        Self { routes, ..self }
    }
}
