//! Status: from what a reconcile concluded to the Store's status (pure).
//!
//! Implements the status contract of DESIGN.md: `Ready`, `Reconciling` and `Stalled` (kstatus),
//! one condition per step, `phase`, and `lastTransitionTime` that moves only when a condition's
//! status does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use storefleet_types::names;
use storefleet_types::{
    BackupStatus, DeployedVersions, Phase, RunningVersions, Store, StoreData, StoreStatus,
    UpgradePhase, UpgradeStatus, condition,
};

use crate::controller::observe::Step;

/// The setup step as the reconciler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// Gated: waiting for the database and the storefront.
    Gated(String),
    /// The Job is running.
    Running(String),
    /// The setup succeeded (now or earlier).
    Succeeded,
    /// The Job failed.
    Failed(String),
}

/// Why a store cannot proceed without a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// CamelCase reason (`SetupFailed`, `ProvisioningTimeout`, validation reasons, ...).
    pub reason: String,
    /// What happened and what to do.
    pub message: String,
}

/// Progress of a store being provisioned (or kept Ready).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Namespace, quota, limit range, network policies.
    pub namespace: Step,
    /// Database.
    pub database: Step,
    /// Storefront.
    pub storefront: Step,
    /// Setup.
    pub setup: Setup,
    /// The Gateway accepted the HTTPRoute; None for a store routed by an Ingress.
    pub route: Option<Step>,
    /// Set when the store is Failed.
    pub blocked: Option<Blocked>,
    /// The apiserver refused a child (quota, admission); retried with backoff.
    pub rejected: Option<String>,
    /// The scheduled backups; None for a store without backups.
    pub backup: Option<Backups>,
    /// The scheduled drills (same shape); None for a store without backups.
    pub drill: Option<Backups>,
    /// WordPress's scheduled work (same shape); None for a store without it (Medusa).
    pub cron: Option<Backups>,
    /// The checkout probe (same shape); None before the store is set up.
    pub probe: Option<Backups>,
    /// Medusa's worker Deployment; None for WooCommerce and while the store sleeps.
    pub worker: Option<Step>,
    /// Whether the store is asked to sleep, and sleeps.
    pub hibernation: Hibernation,
}

/// `spec.hibernate` as a pass carried it out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Hibernation {
    /// Not asked to sleep.
    #[default]
    Awake,
    /// Asked, but kept awake until its setup has finished.
    AfterSetup,
    /// Asleep: its workloads were applied at zero (the steps say whether they have stopped).
    Asleep,
}

impl Hibernation {
    /// What a pass does with `spec.hibernate` (`asked`) on a store that is set up or not.
    pub fn of(asked: bool, set_up: bool) -> Self {
        match (asked, set_up) {
            (false, _) => Self::Awake,
            (true, false) => Self::AfterSetup,
            (true, true) => Self::Asleep,
        }
    }
}

/// A store's scheduled backups, as the Jobs of its CronJob show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backups {
    /// Turned off (`spec.backup.enabled: false`).
    Off,
    /// None has finished yet.
    NoneYet,
    /// The newest finished backup succeeded.
    Succeeded {
        /// Its Job.
        job: String,
        /// When it finished.
        at: String,
    },
    /// The newest finished backup failed.
    Failed {
        /// Its Job.
        job: String,
        /// Why (the Job controller's reason; a drill's failing step).
        reason: String,
        /// The namespace of its Job, for the `kubectl logs` command; None when it is gone (a
        /// drill's throwaway namespace).
        logs: Option<String>,
    },
}

/// What one reconcile concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per reconcile, moved once into the status
pub enum Outcome {
    /// The spec cannot be provisioned as written.
    Invalid(Blocked),
    /// Too many stores: waits for capacity.
    LimitReached(String),
    /// Provisioning or Ready.
    Progress(Progress),
    /// Being deleted.
    Deleting(String),
}

impl Outcome {
    /// The phase this outcome shows.
    pub fn phase(&self) -> Phase {
        match self {
            Outcome::Invalid(_) => Phase::Failed,
            Outcome::LimitReached(_) => Phase::Pending,
            Outcome::Deleting(_) => Phase::Deleting,
            Outcome::Progress(p) if p.blocked.is_some() => Phase::Failed,
            Outcome::Progress(p) if p.hibernation == Hibernation::Asleep => Phase::Hibernated,
            Outcome::Progress(p) if p.is_ready() => Phase::Ready,
            Outcome::Progress(_) => Phase::Provisioning,
        }
    }
}

