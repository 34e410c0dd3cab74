//! One reconcile of one Store, a straight line. Only the lines marked (client) talk to the API.
//!
//! ```text
//!  admit (admission.rs: validate, host, caps; caches only)    refused: status, no finalizer
//!                                                             (a store that served: route withdrawn)
//!  kube finalizer ─┬─ Apply:   desired objects (crate::desired, pure)
//!                  │           ─► apply, wave by wave (apply/; Medusa's migration Job in its wave)
//!                  │           ─► the setup step (steps/setup.rs)
//!                  │           ─► expose, once set up                           (apply/)
//!                  │           ─► sweep what the pass no longer wants           (sweep.rs)
//!                  │           ─► assess (assess.rs, pure: timeout, ready, next look)
//!                  │           ─► one status write (report.rs)
//!                  └─ Cleanup: cleanup.rs (delete or release), then the finalizer goes
//! ```
//!
//! Children are server-side applied on every pass (an apply that changes nothing writes nothing
//! to etcd, and one that finds drift repairs it); a Secret is created only when absent; the
//! status is written only when it changed. A Ready store's reconcile changes no resourceVersion.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use storefleet_types::{DeployedVersions, Store, names};
use tracing::{Instrument, debug, info, warn};

use crate::controller::admission::{self, Admission};
use crate::controller::apply::{self, Applied, AppliedChildren, Refusal};
use crate::controller::assess;
use crate::controller::backup_keys;
use crate::controller::backups;
use crate::controller::cleanup;
use crate::controller::context::Context;
use crate::controller::data;
use crate::controller::drills;
use crate::controller::error::Error;
use crate::controller::memory::Memo;
use crate::controller::observe::Step;
use crate::controller::report;
use crate::controller::reports;
use crate::controller::rollout::store::{self as rollout_store, Enrolled};
use crate::controller::status::StatusFacts;
use crate::controller::status::{Backups, Hibernation, Setup};
use crate::controller::steps::job::{MIGRATION, RESTORE, SETUP};
use crate::controller::steps::setup::{self, Gates, SetupStep};
use crate::controller::steps::upgrade::{self as upgrade_step, UpgradeStep};
use crate::controller::sweep::{self, Keep};
use crate::controller::upgrade;
use crate::desired::{self, StoreObjects};
use crate::validate::ValidatedStore;

/// Reconciles one Store; the entry point given to the kube-runtime Controller.
pub async fn reconcile(store: Arc<Store>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let name = store.name_any();
    let span = tracing::info_span!("reconcile", store = %name);
    let result = reconcile_store(store, &ctx).instrument(span).await;
    let outcome = match &result {
        Ok(_) => "success",
        // Waiting (a deleted store's namespace still going) is no failure.
        Err(e) if e.is_waiting() => "requeue",
        Err(_) => "error",
    };
    ctx.metrics.reconciled(outcome, started.elapsed());
    match &result {
        Ok(action) => {
            ctx.memory.succeeded(&name);
            debug!(store = %name, ?action, "reconciled");
        }
        Err(e) if e.is_waiting() => debug!(store = %name, "{e}"),
        Err(e) => warn!(store = %name, error = %e, kind = e.metric_label(), "reconcile failed"),
    }
    result
}

async fn reconcile_store(store: Arc<Store>, ctx: &Context) -> Result<Action, Error> {
    // A just-started operator trusts children on what its watches saw (memory/applied.rs) only
    // once they have listed everything: until then a pass would apply what it cannot see.
    if !ctx.memory.seen().complete() {
        return Err(Error::WatchesListing);
    }
    // The versions a StoreRollout admitting the store gives it (rollout/store.rs).
    let rollouts = ctx.rollouts.state();
    let enrolled = rollout_store::enrolled(&store, &rollouts);
    let validated = if store.metadata.deletion_timestamp.is_some() {
        if !store.has_finalizer() {
            ctx.memory.release(&store.name_any());
        }
        None
    } else {
        match admission::admit(&enrolled.store, ctx) {
            Admission::Admitted(validated) => Some(*validated),
            Admission::Refused(outcome, action) => {
                // A store refused after it served (its host taken, its domain or annotations
                // no longer allowed) is closed: its route and edge policies go.
                if store.has_finalizer()
                    && let Some(namespace) =
                        store.status.as_ref().and_then(|s| s.namespace.as_deref())
                    && sweep::sweep(ctx, &Keep::withdrawn(namespace))
                        .await
                        .map_err(Error::Apply)?
                {
                    info!(store = %store.name_any(), "route withdrawn: the store is refused");
                }
                report::finish(&store, ctx, StatusFacts::of(&store), *outcome).await?;
                return Ok(action);
            }
        }
    };
    finalized(store.clone(), validated.as_ref(), &enrolled, ctx).await
}

