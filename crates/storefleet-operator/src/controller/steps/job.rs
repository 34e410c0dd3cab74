//! The shape every step shares: one Job per input (its name a hash of them), created once behind
//! its gates, never two of a step at once, read from its watch, retried by deletion.
//!
//! [`run`] decides, from what the watch of Jobs showed (a read only when it has not shown the Job
//! yet, or shows it with other owners than wanted), what the step's Job is now ([`Gate`]). The
//! steps (`setup.rs`, `migration.rs`) say what gates it and what their [`Gate`] means for the
//! status. Jobs of a step's earlier inputs are left to the sweep (`sweep.rs`), which removes the
//! finished ones once the step's current Job has succeeded.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use storefleet_types::names;
use tracing::info;

use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::observe::{self, JobSeen, JobState};
use crate::controller::requests::{self, ApplyError};
use crate::controller::status::Blocked;

/// A kind of step run as Jobs: what names its Jobs, what its status messages call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepKind {
    /// The prefix of its Jobs' names (the rest is a hash of its inputs).
    pub prefix: &'static str,
    /// How its messages name it: "Setup", "Migration".
    pub title: &'static str,
    /// The status reason when its Job failed for good.
    pub failed_reason: &'static str,
}

/// The setup step: WP-CLI (WooCommerce) or `medusa exec` (Medusa) installs the shop.
pub const SETUP: StepKind = StepKind {
    prefix: names::child::SETUP_JOB_PREFIX,
    title: "Setup",
    failed_reason: "SetupFailed",
};

/// The migration step (Medusa): `medusa db:migrate` for an image before it serves.
pub const MIGRATION: StepKind = StepKind {
    prefix: names::child::MIGRATION_JOB_PREFIX,
    title: "Migration",
    failed_reason: "MigrationFailed",
};

/// The restore step (`spec.restoreFrom`): a backup put in place before setup, once.
pub const RESTORE: StepKind = StepKind {
    prefix: names::child::RESTORE_JOB_PREFIX,
    title: "Restore",
    failed_reason: "RestoreFailed",
};

/// A backup asked for now (`storefleet.io/backup-now`): one Job per value of the annotation; the
/// sweep keeps the current value's, so that value never backs up twice.
pub const BACKUP_NOW: StepKind = StepKind {
    prefix: "backup-now-",
    title: "Backup",
    failed_reason: "BackupFailed",
};

/// An upgrade's backup before anything changes (`steps/upgrade.rs`): its snapshot is the restore
/// point.
pub const UPGRADE_BACKUP: StepKind = StepKind {
    prefix: "upgrade-backup-",
    title: "Pre-upgrade backup",
    failed_reason: "UpgradeBackupFailed",
};

/// A walk through an upgraded shop (the checkout probe's steps).
pub const UPGRADE_CHECK: StepKind = StepKind {
    prefix: "upgrade-check-",
    title: "Upgrade check",
    failed_reason: "UpgradeCheckFailed",
};

/// A walk through a shop rolled back after a failed upgrade.
pub const ROLLBACK_CHECK: StepKind = StepKind {
    prefix: "rollback-check-",
    title: "Rollback check",
    failed_reason: "RollbackCheckFailed",
};

/// What decides whether a step's Job may run now.
#[derive(Debug, Clone)]
pub struct Gates {
    /// None when open; else what the step waits for.
    pub closed: Option<String>,
    /// Done with this Job already (the status says so): nothing to run.
    pub done: bool,
    /// This pass is a retry after a failure: a failed Job is deleted and run again.
    pub retry: bool,
}

/// Where a step's Job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Not started: behind its gates, or behind a Job of the step's earlier inputs.
    Waiting(String),
    /// Started by this pass.
    Started(String),
    /// Started earlier and not finished: what its Job says.
    Running(String),
    /// Succeeded (now or earlier).
    Done,
    /// Failed (or deleted) for a retry: starting again.
    Restarting(String),
    /// Failed for good: the store is Failed until a retry.
    Failed(Blocked),
}

