//! The sweep: what a store had and this pass no longer wants is removed here, in one place,
//! worked out (pure, [`stale`]) from what the watches saw, with no list request.
//!
//! What a store can leave behind:
//! - what only a set-up shop has (the route of either kind, the edge policies, the backup
//!   CronJob) while it is not set up, refused after it served, or its data is gone (empty data
//!   is never backed up over good snapshots); and the route of the kind it no longer uses (a store
//!   that moved between Ingress and Gateway routing) or an edge policy it no longer needs;
//! - the Jobs of a step's earlier inputs (earlier setup specs, earlier Medusa images): the
//!   finished ones go once the step's current Job has succeeded (a running one is waited for by
//!   the step, never two at once); backups asked for with earlier values of
//!   `storefleet.io/backup-now` once finished.
//!
//! Every other child keeps its name for the store's life: it is applied in place.

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use storefleet_types::UpgradeStatus;
use storefleet_types::names::child;

use crate::controller::children::{ChildKind, KindVisitor, for_each_kind, key_of};
use crate::controller::context::Context;
use crate::controller::memory::{ChildKey, Seen};
use crate::controller::requests::{ApplyError, delete_child};
use crate::controller::steps::job::{BACKUP_NOW, MIGRATION, RESTORE, SETUP, StepKind};
use crate::desired::wave::Wave;
use crate::desired::{Child, StoreObjects};
use crate::gateway_api::HTTPRoute;

/// What a pass keeps of what a store can leave behind.
#[derive(Debug, Clone)]
pub struct Keep {
    namespace: String,
    /// The exposure children kept (none while the store is not exposed).
    exposure: Vec<ChildKey>,
    /// Each step's current Job, and whether it has succeeded.
    steps: Vec<(StepKind, String, bool)>,
}