impl Progress {
    /// Every step done and nothing blocked (and awake: a sleeping shop serves no one).
    pub fn is_ready(&self) -> bool {
        self.blocked.is_none()
            && self.hibernation != Hibernation::Asleep
            && self.namespace.is_ready()
            && self.database.is_ready()
            && self.storefront.is_ready()
            && self.setup == Setup::Succeeded
            && self.route.as_ref().is_none_or(Step::is_ready)
    }

    /// Asleep and every workload stopped (nothing blocked).
    pub fn is_hibernated(&self) -> bool {
        self.blocked.is_none()
            && self.hibernation == Hibernation::Asleep
            && self.namespace.is_ready()
            && self.database.is_ready()
            && self.storefront.is_ready()
    }

    /// The first thing the store waits for, as (reason, message).
    pub fn waiting_for(&self) -> (&'static str, String) {
        if let Some(rejected) = &self.rejected {
            return ("ApplyRejected", rejected.clone());
        }
        for (reason, step) in [
            ("NamespaceNotReady", &self.namespace),
            ("DatabaseNotReady", &self.database),
            ("StorefrontNotReady", &self.storefront),
        ] {
            if let Step::Waiting(message) = step {
                return (reason, message.clone());
            }
        }
        match (&self.setup, &self.route) {
            (Setup::Gated(m) | Setup::Running(m) | Setup::Failed(m), _) => {
                ("SetupNotComplete", m.clone())
            }
            (Setup::Succeeded, Some(Step::Waiting(m))) => ("RouteNotAccepted", m.clone()),
            (Setup::Succeeded, _) => ("Provisioning", "Provisioning".into()),
        }
    }
}

/// StatusFacts the reconciler decided that go into the status as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusFacts {
    /// `metadata.generation`.
    pub generation: i64,
    /// The store's namespace.
    pub namespace: Option<String>,
    /// Shop URL.
    pub url: Option<String>,
    /// Admin URL.
    pub admin_url: Option<String>,
    /// Credentials Secret name.
    pub credentials_secret: Option<String>,
    /// Last succeeded setup Job.
    pub completed_setup: Option<String>,
    /// The restore Job that put `spec.restoreFrom`'s backup in place.
    pub completed_restore: Option<String>,
    /// Retry annotation acted on.
    pub observed_retry: Option<String>,
    /// When provisioning started.
    pub provisioning_started_at: Option<Time>,
    /// When the store first became Ready.
    pub ready_at: Option<Time>,
    /// What identifies the store's data (recorded once setup succeeded).
    pub data: Option<StoreData>,
    /// The size each data volume claim has been grown to.
    pub volume_sizes: std::collections::BTreeMap<String, String>,
    /// The newest backup and verified restore recorded.
    pub backup: Option<BackupStatus>,
    /// What the shop runs, as the newest successful setup read it.
    pub versions: Option<RunningVersions>,
    /// What the shop was last set up and verified on.
    pub deployed: Option<DeployedVersions>,
    /// The newest upgrade.
    pub upgrade: Option<UpgradeStatus>,
    /// Why the versions the spec asks for are not being carried out (not written as such: the
    /// `Upgraded` condition says it).
    pub upgrade_held: Option<String>,
    /// The store's part in the StoreRollout that admitted it.
    pub rollout: Option<storefleet_types::RolloutMark>,
}

impl StatusFacts {
    /// The facts every pass writes, carried over from the store's previous status (and its
    /// retry annotation).
    pub fn of(store: &Store) -> Self {
        let prev = store.status.clone().unwrap_or_default();
        Self {
            generation: store.metadata.generation.unwrap_or(0),
            namespace: prev.namespace,
            url: prev.url,
            admin_url: prev.admin_url,
            credentials_secret: prev.credentials_secret,
            completed_setup: prev.completed_setup,
            completed_restore: prev.completed_restore,
            observed_retry: store
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(names::RETRY_ANNOTATION))
                .cloned(),
            provisioning_started_at: prev.provisioning_started_at,
            ready_at: prev.ready_at,
            data: prev.data,
            volume_sizes: prev.volume_sizes,
            backup: prev.backup,
            versions: prev.versions,
            deployed: prev.deployed,
            upgrade: prev.upgrade,
            upgrade_held: None,
            rollout: prev.rollout,
        }
    }
}