impl Gate {
    /// A failed Job was just deleted: look again soon.
    pub fn restarting(&self) -> bool {
        matches!(self, Gate::Restarting(_))
    }
}

/// Runs the step `kind` whose Job this pass is `job`, behind `gates`.
pub async fn run(
    ctx: &Context,
    kind: StepKind,
    job: &Job,
    gates: &Gates,
) -> Result<Gate, ApplyError> {
    let key = key_of::<Job>(&job.metadata);
    let name = job.name_any();
    let namespace = job.namespace().unwrap_or_default();
    let owned = job.metadata.owner_references.is_some();
    let seen = match ctx.memory.job(&key) {
        // Its owners as wanted (a retained store's Job has none): the watch is enough.
        Some(seen) if seen.owned == owned => Some(seen),
        Some(_) => read(ctx, job).await?,
        None if gates.done => None,
        None => {
            if let Some(waiting) = waiting(ctx, kind, &namespace, &name, gates) {
                return Ok(waiting);
            }
            match requests::create_once(ctx, job).await? {
                Some(_) => {
                    info!(job = %name, step = kind.title, "started");
                    return Ok(Gate::Started(format!("{} job {name} started", kind.title)));
                }
                // There already (the watch had not shown it): read it.
                None => read(ctx, job).await?,
            }
        }
    };
    if gates.done {
        return Ok(Gate::Done);
    }
    let Some(seen) = seen else {
        return Ok(Gate::Started(format!("{} job {name} started", kind.title)));
    };
    if seen.deleting {
        return Ok(Gate::Restarting(format!("Restarting the {}", lower(kind))));
    }
    Ok(match seen.state {
        JobState::Succeeded => Gate::Done,
        JobState::Running(m) => Gate::Running(m),
        JobState::Failed { reason, .. } if gates.retry => {
            info!(job = %name, %reason, step = kind.title, "deleting the failed job for a retry");
            requests::delete_child::<Job>(ctx, &namespace, &name).await?;
            Gate::Restarting(format!("Restarting the {} after {reason}", lower(kind)))
        }
        JobState::Failed { reason, message } => {
            Gate::Failed(failed(kind, &name, &namespace, &reason, &message))
        }
    })
}

/// Why a step's Job that does not exist yet does not start now: a Job of the step's earlier
/// inputs still runs (never two at once), or its gates are closed.
fn waiting(
    ctx: &Context,
    kind: StepKind,
    namespace: &str,
    name: &str,
    gates: &Gates,
) -> Option<Gate> {
    let earlier = ctx
        .memory
        .seen()
        .jobs(namespace, kind.prefix)
        .into_iter()
        .find(|(other, seen)| other != name && seen.as_ref().is_none_or(JobSeen::busy));
    if let Some((earlier, _)) = earlier {
        return Some(Gate::Waiting(format!(
            "Waiting for {} job {earlier} (of an earlier spec) to finish before starting {name}",
            lower(kind)
        )));
    }
    gates.closed.clone().map(Gate::Waiting)
}

/// Reads the step's Job (its watch has not shown it, or shows other owners), gives it the owners
/// wanted, and says what it shows; None when it is gone.
async fn read(ctx: &Context, job: &Job) -> Result<Option<JobSeen>, ApplyError> {
    let Some(live) = requests::get::<Job>(ctx, &job.metadata).await? else {
        return Ok(None);
    };
    requests::align_owners::<Job>(ctx, &live.metadata, &job.metadata).await?;
    Ok(Some(JobSeen {
        owned: job.metadata.owner_references.is_some(),
        ..observe::job_seen(&live)
    }))
}

/// A step's Job that failed for good: what the status says and what to do.
fn failed(kind: StepKind, name: &str, namespace: &str, reason: &str, message: &str) -> Blocked {
    Blocked {
        reason: kind.failed_reason.into(),
        message: format!(
            "{} job {name} failed ({reason}: {message}); see `kubectl logs -n {namespace} job/{name}`. Change the spec or the {} annotation to retry",
            kind.title,
            names::RETRY_ANNOTATION
        ),
    }
}

fn lower(kind: StepKind) -> String {
    kind.title.to_lowercase()
}
