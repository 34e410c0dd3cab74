//! One reconcile of one Store, a straight line:
//!
//! ```text
//!  admit: validate (pure) ─► host (cache) ─► caps (cache)      refused: status, no finalizer
//!                                                              (a store that served: route withdrawn)
//!  kube finalizer ─┬─ Apply:   build (pure) ─► data check ─► apply ─► observe ─► setup
//!                  │           ─► expose (set up) | withdraw (not yet) ─► timeout
//!                  │           ─► one status write (report.rs)
//!                  └─ Cleanup: cleanup.rs (delete or release), then the finalizer goes
//! ```
//!
//! Children are server-side applied on every pass (an apply that changes nothing writes nothing
//! to etcd, and one that finds drift repairs it); a Secret is created only when absent; the
//! status is written only when it changed. A Ready store's reconcile changes no resourceVersion.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use storefleet_types::names::{self, child};
use storefleet_types::{Phase, Store, condition};
use tracing::{Instrument, debug, info, warn};

use super::apply::{self, Refusal};
use super::cleanup;
use super::data;
use super::observe::Step;
use super::report;
use super::setup::{self, Gates};
use super::status::{Blocked, Facts, Outcome, Progress, Setup};
use super::volumes;
use super::{Context, DELETION_RECHECK, Error, LIMIT_RECHECK, PROVISIONING_RECHECK, READY_RESYNC};
use crate::build;
use crate::validate::{self, ValidatedStore};

/// Whether the Store carries our finalizer.
pub fn has_finalizer(store: &Store) -> bool {
    store.finalizers().iter().any(|f| f == names::FINALIZER)
}

/// Reconciles one Store; the entry point given to the kube-runtime Controller.
pub async fn reconcile(store: Arc<Store>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let name = store.name_any();
    let span = tracing::info_span!("reconcile", store = %name);
    let result = reconcile_store(store, &ctx).instrument(span).await;
    ctx.metrics.reconciled(
        if result.is_ok() { "success" } else { "error" },
        started.elapsed(),
    );
    match &result {
        Ok(action) => {
            ctx.succeeded(&name);
            debug!(store = %name, ?action, "reconciled");
        }
        Err(e) if e.is_waiting() => debug!(store = %name, "{e}"),
        Err(e) => warn!(store = %name, error = %e, kind = e.metric_label(), "reconcile failed"),
    }
    result
}

async fn reconcile_store(store: Arc<Store>, ctx: &Context) -> Result<Action, Error> {
    let validated = if store.metadata.deletion_timestamp.is_none() {
        match admit(&store, ctx) {
            Admission::Admitted(validated) => Some(*validated),
            Admission::Refused(outcome, action) => {
                // A store refused after it served (its host taken, its domain or annotations
                // no longer allowed) is closed: its route and edge policies go.
                if has_finalizer(&store)
                    && let Some(namespace) =
                        store.status.as_ref().and_then(|s| s.namespace.as_deref())
                    && apply::withdraw(ctx, namespace)
                        .await
                        .map_err(Error::Apply)?
                {
                    info!(store = %store.name_any(), "route withdrawn: the store is refused");
                }
                report::finish(&store, ctx, Facts::of(&store), *outcome).await?;
                return Ok(action);
            }
        }
    } else {
        if !has_finalizer(&store) {
            ctx.release(&store.name_any());
        }
        None
    };
    let stores: Api<Store> = Api::all(ctx.client.clone());
    let adding_finalizer = validated.is_some() && !has_finalizer(&store);
    let handle = |event| async {
        match (event, validated.as_ref()) {
            (FinalizerEvent::Apply(store), Some(validated)) => {
                provision(&store, validated, ctx).await
            }
            (FinalizerEvent::Apply(_), None) => Ok(Action::await_change()),
            (FinalizerEvent::Cleanup(store), _) => Ok(cleanup::cleanup(&store, ctx).await?),
        }
    };
    let action = finalizer(&stores, names::FINALIZER, store.clone(), handle)
        .await
        .map_err(Error::from)?;
    if !adding_finalizer {
        return Ok(action);
    }
    // kube's helper added the finalizer and stopped there; the store is ours from now on, so
    // this pass goes on to provision it rather than wait for the watch to show the finalizer.
    let mut with_finalizer = (*store).clone();
    with_finalizer
        .finalizers_mut()
        .push(names::FINALIZER.to_string());
    finalizer(&stores, names::FINALIZER, Arc::new(with_finalizer), handle)
        .await
        .map_err(Error::from)
}