/// kube's finalizer helper around a pass: Apply provisions an admitted store, Cleanup removes
/// it. When the helper only added the finalizer (a store's first pass), the store is ours from
/// then on, so this pass goes on to provision it rather than wait for the watch to show it.
async fn finalized(
    store: Arc<Store>,
    validated: Option<&ValidatedStore>,
    enrolled: &Enrolled<'_>,
    ctx: &Context,
) -> Result<Action, Error> {
    let stores: Api<Store> = Api::all(ctx.client.clone());
    let handle = |event| async {
        match (event, validated) {
            (FinalizerEvent::Apply(store), Some(validated)) => {
                provision(&store, validated, enrolled, ctx).await
            }
            (FinalizerEvent::Apply(_), None) => Ok(Action::await_change()),
            (FinalizerEvent::Cleanup(store), _) => Ok(cleanup::cleanup(&store, ctx).await?),
        }
    };
    let adding_finalizer = validated.is_some() && !store.has_finalizer();
    let action = finalizer(&stores, names::FINALIZER, store.clone(), handle).await?;
    if !adding_finalizer {
        return Ok(action);
    }
    let mut with_finalizer = (*store).clone();
    with_finalizer
        .finalizers_mut()
        .push(names::FINALIZER.to_string());
    Ok(finalizer(&stores, names::FINALIZER, Arc::new(with_finalizer), handle).await?)
}

/// Converges an admitted Store: desired objects, apply, setup, exposure, assess, one status write.
async fn provision(
    store: &Store,
    validated: &ValidatedStore,
    enrolled: &Enrolled<'_>,
    ctx: &Context,
) -> Result<Action, Error> {
    let now = ctx.clock.now(); //                                            no client
    let (mut facts, retry) = assess::begin(store, validated, now); //        no client
    if retry {
        announce_retry(store, validated, ctx).await; //                      client: event
    }
    let (validated, hibernation) = carried_out(validated, &facts); //         no client
    let versions = (validated.as_ref(), enrolled);
    let begin = begin_upgrade(ctx, store, versions, &mut facts, retry, now).await; // client: event
    let built = upgrade::carried(validated.as_ref(), &begin); //              no client
    let validated = built.as_ref();
    let mut objects = desired::build(validated); //                          no client
    backup_keys::attach(ctx, validated, &mut objects).await?; //             client (cached)
    let mut memo = ctx.memory.for_pass(&validated.name, &objects); //         no client
    let recorded = (facts.data.as_ref(), &facts.volume_sizes);
    let store_id = (validated.name.as_str(), validated.uid.as_str());
    let mut live = match apply::apply_children(ctx, &mut memo, store_id, &objects, recorded, retry)
        .await?
    {
        Applied::Children(live) => live, //                               client
        Applied::Refused(refusal) => return refuse(store, validated, ctx, facts, refusal).await,
    };
    facts.volume_sizes = std::mem::take(&mut live.volume_sizes);
    let at = (retry, now, &begin.build);
    let (setup, upgrade) = set_up(ctx, store, &objects, &live, at, &mut facts).await?; // client
    let route = exposure(ctx, &mut memo, store, &objects, &facts).await?; // client
    let done = [setup.setup == Setup::Succeeded, live.migrated];
    sweep_unwanted(ctx, store, &objects, &facts, done).await?; //           client
    let (restarting, rejected) = (setup.restarting || live.restarting, live.rejected.clone());
    let runs = runs(ctx, store, validated, &objects, &mut facts).await?; //   client (reports, drills)
    let progress = assess::progress(live, setup, route, runs, hibernation); // no client
    let timeout = Duration::from_secs(ctx.config.provisioning_timeout_seconds);
    let created = store.metadata.creation_timestamp.as_ref();
    let assessed = assess::assess(progress, &mut facts, (now, created), timeout, restarting);
    if let Some(seconds) = assessed.time_to_ready {
        ctx.metrics.time_to_ready(seconds);
    }
    let next = assessed.action(upgrade.look_again); //                        no client
    report::finish(store, ctx, facts, assessed.outcome).await?; //          client
    rejected.map_or(Ok(next), |message| Err(Error::Rejected(message)))
}

