//! The controller: drives every Store from Pending to Ready, keeps it there, deletes it cleanly.
//!
//! ```text
//!  reconcile(store)                                               reconcile.rs
//!   ├─ admit: validate (pure), host and caps (from the cache)     refused: status (+ route withdrawn)
//!   └─ kube finalizer
//!       ├─ Apply:   build (crate::build, pure)
//!       │           ─► the data still there? (namespace, volumes)  data.rs (pure)   lost: DataLost
//!       │           ─► apply each child, typed server-side apply   apply.rs, apply_child.rs, calls.rs
//!       │              wave by wave, in parallel within a wave     build/wave.rs
//!       │              (skipping what the memo shows unchanged)    memo.rs, seen.rs  [Secrets: create-only]
//!       │              Medusa: migration Job gates the Deployments  migration.rs
//!       │           ─► observe the applied or watched objects      observe.rs (pure)
//!       │           ─► setup Job behind its gates                  setup.rs
//!       │           ─► expose (route, edge policies) once set up   apply.rs (Exposure wave)
//!       │           ─► one status write + events                   report.rs, status.rs (pure)
//!       └─ Cleanup: delete the namespace or release the children  cleanup.rs
//! ```
//!
//! The kinds of child are listed once (`children.rs`); the watches (`watches.rs`) and the Retain
//! cleanup derive from that list. Each step has its own error enum carrying the `kube::Error`;
//! [`Error::metric_label`] names the step and [`error_policy`] decides how soon to come back.
//! The I/O is tested against a real kube-apiserver, kube-controller-manager and etcd
//! (`tests/control_plane.rs`, crate `storefleet-envtest`).

pub mod apply;
pub mod apply_child;
pub mod calls;
pub mod children;
pub mod cleanup;
pub mod data;
pub mod memo;
pub mod migration;
pub mod observe;
pub mod reconcile;
pub mod report;
pub mod routes;
pub mod runtime;
pub mod seen;
pub mod setup;
pub mod status;
pub mod volumes;
pub mod watches;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::finalizer;
use kube::runtime::reflector;
use storefleet_types::Store;

use crate::config::OperatorConfig;
use crate::metrics::Metrics;
use apply::{ApplyError, status_code};
use cleanup::CleanupError;
use report::StatusError;
use setup::SetupError;

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

/// Errors a reconcile can end with, one variant per step. User errors are not here: they become
/// status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Applying the children failed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The setup step failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Cleanup failed or waits for the namespace.
    #[error(transparent)]
    Cleanup(#[from] CleanupError),
    /// Writing the status failed.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// Adding or removing the finalizer failed.
    #[error("cannot change the Store's finalizers")]
    Finalizer(#[source] kube::Error),
    /// The apiserver refused a child (quota, admission); the others were applied.
    #[error("{0}")]
    Rejected(String),
    /// The Store has no name (kube's finalizer helper needs one).
    #[error("the Store has no name")]
    Unnamed,
}

impl From<finalizer::Error<Error>> for Error {
    fn from(error: finalizer::Error<Error>) -> Self {
        match error {
            finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
            finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => {
                Error::Finalizer(e)
            }
            finalizer::Error::UnnamedObject | finalizer::Error::InvalidFinalizer => Error::Unnamed,
        }
    }
}

impl Error {
    /// The metric label of the error: its variant name (the step).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Apply(_) => "Apply",
            Error::Setup(_) => "Setup",
            Error::Cleanup(CleanupError::NamespaceTerminating { .. }) => "NamespaceTerminating",
            Error::Cleanup(_) => "Cleanup",
            Error::Status(_) => "Status",
            Error::Finalizer(_) => "Finalizer",
            Error::Rejected(_) => "Rejected",
            Error::Unnamed => "Unnamed",
        }
    }

    /// The apiserver's error behind this one, if any.
    pub fn kube(&self) -> Option<&kube::Error> {
        match self {
            Error::Apply(e) => Some(e.kube()),
            Error::Setup(e) => Some(e.kube()),
            Error::Cleanup(e) => e.kube(),
            Error::Status(e) => Some(e.kube()),
            Error::Finalizer(e) => Some(e),
            Error::Rejected(_) | Error::Unnamed => None,
        }
    }

    /// Not a failure: deletion waits for the namespace to go.
    pub fn is_waiting(&self) -> bool {
        matches!(
            self,
            Error::Cleanup(CleanupError::NamespaceTerminating { .. })
        )
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
    pub seen: Arc<memo::Seen>,
    /// What each store's last pass applied.
    pub memos: memo::Memos,
    /// Each setup Job's state as last read.
    pub jobs: memo::JobStates,
    /// Operator configuration.
    pub config: OperatorConfig,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The hosts every Ingress and HTTPRoute of the cluster routes (empty until
    /// [`Context::with_routes`]).
    pub routes: Arc<routes::RoutedHosts>,
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
            jobs: memo::JobStates::default(),
            memos: memo::Memos::default(),
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
    pub fn with_routes(self, routes: Arc<routes::RoutedHosts>) -> Self {
        Self { routes, ..self }
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

    /// Frees the store's place under the caps.
    fn release(&self, name: &str) {
        self.admitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

/// How soon to come back after a failed reconcile: a conflict (someone else wrote first) at
/// once, a namespace being deleted in a few seconds, anything else with a per-store backoff
/// (5 s doubling to 5 min). Errors the user must fix never get here: they are status.
pub fn error_policy(store: &Store, error: &Error, ctx: &Context) -> Duration {
    let name = store.metadata.name.as_deref().unwrap_or_default();
    if !error.is_waiting() {
        ctx.metrics.reconcile_error(error.metric_label());
    }
    if error.is_waiting() {
        DELETION_RECHECK
    } else if error.kube().and_then(status_code) == Some(409) {
        Duration::from_secs(1)
    } else {
        ctx.backoff(name)
    }
}
