//! The upgrade's Jobs and how their outcomes move it (its pure half is `controller/upgrade.rs`):
//! the pre-upgrade backup (a Job from the backup CronJob's template, tagged `upgrade`, which the
//! retention keeps; its report gives the restore point), and a customer's walk through the shop
//! after the new version's setup and again after a rollback (Jobs from the checkout probe's
//! template). Each is a step's Job (`job.rs`): created once, read from its watch, its name a hash
//! of the upgrade it belongs to.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use storefleet_types::{Store, UpgradePhase, UpgradeStatus};
use tracing::{info, warn};

use crate::controller::backups;
use crate::controller::context::Context;
use crate::controller::report;
use crate::controller::reports;
use crate::controller::requests::ApplyError;
use crate::controller::status::{Blocked, Setup, StatusFacts};
use crate::controller::steps::job::{
    self, Gate, ROLLBACK_CHECK, StepKind, UPGRADE_BACKUP, UPGRADE_CHECK,
};
use crate::controller::upgrade::{self, Transition};
use crate::desired::StoreObjects;
use crate::desired::shop::hashed_name;

/// What the pass knows that the upgrade's steps need.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    /// The store's children as this pass built them.
    pub objects: &'a StoreObjects,
    /// Where this pass's setup is (the new version's while upgrading, the old one's while rolling
    /// back).
    pub setup: &'a Setup,
    /// Whether the database and the storefront are ready on the images of this pass.
    pub ready: bool,
    /// Whether this pass is a retry.
    pub retry: bool,
    /// Now.
    pub now: Timestamp,
    /// How long new images may take to be set up before the phase fails.
    pub timeout: Duration,
}

/// What the upgrade concluded in this pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeStep {
    /// A failed rollback: the store is Failed until a human acts.
    pub blocked: Option<Blocked>,
    /// When the store looks again whatever the watches show: soon while an upgrade runs (its
    /// phases have deadlines), at once when one ended in this pass (a spec that moved on
    /// meanwhile is the next upgrade).
    pub look_again: Option<Duration>,
}

/// How often a store whose upgrade runs is looked at (its Jobs' watches wake it sooner).
const RUNNING_LOOK: Duration = Duration::from_secs(30);
/// How soon a store whose upgrade just ended is looked at.
const ENDED_LOOK: Duration = Duration::from_secs(1);

/// Moves the store's upgrade on (if one runs) from what its step shows; records the outcome in
/// `facts` (`deployed` moves on success) and says each change of phase in an event.
pub async fn drive(
    ctx: &Context,
    store: &Store,
    pass: Pass<'_>,
    facts: &mut StatusFacts,
) -> Result<UpgradeStep, ApplyError> {
    let Some(mut u) = facts.upgrade.clone().filter(|u| u.phase.in_progress()) else {
        return Ok(UpgradeStep::default());
    };
    let before = u.phase;
    match u.phase {
        UpgradePhase::BackingUp => back_up(ctx, pass, &mut u).await?,
        UpgradePhase::Upgrading => set_up(pass, &mut u, "the new version"),
        UpgradePhase::Verifying => walk(ctx, pass, &mut u, UPGRADE_CHECK).await?,
        UpgradePhase::RollingBack if pass.setup == &Setup::Succeeded => {
            walk(ctx, pass, &mut u, ROLLBACK_CHECK).await?;
        }
        UpgradePhase::RollingBack => set_up(pass, &mut u, "the old version"),
        _ => {}
    }
    if u.phase == UpgradePhase::Succeeded {
        facts.deployed = Some(u.to.clone());
    }
    let step = UpgradeStep {
        blocked: (u.phase == UpgradePhase::RollbackFailed).then(|| Blocked {
            reason: "RollbackFailed".into(),
            message: upgrade::describe(&u),
        }),
        look_again: if u.phase.in_progress() {
            Some(RUNNING_LOOK)
        } else if u.phase != before {
            Some(ENDED_LOOK)
        } else {
            None
        },
    };
    if u.phase != before {
        announce(ctx, store, &u).await;
    }
    facts.upgrade = Some(u);
    Ok(step)
}

