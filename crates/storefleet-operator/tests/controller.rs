//! The real reconcile function, driven against the in-memory cluster. The tests play kubelet
//! and the Job controller (`mark_*`, `complete_job`, `fail_job`) and the user (`put_store`,
//! `annotate_store`, `delete_store`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::controller::Action;
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::controller::cluster::{ClusterError, EventKind, Kind, ObjRef};
use storefleet_operator::controller::fake::{self, FakeCluster, ManualClock, Write};
use storefleet_operator::controller::reconcile::reconcile;
use storefleet_operator::controller::{Context, Error, error_policy};
use storefleet_types::names::{self, child};
use storefleet_types::{DeletionPolicy, Engine, Phase, SetupSpec, Store, StoreStatus};

const NS: &str = "store-alice";

struct Harness {
    fake: FakeCluster,
    clock: Arc<ManualClock>,
    ctx: Arc<Context<FakeCluster>>,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(OperatorConfig::default())
    }

    fn with_config(config: OperatorConfig) -> Self {
        let fake = FakeCluster::new();
        let (ctx, clock) = fake::context(&fake, config);
        Self { fake, clock, ctx }
    }

    async fn reconcile(&self, name: &str) -> Result<Action, Error> {
        let store = self
            .fake
            .store(name)
            .unwrap_or_else(|| panic!("store {name} exists"));
        reconcile(Arc::new(store), self.ctx.clone()).await
    }

    async fn ok(&self, name: &str) -> Action {
        self.reconcile(name)
            .await
            .unwrap_or_else(|e| panic!("reconcile of {name} failed: {e}"))
    }

    fn status(&self, name: &str) -> StoreStatus {
        self.fake
            .store(name)
            .and_then(|s| s.status)
            .unwrap_or_default()
    }

    fn condition(&self, name: &str, type_: &str) -> Option<Condition> {
        self.status(name)
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_)
    }

    fn phase(&self, name: &str) -> Option<Phase> {
        self.status(name).phase
    }

    fn writes_since(&self, n: usize) -> Vec<Write> {
        self.fake.writes().split_off(n)
    }

    fn job_names(&self) -> Vec<String> {
        self.fake
            .objects_of(Kind::Job)
            .iter()
            .filter_map(|j| j["metadata"]["name"].as_str().map(String::from))
            .collect()
    }

    /// Drives a new store to Ready, playing kubelet and the Job controller.
    async fn to_ready(&self, store: Store) {
        let name = store.metadata.name.clone().expect("named");
        let ns = self.ctx.config.namespace_for(&name);
        self.fake.put_store(store);
        self.ok(&name).await;
        self.fake.mark_database_ready(&ns);
        self.fake.mark_storefront_available(&ns);
        self.ok(&name).await;
        self.fake.complete_job(&ns).expect("setup job was created");
        self.ok(&name).await;
        assert_eq!(
            self.phase(&name),
            Some(Phase::Ready),
            "{:#?}",
            self.status(&name)
        );
    }
}

fn is_true(c: Option<Condition>) -> bool {
    c.is_some_and(|c| c.status == "True")
}