/// The setup step, then the upgrade's (`steps/upgrade.rs`), on what this pass applied; records
/// in `facts` what the shop was set up on: its data and the versions `built` (this pass's).
async fn set_up(
    ctx: &Context,
    store: &Store,
    objects: &StoreObjects,
    live: &AppliedChildren,
    (retry, now, built): (bool, Timestamp, &DeployedVersions),
    facts: &mut StatusFacts,
) -> Result<(SetupStep, UpgradeStep), Error> {
    let gates = Gates {
        database: &live.database,
        storefront: &live.storefront,
        applied: live.rejected.is_none(),
        retry,
        asleep: objects.asleep,
    };
    let restore_job = objects.backup.as_ref().and_then(|b| b.restore_job.as_ref());
    let setup = setup::run_setup(ctx, objects.setup_job(), restore_job, gates, facts) // client
        .await
        .map_err(Error::Setup)?;
    if facts.completed_setup.is_some() {
        // Set up on this data: from now on, losing it is DataLost.
        facts.data = Some(data::record(facts.data.as_ref(), &live.data));
        // And on these versions: from now on, others are an upgrade.
        facts.deployed.get_or_insert_with(|| built.clone());
    }
    let pass = upgrade_step::Pass {
        objects,
        setup: &setup.setup,
        ready: live.database.is_ready() && live.storefront.is_ready(),
        retry,
        now,
        timeout: Duration::from_secs(ctx.config.provisioning_timeout_seconds),
    };
    let upgrade = upgrade_step::drive(ctx, store, pass, facts) //            client (a step)
        .await
        .map_err(Error::Setup)?;
    Ok((setup.with_blocked(upgrade.blocked.clone()), upgrade))
}

/// The store's upgrade as a pass begins (`upgrade.rs`): the versions it builds from, the records
/// in `facts`; an upgrade that starts now is announced. A retry (the store Failed, or its retry
/// annotation changed) tries a failed target again.
async fn begin_upgrade(
    ctx: &Context,
    store: &Store,
    (validated, enrolled): (&ValidatedStore, &Enrolled<'_>),
    facts: &mut StatusFacts,
    retry: bool,
    now: Timestamp,
) -> upgrade::Begin {
    let set_up = facts.completed_setup.is_some();
    let asked = rollout_store::asked(
        upgrade::asked(validated),
        enrolled.store.spec.versions.as_ref(),
        store.spec.engine,
        facts.deployed.as_ref().filter(|_| set_up),
    );
    let rollout = enrolled.rollout.as_ref().map(|(name, _)| name.as_str());
    let prev_retry = store
        .status
        .as_ref()
        .and_then(|s| s.observed_retry.as_ref());
    let begin = upgrade::begin(
        upgrade::Facts {
            asked: &asked,
            deployed: facts.deployed.as_ref(),
            upgrade: facts.upgrade.as_ref(),
            set_up: facts.completed_setup.is_some(),
            asleep: validated.hibernate,
            backups: validated.backup.is_some(),
            retry: retry || prev_retry != facts.observed_retry.as_ref(),
            rollout,
        },
        now,
    );
    facts.rollout = enrolled.rollout.clone().map(|id| {
        let refused = enrolled.refused.clone();
        rollout_store::mark(id, refused, &begin, &asked, validated.hibernate)
    });
    facts.deployed.clone_from(&begin.deployed);
    facts.upgrade.clone_from(&begin.upgrade);
    facts.upgrade_held.clone_from(&begin.held);
    if let Some(u) = begin.upgrade.as_ref().filter(|_| begin.started) {
        upgrade_step::announce(ctx, store, u).await;
    }
    begin
}

/// `spec.hibernate` as this pass carries it out: a store asked to sleep before its setup has
/// finished is kept awake until it has.
fn carried_out<'a>(
    validated: &'a ValidatedStore,
    facts: &StatusFacts,
) -> (Cow<'a, ValidatedStore>, Hibernation) {
    let hibernation = Hibernation::of(validated.hibernate, facts.completed_setup.is_some());
    if hibernation == Hibernation::AfterSetup {
        let awake = ValidatedStore {
            hibernate: false,
            ..validated.clone()
        };
        return (Cow::Owned(awake), hibernation);
    }
    (Cow::Borrowed(validated), hibernation)
}

