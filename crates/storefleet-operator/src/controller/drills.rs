//! Drills (`desired/backup/drill.rs`): a backup counts once a restore proved it. When a set-up
//! store's drill is due (right after its first backup, then on its drill schedule, or asked for
//! with `storefleet.io/drill-now`) and fewer than the configured number of drills run across the
//! fleet, the operator makes the store's throwaway namespace and the drill in it
//! (`status.backup.runningDrill`); when the drill's Job has finished, it records what the drill
//! reported (`lastVerifiedRestore`, or what failed), says so in an event, and removes the
//! namespace (`lastDrill`, the `BackupVerified` condition).
//!
//! What to do next is worked out from the status and the watches alone ([`next`], pure).

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use storefleet_types::names;
use storefleet_types::{BackupStatus, DrillRun, Store};
use tracing::{info, warn};

use crate::config::next_fire;
use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::memory::ChildKey;
use crate::controller::observe::{JobSeen, JobState};
use crate::controller::requests::{self, ApplyError};
use crate::controller::status::{Backups, StatusFacts};
use crate::controller::{backups, report, reports};
use crate::desired::backup::drill::{DrillObjects, build_drill, drill_job_name, drill_namespace};
use crate::desired::secrets::Csprng;
use crate::desired::{self, StoreObjects};
use crate::validate::ValidatedStore;

/// What a store's drills need to decide the next step.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The drill schedule (cron, UTC); None when the store has no backups or they are off.
    pub schedule: Option<&'a str>,
    /// Whether the store is set up on its current data and has a successful backup.
    pub backed_up: bool,
    /// What the status holds.
    pub status: Option<&'a BackupStatus>,
    /// The value of `storefleet.io/drill-now`, if set.
    pub asked: Option<&'a str>,
    /// Whether the watches show the drill's namespace.
    pub namespace_exists: bool,
    /// What the watch shows of the running drill's Job.
    pub job: Option<&'a JobSeen>,
    /// How many drills' namespaces exist across the fleet, and how many may.
    pub capacity: (usize, u32),
    /// Now.
    pub now: Timestamp,
}

/// The next step of a store's drills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing to do now.
    Idle,
    /// A drill runs (or its namespace is going): wait for its watch.
    Wait,
    /// Start a drill: its Job's name and the `drill-now` value it answers.
    Start {
        /// The Job's name.
        job: String,
        /// The annotation's value it answers.
        asked: Option<String>,
    },
    /// The running drill's Job finished (`succeeded`, finished `at`): record it, remove the
    /// namespace.
    Finish {
        /// Whether it succeeded.
        succeeded: bool,
        /// The Job controller's reason when it failed (its pod's words are read besides).
        reason: Option<String>,
        /// When it finished.
        at: String,
    },
    /// The running drill's namespace is gone before its Job finished: record a failure.
    Vanished,
    /// Remove the namespace of a drill that is recorded (or of none).
    Remove,
}

/// The next step of a store's drills (pure).
pub fn next(i: &Inputs<'_>) -> Next {
    let status = i.status.cloned().unwrap_or_default();
    if let Some(running) = &status.running_drill {
        return match (i.namespace_exists, i.job) {
            (true, Some(job)) => match &job.state {
                JobState::Running(_) => Next::Wait,
                JobState::Succeeded => Next::Finish {
                    succeeded: true,
                    reason: None,
                    at: job.finished_at.clone().unwrap_or_else(|| i.now.to_string()),
                },
                JobState::Failed { reason, .. } => Next::Finish {
                    succeeded: false,
                    reason: Some(reason.clone()),
                    at: job.finished_at.clone().unwrap_or_else(|| i.now.to_string()),
                },
            },
            // Made, not yet seen whole.
            (true, None) => Next::Wait,
            (false, _) if started_before(running, i.now, 120) => Next::Vanished,
            (false, _) => Next::Wait,
        };
    }
    if i.namespace_exists {
        // A drill recorded (or one of a store whose backups went): its namespace goes.
        return Next::Remove;
    }
    let Some(schedule) = i.schedule.filter(|_| i.backed_up) else {
        return Next::Idle;
    };
    let answered = status.last_drill.as_ref().and_then(|d| d.asked.as_deref());
    let asked = i.asked.filter(|a| Some(*a) != answered);
    let last_start = status
        .last_drill
        .as_ref()
        .and_then(|d| d.started_at.parse::<Timestamp>().ok());
    let scheduled = match last_start {
        // A backup counts once a drill proved it: the first one runs at once.
        None => true,
        Some(at) => next_fire(schedule, at).is_some_and(|fire| fire <= i.now),
    };
    let (running, allowed) = i.capacity;
    if (asked.is_some() || scheduled) && running < allowed as usize {
        Next::Start {
            job: drill_job_name(i.now.as_second()),
            asked: asked.map(String::from),
        }
    } else {
        Next::Idle
    }
}