#[tokio::test]
async fn happy_path_to_ready() {
    let h = Harness::new();
    h.fake.put_store(Store::test());

    // First pass: finalizer, every child but the Job, status Provisioning.
    let action = h.ok("alice").await;
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let store = h.fake.store("alice").expect("store");
    assert!(
        store
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == names::FINALIZER)
    );
    assert_eq!(
        h.fake.object_count(),
        19,
        "20 children minus the gated setup Job"
    );
    assert!(h.job_names().is_empty(), "setup waits for its gates");
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));
    let status = h.status("alice");
    assert_eq!(status.url.as_deref(), Some("http://alice.shop.local"));
    assert_eq!(
        status.admin_url.as_deref(),
        Some("http://alice.shop.local/wp-admin/")
    );
    assert_eq!(status.namespace.as_deref(), Some(NS));
    assert_eq!(
        status.credentials_secret.as_deref(),
        Some(child::ADMIN_SECRET)
    );
    assert_eq!(status.observed_generation, Some(1));
    assert!(status.provisioning_started_at.is_some());
    assert!(is_true(h.condition("alice", "Reconciling")));
    assert!(is_true(h.condition("alice", "NamespaceReady")));
    assert_eq!(
        h.condition("alice", "Ready").map(|c| c.message),
        Some("Waiting for database (not created yet)".into())
    );
    assert_eq!(
        h.condition("alice", "SetupComplete").map(|c| c.reason),
        Some("SetupPending".into())
    );

    // Database ready, storefront not: still no Job.
    h.fake.mark_database_ready(NS);
    h.ok("alice").await;
    assert!(is_true(h.condition("alice", "DatabaseReady")));
    assert!(!is_true(h.condition("alice", "StorefrontReady")));
    assert!(h.job_names().is_empty());

    // Storefront available: the Job starts.
    h.fake.mark_storefront_available(NS);
    h.ok("alice").await;
    assert_eq!(h.job_names().len(), 1);
    assert_eq!(
        h.condition("alice", "SetupComplete").map(|c| c.reason),
        Some("SetupRunning".into())
    );
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));

    // Job complete: Ready.
    h.fake.complete_job(NS).expect("job");
    let action = h.ok("alice").await;
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let status = h.status("alice");
    assert_eq!(status.phase, Some(Phase::Ready));
    assert_eq!(status.message.as_deref(), Some("Store is ready"));
    assert!(status.ready_at.is_some());
    assert_eq!(
        status.completed_setup.as_deref(),
        h.job_names().first().map(String::as_str)
    );
    assert!(is_true(h.condition("alice", "Ready")));
    assert!(h.condition("alice", "Reconciling").is_none());
    assert!(h.condition("alice", "Stalled").is_none());

    let reasons: Vec<String> = h.fake.events().into_iter().map(|(_, e)| e.reason).collect();
    assert_eq!(reasons, ["Provisioning", "Ready"]);
}

#[tokio::test]
async fn a_ready_store_reconciles_with_zero_writes() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    let before = h.fake.writes().len();
    let events = h.fake.events().len();
    for _ in 0..3 {
        h.ok("alice").await;
    }
    assert_eq!(
        h.writes_since(before),
        vec![],
        "a no-op reconcile writes nothing"
    );
    assert_eq!(h.fake.events().len(), events, "and publishes nothing");
}

#[tokio::test]
async fn writes_to_ready_stay_within_the_budget() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    let writes = h.fake.writes();
    let children = 20;
    let status_patches = writes.iter().filter(|w| w.op == "patch-status").count();
    let other = writes.len() - status_patches;
    // One write per child, plus the finalizer.
    assert_eq!(other, children + 1, "{writes:#?}");
    assert!(
        status_patches <= 4,
        "one status patch per transition: {writes:#?}"
    );
}

#[tokio::test]
async fn drift_is_repaired_without_rerunning_setup() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    let job = h.job_names();
    let deploy = ObjRef::namespaced(Kind::Deployment, NS, child::STOREFRONT);
    let service = ObjRef::namespaced(Kind::Service, NS, child::DATABASE);
    let policy = ObjRef::namespaced(Kind::NetworkPolicy, NS, child::NETPOL_DEFAULT_DENY);
    h.fake.remove(&deploy);
    h.fake
        .edit(&service, |s| s["spec"]["ports"][0]["port"] = 3307.into());
    h.fake.edit(&policy, |p| {
        p["spec"]["policyTypes"] = serde_json::json!(["Ingress"])
    });
    // The finished Job is cleaned up by someone: the setup must not run again.
    h.fake.remove(&ObjRef::namespaced(Kind::Job, NS, &job[0]));

    let before = h.fake.writes().len();
    h.ok("alice").await;
    let applied: Vec<String> = h
        .writes_since(before)
        .into_iter()
        .filter(|w| w.op == "apply")
        .map(|w| w.target)
        .collect();
    assert_eq!(applied.len(), 3, "{applied:?}");
    assert_eq!(
        h.fake.object(&service).expect("service")["spec"]["ports"][0]["port"],
        3306
    );
    assert_eq!(
        h.fake.object(&policy).expect("policy")["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert!(h.fake.object(&deploy).is_some());
    assert_eq!(
        h.phase("alice"),
        Some(Phase::Provisioning),
        "storefront must become available again"
    );
    assert!(h.job_names().is_empty(), "setup is not re-run");

    h.fake.mark_storefront_available(NS);
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Ready));
    assert!(h.job_names().is_empty());
    assert!(is_true(h.condition("alice", "SetupComplete")));
}

