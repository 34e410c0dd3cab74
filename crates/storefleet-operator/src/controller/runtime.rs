//! `storefleet-operator run`: health and metrics server, leader election, and the kube-runtime
//! Controller on Store that also watches every child kind (selected by our labels, mapped back
//! to the Store by the `storefleet.io/store` label), so a child's change or deletion triggers a
//! reconcile. Stops gracefully on SIGTERM/SIGINT; exits when leadership is lost so that the
//! standby (which holds no state) takes over.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::TryStreamExt;
use kube::Client;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::{self, reflector};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::{PredicateConfig, WatchStreamExt};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use storefleet_types::names;
use storefleet_types::{Store, StoreRollout};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::OperatorConfig;
use crate::controller::context::{Clock, Context, SystemClock};
use crate::controller::driver::reconcile;
use crate::controller::error::{Error, error_policy};
use crate::controller::events::{Events, Reporter};
use crate::controller::routes::RoutedHosts;
use crate::http;
use crate::metrics::Metrics;

/// Name of the leader-election Lease.
pub const LEASE_NAME: &str = "storefleet-operator";
/// Lease duration: a leader that cannot show it renewed within this long stops.
pub const LEASE_SECONDS: u64 = 15;
/// Events on a store within this long are one reconcile: a pass's own writes come back as a
/// burst of watch events, and a Deployment, a StatefulSet or a Job reports its progress in
/// bursts of status updates. Short, because every pass waits for it: a new store is provisioned
/// this long after it appears. (A pass that finds nothing changed costs no request.)
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How often the leader re-reads its Lease.
const FENCE_EVERY: Duration = Duration::from_secs(2);

/// Margin kept before the Lease's expiry for clock skew between replicas: a leader stops this
/// long before another replica may take the Lease over.
const SKEW_MARGIN: Duration = Duration::from_secs(2);

/// How long from `now` the Lease as read stays ours: until its renewal plus its duration, less
/// [`SKEW_MARGIN`]; zero when that has passed or the Lease says nothing.
pub fn lease_left(
    renew_time: Option<k8s_openapi::jiff::Timestamp>,
    duration_seconds: Option<i32>,
    now: k8s_openapi::jiff::Timestamp,
) -> Duration {
    let (Some(renewed), Some(seconds)) = (renew_time, duration_seconds) else {
        return Duration::ZERO;
    };
    let until_ms = renewed.as_millisecond() + i64::from(seconds) * 1000;
    let left_ms = until_ms - now.as_millisecond();
    Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)).saturating_sub(SKEW_MARGIN)
}

/// Fencing: returns as soon as this replica cannot prove it still holds the Lease: the Lease
/// names another holder, or the validity of the last renewal by us that a read showed runs
/// out (a partitioned leader, or renewals failing, e.g. RBAC). The deadline is the Lease's own
/// expiry (less a skew margin), the moment another replica may take it over, so two leaders
/// never overlap. kube-lease-manager only logs failed renewals, so the controller must not rely
/// on it to learn of the loss.
async fn fence(client: Client, namespace: &str, identity: &str) {
    use k8s_openapi::api::coordination::v1::Lease;
    let leases: Api<Lease> = Api::namespaced(client, namespace);
    // Just acquired: ours for one Lease duration at most.
    let mut deadline =
        std::time::Instant::now() + Duration::from_secs(LEASE_SECONDS).saturating_sub(SKEW_MARGIN);
    loop {
        let now = std::time::Instant::now();
        if now >= deadline {
            error!(
                lease = LEASE_NAME,
                "the Lease's last renewal by this replica has expired: stopping as leader"
            );
            return;
        }
        tokio::time::sleep(FENCE_EVERY.min(deadline - now)).await;
        if std::time::Instant::now() >= deadline {
            continue;
        }
        match leases.get(LEASE_NAME).await {
            Ok(lease) => {
                let spec = lease.spec.unwrap_or_default();
                if spec.holder_identity.as_deref() != Some(identity) {
                    warn!(holder = ?spec.holder_identity, "the Lease has another holder");
                    return;
                }
                let left = lease_left(
                    spec.renew_time.map(|t| t.0),
                    spec.lease_duration_seconds,
                    k8s_openapi::jiff::Timestamp::now(),
                );
                deadline = deadline.max(std::time::Instant::now() + left);
            }
            Err(e) => warn!(error = %e, "cannot read the Lease"),
        }
    }
}