/// The status to write after a reconcile.
pub fn next_status(
    prev: &StoreStatus,
    facts: StatusFacts,
    outcome: &Outcome,
    now: Timestamp,
) -> StoreStatus {
    let mut c = Conditions {
        prev: &prev.conditions,
        out: Vec::new(),
        generation: facts.generation,
        now,
    };
    let message = match outcome {
        Outcome::Invalid(b) => {
            c.set(condition::READY, false, &b.reason, &b.message);
            c.set(condition::STALLED, true, &b.reason, &b.message);
            c.keep_steps();
            b.message.clone()
        }
        Outcome::LimitReached(message) => {
            c.set(condition::READY, false, "StoreLimitReached", message);
            c.set(condition::STALLED, true, "StoreLimitReached", message);
            message.clone()
        }
        Outcome::Deleting(message) => {
            c.set(condition::READY, false, "Deleting", message);
            c.set(condition::RECONCILING, true, "Deleting", message);
            c.keep_steps();
            message.clone()
        }
        Outcome::Progress(p) => progress_conditions(&mut c, p),
    };
    upgrade_condition(
        &mut c,
        facts.upgrade.as_ref(),
        facts.upgrade_held.as_deref(),
    );
    StoreStatus {
        observed_generation: Some(facts.generation),
        phase: Some(outcome.phase()),
        conditions: c.out,
        namespace: facts.namespace,
        url: facts.url,
        admin_url: facts.admin_url,
        credentials_secret: facts.credentials_secret,
        message: Some(message),
        completed_setup: facts.completed_setup,
        completed_restore: facts.completed_restore,
        observed_retry: facts.observed_retry,
        provisioning_started_at: facts.provisioning_started_at,
        ready_at: facts.ready_at,
        data: facts.data,
        volume_sizes: facts.volume_sizes,
        backup: facts.backup,
        versions: facts.versions,
        deployed: facts.deployed,
        upgrade: facts.upgrade,
        rollout: facts.rollout,
    }
}

/// The conditions of a store on its way (or Ready, or blocked): Ready, Stalled or Reconciling,
/// and one per step; the status message.
fn progress_conditions(c: &mut Conditions<'_>, p: &Progress) -> String {
    let message = if let Some(b) = &p.blocked {
        c.set(condition::READY, false, &b.reason, &b.message);
        c.set(condition::STALLED, true, &b.reason, &b.message);
        b.message.clone()
    } else if p.hibernation == Hibernation::Asleep {
        hibernation_conditions(c, p)
    } else if p.is_ready() {
        c.set(condition::READY, true, "StoreReady", "Store is ready");
        "Store is ready".to_string()
    } else {
        let (reason, message) = p.waiting_for();
        c.set(condition::READY, false, reason, &message);
        c.set(condition::RECONCILING, true, "Provisioning", &message);
        message
    };
    c.step(
        condition::NAMESPACE_READY,
        &p.namespace,
        "NamespaceReady",
        "NamespaceNotReady",
    );
    c.step(
        condition::DATABASE_READY,
        &p.database,
        "DatabaseReady",
        "DatabaseNotReady",
    );
    c.step(
        condition::STOREFRONT_READY,
        &p.storefront,
        "StorefrontAvailable",
        "StorefrontNotAvailable",
    );
    match &p.setup {
        Setup::Succeeded => c.set(
            condition::SETUP_COMPLETE,
            true,
            "SetupSucceeded",
            "Setup succeeded",
        ),
        Setup::Gated(m) => c.set(condition::SETUP_COMPLETE, false, "SetupPending", m),
        Setup::Running(m) => c.set(condition::SETUP_COMPLETE, false, "SetupRunning", m),
        Setup::Failed(m) => c.set(condition::SETUP_COMPLETE, false, "SetupFailed", m),
    }
    if p.hibernation == Hibernation::AfterSetup {
        c.set(
            condition::HIBERNATED,
            false,
            "WaitingForSetup",
            "The store hibernates once its setup has finished",
        );
    }
    if let Some(route) = &p.route {
        c.step(
            condition::ROUTE_ACCEPTED,
            route,
            "Accepted",
            "RouteNotAccepted",
        );
    }
    day2_conditions(c, p);
    message
}

