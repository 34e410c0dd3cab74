//! Assess (pure): what a pass concluded, for the status and the next look: the provisioning
//! timeout, the moment the store became ready, how soon to come back, and the status of
//! children that could not be applied.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use storefleet_types::names::{self, child};
use storefleet_types::{Phase, Store, condition};
use tracing::info;

use crate::controller::apply::volumes;
use crate::controller::apply::{AppliedChildren, Refusal};
use crate::controller::context::{
    DELETION_RECHECK, LIMIT_RECHECK, PROVISIONING_RECHECK, READY_RESYNC,
};
use crate::controller::data;
use crate::controller::observe::Step;
use crate::controller::status::{
    Backups, Blocked, Hibernation, Outcome, Progress, Setup, StatusFacts,
};
use crate::controller::steps::setup::SetupStep;
use crate::desired;
use crate::validate::ValidatedStore;

/// The facts a pass starts from (the store's status, its names and URLs), and whether it is a
/// retry after a failure. A retry restarts the provisioning clock; a retry of a store whose
/// data is gone starts it over, empty.
pub fn begin(store: &Store, validated: &ValidatedStore, now: Timestamp) -> (StatusFacts, bool) {
    let mut facts = StatusFacts::of(store);
    facts.namespace = Some(validated.namespace.clone());
    facts.url = Some(validated.shop_url());
    facts.admin_url = Some(validated.admin_url());
    facts.credentials_secret = Some(child::ADMIN_SECRET.to_string());
    let retry = is_retry(store, &facts);
    let woken = !validated.hibernate
        && store.status.as_ref().and_then(|s| s.phase) == Some(Phase::Hibernated);
    // A retry, or a wake, restarts the provisioning clock.
    if retry || woken || facts.provisioning_started_at.is_none() {
        facts.provisioning_started_at = Some(Time(now));
    }
    if retry && starts_over(store, &facts) {
        // The owner asked to start a store whose data is gone over, empty: set up again.
        info!(store = %validated.name, "starting over as a new, empty shop after data loss");
        facts.data = None;
        facts.completed_setup = None;
        facts.ready_at = None;
    }
    (facts, retry)
}

/// A retry: the store Failed and since then its spec or its retry annotation changed.
fn is_retry(store: &Store, facts: &StatusFacts) -> bool {
    let prev = store.status.clone().unwrap_or_default();
    let stalled_generation = prev
        .condition(condition::STALLED)
        .filter(|c| c.status == "True")
        .and_then(|c| c.observed_generation);
    prev.phase == Some(Phase::Failed)
        && (facts.observed_retry != prev.observed_retry
            || stalled_generation.is_some_and(|g| g < facts.generation))
}

/// Whether a retry asks to start a store over whose data is gone: it is Stalled with reason
/// `DataLost` and its retry annotation changed (a spec change alone never empties a shop).
fn starts_over(store: &Store, facts: &StatusFacts) -> bool {
    let prev = store.status.clone().unwrap_or_default();
    let data_lost = prev
        .condition(condition::STALLED)
        .is_some_and(|c| c.status == "True" && c.reason == "DataLost");
    data_lost && facts.observed_retry != prev.observed_retry
}

/// The steps of a pass that applied its children, ran its setup step and opened (or not) its
/// route.
pub fn progress(
    live: AppliedChildren,
    setup: SetupStep,
    route: Option<Step>,
    [backup, drill, cron, probe]: [Option<Backups>; 4],
    hibernation: Hibernation,
) -> Progress {
    Progress {
        namespace: match live.rejected {
            Some(_) => Step::Waiting("Isolation objects not applied".into()),
            None => Step::Ready,
        },
        database: live.database,
        storefront: live.storefront,
        setup: setup.setup,
        route,
        blocked: live.blocked.or(setup.blocked),
        rejected: live.rejected,
        backup,
        drill,
        cron,
        probe,
        worker: live.worker.filter(|_| hibernation != Hibernation::Asleep),
        hibernation,
    }
}

/// What a pass concluded.
#[derive(Debug)]
pub struct Assessed {
    /// For the status.
    pub outcome: Outcome,
    /// When to look again (None: on the next change).
    pub requeue: Option<Duration>,
    /// Set on the pass that found the store ready for the first time: how long since it was
    /// created.
    pub time_to_ready: Option<Duration>,
}