/// Whether `run` started more than `seconds` before `now`.
fn started_before(run: &DrillRun, now: Timestamp, seconds: i64) -> bool {
    run.started_at
        .parse::<Timestamp>()
        .is_ok_and(|at| now.as_second() - at.as_second() > seconds)
}

/// The store's drills as the `BackupVerified` condition shows them: the newest finished drill.
pub fn observed(store: &ValidatedStore, facts: &StatusFacts) -> Option<Backups> {
    let backup = store.backup.as_ref()?;
    if !backup.scheduled {
        return Some(Backups::Off);
    }
    let last = facts.backup.as_ref().and_then(|b| b.last_drill.as_ref());
    Some(match last {
        None => Backups::NoneYet,
        Some(run) if run.succeeded == Some(true) => Backups::Succeeded {
            job: run.job.clone(),
            at: run.finished_at.clone().unwrap_or_default(),
        },
        Some(run) => Backups::Failed {
            job: run.job.clone(),
            reason: run
                .message
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
            logs: None,
        },
    })
}

/// Drives the store's drills one step (see [`next`]).
pub async fn drive(
    ctx: &Context,
    store: &Store,
    validated: &ValidatedStore,
    objects: &StoreObjects,
    facts: &mut StatusFacts,
) -> Result<(), ApplyError> {
    let namespace = drill_namespace(&validated.name);
    let seen = ctx.memory.seen();
    let status = facts.backup.clone();
    let running_job = status
        .as_ref()
        .and_then(|s| s.running_drill.as_ref())
        .and_then(|r| seen.job(&ChildKey::new("Job", Some(&namespace), Some(&r.job))));
    let backed_up =
        facts.completed_setup.is_some() && status.as_ref().is_some_and(|s| s.last.is_some());
    let backup = validated.backup.as_ref();
    let namespace_exists = seen.contains(&ChildKey::new("Namespace", None, Some(&namespace)));
    let idle = status.as_ref().is_none_or(|s| s.running_drill.is_none());
    let inputs = Inputs {
        schedule: backup
            .filter(|b| b.scheduled)
            .map(|b| b.drill_schedule.as_str()),
        backed_up,
        status: status.as_ref(),
        asked: store
            .annotations()
            .get(names::DRILL_NOW_ANNOTATION)
            .map(String::as_str),
        namespace_exists,
        job: running_job.as_ref(),
        capacity: capacity(ctx, backed_up && idle && !namespace_exists),
        now: ctx.clock.now(),
    };
    match next(&inputs) {
        Next::Idle | Next::Wait => Ok(()),
        Next::Start { job, asked } => {
            let run = DrillRun {
                job,
                namespace,
                started_at: inputs.now.to_string(),
                asked,
                ..DrillRun::default()
            };
            begin(ctx, validated, objects, run, facts).await
        }
        Next::Finish {
            succeeded,
            reason,
            at,
        } => {
            finish(ctx, store, facts, succeeded, reason, &at).await;
            remove(ctx, &namespace).await
        }
        Next::Vanished => {
            let message = format!("its namespace {namespace} was removed before it finished");
            finished(
                ctx,
                store,
                facts,
                false,
                Some(message),
                &inputs.now.to_string(),
            )
            .await;
            Ok(())
        }
        Next::Remove => remove(ctx, &namespace).await,
    }
}

/// How many drills' namespaces exist across the fleet, and how many may. They are counted (a
/// scan of what the watches saw) only where a drill `could_start`, never on the passes of stores
/// that cannot start one.
fn capacity(ctx: &Context, could_start: bool) -> (usize, u32) {
    let allowed = ctx
        .config
        .backup
        .as_ref()
        .map_or(0, |b| b.drill_concurrency);
    if !could_start {
        return (0, allowed);
    }
    let running = ctx
        .memory
        .seen()
        .names("Namespace", "")
        .into_iter()
        .filter(|n| n.starts_with(names::DRILL_NAMESPACE_PREFIX))
        .count();
    (running, allowed)
}