/// The `Upgraded` condition: the newest upgrade, and what holds a new one back. Absent before
/// the first.
fn upgrade_condition(c: &mut Conditions<'_>, u: Option<&UpgradeStatus>, held: Option<&str>) {
    let Some(u) = u else {
        if let Some(held) = held {
            c.set(condition::UPGRADED, false, "UpgradeHeld", held);
        }
        return;
    };
    let mut message = crate::controller::upgrade::describe(u);
    if let Some(held) = held.filter(|_| !u.phase.in_progress()) {
        message = format!("{message}. {held}");
    }
    let (status, reason) = match u.phase {
        UpgradePhase::BackingUp | UpgradePhase::Upgrading | UpgradePhase::Verifying => {
            (false, "Upgrading")
        }
        UpgradePhase::Succeeded => (true, "Upgraded"),
        UpgradePhase::RollingBack => (false, "RollingBack"),
        UpgradePhase::RolledBack => (false, "RolledBack"),
        UpgradePhase::Aborted => (false, "UpgradeAborted"),
        UpgradePhase::RollbackFailed => (false, "RollbackFailed"),
    };
    c.set(condition::UPGRADED, status, reason, &message);
}

/// The conditions of a store's recurring runs (none holds `Ready` back) and of Medusa's worker
/// (which the storefront step waits for too).
fn day2_conditions(c: &mut Conditions<'_>, p: &Progress) {
    if let Some(backup) = &p.backup {
        backup_condition(c, backup, BACKUP_WORDS);
    }
    if let Some(drill) = &p.drill {
        backup_condition(c, drill, DRILL_WORDS);
    }
    if let Some(cron) = &p.cron {
        backup_condition(c, cron, CRON_WORDS);
    }
    if let Some(probe) = &p.probe {
        backup_condition(c, probe, PROBE_WORDS);
    }
    if let Some(worker) = &p.worker {
        c.step(
            condition::WORKER_HEALTHY,
            worker,
            "WorkerAvailable",
            "WorkerUnavailable",
        );
    }
}

/// The conditions of a store asleep: `Hibernated` True once every workload has stopped, and
/// until then `Reconciling`; `Ready` False either way.
fn hibernation_conditions(c: &mut Conditions<'_>, p: &Progress) -> String {
    if p.is_hibernated() {
        let message = "The store is hibernated: no pod runs, its volumes, Secrets and route are kept; set spec.hibernate to false to wake it";
        c.set(condition::READY, false, "Hibernated", message);
        c.set(condition::HIBERNATED, true, "Hibernated", message);
        return message.to_string();
    }
    let message = format!("Hibernating: {}", p.waiting_for().1);
    c.set(condition::READY, false, "Hibernating", &message);
    c.set(condition::RECONCILING, true, "Hibernating", &message);
    c.set(condition::HIBERNATED, false, "Stopping", &message);
    message
}

/// How a backup condition speaks: its type, its reasons, what it calls one run.
struct Words {
    type_: &'static str,
    off: &'static str,
    none_yet: (&'static str, &'static str),
    succeeded: &'static str,
    failed: &'static str,
    run: &'static str,
    /// Whether a success names its run (Job and time). Not for the runs every few minutes (cron,
    /// the probe): a message that changes with every run is a status write per store and run
    /// (at 1,000 stores, 300 a minute, each sent to every Store watch) for news the CronJob's own
    /// `lastSuccessfulTime` carries; their condition changes only when the outcome does.
    names_each_run: bool,
}

const BACKUP_WORDS: Words = Words {
    type_: condition::BACKUP_READY,
    off: "BackupsOff",
    none_yet: (
        "NoBackupYet",
        "No backup has finished yet: the first runs on the store's schedule",
    ),
    succeeded: "BackupSucceeded",
    failed: "BackupFailed",
    run: "backup",
    names_each_run: true,
};

const DRILL_WORDS: Words = Words {
    type_: condition::BACKUP_VERIFIED,
    off: "DrillsOff",
    none_yet: (
        "NoDrillYet",
        "No drill has restored a backup yet: the first runs after the first backup",
    ),
    succeeded: "DrillSucceeded",
    failed: "DrillFailed",
    run: "drill (the newest backup restored into a throwaway namespace, the shop started and checked)",
    names_each_run: true,
};