/// How `run` is set up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Operator configuration.
    pub config: OperatorConfig,
    /// Address of /healthz, /readyz, /metrics.
    pub listen: SocketAddr,
    /// Whether to take a Lease before reconciling.
    pub leader_election: bool,
    /// Namespace of the Lease.
    pub lease_namespace: String,
    /// This replica's identity in the Lease.
    pub identity: String,
}

/// Why `run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No kubeconfig and not in a cluster, or the apiserver is unreachable.
    #[error("cannot connect to Kubernetes: {0}")]
    Connect(#[source] kube::Error),
    /// The health server could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Leader election failed.
    #[error("leader election: {0}")]
    LeaderElection(String),
    /// The Lease's namespace does not exist.
    #[error(
        "the namespace {0} for the leader-election Lease does not exist: create it (kubectl create namespace {0}), choose another with --lease-namespace, or run a single replica with --leader-election=false"
    )]
    LeaseNamespaceMissing(String),
    /// Another replica took the Lease; this one stops and restarts as standby.
    #[error("lost leadership of Lease {0}")]
    LostLeadership(String),
    /// A CRD of ours (`stores`, `storerollouts`) is not installed in the cluster.
    #[error(
        "the {plural}.{group} CRD is not installed in this cluster: apply it with `kubectl apply --server-side -f crd/storefleet.io_{plural}.yaml` (or install the Helm chart, which brings it), then start the operator again"
    , group = names::GROUP)]
    CrdMissing {
        /// Its plural.
        plural: &'static str,
    },
    /// A CRD of ours could not be read.
    #[error("cannot read the {plural}.{group} CRD's resources: {source}", group = names::GROUP)]
    CrdUnreadable {
        /// Its plural.
        plural: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// How long after SIGTERM the operator waits for in-flight reconciles before it exits anyway
/// (Kubernetes' default grace period is 30 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Whether the Store and StoreRollout CRDs are served: one list of at most one object each. A
/// 404 means one is not installed (the controller's watch would only retry it forever).
async fn check_crd(client: &Client) -> Result<(), RunError> {
    let one = kube::api::ListParams::default().limit(1);
    let checked = |result: Result<_, kube::Error>, plural| match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(RunError::CrdMissing { plural }),
        Err(source) => Err(RunError::CrdUnreadable { plural, source }),
    };
    let stores = Api::<Store>::all(client.clone()).list_metadata(&one).await;
    checked(stores.map(drop), "stores")?;
    let rollouts = Api::<StoreRollout>::all(client.clone())
        .list_metadata(&one)
        .await;
    checked(rollouts.map(drop), "storerollouts")
}