/// Says that an upgrade started, or moved to its phase.
pub async fn announce(ctx: &Context, store: &Store, u: &UpgradeStatus) {
    let (type_, reason) = match u.phase {
        UpgradePhase::BackingUp | UpgradePhase::Upgrading | UpgradePhase::Verifying => {
            (EventType::Normal, "Upgrading")
        }
        UpgradePhase::Succeeded => (EventType::Normal, "Upgraded"),
        UpgradePhase::RollingBack => (EventType::Warning, "RollingBack"),
        UpgradePhase::RolledBack => (EventType::Warning, "RolledBack"),
        UpgradePhase::Aborted => (EventType::Warning, "UpgradeAborted"),
        UpgradePhase::RollbackFailed => (EventType::Warning, "RollbackFailed"),
    };
    let note = upgrade::describe(u);
    if type_ == EventType::Warning {
        warn!(store = %store.name_any(), phase = ?u.phase, "{note}");
    } else {
        info!(store = %store.name_any(), phase = ?u.phase, "{note}");
    }
    report::publish(store, ctx, type_, reason, "Upgrade", &note).await;
}

/// The pre-upgrade backup: once it succeeded, its snapshot is the restore point.
async fn back_up(ctx: &Context, pass: Pass<'_>, u: &mut UpgradeStatus) -> Result<(), ApplyError> {
    let Some(job) = backup_job(pass.objects, u) else {
        u.failed(
            "the store has no backups to take a restore point with".into(),
            pass.now,
        );
        return Ok(());
    };
    match run(ctx, UPGRADE_BACKUP, &job, None, pass.retry).await? {
        Gate::Done => {
            let namespace = job.namespace().unwrap_or_default();
            match reports::read(ctx, &namespace, &job.name_any(), "restic").await {
                Ok(message) => {
                    let record = backups::record_of(&job.name_any(), "", message.as_deref());
                    u.backed_up(record.snapshot, pass.now);
                }
                // Read again on the next pass (the Job is kept until the upgrade ends).
                Err(e) => {
                    warn!(job = %job.name_any(), error = %e, "cannot read the pre-upgrade backup's report")
                }
            }
        }
        Gate::Failed(blocked) => u.failed(
            format!(
                "the pre-upgrade backup failed, nothing was changed: {}",
                blocked.message
            ),
            pass.now,
        ),
        _ => {}
    }
    Ok(())
}

/// Waiting for `version`'s setup (its database updates included): on once it succeeded on
/// ready workloads, a failure when it failed or took too long.
fn set_up(pass: Pass<'_>, u: &mut UpgradeStatus, version: &str) {
    match pass.setup {
        Setup::Succeeded if pass.ready => u.set_up(pass.now),
        Setup::Failed(message) => {
            u.failed(format!("{version}'s setup failed: {message}"), pass.now)
        }
        Setup::Gated(message) | Setup::Running(message) if u.expired(pass.now, pass.timeout) => {
            u.failed(
                format!(
                    "{version} was not set up within {} s: {message}",
                    pass.timeout.as_secs()
                ),
                pass.now,
            );
        }
        _ => {}
    }
}

/// A customer's walk through the shop (the checkout probe's steps) on ready workloads.
async fn walk(
    ctx: &Context,
    pass: Pass<'_>,
    u: &mut UpgradeStatus,
    kind: StepKind,
) -> Result<(), ApplyError> {
    let job = check_job(&pass.objects.probe, kind, u);
    let closed = (!pass.ready).then(|| "Waiting for the database and the storefront".to_string());
    match run(ctx, kind, &job, closed, false).await? {
        Gate::Done => u.verified(pass.now),
        Gate::Failed(blocked) => {
            let step = job_failure(&blocked.message);
            u.failed(format!("the walk through the shop failed {step}"), pass.now);
        }
        _ if u.phase == UpgradePhase::RollingBack && u.expired(pass.now, pass.timeout) => u.failed(
            format!(
                "the old version did not pass its walk within {} s",
                pass.timeout.as_secs()
            ),
            pass.now,
        ),
        _ => {}
    }
    Ok(())
}

/// Where the probe's Job failed, in words (its step, from the Job's condition), else its
/// message.
fn job_failure(message: &str) -> String {
    match crate::desired::probe::failed_step(message) {
        Some(step) => format!("at {step}"),
        None => format!("({message})"),
    }
}

async fn run(
    ctx: &Context,
    kind: StepKind,
    job: &Job,
    closed: Option<String>,
    retry: bool,
) -> Result<Gate, ApplyError> {
    let gates = job::Gates {
        closed,
        done: false,
        retry,
    };
    job::run(ctx, kind, job, &gates).await
}

/// The pre-upgrade backup's Job: the backup CronJob's template, tagged `upgrade`; None for a
/// store without backups.
pub fn backup_job(objects: &StoreObjects, u: &UpgradeStatus) -> Option<Job> {
    let backup = objects.backup.as_ref()?;
    let name = job_name(UPGRADE_BACKUP, u);
    backups::from_template(&backup.cron_job, name, Some("upgrade"))
}

