//! The migration step of a Medusa store: the Job `migrate-<hash of the image>` runs
//! `medusa db:migrate` once the data services are ready; `apply` does not apply the server and
//! worker Deployments until it has succeeded, so a new image never serves before its database is
//! migrated. A failed migration fails the store until a retry; a finished one removes the
//! migration Jobs of earlier images.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use storefleet_types::names;

use super::Context;
use super::apply::key_of;
use super::calls::{ApplyError, align_owners, create_once, delete_child, get};
use super::children::ChildKind;
use super::memo::Memo;
use super::observe::{self, JobState, Step};
use super::status::Blocked;

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
        None => match create_once(ctx, job).await? {
            Some(created) => created,
            None => {
                return Ok(Migration::of(Step::Waiting(format!(
                    "Migration job {name} started"
                ))));
            }
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
            remove_earlier_migrations(ctx, &namespace, &live, &name).await?;
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
        JobState::Failed { reason, message } => {
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
    };
    memo.record(key.clone(), live.metadata.resource_version.as_deref());
    memo.workloads.insert(key, migration.step.clone());
    Ok(migration)
}

/// Deletes the finished migration Jobs of earlier images (a running one is left to finish).
async fn remove_earlier_migrations(
    ctx: &Context,
    namespace: &str,
    current: &Job,
    current_name: &str,
) -> Result<(), ApplyError> {
    let Some(store) = current.labels().get(names::labels::STORE).cloned() else {
        return Ok(());
    };
    let selector = format!(
        "{}={store},{}={}",
        names::labels::STORE,
        names::labels::COMPONENT,
        names::Component::Migration.as_str()
    );
    ctx.metrics.api_request("list");
    let jobs = <Job as ChildKind>::api(ctx.client.clone(), namespace)
        .list_metadata(&kube::api::ListParams::default().labels(&selector))
        .await
        .map_err(|source| ApplyError::Read {
            object: format!("migration jobs in {namespace}"),
            source,
        })?;
    for other in jobs.items {
        let other_name = other.name_any();
        if other_name != current_name && other.metadata.deletion_timestamp.is_none() {
            delete_child::<Job>(ctx, namespace, &other_name).await?;
        }
    }
    Ok(())
}