/// Runs the operator until SIGTERM/SIGINT.
pub async fn run(options: RunOptions) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Connect)?;
    let version = client
        .apiserver_version()
        .await
        .map_err(RunError::Connect)?;
    info!(kubernetes = %version.git_version, "connected");
    check_crd(&client).await?;

    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: options.listen,
            source,
        })?;
    info!(addr = %options.listen, "serving /healthz, /readyz, /metrics");
    let server = tokio::spawn(http::serve(listener, metrics.clone(), ready.clone()));

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    let grace = {
        let stop = stop_rx.clone();
        async move {
            wait_for(stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    let work = async {
        if options.leader_election {
            run_as_leader(client, options, metrics, ready, stop_rx).await
        } else {
            ready.store(true, Ordering::SeqCst);
            run_controller(
                client,
                &options.config,
                &options.identity,
                metrics,
                Arc::new(SystemClock),
                wait_for(stop_rx),
            )
            .await;
            Ok(())
        }
    };
    // A pod must stop when told to, whatever the controller is waiting on.
    let result = tokio::select! {
        result = work => result,
        () = grace => {
            warn!(grace = ?SHUTDOWN_GRACE, "in-flight work did not finish after the shutdown request: exiting");
            Ok(())
        }
    };
    server.abort();
    result
}

/// The lease's manager, in the lease namespace (a missing one is the usual start-up problem
/// outside the chart: said in one line).
async fn lease_manager(client: &Client, options: &RunOptions) -> Result<LeaseManager, RunError> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    if let Err(kube::Error::Api(status)) = namespaces.get_metadata(&options.lease_namespace).await
        && status.code == 404
    {
        return Err(RunError::LeaseNamespaceMissing(
            options.lease_namespace.clone(),
        ));
    }
    LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
        .with_namespace(&options.lease_namespace)
        .with_identity(&options.identity)
        .with_duration(LEASE_SECONDS)
        .with_grace(5)
        .with_field_manager(names::FIELD_MANAGER)
        .build()
        .await
        .map_err(|e| RunError::LeaderElection(e.to_string()))
}

async fn run_as_leader(
    client: Client,
    options: RunOptions,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let (mut leader, task) = lease_manager(&client, &options).await?.watch().await;
    // A standby is healthy and ready: it only waits.
    ready.store(true, Ordering::SeqCst);
    info!(lease = LEASE_NAME, namespace = %options.lease_namespace, identity = %options.identity, "waiting for leadership");
    let mut stop_wait = stop.clone();
    loop {
        if *leader.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leader.changed() => if changed.is_err() {
                return Err(RunError::LeaderElection("lease manager stopped".into()));
            },
            _ = stop_wait.changed() => return Ok(()),
        }
    }
    info!("became leader");
    let mut lost = leader.clone();
    let lost_leadership = Arc::new(AtomicBool::new(false));
    let flag = lost_leadership.clone();
    let (lease_namespace, identity) = (options.lease_namespace.clone(), options.identity.clone());
    let fence_client = client.clone();
    let mut fenced =
        tokio::spawn(async move { fence(fence_client, &lease_namespace, &identity).await });
    let fence_abort = fenced.abort_handle();
    let trigger = async move {
        let mut stop = stop;
        tokio::select! {
            _ = async { while lost.changed().await.is_ok() { if !*lost.borrow() { break; } } } => {
                flag.store(true, Ordering::SeqCst);
            }
            _ = &mut fenced => {
                flag.store(true, Ordering::SeqCst);
            }
            _ = stop.changed() => {}
        }
    };
    run_controller(
        client,
        &options.config,
        &options.identity,
        metrics,
        Arc::new(SystemClock),
        trigger,
    )
    .await;
    fence_abort.abort();
    drop(leader);
    if let Ok(Ok(manager)) = task.await
        && let Err(e) = manager.release().await
    {
        warn!(error = %e, "cannot release the lease");
    }
    if lost_leadership.load(Ordering::SeqCst) {
        return Err(RunError::LostLeadership(LEASE_NAME.into()));
    }
    Ok(())
}