/// Starts the drill `run` of the store: its objects made, the run in `status.backup`.
async fn begin(
    ctx: &Context,
    validated: &ValidatedStore,
    objects: &StoreObjects,
    run: DrillRun,
    facts: &mut StatusFacts,
) -> Result<(), ApplyError> {
    let Some(backup) = validated.backup.as_ref() else {
        return Ok(());
    };
    let parts = desired::backup_parts(validated);
    let asked = run.asked.as_deref();
    let drill = build_drill(validated, objects, backup, &parts, &run.job, asked);
    start(ctx, &drill).await?;
    info!(store = %validated.name, namespace = %run.namespace, job = %run.job, "drill started");
    facts.backup.get_or_insert_default().running_drill = Some(run);
    Ok(())
}

/// Creates the drill's objects, the namespace first (each once: a drill is never changed).
async fn start(ctx: &Context, drill: &DrillObjects) -> Result<(), ApplyError> {
    if let Some(created) = requests::create_once::<Namespace>(ctx, &drill.namespace).await? {
        // Seen at once: the next pass must not take the drill for gone before the watch shows it.
        let key = key_of::<Namespace>(&created.metadata);
        ctx.memory
            .seen()
            .saw(key, created.metadata.resource_version.as_deref());
    }
    requests::create_once::<NetworkPolicy>(ctx, &drill.policy).await?;
    for template in &drill.secrets {
        requests::create_once::<Secret>(ctx, &template.materialize(&mut Csprng)).await?;
    }
    if let Some(secret) = &drill.repository {
        requests::create_once::<Secret>(ctx, secret).await?;
    }
    for config_map in &drill.config_maps {
        requests::create_once::<ConfigMap>(ctx, config_map).await?;
    }
    requests::create_once::<Service>(ctx, &drill.service).await?;
    requests::create_once::<Job>(ctx, &drill.job).await?;
    Ok(())
}

/// Records the finished drill: its report when it succeeded, its failing step's words when not.
async fn finish(
    ctx: &Context,
    store: &Store,
    facts: &mut StatusFacts,
    succeeded: bool,
    reason: Option<String>,
    at: &str,
) {
    let Some(running) = facts.backup.as_ref().and_then(|b| b.running_drill.clone()) else {
        return;
    };
    let message = if succeeded {
        match reports::read(ctx, &running.namespace, &running.job, "check").await {
            Ok(report) => {
                let record = backups::record_of(&running.job, at, report.as_deref());
                facts.backup.get_or_insert_default().last_verified_restore = Some(record);
                None
            }
            Err(e) => {
                warn!(store = %running.namespace, error = %e, "cannot read the drill's report");
                None
            }
        }
    } else {
        let words = reports::failure(ctx, &running.namespace, &running.job)
            .await
            .unwrap_or_default();
        Some(match (words, reason) {
            (Some(words), _) => words,
            (None, Some(reason)) => format!("its Job failed ({reason})"),
            (None, None) => "its Job failed".into(),
        })
    };
    finished(ctx, store, facts, succeeded, message, at).await;
}

/// Moves the running drill to `lastDrill` with its outcome, and says so in an event.
async fn finished(
    ctx: &Context,
    store: &Store,
    facts: &mut StatusFacts,
    succeeded: bool,
    message: Option<String>,
    at: &str,
) {
    let status = facts.backup.get_or_insert_default();
    let Some(mut run) = status.running_drill.take() else {
        return;
    };
    run.finished_at = Some(at.to_string());
    run.succeeded = Some(succeeded);
    run.message = message.clone();
    let note = match &message {
        None => format!(
            "Drill {} proved the newest backup: restored, the shop served, its admin logged in",
            run.job
        ),
        Some(why) => format!("Drill {} failed: {why}", run.job),
    };
    status.last_drill = Some(run);
    let (type_, reason) = if succeeded {
        (EventType::Normal, "DrillSucceeded")
    } else {
        (EventType::Warning, "DrillFailed")
    };
    info!(store = %store.name_any(), succeeded, "{note}");
    report::publish(store, ctx, type_, reason, "Drill", &note).await;
}

/// Deletes a drill's namespace (and so everything in it); gone or already going is success.
pub async fn remove(ctx: &Context, namespace: &str) -> Result<(), ApplyError> {
    match requests::delete_child::<Namespace>(ctx, "", namespace).await {
        Err(e) if requests::status_code(e.kube()) == Some(409) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