impl Keep {
    /// Nothing exposed and no step: what a store refused after it served (or whose data is
    /// gone) keeps; works from its namespace alone (a refused store has no valid spec to build
    /// from).
    pub fn withdrawn(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            exposure: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// What a provisioned store keeps: its exposure children when `exposed`, and each step's
    /// current Job, succeeded or not (`done`).
    pub fn store(objects: &StoreObjects, exposed: bool, done: impl Fn(StepKind) -> bool) -> Self {
        let mut keep =
            Self::withdrawn(&objects.namespace.metadata.name.clone().unwrap_or_default());
        for c in objects.children() {
            match c {
                Child::EdgePolicy(o) if exposed => {
                    keep.exposure.push(key_of::<NetworkPolicy>(&o.metadata));
                }
                Child::Ingress(o) if exposed => keep.exposure.push(key_of::<Ingress>(&o.metadata)),
                Child::HttpRoute(o) if exposed => {
                    keep.exposure.push(key_of::<HTTPRoute>(&o.metadata));
                }
                Child::BackupCronJob(o) | Child::CronJob(o) if exposed => {
                    keep.exposure.push(key_of::<CronJob>(&o.metadata));
                }
                Child::SetupJob(job) => keep.step(SETUP, job, &done),
                Child::MigrationJob(job) => keep.step(MIGRATION, job, &done),
                Child::RestoreJob(job) => keep.step(RESTORE, job, &done),
                _ => debug_assert!(c.wave() != Wave::Exposure || !exposed),
            }
        }
        keep
    }

    /// Keeps the Job of the backup asked for now (`job`: the current annotation value's), and
    /// no earlier one once it finished.
    #[must_use]
    pub fn with_asked_backup(mut self, job: Option<&Job>) -> Self {
        let name = job
            .and_then(|j| j.metadata.name.clone())
            .unwrap_or_default();
        self.steps.push((BACKUP_NOW, name, true));
        self
    }

    /// Keeps the Jobs of the store's newest upgrade (`upgrade`): while it runs, every finished
    /// Job of its steps too; once it ended, no earlier upgrade's.
    #[must_use]
    pub fn with_upgrade(mut self, upgrade: Option<&UpgradeStatus>) -> Self {
        if let Some(u) = upgrade {
            let ended = !u.phase.in_progress();
            for (kind, name) in crate::controller::steps::upgrade::jobs(u) {
                self.steps.push((kind, name, ended));
            }
        }
        self
    }

    fn step(&mut self, kind: StepKind, job: &Job, done: impl Fn(StepKind) -> bool) {
        let name = job.metadata.name.clone().unwrap_or_default();
        self.steps.push((kind, name, done(kind)));
    }
}

/// What the watches show that `keep` does not keep (pure).
pub fn stale(keep: &Keep, seen: &Seen) -> Vec<ChildKey> {
    let ns = Some(keep.namespace.as_str());
    let mut stale: Vec<ChildKey> = [
        ChildKey::new("Ingress", ns, Some(child::STOREFRONT)),
        ChildKey::new("HTTPRoute", ns, Some(child::STOREFRONT)),
        ChildKey::new("NetworkPolicy", ns, Some(child::NETPOL_INGRESS)),
        ChildKey::new("NetworkPolicy", ns, Some(child::NETPOL_ACME_SOLVER)),
        ChildKey::new("CronJob", ns, Some(child::BACKUP)),
        ChildKey::new("CronJob", ns, Some(child::DRILL)),
        ChildKey::new("CronJob", ns, Some(child::CRON)),
    ]
    .into_iter()
    .filter(|key| !keep.exposure.contains(key) && seen.contains(key))
    .collect();
    for (kind, current, done) in &keep.steps {
        if !done {
            continue;
        }
        stale.extend(
            seen.jobs(&keep.namespace, kind.prefix)
                .into_iter()
                .filter(|(name, job)| name != current && job.as_ref().is_some_and(|j| !j.busy()))
                .map(|(name, _)| ChildKey::new("Job", ns, Some(&name))),
        );
    }
    stale
}

/// Removes what the watches show that `keep` does not keep. Returns whether anything was
/// deleted.
pub async fn sweep(ctx: &Context, keep: &Keep) -> Result<bool, ApplyError> {
    let stale = stale(keep, ctx.memory.seen());
    for key in &stale {
        delete(ctx, key).await?;
        // Not to be deleted again before the watch shows the deletion.
        ctx.memory.seen().saw(key.clone(), None);
    }
    Ok(!stale.is_empty())
}

/// Deletes the child `key`, typed by its kind from the one list of kinds (`children.rs`).
async fn delete(ctx: &Context, key: &ChildKey) -> Result<(), ApplyError> {
    struct Find<'a> {
        ctx: &'a Context,
        key: &'a ChildKey,
        delete: Option<BoxFuture<'a, Result<(), ApplyError>>>,
    }
    impl KindVisitor for Find<'_> {
        fn visit<K: ChildKind>(&mut self) {
            if self.delete.is_none() && K::kind(&()) == self.key.kind() {
                let (ctx, key) = (self.ctx, self.key);
                self.delete = Some(Box::pin(delete_child::<K>(
                    ctx,
                    key.namespace(),
                    key.name(),
                )));
            }
        }
    }
    let mut find = Find {
        ctx,
        key,
        delete: None,
    };
    for_each_kind(&mut find);
    match find.delete {
        Some(delete) => delete.await,
        None => unreachable!("the sweep names only child kinds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::observe::{JobSeen, JobState, Observed};

    fn saw_job(seen: &Seen, name: &str, state: JobState) {
        let key = ChildKey::new("Job", Some("store-a"), Some(name));
        seen.saw_observed(
            key.clone(),
            Observed::Job(JobSeen {
                state,
                owned: true,
                deleting: false,
                finished_at: None,
            }),
        );
        seen.saw(key, Some("1"));
    }

    fn names(keys: &[ChildKey]) -> Vec<String> {
        let mut names: Vec<String> = keys
            .iter()
            .map(|k| format!("{}/{}", k.kind(), k.name()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_withdrawn_store_loses_every_route_and_edge_policy_it_has() {
        let seen = Seen::default();
        for (kind, name) in [
            ("Ingress", child::STOREFRONT),
            ("NetworkPolicy", child::NETPOL_INGRESS),
            ("NetworkPolicy", "default-deny"),
            ("Service", child::STOREFRONT),
        ] {
            seen.saw(ChildKey::new(kind, Some("store-a"), Some(name)), Some("1"));
        }
        let stale = stale(&Keep::withdrawn("store-a"), &seen);
        assert_eq!(
            names(&stale),
            [
                format!("Ingress/{}", child::STOREFRONT),
                format!("NetworkPolicy/{}", child::NETPOL_INGRESS)
            ]
        );
        assert!(stale.iter().all(|k| k.namespace() == "store-a"));
    }

    #[test]
    fn an_exposed_store_loses_only_the_route_of_the_other_kind() {
        let seen = Seen::default();
        for kind in ["Ingress", "HTTPRoute"] {
            seen.saw(
                ChildKey::new(kind, Some("store-a"), Some(child::STOREFRONT)),
                Some("1"),
            );
        }
        let keep = Keep {
            namespace: "store-a".into(),
            exposure: vec![ChildKey::new(
                "HTTPRoute",
                Some("store-a"),
                Some(child::STOREFRONT),
            )],
            steps: Vec::new(),
        };
        assert_eq!(
            names(&stale(&keep, &seen)),
            [format!("Ingress/{}", child::STOREFRONT)]
        );
    }

    #[test]
    fn earlier_jobs_go_once_finished_and_the_current_one_succeeded() {
        let seen = Seen::default();
        saw_job(&seen, "setup-old1", JobState::Succeeded);
        saw_job(
            &seen,
            "setup-old2",
            JobState::Failed {
                reason: "BackoffLimitExceeded".into(),
                message: String::new(),
            },
        );
        saw_job(&seen, "setup-new", JobState::Succeeded);
        saw_job(&seen, "migrate-old", JobState::Succeeded);
        saw_job(&seen, "migrate-older", JobState::Running("Running".into()));
        saw_job(&seen, "migrate-new", JobState::Running("Running".into()));
        let keep = |setup_done, migration_done| Keep {
            namespace: "store-a".into(),
            exposure: Vec::new(),
            steps: vec![
                (SETUP, "setup-new".into(), setup_done),
                (MIGRATION, "migrate-new".into(), migration_done),
            ],
        };
        assert!(
            stale(&keep(false, false), &seen).is_empty(),
            "nothing done yet"
        );
        assert_eq!(
            names(&stale(&keep(true, false), &seen)),
            ["Job/setup-old1", "Job/setup-old2"]
        );
        assert_eq!(
            names(&stale(&keep(true, true), &seen)),
            ["Job/migrate-old", "Job/setup-old1", "Job/setup-old2"],
            "a running earlier Job is never swept"
        );
    }
}