#[tokio::test]
async fn generated_secrets_are_never_overwritten_nor_shown() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    let admin = ObjRef::namespaced(Kind::Secret, NS, child::ADMIN_SECRET);
    let secret = h.fake.object(&admin).expect("admin secret");
    let password = secret["stringData"]["password"]
        .as_str()
        .expect("password")
        .to_string();
    assert_eq!(password.len(), 32);
    h.fake.edit(&admin, |s| {
        s["stringData"]["password"] = "changed-by-the-owner".into()
    });
    let before = h.fake.writes().len();
    h.ok("alice").await;
    assert!(h.writes_since(before).is_empty());
    assert_eq!(
        h.fake.object(&admin).expect("secret")["stringData"]["password"],
        "changed-by-the-owner"
    );

    let status = serde_json::to_string(&h.status("alice")).expect("json");
    let events = format!("{:?}", h.fake.events());
    for s in h.fake.objects_of(Kind::Secret) {
        for (key, value) in s["stringData"].as_object().expect("data") {
            let value = value.as_str().unwrap_or_default();
            if value.len() >= 32 {
                assert!(
                    !status.contains(value) && !events.contains(value),
                    "{key} leaked"
                );
            }
        }
    }
}

#[tokio::test]
async fn setup_failure_then_retry_by_annotation() {
    let h = Harness::new();
    h.fake.put_store(Store::test());
    h.ok("alice").await;
    h.fake.mark_database_ready(NS);
    h.fake.mark_storefront_available(NS);
    h.ok("alice").await;
    let first = h
        .fake
        .fail_job(
            NS,
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )
        .expect("job");

    let action = h.ok("alice").await;
    assert_eq!(
        action,
        Action::await_change(),
        "no hot loop on a failed store"
    );
    assert_eq!(h.phase("alice"), Some(Phase::Failed));
    let stalled = h.condition("alice", "Stalled").expect("stalled");
    assert_eq!(stalled.reason, "SetupFailed");
    assert!(
        stalled.message.contains("BackoffLimitExceeded")
            && stalled.message.contains("kubectl logs"),
        "{}",
        stalled.message
    );
    assert_eq!(
        h.condition("alice", "Ready").map(|c| c.status),
        Some("False".into())
    );
    let (_, warning) = h.fake.events().last().cloned().expect("event");
    assert_eq!(
        (warning.kind, warning.reason.as_str()),
        (EventKind::Warning, "SetupFailed")
    );

    // Reconciling again without a change keeps it Failed, writes nothing.
    let before = h.fake.writes().len();
    h.ok("alice").await;
    assert!(h.writes_since(before).is_empty());

    // Retry: the failed Job is deleted, then a new one runs.
    h.fake.annotate_store("alice", names::RETRY_ANNOTATION, "1");
    h.ok("alice").await;
    assert!(h.job_names().is_empty(), "failed job deleted");
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));
    h.ok("alice").await;
    assert_eq!(
        h.job_names(),
        [first],
        "same inputs, same job name, fresh run"
    );
    assert_eq!(
        h.condition("alice", "SetupComplete").map(|c| c.reason),
        Some("SetupRunning".into())
    );
    h.fake.complete_job(NS).expect("job");
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Ready));
    assert!(
        h.fake
            .events()
            .iter()
            .any(|(_, e)| e.reason == "RetryRequested")
    );
}