async fn wait_for(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Builds the Controller and drives it until `shutdown` completes: what `run` does once it
/// leads, and what the control-plane tests run in-process (as the chart's ServiceAccount).
pub async fn run_controller(
    client: Client,
    config: &OperatorConfig,
    identity: &str,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (poke, pokes) = futures::channel::mpsc::unbounded();
    let controller = store_controller(&client, poke);
    let (rollout_reader, rollout_writer) = reflector::store();
    let events = Events::new(
        client.clone(),
        Reporter {
            controller: names::FIELD_MANAGER.into(),
            instance: identity.to_string(),
        },
    );
    let concurrency = config.controller.concurrency;
    // Every route of the cluster, listed once before any store is admitted (a host something
    // else already routes is never given to a store).
    let gateway_api = config.gateway_api();
    let routes = Arc::new(RoutedHosts::new(if gateway_api { 2 } else { 1 }));
    let _route_watches = routes.watch(&client, gateway_api);
    let shutdown = futures::FutureExt::shared(futures::FutureExt::boxed(shutdown));
    info!("listing the cluster's Ingresses and HTTPRoutes");
    tokio::select! {
        () = routes.listed() => {}
        () = shutdown.clone() => {
            info!("controller stopped before it started");
            return;
        }
    }
    let ctx = Arc::new(
        Context::new(
            client.clone(),
            events,
            controller.store(),
            config.clone(),
            clock,
            metrics,
        )
        .with_routes(routes)
        .with_rollouts(rollout_reader),
    );
    let controller = crate::controller::watches::watch_children(
        controller,
        &client,
        ctx.memory.seen(),
        gateway_api,
    );
    let controller = watch_rollouts(
        controller,
        &client,
        ctx.memory.seen().clone(),
        rollout_writer,
    );
    let rollouts = rollout_controller(&client, pokes, &ctx, shutdown.clone());

    info!(concurrency, "controller starting");
    let stores = controller
        .with_config(
            controller::Config::default()
                .concurrency(concurrency)
                .debounce(DEBOUNCE),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, policy, ctx.clone())
        .for_each(|result| {
            outcome(&ctx.metrics, result);
            async {}
        });
    futures::join!(stores, rollouts);
    info!("controller stopped");
}

type PassResult = Result<(ObjectRef<Store>, Action), controller::Error<Error, watcher::Error>>;

/// What the Store controller's loop does with a pass's result: logs it, counts an orphan.
fn outcome(metrics: &Metrics, result: PassResult) {
    match result {
        Ok((object, _)) => tracing::trace!(store = %object.name, "reconcile done"),
        Err(controller::Error::ReconcilerFailed(e, object)) => {
            tracing::debug!(store = %object.name, error = %e, "reconcile failed")
        }
        // A labelled child whose Store is gone (a retained store's objects): nothing to do.
        // Counted, never logged as an error.
        Err(controller::Error::ObjectNotFound(object)) => {
            metrics.orphan_event();
            tracing::trace!(store = %object.name, "event for a store that does not exist")
        }
        Err(e) => error!(error = %e, "controller error"),
    }
}

/// The Store controller, also woken by the StoreRollouts: a rollout's status that admits a
/// store brings a pass of each admitted store still moving (its cache, [`Context::rollouts`], is
/// this watch's, so the pass sees the admission). Store passes wait until it has listed.
fn watch_rollouts(
    controller: Controller<Store>,
    client: &Client,
    seen: Arc<crate::controller::memory::Seen>,
    writer: reflector::store::Writer<StoreRollout>,
) -> Controller<Store> {
    const KIND: &str = names::ROLLOUT_KIND;
    seen.watching(KIND);
    let events = watcher(
        Api::<StoreRollout>::all(client.clone()),
        watcher::Config::default(),
    )
    .map_ok(move |event| {
        if matches!(event, watcher::Event::InitDone) {
            seen.listed(KIND);
        }
        event
    });
    let rollouts = reflector(writer, events)
        .default_backoff()
        .touched_objects();
    controller.watches_stream(rollouts, |rollout: StoreRollout| {
        let moving: Vec<ObjectRef<Store>> = rollout
            .status
            .iter()
            .flat_map(|s| s.moving().map(|n| ObjectRef::new(n)))
            .collect();
        moving
    })
}

/// The StoreRollout controller: its own watch of the rollouts, and a pass whenever a store in a
/// rollout reports (`pokes`, from the Store watch, after the Store cache took the change).
fn rollout_controller(
    client: &Client,
    pokes: futures::channel::mpsc::UnboundedReceiver<ObjectRef<StoreRollout>>,
    ctx: &Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> impl std::future::Future<Output = ()> {
    let rollouts: Api<StoreRollout> = Api::all(client.clone());
    Controller::new(rollouts, watcher::Config::default())
        .reconcile_on(pokes)
        .with_config(controller::Config::default().debounce(DEBOUNCE))
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::rollouts::reconcile,
            crate::controller::rollouts::error_policy,
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "rollout pass failed");
            }
        })
}

/// The Controller on Store: its cache sees every change of a Store; a pass follows only those
/// its status does not make ([`store_asks`]).
fn store_controller(
    client: &Client,
    poke: futures::channel::mpsc::UnboundedSender<ObjectRef<StoreRollout>>,
) -> Controller<Store> {
    let stores: Api<Store> = Api::all(client.clone());
    let (reader, writer) = reflector::store();
    let events = watcher(stores, watcher::Config::default()).modify(slim);
    let trigger = reflector(writer, events)
        .default_backoff()
        .applied_objects()
        // A store in a rollout reported: its rollout looks (the cache has the change by now).
        .inspect_ok(move |store: &Store| {
            if let Some(mark) = store.status.as_ref().and_then(|s| s.rollout.as_ref()) {
                let _ = poke.unbounded_send(ObjectRef::new(&mark.name));
            }
        })
        .predicate_filter(store_asks, PredicateConfig::default());
    Controller::for_stream(trigger, reader)
}