const CRON_WORDS: Words = Words {
    type_: condition::CRON_HEALTHY,
    off: "CronOff",
    none_yet: (
        "NoCronRunYet",
        "WordPress's scheduled work has not run yet: the CronJob cron runs it every 5 minutes once the shop is set up",
    ),
    succeeded: "CronSucceeded",
    failed: "CronFailed",
    run: "run of WordPress's scheduled work (due events, Action Scheduler)",
    names_each_run: false,
};

const PROBE_WORDS: Words = Words {
    type_: condition::CHECKOUT_HEALTHY,
    off: "ProbeOff",
    none_yet: (
        "NoProbeYet",
        "The checkout probe has not run yet: the CronJob probe walks a customer's way to paying on the operator's probe.schedule once the shop is set up",
    ),
    succeeded: "CheckoutWorks",
    failed: "CheckoutBroken",
    run: "checkout probe (home page, a product, its page, a cart, the payment methods; no order)",
    names_each_run: false,
};

/// `BackupReady` / `BackupVerified` / `CronHealthy` / `CheckoutHealthy`: whether the newest finished backup (drill,
/// cron run) succeeded. They never hold Ready back.
fn backup_condition(c: &mut Conditions<'_>, runs: &Backups, w: Words) {
    match runs {
        Backups::Off => c.set(
            w.type_,
            false,
            w.off,
            "Scheduled backups are turned off (spec.backup.enabled: false)",
        ),
        Backups::NoneYet => c.set(w.type_, false, w.none_yet.0, w.none_yet.1),
        Backups::Succeeded { job, at } if w.names_each_run => c.set(
            w.type_,
            true,
            w.succeeded,
            &format!("The last {} (job {job}) finished at {at}", w.run),
        ),
        Backups::Succeeded { .. } => c.set(
            w.type_,
            true,
            w.succeeded,
            &format!(
                "The last {} succeeded (its CronJob's lastSuccessfulTime says when)",
                w.run
            ),
        ),
        Backups::Failed {
            job,
            reason,
            logs: Some(namespace),
        } => c.set(
            w.type_,
            false,
            w.failed,
            &format!(
                "The last {} (job {job}) failed ({reason}); see `kubectl logs -n {namespace} job/{job} --all-containers`",
                w.run
            ),
        ),
        Backups::Failed {
            job,
            reason,
            logs: None,
        } => c.set(
            w.type_,
            false,
            w.failed,
            &format!("The last {} (job {job}) failed: {reason}", w.run),
        ),
    }
}

/// Conditions being written: a condition keeps its `lastTransitionTime` while its status stays.
pub(crate) struct Conditions<'a> {
    prev: &'a [Condition],
    out: Vec<Condition>,
    generation: i64,
    now: Timestamp,
}

impl<'a> Conditions<'a> {
    /// None yet, after `prev`, for `generation`.
    pub(crate) fn after(prev: &'a [Condition], generation: i64, now: Timestamp) -> Self {
        Self {
            prev,
            out: Vec::new(),
            generation,
            now,
        }
    }

    /// The conditions set.
    pub(crate) fn into_vec(self) -> Vec<Condition> {
        self.out
    }

    /// Sets one condition.
    pub(crate) fn set(&mut self, type_: &str, status: bool, reason: &str, message: &str) {
        let status = if status { "True" } else { "False" };
        let last_transition_time = self
            .prev
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| Time(self.now));
        self.out.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: truncate(message),
            observed_generation: Some(self.generation),
            last_transition_time,
        });
    }

    fn step(&mut self, type_: &str, step: &Step, ready: &str, waiting: &str) {
        match step {
            Step::Ready => self.set(type_, true, ready, "Ready"),
            Step::Waiting(m) => self.set(type_, false, waiting, m),
        }
    }

    /// Carries the step conditions over unchanged (the children did not change).
    fn keep_steps(&mut self) {
        let steps = [
            condition::NAMESPACE_READY,
            condition::DATABASE_READY,
            condition::STOREFRONT_READY,
            condition::SETUP_COMPLETE,
            condition::ROUTE_ACCEPTED,
        ];
        self.out.extend(
            self.prev
                .iter()
                .filter(|c| steps.contains(&c.type_.as_str()))
                .cloned(),
        );
    }
}