#[tokio::test]
async fn setup_failure_then_retry_by_spec_change() {
    let h = Harness::new();
    h.fake.put_store(Store::test());
    h.ok("alice").await;
    h.fake.mark_database_ready(NS);
    h.fake.mark_storefront_available(NS);
    h.ok("alice").await;
    let first = h
        .fake
        .fail_job(
            NS,
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        )
        .expect("job");
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Failed));

    // A setup change is a new Job (new name); the failed one stays for its logs.
    h.fake.put_store(Store::test().with_setup(SetupSpec {
        currency: Some("EUR".into()),
        ..SetupSpec::default()
    }));
    h.ok("alice").await;
    let jobs = h.job_names();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.contains(&first));
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));
}

#[tokio::test]
async fn provisioning_timeout_fails_and_retry_restarts_the_clock() {
    let config = OperatorConfig {
        provisioning_timeout_seconds: 600,
        ..OperatorConfig::default()
    };
    let h = Harness::with_config(config);
    h.fake.put_store(Store::test());
    h.ok("alice").await;
    h.clock.advance(Duration::from_secs(599));
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));
    h.clock.advance(Duration::from_secs(2));
    let action = h.ok("alice").await;
    assert_eq!(action, Action::await_change());
    assert_eq!(h.phase("alice"), Some(Phase::Failed));
    let stalled = h.condition("alice", "Stalled").expect("stalled");
    assert_eq!(stalled.reason, "ProvisioningTimeout");
    assert!(
        stalled.message.contains("Waiting for database"),
        "{}",
        stalled.message
    );

    h.fake
        .annotate_store("alice", names::RETRY_ANNOTATION, "again");
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));
    h.fake.mark_database_ready(NS);
    h.fake.mark_storefront_available(NS);
    h.ok("alice").await;
    h.fake.complete_job(NS).expect("job");
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Ready));
    // Once Ready, time does not fail the store.
    h.clock.advance(Duration::from_secs(10_000));
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Ready));
}

#[tokio::test]
async fn invalid_spec_is_stalled_with_no_children() {
    let h = Harness::new();
    h.fake.put_store(Store::test().with_engine(Engine::Medusa));
    let action = h.ok("alice").await;
    assert_eq!(action, Action::await_change());
    assert_eq!(h.fake.object_count(), 0);
    assert_eq!(h.phase("alice"), Some(Phase::Failed));
    let stalled = h.condition("alice", "Stalled").expect("stalled");
    assert_eq!(
        (stalled.reason.as_str(), stalled.message.as_str()),
        ("EngineNotAvailable", "engine medusa is not available yet")
    );
    assert!(
        h.fake
            .store("alice")
            .expect("store")
            .metadata
            .finalizers
            .is_none(),
        "nothing to clean up, no finalizer"
    );
    let before = h.fake.writes().len();
    h.ok("alice").await;
    assert!(
        h.writes_since(before).is_empty(),
        "waits for a change, writes nothing"
    );
    // Deleting it needs nothing from the operator.
    h.fake.delete_store("alice");
    assert!(h.fake.store("alice").is_none());
}

#[tokio::test]
async fn store_cap_holds_new_stores_until_capacity_frees() {
    let config = OperatorConfig {
        max_stores: 1,
        ..OperatorConfig::default()
    };
    let h = Harness::with_config(config);
    h.fake.put_store(Store::test());
    h.ok("alice").await;
    h.fake.put_store(Store::test().with_name("bob"));
    let action = h.ok("bob").await;
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    assert_eq!(h.phase("bob"), Some(Phase::Pending));
    assert_eq!(
        h.condition("bob", "Stalled").map(|c| c.reason),
        Some("StoreLimitReached".into())
    );
    assert!(
        h.fake
            .object(&ObjRef::cluster(Kind::Namespace, "store-bob"))
            .is_none()
    );

    // alice goes away: bob starts.
    h.fake.delete_store("alice");
    h.ok("alice").await;
    h.fake.finish_terminating_namespaces();
    h.ok("alice").await;
    assert!(h.fake.store("alice").is_none());
    h.ok("bob").await;
    assert_eq!(h.phase("bob"), Some(Phase::Provisioning));
    assert!(
        h.fake
            .object(&ObjRef::cluster(Kind::Namespace, "store-bob"))
            .is_some()
    );
}