/// Assesses a pass: a store not ready within `timeout` of its provisioning start is Failed
/// (`ProvisioningTimeout`); the first ready pass records `ready_at`; a Ready store is looked at
/// again after [`READY_RESYNC`], a Failed one on a change, a restarting step soon, and a
/// provisioning one within [`PROVISIONING_RECHECK`] (or at its deadline).
pub fn assess(
    mut progress: Progress,
    facts: &mut StatusFacts,
    (now, created): (Timestamp, Option<&Time>),
    timeout: Duration,
    restarting: bool,
) -> Assessed {
    let elapsed = seconds_since(facts.provisioning_started_at.as_ref(), now);
    // A store asleep has no deadline (its clock starts again when it wakes).
    if progress.blocked.is_none()
        && progress.hibernation != Hibernation::Asleep
        && facts.ready_at.is_none()
        && !progress.is_ready()
        && elapsed >= timeout
    {
        let waiting = progress.waiting_for().1;
        progress.blocked = Some(Blocked {
            reason: "ProvisioningTimeout".into(),
            message: format!(
                "Store did not become ready within {}s ({waiting}). Fix the cause, then change the spec or the {} annotation to retry",
                timeout.as_secs(),
                names::RETRY_ANNOTATION
            ),
        });
    }
    let mut time_to_ready = None;
    if progress.is_ready() && facts.ready_at.is_none() {
        facts.ready_at = Some(Time(now));
        time_to_ready = Some(seconds_since(created, now));
    }
    let outcome = Outcome::Progress(progress);
    let requeue = match outcome.phase() {
        _ if restarting => Some(DELETION_RECHECK),
        Phase::Ready => Some(READY_RESYNC),
        // Asleep: looked at as a Ready store once stopped, on the watch until then.
        Phase::Hibernated if progress_hibernated(&outcome) => Some(READY_RESYNC),
        Phase::Hibernated => Some(PROVISIONING_RECHECK),
        Phase::Failed => None,
        _ => Some(
            PROVISIONING_RECHECK
                .min(timeout.saturating_sub(elapsed))
                .max(Duration::from_secs(1)),
        ),
    };
    Assessed {
        outcome,
        requeue,
        time_to_ready,
    }
}

impl Assessed {
    /// When to look again: the assessment's time, or `sooner` (a step's, e.g. an upgrade that
    /// just ended or runs) when that comes first.
    pub fn action(&self, sooner: Option<Duration>) -> Action {
        match next_look(self.requeue, sooner) {
            Some(after) => Action::requeue(after),
            None => Action::await_change(),
        }
    }
}

/// The sooner of two looks (None: no look planned).
fn next_look(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn progress_hibernated(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Progress(p) if p.is_hibernated())
}

/// The route step of a store that is not exposed yet: an HTTPRoute waits for setup; an Ingress
/// has no step of its own.
pub fn unexposed_route(objects: &desired::StoreObjects) -> Option<Step> {
    match objects.route {
        desired::route::RouteObject::Ingress(_) => None,
        desired::route::RouteObject::HttpRoute(_) => Some(Step::Waiting(
            "The HTTPRoute is created once setup has installed the shop".into(),
        )),
    }
}

fn seconds_since(start: Option<&Time>, now: k8s_openapi::jiff::Timestamp) -> Duration {
    start
        .map(|t| Duration::from_secs(u64::try_from(now.as_second() - t.0.as_second()).unwrap_or(0)))
        .unwrap_or_default()
}

/// The status and the next check for children that could not be applied.
pub fn refused(refusal: Refusal, namespace: &str) -> (Outcome, Action) {
    let blocked = |reason: &str, message: String| {
        Outcome::Invalid(Blocked {
            reason: reason.into(),
            message,
        })
    };
    match refusal {
        Refusal::NamespaceTaken(message) => {
            (blocked("NamespaceTaken", message), Action::await_change())
        }
        Refusal::CredentialsLost(secrets) => (
            blocked(
                "CredentialsLost",
                format!(
                    "Secret(s) {} in namespace {namespace} were deleted after the store was set up; the database and the shop still use their values, so new ones would lock the store out. Restore them from a backup (the store continues by itself), or delete the store",
                    secrets.join(", "),
                ),
            ),
            Action::requeue(LIMIT_RECHECK),
        ),
        Refusal::DataLost(what) => (
            blocked("DataLost", data::lost_message(&what)),
            Action::await_change(),
        ),
        Refusal::Unresizable(volumes::Unresizable::Shrink(message)) => (
            blocked("VolumeShrinkRefused", message),
            Action::await_change(),
        ),
        Refusal::Unresizable(volumes::Unresizable::ExpansionUnsupported(message)) => (
            blocked("VolumeExpansionUnsupported", message),
            Action::requeue(LIMIT_RECHECK),
        ),
        Refusal::NamespaceTerminating => {
            let message = "Waiting for the old namespace to finish terminating";
            let progress = Progress {
                namespace: Step::Waiting(format!("Namespace {namespace} is terminating")),
                database: Step::Waiting(message.into()),
                storefront: Step::Waiting(message.into()),
                setup: Setup::Gated(message.into()),
                route: None,
                blocked: None,
                rejected: None,
                backup: None,
                drill: None,
                cron: None,
                probe: None,
                worker: None,
                hibernation: Hibernation::Awake,
            };
            (
                Outcome::Progress(progress),
                Action::requeue(DELETION_RECHECK),
            )
        }
    }
}

#[cfg(test)]
mod look_tests {
    use super::*;

    #[test]
    fn the_sooner_look_wins_and_none_means_on_a_change() {
        let s = Duration::from_secs;
        assert_eq!(next_look(Some(s(300)), Some(s(1))), Some(s(1)));
        assert_eq!(next_look(Some(s(5)), Some(s(30))), Some(s(5)));
        assert_eq!(
            next_look(None, Some(s(30))),
            Some(s(30)),
            "a Failed store's upgrade"
        );
        assert_eq!(next_look(Some(s(300)), None), Some(s(300)));
        assert_eq!(next_look(None, None), None);
    }
}
