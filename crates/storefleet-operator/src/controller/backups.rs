//! A store's backups beyond its CronJob: what they show (pure, from the watches: the newest
//! finished backup Job, succeeded or failed, for the `BackupReady` condition), and a backup
//! asked for now (`storefleet.io/backup-now`): one Job from the CronJob's template per value;
//! and what the newest backup reported (its pod's termination message, read once per Job into
//! `status.backup.last`). Drills are `drills.rs`'s.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::ResourceExt;
use serde::Deserialize;
use storefleet_types::names::{self, Component, child};
use storefleet_types::{BackupRecord, Store};
use tracing::{info, warn};

use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::memory::Seen;
use crate::controller::observe::JobState;
use crate::controller::reports;
use crate::controller::requests::{self, ApplyError};
use crate::controller::status::{Backups, StatusFacts};
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
    let name = hashed_name(&format!("{}-now-", child::BACKUP), &[value]);
    let mut job = from_template(&backup.cron_job, name, Some("manual"))?;
    job.metadata.labels.get_or_insert_default().insert(
        names::labels::COMPONENT.into(),
        Component::Backup.as_str().into(),
    );
    Some(job)
}

/// A Job `name` from the CronJob `cron_job`'s template (its labels and owners), with its
/// `REASON` (a backup's snapshot tag) set to `reason` when given. None when the template has no
/// spec.
pub fn from_template(cron_job: &CronJob, name: String, reason: Option<&str>) -> Option<Job> {
    let mut spec = cron_job.spec.job_template.spec.clone()?;
    for container in spec
        .template
        .spec
        .iter_mut()
        .flat_map(|pod| pod.containers.iter_mut())
    {
        for var in container.env.iter_mut().flatten() {
            if let Some(reason) = reason.filter(|_| var.name == "REASON") {
                var.value = Some(reason.into());
            }
        }
    }
    let mut metadata = cron_job.metadata.clone();
    metadata.name = Some(name);
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

/// The store's backups as their Jobs show them; None for a store without backups.
pub fn observed(seen: &Seen, store: &ValidatedStore) -> Option<Backups> {
    newest(seen, store, child::BACKUP)
}

/// Records in `facts.backup.last` what the newest successful backup reported: its Job's pod is
/// read once (a list of its pods), when it is newer than what the status holds. A read that
/// fails is tried again on the next pass; a pod already gone leaves a record of the Job and its
/// time only.
pub async fn record(
    ctx: &Context,
    store: &ValidatedStore,
    observed: Option<&Backups>,
    facts: &mut StatusFacts,
) {
    let Some(Backups::Succeeded { job, at }) = observed else {
        return;
    };
    let status = facts.backup.get_or_insert_default();
    if status.last.as_ref().is_some_and(|r| &r.job == job) {
        return;
    }
    match reports::read(ctx, &store.namespace, job, "restic").await {
        Ok(message) => status.last = Some(record_of(job, at, message.as_deref())),
        Err(e) => {
            warn!(store = %store.name, %job, error = %e, "cannot read the report of a backup Job")
        }
    }
}

/// A backup or drill pod's report: one line of JSON (the scripts write it).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    snapshot: Option<String>,
    snapshot_time: Option<String>,
    seconds: Option<i64>,
    #[serde(default)]
    manifest: Manifest,
}

/// The dump's manifest in a report.
#[derive(Debug, Default, Deserialize)]
struct Manifest {
    bytes: Option<i64>,
    orders: Option<i64>,
    products: Option<i64>,
    customers: Option<i64>,
}

/// The record of `job` (finished `at`) from its pod's report, if it left a readable one.
pub fn record_of(job: &str, at: &str, message: Option<&str>) -> BackupRecord {
    let report: Report = message
        .and_then(|m| serde_json::from_str(m.trim()).ok())
        .unwrap_or_default();
    let text = |s: Option<String>| s.filter(|s| !s.is_empty());
    BackupRecord {
        job: job.to_string(),
        finished_at: Some(at.to_string()),
        snapshot: text(report.snapshot),
        snapshot_time: text(report.snapshot_time),
        seconds: report.seconds,
        bytes: report.manifest.bytes,
        orders: report.manifest.orders,
        products: report.manifest.products,
        customers: report.manifest.customers,
    }
}