/// The Job of a walk through the shop (`kind`: after the upgrade, or after its rollback): the
/// checkout probe's template.
pub fn check_job(probe: &CronJob, kind: StepKind, u: &UpgradeStatus) -> Job {
    let name = job_name(kind, u);
    backups::from_template(probe, name, None).unwrap_or_default()
}

/// A Job of `u` of the step `kind`: its prefix and a hash of the upgrade (its versions and when
/// it started: a retried upgrade runs its Jobs again).
pub fn job_name(kind: StepKind, u: &UpgradeStatus) -> String {
    let from = upgrade::summary(&u.from);
    let to = upgrade::summary(&u.to);
    let started = u.started_at.as_deref().unwrap_or_default();
    hashed_name(kind.prefix, &[&from, &to, started])
}

/// The names of `u`'s Jobs, by step, for the sweep: kept while it runs and as its record after.
pub fn jobs(u: &UpgradeStatus) -> [(StepKind, String); 3] {
    [UPGRADE_BACKUP, UPGRADE_CHECK, ROLLBACK_CHECK].map(|kind| (kind, job_name(kind, u)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperatorConfig;
    use crate::validate::validate;
    use storefleet_types::{BackupSpec, DeployedVersions};

    fn upgrade(started: &str) -> UpgradeStatus {
        let versions = |tag: &str| DeployedVersions {
            images: [("wordpress".to_string(), format!("wordpress:{tag}"))].into(),
            woocommerce: None,
        };
        UpgradeStatus {
            from: versions("6.8.3"),
            to: versions("7.0.4"),
            started_at: Some(started.into()),
            ..UpgradeStatus::default()
        }
    }

    #[test]
    fn the_jobs_come_from_the_templates_and_are_named_after_their_upgrade() {
        let mut store = Store::test();
        store.spec.backup = Some(BackupSpec::default());
        let config = OperatorConfig::from_yaml(
            "backup:\n  s3: {endpoint: \"https://s3.example.com\", bucket: shop-backups}\n  credentialsSecret: backup-s3\n  keySecret: backup-key\n  egressCidrs: [\"203.0.113.10/32\"]\n",
        )
        .expect("config");
        let validated = validate(&store, &config).expect("valid store");
        let objects = crate::desired::build(&validated);
        let u = upgrade("2026-12-05T10:00:00Z");

        let backup = backup_job(&objects, &u).expect("a store with backups");
        assert!(backup.name_any().starts_with("upgrade-backup-"));
        let env = backup
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|p| {
                p.containers
                    .iter()
                    .flat_map(|c| c.env.iter().flatten())
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        assert!(
            env.iter()
                .any(|v| v.name == "REASON" && v.value.as_deref() == Some("upgrade")),
            "tagged upgrade: the retention keeps it"
        );
        let check = check_job(&objects.probe, UPGRADE_CHECK, &u);
        assert!(check.name_any().starts_with("upgrade-check-"));
        assert_eq!(
            check.spec.as_ref().map(|s| &s.template),
            objects
                .probe
                .spec
                .job_template
                .spec
                .as_ref()
                .map(|s| &s.template),
            "the probe's own pod: its policies let it reach the storefront"
        );
        let rollback = check_job(&objects.probe, ROLLBACK_CHECK, &u);
        assert!(rollback.name_any().starts_with("rollback-check-"));

        // Another upgrade (or the same one retried later) has other Jobs.
        let again = upgrade("2026-12-05T11:00:00Z");
        assert_ne!(
            job_name(UPGRADE_BACKUP, &u),
            job_name(UPGRADE_BACKUP, &again)
        );
        assert_eq!(
            job_name(UPGRADE_CHECK, &u),
            job_name(UPGRADE_CHECK, &u.clone())
        );

        // No backup target: no restore point.
        let without = validate(&Store::test(), &OperatorConfig::default()).expect("valid store");
        assert_eq!(backup_job(&crate::desired::build(&without), &u), None);
    }

    #[test]
    fn a_failed_walk_names_its_step() {
        let failed = job_failure(
            "Pod storefront-probe-x failed with exit code 13 matching FailJob rule at index 3",
        );
        assert!(failed.starts_with("at cart"), "{failed}");
        assert_eq!(job_failure("DeadlineExceeded"), "(DeadlineExceeded)");
    }
}
