//! The errors a reconcile ends with (one variant per step, its name the metric label) and how
//! soon a store whose reconcile failed is looked at again.

use std::time::Duration;

use kube::runtime::finalizer;
use storefleet_types::Store;

use crate::controller::backup_keys::BackupKeyError;
use crate::controller::cleanup::CleanupError;
use crate::controller::context::{Context, NAMESPACE_GONE_FALLBACK};

/// How soon a store is looked at again while the child watches list (nothing else triggers it).
pub const WATCHES_LISTING_RECHECK: Duration = Duration::from_millis(500);
use crate::controller::report::StatusError;
use crate::controller::requests::{ApplyError, status_code};

/// Errors a reconcile can end with, one variant per step. User errors are not here: they become
/// status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Applying the children failed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The setup step's requests failed.
    #[error(transparent)]
    Setup(ApplyError),
    /// The platform's backup keys cannot be used.
    #[error(transparent)]
    Backup(#[from] BackupKeyError),
    /// A drill's requests failed (starting it, removing its namespace).
    #[error("drill: {0}")]
    Drill(#[source] ApplyError),
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
    /// The child watches have not listed every object yet (the operator just started): what
    /// they saw is not the whole picture, so no pass runs yet.
    #[error("waiting for the child watches to list every object")]
    WatchesListing,
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
            Error::Backup(_) => "Backup",
            Error::Drill(_) => "Drill",
            Error::Cleanup(CleanupError::NamespaceTerminating { .. }) => "NamespaceTerminating",
            Error::Cleanup(_) => "Cleanup",
            Error::Status(_) => "Status",
            Error::Finalizer(_) => "Finalizer",
            Error::Rejected(_) => "Rejected",
            Error::Unnamed => "Unnamed",
            Error::WatchesListing => "WatchesListing",
        }
    }

    /// The apiserver's error behind this one, if any.
    pub fn kube(&self) -> Option<&kube::Error> {
        match self {
            Error::Apply(e) => Some(e.kube()),
            Error::Setup(e) | Error::Drill(e) => Some(e.kube()),
            Error::Backup(e) => e.kube(),
            Error::Cleanup(e) => e.kube(),
            Error::Status(e) => Some(e.kube()),
            Error::Finalizer(e) => Some(e),
            Error::Rejected(_) | Error::Unnamed | Error::WatchesListing => None,
        }
    }

    /// Not a failure: deletion waits for the namespace to go; a pass waits for the watches'
    /// first lists.
    pub fn is_waiting(&self) -> bool {
        matches!(
            self,
            Error::Cleanup(CleanupError::NamespaceTerminating { .. }) | Error::WatchesListing
        )
    }
}

/// How soon to come back after a failed reconcile: a conflict (someone else wrote first) at
/// once; a deleted store whose namespace is still going when the namespace watch shows it gone
/// (an event: no polling; a minute as a fallback); a pass before the child watches listed
/// everything in half a second; anything else with a per-store backoff (5 s
/// doubling to 5 min). Errors the user must fix never get here: they are status.
pub fn error_policy(store: &Store, error: &Error, ctx: &Context) -> Duration {
    let name = store.metadata.name.as_deref().unwrap_or_default();
    if !error.is_waiting() {
        ctx.metrics.reconcile_error(error.metric_label());
    }
    if matches!(error, Error::WatchesListing) {
        WATCHES_LISTING_RECHECK
    } else if error.is_waiting() {
        NAMESPACE_GONE_FALLBACK
    } else if error.kube().and_then(status_code) == Some(409) {
        Duration::from_secs(1)
    } else {
        ctx.memory.backoff(name)
    }
}