#[tokio::test]
async fn delete_removes_the_namespace_then_releases_the_store() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    h.fake.delete_store("alice");
    let action = h.ok("alice").await;
    assert_eq!(action, Action::requeue(Duration::from_secs(5)));
    assert_eq!(h.phase("alice"), Some(Phase::Deleting));
    assert!(is_true(h.condition("alice", "Reconciling")));
    let ns = h
        .fake
        .object(&ObjRef::cluster(Kind::Namespace, NS))
        .expect("still terminating");
    assert!(!ns["metadata"]["deletionTimestamp"].is_null());
    // Still terminating: the finalizer stays.
    h.ok("alice").await;
    assert!(h.fake.store("alice").is_some());
    h.fake.finish_terminating_namespaces();
    h.ok("alice").await;
    assert!(h.fake.store("alice").is_none(), "finalizer released");
    assert_eq!(h.fake.object_count(), 0, "nothing left behind");
    assert!(h.fake.events().iter().any(|(_, e)| e.reason == "Deleting"));
}

#[tokio::test]
async fn retain_keeps_the_namespace_and_drops_ownership() {
    let h = Harness::new();
    // Created with Delete (children owned), switched to Retain and deleted before any reconcile.
    h.to_ready(Store::test()).await;
    let owned = |h: &Harness| {
        h.fake
            .objects_of(Kind::Deployment)
            .iter()
            .chain(h.fake.objects_of(Kind::Namespace).iter())
            .any(|o| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            })
    };
    assert!(owned(&h));
    h.fake
        .put_store(Store::test().with_deletion_policy(DeletionPolicy::Retain));
    h.fake.delete_store("alice");
    h.ok("alice").await;
    assert!(h.fake.store("alice").is_none(), "released at once");
    assert!(!owned(&h));
    assert_eq!(h.fake.object_count(), 20, "namespace and every child kept");
    assert!(
        h.fake
            .writes()
            .iter()
            .all(|w| !(w.op == "delete" && w.target.starts_with("Namespace")))
    );
}

#[tokio::test]
async fn retain_policy_unowns_children_while_running() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    h.fake
        .put_store(Store::test().with_deletion_policy(DeletionPolicy::Retain));
    h.ok("alice").await;
    for kind in [
        Kind::Namespace,
        Kind::Deployment,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::Job,
    ] {
        for o in h.fake.objects_of(kind) {
            assert!(
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_none_or(Vec::is_empty),
                "{kind:?} still owned"
            );
        }
    }
}

#[tokio::test]
async fn deleting_a_store_that_never_provisioned() {
    let h = Harness::new();
    // Admitted (finalizer added) but deleted before any child was made.
    h.fake.put_store(Store::test());
    h.fake.fail_next(
        "get",
        ClusterError::Transient {
            target: "Namespace store-alice".into(),
            message: "timeout".into(),
        },
    );
    assert!(h.reconcile("alice").await.is_err());
    assert!(
        h.fake
            .store("alice")
            .expect("store")
            .metadata
            .finalizers
            .is_some()
    );
    assert_eq!(h.fake.object_count(), 0);
    h.fake.delete_store("alice");
    h.ok("alice").await;
    assert!(h.fake.store("alice").is_none());

    // Without a finalizer the apiserver removes it by itself.
    h.fake
        .put_store(Store::test().with_name("bob").with_engine(Engine::Medusa));
    h.ok("bob").await;
    h.fake.delete_store("bob");
    assert!(h.fake.store("bob").is_none());
}

#[tokio::test]
async fn a_foreign_namespace_is_never_adopted_nor_deleted() {
    let h = Harness::new();
    let foreign = ObjRef::cluster(Kind::Namespace, NS);
    use storefleet_operator::controller::cluster::Cluster;
    h.fake
        .apply(
            &foreign,
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        )
        .await
        .expect("apply");
    h.fake.put_store(Store::test());
    h.ok("alice").await;
    assert_eq!(
        h.condition("alice", "Stalled").map(|c| c.reason),
        Some("NamespaceTaken".into())
    );
    assert_eq!(h.fake.object_count(), 1, "nothing created in it");
    h.fake.delete_store("alice");
    h.ok("alice").await;
    assert!(h.fake.object(&foreign).is_some());
}