/// The store's recurring runs (backups, drills, WordPress's scheduled work) as their conditions
/// show them; on the way, the newest backup's and setup's reports read (once a Job) and the
/// drills driven one step.
async fn runs(
    ctx: &Context,
    store: &Store,
    validated: &ValidatedStore,
    objects: &StoreObjects,
    facts: &mut StatusFacts,
) -> Result<[Option<Backups>; 4], Error> {
    let backups = backups::observed(ctx.memory.seen(), validated); //        no client
    backups::record(ctx, validated, backups.as_ref(), facts).await; //       client (once a Job)
    drills::drive(ctx, store, validated, objects, facts) //                  client (a step)
        .await
        .map_err(Error::Drill)?;
    reports::versions(ctx, validated, facts).await; //                       client (once a Job)
    let drills = drills::observed(validated, facts);
    let probe = facts
        .completed_setup
        .is_some()
        .then(|| backups::probe(validated, ctx));
    Ok([backups, drills, backups::cron(validated, ctx), probe])
}

/// Nothing is public before it is ours: the edge policies and the route go out only once setup
/// has installed the shop with our admin (in this pass or an earlier one); until then the sweep
/// keeps none.
/// A backup asked for now (`storefleet.io/backup-now`) runs only on a set-up shop too.
async fn exposure(
    ctx: &Context,
    memo: &mut Memo,
    store: &Store,
    objects: &StoreObjects,
    facts: &StatusFacts,
) -> Result<Option<Step>, Error> {
    if facts.completed_setup.is_some() {
        let route = apply::expose(ctx, memo, objects).await?;
        // A backup asked for while the store sleeps (its database stopped) waits for the wake.
        if let Some(job) = backups::asked(store, objects).filter(|_| !objects.asleep) {
            backups::start(ctx, &job).await?;
        }
        Ok(route)
    } else {
        Ok(assess::unexposed_route(objects))
    }
}

/// Removes what this pass no longer wants (`sweep.rs`): `done` says whether the setup and the
/// migration succeeded in this pass.
async fn sweep_unwanted(
    ctx: &Context,
    store: &Store,
    objects: &StoreObjects,
    facts: &StatusFacts,
    [setup, migrated]: [bool; 2],
) -> Result<(), Error> {
    let done = |kind| {
        (kind == SETUP && setup)
            || (kind == MIGRATION && migrated)
            || (kind == RESTORE && facts.completed_restore.is_some())
    };
    let asked = backups::asked(store, objects); //                           no client
    let keep = Keep::store(objects, facts.completed_setup.is_some(), done)
        .with_asked_backup(asked.as_ref())
        .with_upgrade(facts.upgrade.as_ref()); //                            no client
    sweep::sweep(ctx, &keep).await?; //                                      client
    Ok(())
}

/// Children that could not be applied: an empty shop is never public (its installer would be
/// anyone's), and the status says why.
async fn refuse(
    store: &Store,
    validated: &ValidatedStore,
    ctx: &Context,
    facts: StatusFacts,
    refusal: Refusal,
) -> Result<Action, Error> {
    if matches!(refusal, Refusal::DataLost(_)) {
        sweep::sweep(ctx, &Keep::withdrawn(&validated.namespace)).await?;
    }
    let (outcome, action) = assess::refused(refusal, &validated.namespace);
    report::finish(store, ctx, facts, outcome).await?;
    Ok(action)
}

async fn announce_retry(store: &Store, validated: &ValidatedStore, ctx: &Context) {
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