/// Whether a store that is not being deleted may be provisioned.
enum Admission {
    /// Yes, as validated.
    Admitted(Box<ValidatedStore>),
    /// No: the outcome for the status, and when to look again.
    Refused(Box<Outcome>, Action),
}

/// A store may be provisioned with a valid spec, a host no older store claims and no other
/// route serves, and room under the caps. A refused store gets no child and no finalizer.
fn admit(store: &Store, ctx: &Context) -> Admission {
    let validated = match validate::validate(store, &ctx.config) {
        Ok(validated) => validated,
        Err(e) => {
            let blocked = Blocked {
                reason: e.reason().to_string(),
                message: e.to_string(),
            };
            return Admission::Refused(Box::new(Outcome::Invalid(blocked)), Action::await_change());
        }
    };
    // A host belongs to one Store: the oldest valid claim wins, the others wait (they start by
    // themselves when the holder is deleted or moves). Nor may a store take a host that a route
    // outside its namespace already serves (the ingress controller or Gateway would give it to
    // the older route).
    let host = &validated.host;
    let taken = host_holder(store, host, ctx)
        .map(|holder| format!("Host {host} is already served by store {holder}; choose another spec.domain"))
        .or_else(|| {
            ctx.routes.holder(host, &validated.namespace).map(|route| {
                format!("Host {host} is already routed by {route}, which is older than this store's route; choose another spec.domain or remove that route")
            })
        });
    if let Some(message) = taken {
        let blocked = Blocked {
            reason: "HostTaken".into(),
            message,
        };
        return Admission::Refused(
            Box::new(Outcome::Invalid(blocked)),
            Action::requeue(LIMIT_RECHECK),
        );
    }
    if !has_finalizer(store)
        && let Err(message) = ctx.admit(&validated.name, &store.spec.owner)
    {
        return Admission::Refused(
            Box::new(Outcome::LimitReached(message)),
            Action::requeue(LIMIT_RECHECK),
        );
    }
    Admission::Admitted(Box::new(validated))
}

/// The name of an older Store (by creation, then name) that validly claims `host`, if any.
fn host_holder(store: &Store, host: &str, ctx: &Context) -> Option<String> {
    let key = |s: &Store| {
        (
            s.metadata.creation_timestamp.as_ref().map(|t| t.0),
            s.name_any(),
        )
    };
    let mine = key(store);
    ctx.stores
        .state()
        .iter()
        .filter(|other| other.metadata.uid != store.metadata.uid)
        .filter(|other| key(other) < mine)
        .filter(|other| validate::validate(other, &ctx.config).is_ok_and(|v| v.host == host))
        .map(|other| other.name_any())
        .min()
}

/// A retry: the store Failed and since then its spec or its retry annotation changed.
fn is_retry(store: &Store, facts: &Facts) -> bool {
    let prev = store.status.clone().unwrap_or_default();
    let stalled_generation = prev
        .conditions
        .iter()
        .find(|c| c.type_ == condition::STALLED && c.status == "True")
        .and_then(|c| c.observed_generation);
    prev.phase == Some(Phase::Failed)
        && (facts.observed_retry != prev.observed_retry
            || stalled_generation.is_some_and(|g| g < facts.generation))
}

/// Whether a retry asks to start a store over whose data is gone: it is Stalled with reason
/// `DataLost` and its retry annotation changed (a spec change alone never empties a shop).
fn starts_over(store: &Store, facts: &Facts) -> bool {
    let prev = store.status.clone().unwrap_or_default();
    let data_lost = prev
        .conditions
        .iter()
        .any(|c| c.type_ == condition::STALLED && c.status == "True" && c.reason == "DataLost");
    data_lost && facts.observed_retry != prev.observed_retry
}