#[tokio::test]
async fn transient_errors_back_off_and_conflicts_retry_fast() {
    let h = Harness::new();
    h.fake.put_store(Store::test());
    let store = h.fake.store("alice").expect("store");
    let transient = || ClusterError::Transient {
        target: "x".into(),
        message: "connection reset".into(),
    };
    let mut delays = vec![];
    for _ in 0..4 {
        h.fake.fail_next("apply", transient());
        let err = h.reconcile("alice").await.expect_err("fails");
        assert_eq!(err.metric_label(), "Transient");
        delays.push(error_policy(&store, &err, &h.ctx).as_secs());
    }
    assert_eq!(delays, [5, 10, 20, 40]);
    let conflict = Error::Cluster(ClusterError::Conflict("Store alice".into()));
    assert_eq!(
        error_policy(&store, &conflict, &h.ctx),
        Duration::from_secs(1)
    );
    // Success resets the backoff.
    h.ok("alice").await;
    h.fake.fail_next("apply", transient());
    h.fake.remove(&ObjRef::namespaced(
        Kind::ConfigMap,
        NS,
        child::SETUP_SCRIPT,
    ));
    let err = h.reconcile("alice").await.expect_err("fails");
    assert_eq!(error_policy(&store, &err, &h.ctx).as_secs(), 5);
    let text = h.ctx.metrics.encode();
    assert!(
        text.contains("storefleet_reconcile_errors_total{kind=\"Transient\"} 5"),
        "{text}"
    );
    assert!(
        text.contains("storefleet_reconcile_errors_total{kind=\"Conflict\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn rejected_children_are_reported_and_retried() {
    let h = Harness::new();
    h.fake.put_store(Store::test());
    h.fake.fail_next(
        "apply",
        ClusterError::Rejected {
            target: "ResourceQuota store-alice/store-quota".into(),
            message: "admission webhook denied".into(),
        },
    );
    // The namespace apply is the first apply call: it is the one rejected.
    let err = h.reconcile("alice").await.expect_err("rejected");
    assert_eq!(err.metric_label(), "Rejected");
    assert_eq!(
        h.condition("alice", "Ready").map(|c| c.reason),
        Some("ApplyRejected".into())
    );
    assert!(
        h.status("alice")
            .message
            .unwrap_or_default()
            .contains("admission webhook denied")
    );
    assert!(
        h.fake
            .events()
            .iter()
            .any(|(_, e)| e.kind == EventKind::Warning && e.reason == "ApplyRejected")
    );
    assert!(h.job_names().is_empty());
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Provisioning));
}

#[tokio::test]
async fn metrics_follow_the_stores() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    let text = h.ctx.metrics.encode();
    assert!(
        text.contains("storefleet_stores{phase=\"Ready\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("storefleet_time_to_ready_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("storefleet_reconciles_total{result=\"success\"} 3"),
        "{text}"
    );
}

#[tokio::test]
async fn foreground_deletion_does_not_deadlock() {
    let h = Harness::new();
    h.to_ready(Store::test()).await;
    // kubectl delete --cascade=foreground (Argo CD's default): the GC's finalizer joins ours.
    h.fake.add_store_finalizer("alice", "foregroundDeletion");
    h.fake.delete_store("alice");
    h.fake.foreground_gc("alice", "foregroundDeletion", false);
    h.ok("alice").await;
    assert_eq!(h.phase("alice"), Some(Phase::Deleting));
    h.fake.finish_terminating_namespaces();
    h.ok("alice").await;
    let store = h.fake.store("alice").expect("the GC still holds it");
    assert_eq!(
        store.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()]),
        "ours released, theirs left"
    );
    h.fake.foreground_gc("alice", "foregroundDeletion", true);
    assert!(h.fake.store("alice").is_none());
    assert_eq!(h.fake.object_count(), 0);
}