/// What the Store cache keeps of a Store: all but its managedFields and a client-side apply's
/// copy of the last object applied, which no pass reads and which would be most of what the
/// cache holds (one more copy of every spec, and an entry per field manager).
pub fn slim(store: &mut Store) {
    use kube::ResourceExt;
    // None, not an empty list: a write carrying `managedFields: []` would reset them.
    store.metadata.managed_fields = None;
    store.annotations_mut().remove(LAST_APPLIED);
}

/// `kubectl apply`'s (client-side) copy of the object it last applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What of a Store asks for a pass (hashed): its identity, spec (generation), labels,
/// annotations (retry, backup-now, ...), finalizers and deletion; not its status. Without this,
/// every status write of a pass would be followed by one more pass of the same store, queued
/// with everyone else's. The children's events and the requeues still bring every other pass.
pub fn store_asks(store: &Store) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = &store.metadata;
    let mut hasher = std::hash::DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    meta.generation.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

fn policy(store: Arc<Store>, error: &Error, ctx: Arc<Context>) -> Action {
    Action::requeue(error_policy(&store, error, &ctx))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("time")
    }

    #[test]
    fn a_store_asks_for_a_pass_by_anything_but_its_status() {
        let store = Store::test();
        let asks = |s: &Store| store_asks(s).expect("hashed");
        let mut status_only = store.clone();
        status_only.status = Some(storefleet_types::StoreStatus {
            phase: Some(storefleet_types::Phase::Ready),
            ..Default::default()
        });
        status_only.metadata.resource_version = Some("2".into());
        assert_eq!(asks(&store), asks(&status_only));
        let changes: [fn(&mut Store); 5] = [
            |s| s.metadata.generation = Some(2),
            |s| {
                s.metadata
                    .annotations
                    .get_or_insert_default()
                    .insert(names::RETRY_ANNOTATION.into(), "1".into());
            },
            |s| s.metadata.finalizers = Some(vec![names::FINALIZER.into()]),
            |s| {
                s.metadata.deletion_timestamp = Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
                )
            },
            |s| s.metadata.uid = Some("another".into()),
        ];
        for change in changes {
            let mut changed = store.clone();
            change(&mut changed);
            assert_ne!(asks(&store), asks(&changed), "{:?}", changed.metadata);
        }
    }

    #[test]
    fn the_store_cache_keeps_all_but_managed_fields_and_the_client_side_copy() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let mut store = Store::test();
        store.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("kubectl".into()),
            ..Default::default()
        }]);
        let annotations = store.metadata.annotations.get_or_insert_default();
        annotations.insert(LAST_APPLIED.into(), "{\"spec\":{}}".into());
        annotations.insert(names::RETRY_ANNOTATION.into(), "1".into());
        let kept = {
            let mut s = store.clone();
            s.metadata.managed_fields = None;
            s.metadata
                .annotations
                .get_or_insert_default()
                .remove(LAST_APPLIED);
            s
        };
        slim(&mut store);
        assert_eq!(store.metadata.managed_fields, None);
        assert_eq!(store.metadata.annotations, kept.metadata.annotations);
        assert_eq!(store.spec, kept.spec);
        assert_eq!(store_asks(&store), store_asks(&kept));
    }

    #[test]
    fn the_lease_is_ours_until_its_expiry_less_the_margin() {
        // Renewed at 100 for 15 s: at 105 ten seconds are left, eight after the margin.
        assert_eq!(
            lease_left(Some(at(100)), Some(15), at(105)),
            Duration::from_secs(8)
        );
        // Within the margin of the expiry, or past it: nothing left.
        assert_eq!(lease_left(Some(at(100)), Some(15), at(114)), Duration::ZERO);
        assert_eq!(lease_left(Some(at(100)), Some(15), at(200)), Duration::ZERO);
        assert_eq!(lease_left(None, Some(15), at(100)), Duration::ZERO);
        assert_eq!(lease_left(Some(at(100)), None, at(100)), Duration::ZERO);
    }
}
