//! The migration step of a Medusa store: the Job `migrate-<hash of the image>` runs
//! `medusa db:migrate` once the data services are ready; `apply` does not apply the server and
//! worker Deployments until it has succeeded, so a new image never serves before its database is
//! migrated. Two migrations never run at once: a new image's Job waits while one of an earlier
//! image still runs. A failed migration fails the store until a retry; a finished one removes
//! the finished migration Jobs of earlier images.

use std::ops::ControlFlow;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use storefleet_types::names;

use crate::controller::calls::{ApplyError, align_owners, create_once, delete_child, get};
use crate::controller::children::{ChildKind, key_of};
use crate::controller::context::Context;
use crate::controller::memory::Memo;
use crate::controller::observe::{self, JobState, Step};
use crate::controller::status::Blocked;

/// What the migration step concluded.
#[derive(Debug)]
pub struct Migration {
    pub step: Step,
    /// Set when the Job failed for good.
    pub blocked: Option<Blocked>,
    /// A failed Job was just deleted for a retry.
    pub restarting: bool,
}

impl Migration {
    fn of(step: Step) -> Self {
        Self {
            step,
            blocked: None,
            restarting: false,
        }
    }
}

/// A migration Job: created once the data services are ready, then read until it is done. Its
/// step is memoized like an applied child, so a finished migration costs no call. A failed Job
/// fails the store (`MigrationFailed`) until a retry deletes it; once a migration succeeded,
/// the finished migration Jobs of earlier images are removed.
pub async fn migrate(
    ctx: &Context,
    memo: &mut Memo,
    job: &Job,
    data_ready: bool,
    retry: bool,
) -> Result<Migration, ApplyError> {
    let key = key_of::<Job>(&job.metadata);
    if !retry
        && memo.unchanged(&key, &ctx.seen)
        && let Some(step) = memo.workloads.get(&key)
        && step.is_ready()
    {
        return Ok(Migration::of(step.clone()));
    }
    let name = job.metadata.name.clone().unwrap_or_default();
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let live = match get::<Job>(ctx, &job.metadata).await? {
        Some(live) => live,
        None if !data_ready => {
            return Ok(Migration::of(Step::Waiting(
                "Waiting for the database and the cache before migrating the database".into(),
            )));
        }
        None => match start(ctx, job, &namespace, &name).await? {
            ControlFlow::Continue(created) => created,
            ControlFlow::Break(waiting) => return Ok(waiting),
        },
    };
    if live.metadata.deletion_timestamp.is_some() {
        return Ok(Migration {
            restarting: true,
            ..Migration::of(Step::Waiting("Restarting the migration".into()))
        });
    }
    align_owners::<Job>(ctx, &live.metadata, &job.metadata).await?;
    let migration = match observe::job(&live) {
        JobState::Succeeded => {
            remove_earlier_migrations(ctx, &namespace, &name).await?;
            Migration::of(Step::Ready)
        }
        JobState::Running(m) => Migration::of(Step::Waiting(format!(
            "Migrating the database (job {name}: {m})"
        ))),
        JobState::Failed { reason, .. } if retry => {
            tracing::info!(job = %name, %reason, "deleting failed migration job for a retry");
            delete_child::<Job>(ctx, &namespace, &name).await?;
            return Ok(Migration {
                restarting: true,
                ..Migration::of(Step::Waiting(format!(
                    "Restarting the migration after {reason}"
                )))
            });
        }
        JobState::Failed { reason, message } => failed(&name, &namespace, &reason, &message),
    };
    memo.record(key.clone(), live.metadata.resource_version.as_deref());
    memo.workloads.insert(key, migration.step.clone());
    Ok(migration)
}

/// Creates the migration Job once no Job of an earlier image runs (Continue with it); or the
/// step to report meanwhile (Break).
async fn start(
    ctx: &Context,
    job: &Job,
    namespace: &str,
    name: &str,
) -> Result<ControlFlow<Migration, Job>, ApplyError> {
    if let Some(running) = earlier_running(ctx, namespace, name).await? {
        return Ok(ControlFlow::Break(Migration::of(Step::Waiting(format!(
            "Waiting for migration job {running} (of an earlier image) to finish before starting {name}"
        )))));
    }
    Ok(match create_once(ctx, job).await? {
        Some(created) => ControlFlow::Continue(created),
        None => ControlFlow::Break(Migration::of(Step::Waiting(format!(
            "Migration job {name} started"
        )))),
    })
}

/// A migration that failed for good: the store is Failed until a retry.
fn failed(name: &str, namespace: &str, reason: &str, message: &str) -> Migration {
    let text = format!(
        "Migration job {name} failed ({reason}: {message}); see `kubectl logs -n {namespace} job/{name}`. Change the spec or the {} annotation to retry",
        names::RETRY_ANNOTATION
    );
    Migration {
        step: Step::Waiting(text.clone()),
        blocked: Some(Blocked {
            reason: "MigrationFailed".into(),
            message: text,
        }),
        restarting: false,
    }
}

/// The migration Jobs of this store other than `current`, read whole (for their state); none
/// and no request when the watches show no other migration Job in the namespace.
async fn others(ctx: &Context, namespace: &str, current: &str) -> Result<Vec<Job>, ApplyError> {
    let any_other = ctx
        .seen
        .names("Job", namespace)
        .iter()
        .any(|n| n != current && n.starts_with(names::child::MIGRATION_JOB_PREFIX));
    if !any_other {
        return Ok(Vec::new());
    }
    let selector = format!(
        "{}={}",
        names::labels::COMPONENT,
        names::Component::Migration.as_str()
    );
    ctx.metrics.api_request("list");
    let jobs = <Job as ChildKind>::api(ctx.client.clone(), namespace)
        .list(&kube::api::ListParams::default().labels(&selector))
        .await
        .map_err(|source| ApplyError::Read {
            object: format!("migration jobs in {namespace}"),
            source,
        })?;
    Ok(jobs
        .items
        .into_iter()
        .filter(|j| j.name_any() != current)
        .collect())
}

/// An earlier image's migration Job that still runs (or is still being deleted), if any.
async fn earlier_running(
    ctx: &Context,
    namespace: &str,
    current: &str,
) -> Result<Option<String>, ApplyError> {
    Ok(others(ctx, namespace, current)
        .await?
        .into_iter()
        .find(|j| {
            j.metadata.deletion_timestamp.is_some()
                || matches!(observe::job(j), JobState::Running(_))
        })
        .map(|j| j.name_any()))
}

/// Deletes the finished migration Jobs of earlier images (a running one is left to finish).
async fn remove_earlier_migrations(
    ctx: &Context,
    namespace: &str,
    current_name: &str,
) -> Result<(), ApplyError> {
    for other in others(ctx, namespace, current_name).await? {
        let finished = !matches!(observe::job(&other), JobState::Running(_));
        if finished && other.metadata.deletion_timestamp.is_none() {
            delete_child::<Job>(ctx, namespace, &other.name_any()).await?;
        }
    }
    Ok(())
}