/// Converges an admitted Store: build, apply, observe, setup, timeout, then one status write.
async fn provision(
    store: &Store,
    validated: &ValidatedStore,
    ctx: &Context,
) -> Result<Action, Error> {
    let now = ctx.clock.now();
    let mut facts = Facts::of(store);
    facts.namespace = Some(validated.namespace.clone());
    facts.url = Some(validated.shop_url());
    facts.admin_url = Some(validated.admin_url());
    facts.credentials_secret = Some(child::ADMIN_SECRET.to_string());
    let retry = is_retry(store, &facts);
    if retry {
        info!(store = %validated.name, "retry requested");
        report::publish(
            store,
            ctx,
            EventType::Normal,
            "RetryRequested",
            "Retry",
            "Provisioning again after a failure",
        )
        .await;
    }
    if retry || facts.provisioning_started_at.is_none() {
        facts.provisioning_started_at = Some(Time(now));
    }
    if retry && starts_over(store, &facts) {
        // The owner asked to start a store whose data is gone over, empty: set up again.
        info!(store = %validated.name, "starting over as a new, empty shop after data loss");
        facts.data = None;
        facts.completed_setup = None;
        facts.ready_at = None;
    }

    let objects = build::build(validated);
    // One memo for the pass: what the applies and the exposure find unchanged costs no request.
    let mut memo = ctx.memos.for_pass(&validated.name, &objects);
    let store_id = (validated.name.as_str(), validated.uid.as_str());
    let applied = apply::apply_children(
        ctx,
        &mut memo,
        store_id,
        &objects,
        (facts.data.as_ref(), &facts.volume_sizes),
        retry,
    )
    .await?;
    let mut live = match applied {
        Ok(live) => live,
        Err(refusal) => {
            if matches!(refusal, Refusal::DataLost(_)) {
                // An empty shop is never public: its installer would be anyone's.
                apply::withdraw(ctx, &validated.namespace).await?;
            }
            let (outcome, action) = refused(refusal, &validated.namespace);
            report::finish(store, ctx, facts, outcome).await?;
            return Ok(action);
        }
    };
    facts.volume_sizes = std::mem::take(&mut live.volume_sizes);
    let (database, storefront) = (live.database, live.storefront);
    let gates = Gates {
        database: &database,
        storefront: &storefront,
        applied: live.rejected.is_none(),
        retry,
    };
    let setup = setup::run_setup(ctx, validated, objects.setup_job(), gates, &mut facts).await?;
    if facts.completed_setup.is_some() {
        // Set up on this data: from now on, losing it is DataLost.
        facts.data = Some(data::record(facts.data.as_ref(), &live.data));
    }
    // Nothing is public before it is ours: the edge policies and the route go out only once
    // setup has installed the shop with our admin (in this pass or an earlier one).
    let route = if facts.completed_setup.is_some() {
        apply::expose(ctx, &mut memo, &objects).await?
    } else {
        apply::withdraw(ctx, &validated.namespace).await?;
        unexposed_route(&objects)
    };

    let mut progress = Progress {
        namespace: match live.rejected {
            Some(_) => Step::Waiting("Isolation objects not applied".into()),
            None => Step::Ready,
        },
        database,
        storefront,
        setup: setup.setup,
        route,
        blocked: live.blocked.or(setup.blocked),
        rejected: live.rejected.clone(),
    };
    let timeout = Duration::from_secs(ctx.config.provisioning_timeout_seconds);
    let elapsed = seconds_since(facts.provisioning_started_at.as_ref(), now);
    if progress.blocked.is_none()
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
    if progress.is_ready() && facts.ready_at.is_none() {
        facts.ready_at = Some(Time(now));
        let created = store.metadata.creation_timestamp.as_ref().map(|t| &t.0);
        ctx.metrics
            .time_to_ready(seconds_since(created.map(|t| Time(*t)).as_ref(), now));
    }

    let outcome = Outcome::Progress(progress);
    let phase = outcome.phase();
    report::finish(store, ctx, facts, outcome).await?;
    if let Some(message) = live.rejected {
        return Err(Error::Rejected(message));
    }
    Ok(match phase {
        _ if setup.restarting || live.restarting => Action::requeue(DELETION_RECHECK),
        Phase::Ready => Action::requeue(READY_RESYNC),
        Phase::Failed => Action::await_change(),
        _ => Action::requeue(
            PROVISIONING_RECHECK
                .min(timeout.saturating_sub(elapsed))
                .max(Duration::from_secs(1)),
        ),
    })
}

/// The route step of a store that is not exposed yet: an HTTPRoute waits for setup; an Ingress
/// has no step of its own.
fn unexposed_route(objects: &build::StoreObjects) -> Option<Step> {
    match objects.route {
        build::route::RouteObject::Ingress(_) => None,
        build::route::RouteObject::HttpRoute(_) => Some(Step::Waiting(
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
fn refused(refusal: Refusal, namespace: &str) -> (Outcome, Action) {
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
            };
            (
                Outcome::Progress(progress),
                Action::requeue(DELETION_RECHECK),
            )
        }
    }
}
