//! A store's backups beyond its CronJob: what they show (pure, from the watches: the newest
//! finished backup Job, succeeded or failed, for the `BackupReady` condition), and a backup
//! asked for now (`storefleet.io/backup-now`): one Job from the CronJob's template per value.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use storefleet_types::Store;
use storefleet_types::names::{self, Component, child};
use tracing::info;

use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::memory::Seen;
use crate::controller::observe::JobState;
use crate::controller::requests::{self, ApplyError};
use crate::controller::status::Backups;
use crate::desired::StoreObjects;
use crate::desired::shop::hashed_name;
use crate::validate::ValidatedStore;

/// The Job of the backup the store's `storefleet.io/backup-now` annotation asks for, if any.
pub fn asked(store: &Store, objects: &StoreObjects) -> Option<Job> {
    let value = store.annotations().get(names::BACKUP_NOW_ANNOTATION)?;
    on_demand(objects, value)
}

/// The Job of a backup asked for with `value` of the annotation: the CronJob's template, tagged
/// `manual`, named after the value (so each value is one backup, created once).
pub fn on_demand(objects: &StoreObjects, value: &str) -> Option<Job> {
    let backup = objects.backup.as_ref()?;
    let template = backup.cron_job.spec.job_template.clone();
    let mut spec = template.spec?;
    for container in spec
        .template
        .spec
        .iter_mut()
        .flat_map(|pod| pod.containers.iter_mut())
    {
        for var in container.env.iter_mut().flatten() {
            if var.name == "REASON" {
                var.value = Some("manual".into());
            }
        }
    }
    let name = hashed_name(&format!("{}-now-", child::BACKUP), &[value]);
    let mut metadata = backup.cron_job.metadata.clone();
    metadata.name = Some(name);
    metadata.labels.get_or_insert_default().insert(
        storefleet_types::names::labels::COMPONENT.into(),
        Component::Backup.as_str().into(),
    );
    Some(Job {
        metadata,
        spec: Some(spec),
        status: None,
    })
}

/// Creates the backup Job asked for, once: no request while the watch shows it (it is kept, so
/// the same value never backs up twice).
pub async fn start(ctx: &Context, job: &Job) -> Result<(), ApplyError> {
    if ctx.memory.seen().contains(&key_of::<Job>(&job.metadata)) {
        return Ok(());
    }
    if requests::create_once(ctx, job).await?.is_some() {
        info!(job = %job.name_any(), "backup asked for: started");
    }
    Ok(())
}

/// The store's backups and drills as their Jobs show them; None for a store without backups.
pub fn observed(seen: &Seen, store: &ValidatedStore) -> (Option<Backups>, Option<Backups>) {
    (
        newest(seen, store, child::BACKUP),
        newest(seen, store, child::DRILL),
    )
}

/// The newest finished Job whose name starts with `cron_job` and a dash.
fn newest(seen: &Seen, store: &ValidatedStore, cron_job: &str) -> Option<Backups> {
    let backup = store.backup.as_ref()?;
    if !backup.scheduled {
        return Some(Backups::Off);
    }
    let prefix = format!("{cron_job}-");
    let newest = seen
        .jobs(&store.namespace, &prefix)
        .into_iter()
        .filter_map(|(name, job)| {
            let job = job?;
            let at = job.finished_at.clone()?;
            Some((at, name, job.state))
        })
        .max_by(|a, b| a.0.cmp(&b.0));
    Some(match newest {
        None => Backups::NoneYet,
        Some((at, job, JobState::Succeeded)) => Backups::Succeeded { job, at },
        Some((_, job, JobState::Failed { reason, .. })) => Backups::Failed {
            job,
            reason,
            namespace: store.namespace.clone(),
        },
        Some((_, _, JobState::Running(_))) => Backups::NoneYet,
    })
}