/// WordPress's scheduled work (the CronJob `cron`'s Jobs) as the `CronHealthy` condition shows
/// it; None for a store without it (Medusa).
pub fn cron(store: &ValidatedStore, ctx: &Context) -> Option<Backups> {
    match store.app {
        crate::validate::App::Woocommerce(_) => {
            Some(newest_of(ctx.memory.seen(), store, child::CRON))
        }
        crate::validate::App::Medusa(_) => None,
    }
}

/// The newest finished Job whose name starts with `cron_job` and a dash.
fn newest(seen: &Seen, store: &ValidatedStore, cron_job: &str) -> Option<Backups> {
    let backup = store.backup.as_ref()?;
    if !backup.scheduled {
        return Some(Backups::Off);
    }
    Some(newest_of(seen, store, cron_job))
}

/// The checkout probe (every store's CronJob `probe`) as the `CheckoutHealthy` condition shows
/// it: a failure names the step from its Job's condition (`desired/probe.rs`).
pub fn probe(store: &ValidatedStore, ctx: &Context) -> Backups {
    newest_with(ctx.memory.seen(), store, child::PROBE, |reason, message| {
        match crate::desired::probe::failed_step(message) {
            Some(step) => format!("at {step}"),
            None => reason.to_string(),
        }
    })
}

/// The newest finished Job of the store's CronJob `cron_job`.
fn newest_of(seen: &Seen, store: &ValidatedStore, cron_job: &str) -> Backups {
    newest_with(seen, store, cron_job, |reason, _| reason.to_string())
}

/// The newest finished Job of the store's CronJob `cron_job`; a failure's words from its Job's
/// condition (reason, message).
fn newest_with(
    seen: &Seen,
    store: &ValidatedStore,
    cron_job: &str,
    words: impl Fn(&str, &str) -> String,
) -> Backups {
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
    match newest {
        None => Backups::NoneYet,
        Some((at, job, JobState::Succeeded)) => Backups::Succeeded { job, at },
        Some((_, job, JobState::Failed { reason, message })) => Backups::Failed {
            job,
            reason: words(&reason, &message),
            logs: Some(store.namespace.clone()),
        },
        Some((_, _, JobState::Running(_))) => Backups::NoneYet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_the_record_and_a_missing_one_leaves_the_job() {
        let message = r#"{"snapshot": "1a2b3c4d", "snapshotTime": "2026-12-04T03:00:01.5Z", "seconds": 12, "manifest": {"engine": "woocommerce", "orders": 7, "products": 2, "customers": 1, "sha256": "ab", "bytes": 4096, "seconds": 3}}
"#;
        let record = record_of("backup-29000", "2026-12-04T03:00:20Z", Some(message));
        assert_eq!(record.snapshot.as_deref(), Some("1a2b3c4d"));
        assert_eq!(
            record.snapshot_time.as_deref(),
            Some("2026-12-04T03:00:01.5Z")
        );
        assert_eq!(record.seconds, Some(12), "the whole run's, not the dump's");
        assert_eq!(
            (
                record.orders,
                record.products,
                record.customers,
                record.bytes
            ),
            (Some(7), Some(2), Some(1), Some(4096))
        );
        for missing in [None, Some(""), Some("restic: something else")] {
            let record = record_of("backup-29000", "2026-12-04T03:00:20Z", missing);
            assert_eq!(
                record,
                BackupRecord {
                    job: "backup-29000".into(),
                    finished_at: Some("2026-12-04T03:00:20Z".into()),
                    ..BackupRecord::default()
                }
            );
        }
    }
}