/// Condition messages are bounded (32 KiB in the API; we keep them short for kubectl).
fn truncate(message: &str) -> String {
    const MAX: usize = 1024;
    if message.len() <= MAX {
        return message.to_string();
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid")
    }

    fn progress(db: bool, setup: Setup) -> Outcome {
        Outcome::Progress(Progress {
            namespace: Step::Ready,
            database: if db {
                Step::Ready
            } else {
                Step::Waiting("Waiting for database (0/1 ready)".into())
            },
            storefront: Step::Ready,
            setup,
            route: None,
            blocked: None,
            rejected: None,
            backup: None,
            drill: None,
            cron: None,
            probe: None,
            worker: None,
            hibernation: Hibernation::Awake,
        })
    }

    fn cond<'a>(s: &'a StoreStatus, t: &str) -> Option<&'a Condition> {
        s.condition(t)
    }

    #[test]
    fn provisioning_then_ready_follows_the_contract() {
        let facts = StatusFacts {
            generation: 1,
            ..StatusFacts::default()
        };
        let s1 = next_status(
            &StoreStatus::default(),
            facts.clone(),
            &progress(false, Setup::Gated("waiting".into())),
            t(100),
        );
        assert_eq!(s1.phase, Some(Phase::Provisioning));
        assert_eq!(cond(&s1, "Ready").map(|c| c.status.as_str()), Some("False"));
        assert_eq!(
            cond(&s1, "Reconciling").map(|c| c.status.as_str()),
            Some("True")
        );
        assert!(cond(&s1, "Stalled").is_none());
        assert_eq!(
            s1.message.as_deref(),
            Some("Waiting for database (0/1 ready)")
        );
        assert_eq!(s1.observed_generation, Some(1));

        let s2 = next_status(
            &s1,
            facts.clone(),
            &progress(true, Setup::Succeeded),
            t(200),
        );
        assert_eq!(s2.phase, Some(Phase::Ready));
        let ready = cond(&s2, "Ready").expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "StoreReady")
        );
        assert_eq!(ready.last_transition_time, Time(t(200)));
        assert!(cond(&s2, "Reconciling").is_none() && cond(&s2, "Stalled").is_none());
        // NamespaceReady was True at t=100 and still is: its transition time stays.
        assert_eq!(
            cond(&s2, "NamespaceReady")
                .expect("ns")
                .last_transition_time,
            Time(t(100))
        );

        // Same input later: identical status, so nothing to write.
        assert_eq!(
            next_status(&s2, facts, &progress(true, Setup::Succeeded), t(300)),
            s2
        );
    }

    #[test]
    fn a_run_every_few_minutes_writes_nothing_while_its_outcome_stays() {
        let facts = StatusFacts {
            generation: 1,
            ..StatusFacts::default()
        };
        let with_runs = |n: u32| {
            let mut outcome = progress(true, Setup::Succeeded);
            if let Outcome::Progress(p) = &mut outcome {
                let run = |name: &str| Backups::Succeeded {
                    job: format!("{name}-{n}"),
                    at: format!("2026-12-05T07:{n:02}:00Z"),
                };
                p.cron = Some(run("cron"));
                p.probe = Some(run("probe"));
                p.backup = Some(run("backup"));
            }
            outcome
        };
        let first = next_status(
            &StoreStatus::default(),
            facts.clone(),
            &with_runs(1),
            t(100),
        );
        let second = next_status(&first, facts, &with_runs(2), t(200));
        for quiet in ["CronHealthy", "CheckoutHealthy"] {
            let (a, b) = (cond(&first, quiet), cond(&second, quiet));
            assert_eq!(a, b, "{quiet}: the same condition after another success");
            assert_eq!(a.map(|c| c.status.as_str()), Some("True"), "{quiet}");
        }
        // A daily backup still names its run.
        let backup = cond(&second, "BackupReady").expect("backup condition");
        assert!(backup.message.contains("backup-2"), "{}", backup.message);
        assert_ne!(cond(&first, "BackupReady"), Some(backup));
    }

    #[test]
    fn blocked_and_invalid_are_stalled_failed() {
        let mut p = match progress(true, Setup::Failed("boom".into())) {
            Outcome::Progress(p) => p,
            _ => unreachable!(),
        };
        p.blocked = Some(Blocked {
            reason: "SetupFailed".into(),
            message: "Setup failed: boom".into(),
        });
        let s = next_status(
            &StoreStatus::default(),
            StatusFacts::default(),
            &Outcome::Progress(p),
            t(1),
        );
        assert_eq!(s.phase, Some(Phase::Failed));
        assert_eq!(
            cond(&s, "Stalled").map(|c| c.reason.as_str()),
            Some("SetupFailed")
        );
        assert_eq!(
            cond(&s, "SetupComplete").map(|c| c.reason.as_str()),
            Some("SetupFailed")
        );

        let invalid = Outcome::Invalid(Blocked {
            reason: "InvalidField".into(),
            message: "spec.x: bad".into(),
        });
        let s = next_status(&s, StatusFacts::default(), &invalid, t(2));
        assert_eq!(s.phase, Some(Phase::Failed));
        assert_eq!(
            cond(&s, "Ready").map(|c| c.message.as_str()),
            Some("spec.x: bad")
        );
        assert!(
            cond(&s, "SetupComplete").is_some(),
            "step conditions are kept"
        );

        let limit = Outcome::LimitReached("full".into());
        let s = next_status(
            &StoreStatus::default(),
            StatusFacts::default(),
            &limit,
            t(3),
        );
        assert_eq!(s.phase, Some(Phase::Pending));
        assert_eq!(
            cond(&s, "Stalled").map(|c| c.reason.as_str()),
            Some("StoreLimitReached")
        );
    }

    #[test]
    fn hibernation_follows_the_contract() {
        let asleep = |storefront: Step| {
            let Outcome::Progress(mut p) = progress(true, Setup::Succeeded) else {
                unreachable!()
            };
            p.storefront = storefront;
            p.hibernation = Hibernation::Asleep;
            Outcome::Progress(p)
        };
        let facts = StatusFacts::default();
        let ready = next_status(
            &StoreStatus::default(),
            facts.clone(),
            &progress(true, Setup::Succeeded),
            t(1),
        );
        // Stopping: Hibernated phase, still reconciling.
        let stopping = asleep(Step::Waiting("Stopping storefront (1 pod left)".into()));
        let s = next_status(&ready, facts.clone(), &stopping, t(2));
        assert_eq!(s.phase, Some(Phase::Hibernated));
        let reasons =
            |s: &StoreStatus, t: &str| cond(s, t).map(|c| (c.status.clone(), c.reason.clone()));
        assert_eq!(
            reasons(&s, "Ready"),
            Some(("False".into(), "Hibernating".into()))
        );
        assert_eq!(
            reasons(&s, "Reconciling"),
            Some(("True".into(), "Hibernating".into()))
        );
        assert_eq!(
            reasons(&s, "Hibernated"),
            Some(("False".into(), "Stopping".into()))
        );
        assert_eq!(
            s.message.as_deref(),
            Some("Hibernating: Stopping storefront (1 pod left)")
        );
        // Stopped: hibernated, nothing in progress (kstatus Current), Ready False.
        let s = next_status(&s, facts.clone(), &asleep(Step::Ready), t(3));
        assert_eq!(s.phase, Some(Phase::Hibernated));
        assert_eq!(
            reasons(&s, "Ready"),
            Some(("False".into(), "Hibernated".into()))
        );
        assert_eq!(
            reasons(&s, "Hibernated"),
            Some(("True".into(), "Hibernated".into()))
        );
        assert!(cond(&s, "Reconciling").is_none() && cond(&s, "Stalled").is_none());
        assert_eq!(
            cond(&s, "Hibernated").expect("h").last_transition_time,
            Time(t(3))
        );
        // Awake again: the condition goes.
        let s = next_status(&s, facts.clone(), &progress(true, Setup::Succeeded), t(4));
        assert_eq!(s.phase, Some(Phase::Ready));
        assert!(cond(&s, "Hibernated").is_none());
        // Asked before setup finished: awake, and the condition says why.
        let Outcome::Progress(mut p) = progress(true, Setup::Running("setup".into())) else {
            unreachable!()
        };
        p.hibernation = Hibernation::AfterSetup;
        let s = next_status(&s, facts, &Outcome::Progress(p), t(5));
        assert_eq!(s.phase, Some(Phase::Provisioning));
        assert_eq!(
            reasons(&s, "Hibernated"),
            Some(("False".into(), "WaitingForSetup".into()))
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(2000);
        let cut = truncate(&long);
        assert!(cut.len() <= 1024 + "…".len());
        assert!(cut.ends_with('…'));
    }
}
