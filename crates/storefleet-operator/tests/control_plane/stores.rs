//! The operator against a real kube-apiserver, kube-controller-manager and etcd
//! (`KUBEBUILDER_ASSETS`), running as the chart's ServiceAccount with the chart's RBAC. Pods are
//! made ready (or Jobs failed) by the kubelet stand-in; everything else is the real thing:
//! admission (CEL rules, PodSecurity, quotas, limit ranges), server-side apply, watches, the
//! garbage collector and namespace deletion.
//!
//! Without the assets every test prints one `skipped:` line and returns.

use crate::common;

use std::time::Duration;

use common::{Env, condition, is_true, phase};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use storefleet_envtest::JobPods;
use storefleet_operator::config::OperatorConfig;
use storefleet_types::names::{self, Component, child, labels as keys};
use storefleet_types::{DeletionPolicy, Phase, Store};

const NS: &str = "store-alice";

fn config() -> OperatorConfig {
    let mut config = OperatorConfig::default();
    // One failed setup pod fails the Job (the real Job controller's backoff is 10 s, 20 s, ...).
    config.setup.backoff_limit = 0;
    config
}

#[tokio::test]
async fn a_store_becomes_ready_with_every_child_admitted() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    let store = env.wait_phase("alice", Phase::Ready).await;
    assert!(
        store.finalizers().iter().any(|f| f == names::FINALIZER),
        "finalizer set"
    );
    let status = store.status.clone().unwrap_or_default();
    assert_eq!(status.url.as_deref(), Some("http://alice.shop.local"));
    assert_eq!(status.namespace.as_deref(), Some(NS));
    assert_eq!(
        status.credentials_secret.as_deref(),
        Some(child::ADMIN_SECRET)
    );
    assert_eq!(status.observed_generation, store.metadata.generation);
    assert!(is_true(&status, "Ready"));
    for step in [
        "NamespaceReady",
        "DatabaseReady",
        "StorefrontReady",
        "SetupComplete",
    ] {
        assert!(
            is_true(&status, step),
            "{step}: {:?}",
            condition(&status, step)
        );
    }
    assert!(condition(&status, "Reconciling").is_none());
    assert!(condition(&status, "Stalled").is_none());
    // Argo CD's health check (config/argocd) reads the status the operator really wrote.
    let object = serde_json::to_value(&store).unwrap_or_default();
    assert_eq!(
        common::argocd::health(&object),
        ("Healthy".to_string(), "Store is ready".to_string())
    );

    // Every child exists, carries our labels and (Delete policy) an ownerReference to the Store.
    let uid = store.uid().unwrap_or_default();
    let ns = env.namespace(NS).await.expect("namespace");
    assert_eq!(
        ns.labels().get(keys::STORE).map(String::as_str),
        Some("alice")
    );
    assert_eq!(
        ns.labels()
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted"),
        "the real PodSecurity admission admitted every pod under restricted"
    );
    // And each pod, copied into another namespace that enforces it, is accepted again.
    pods_pass_restricted(&env).await;
    ephemeral_storage_is_bounded(&env).await;
    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(secrets.len(), 3);
    assert!(policies.len() >= 5);
    assert_eq!(jobs.len(), 1);
    for owned in secrets.iter().map(|s| s.owner_references().to_vec()) {
        assert!(owned.iter().any(|o| o.uid == uid), "owned by the Store");
    }
    let reasons: Vec<String> = env.events("alice").await.into_iter().map(|e| e.0).collect();
    assert!(reasons.contains(&"Provisioning".to_string()), "{reasons:?}");
    assert!(reasons.contains(&"Ready".to_string()), "{reasons:?}");
    // No secret value anywhere in status or events.
    let text = format!("{status:?} {:?}", env.events("alice").await);
    for secret in &secrets {
        for value in secret.data.iter().flat_map(|d| d.values()) {
            let value = String::from_utf8_lossy(&value.0);
            if value.len() >= 8 {
                assert!(!text.contains(value.as_ref()), "a secret value leaked");
            }
        }
    }
}

/// The real quota counts every pod's ephemeral storage, and a container that asks for none is
/// given the limit range's default (a plugin cannot fill the node's disk unbounded).
async fn ephemeral_storage_is_bounded(env: &Env) {
    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceQuota};
    use kube_quantity::ParsedQuantity;
    let quotas: Api<ResourceQuota> = Api::namespaced(env.admin.clone(), NS);
    let pods: Vec<Pod> = Api::<Pod>::namespaced(env.admin.clone(), NS)
        .list(&Default::default())
        .await
        .expect("pods")
        .items;
    let mut want = ParsedQuantity::default();
    for pod in pods.iter().filter(|p| {
        !matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    }) {
        for c in pod.spec.iter().flat_map(|s| &s.containers) {
            let limit = c
                .resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .and_then(|l| l.get("ephemeral-storage"))
                .unwrap_or_else(|| panic!("{}: no ephemeral-storage limit", pod.name_any()));
            want += ParsedQuantity::try_from(limit).expect("quantity");
        }
    }
    common::eventually("quota counts the pods' ephemeral storage", || async {
        let quota = quotas.get(child::QUOTA).await.ok()?;
        let used = quota.status?.used?;
        let used = ParsedQuantity::try_from(used.get("limits.ephemeral-storage")?).ok()?;
        (used == want && used > ParsedQuantity::default()).then_some(())
    })
    .await;
    let bare = Pod {
        metadata: kube::api::ObjectMeta {
            name: Some("bare".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                security_context: Some(storefleet_operator::desired::container_security(true)),
                ..Default::default()
            }],
            security_context: Some(storefleet_operator::desired::pod_security(1000)),
            ..Default::default()
        }),
        status: None,
    };
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let admitted = Api::<Pod>::namespaced(env.admin.clone(), NS)
        .create(&dry_run, &bare)
        .await
        .expect("a bare pod is admitted with the defaults");
    let limits = admitted.spec.expect("spec").containers[0]
        .resources
        .clone()
        .and_then(|r| r.limits)
        .expect("limits from the limit range");
    assert_eq!(
        limits.get("ephemeral-storage").map(|q| q.0.as_str()),
        Some("512Mi"),
        "the small plan's default"
    );
}

async fn pods_pass_restricted(env: &Env) {
    use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
    let check_ns = "psa-restricted";
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(check_ns.into()),
            labels: Some(
                [(
                    "pod-security.kubernetes.io/enforce".to_string(),
                    "restricted".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(env.admin.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let accounts: Api<ServiceAccount> = Api::namespaced(env.admin.clone(), check_ns);
    common::eventually("default ServiceAccount", || async {
        accounts.get_opt("default").await.ok()?.map(|_| ())
    })
    .await;
    let pods: Vec<Pod> = Api::<Pod>::namespaced(env.admin.clone(), NS)
        .list(&Default::default())
        .await
        .expect("pods")
        .items;
    assert!(pods.len() >= 3, "database, storefront and setup pods");
    let target: Api<Pod> = Api::namespaced(env.admin.clone(), check_ns);
    for pod in pods {
        let mut spec = pod.spec.clone().unwrap_or_default();
        spec.node_name = None;
        let copy = Pod {
            metadata: kube::api::ObjectMeta {
                name: pod.metadata.name.clone(),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        };
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        if let Err(e) = target.create(&dry_run, &copy).await {
            panic!("pod {} violates restricted: {e}", pod.name_any());
        }
    }
}

#[tokio::test]
async fn a_ready_store_reconciles_without_changing_anything() {
    let mut env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = env.versions("alice").await;
    assert!(before.len() > 15, "{before:#?}");

    // A restarted operator reconciles every store once: nothing may change.
    env.stop_operator().await;
    let requests_before = env.operator_requests().len();
    env.start_operator();
    common::eventually("a full reconcile after the restart", || async {
        env.operator_requests()[requests_before..]
            .iter()
            .any(|r| r.resource == "configmaps" && r.verb == "patch")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = env.versions("alice").await;
    assert_eq!(before, after, "a no-op reconcile changed a resourceVersion");
}

#[tokio::test]
async fn drift_is_repaired_without_rerunning_setup() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    let ready = env.wait_phase("alice", Phase::Ready).await;
    let job = ready
        .status
        .and_then(|s| s.completed_setup)
        .expect("setup done");

    // Someone else removes security fields that are `false` (what the old diff missed), a label,
    // and deletes a NetworkPolicy.
    let deployments: Api<Deployment> = Api::namespaced(env.admin.clone(), NS);
    let patch = json!([
        {"op": "remove", "path": "/spec/template/spec/automountServiceAccountToken"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation"},
    ]);
    deployments
        .patch(
            child::STOREFRONT,
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(patch).expect("json patch")),
        )
        .await
        .expect("remove fields");
    let services: Api<Service> = Api::namespaced(env.admin.clone(), NS);
    let label_path = format!("/metadata/labels/{}", keys::PART_OF.replace('/', "~1"));
    services
        .patch(
            child::DATABASE,
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([{"op": "remove", "path": label_path}]))
                    .expect("json patch"),
            ),
        )
        .await
        .expect("remove label");
    let policies: Api<NetworkPolicy> = Api::namespaced(env.admin.clone(), NS);
    policies
        .delete(child::NETPOL_DEFAULT_DENY, &DeleteParams::default())
        .await
        .expect("delete policy");

    common::eventually("the storefront's security fields restored", || async {
        let d = deployments.get(child::STOREFRONT).await.ok()?;
        let spec = d.spec.template.spec?;
        let sc = spec.containers.first()?.security_context.clone()?;
        (spec.automount_service_account_token == Some(false)
            && sc.allow_privilege_escalation == Some(false))
        .then_some(())
    })
    .await;
    common::eventually("the database Service's label restored", || async {
        let s = services.get(child::DATABASE).await.ok()?;
        s.labels().contains_key(keys::PART_OF).then_some(())
    })
    .await;
    common::eventually("default-deny recreated", || async {
        policies
            .get_opt(child::NETPOL_DEFAULT_DENY)
            .await
            .ok()?
            .map(|_| ())
    })
    .await;
    // The storefront rolls out twice (the change, then the repair): Ready again afterwards.
    let store = env.wait_phase("alice", Phase::Ready).await;
    let status = store.status.unwrap_or_default();
    assert_eq!(status.completed_setup.as_deref(), Some(job.as_str()));
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(jobs.len(), 1, "setup was not re-run");
}

#[tokio::test]
async fn generated_secrets_survive_restarts_and_are_never_overwritten() {
    let mut env = env_or_skip!(start, config());
    // Stop half-way: database ready, storefront not.
    env.cp.kubelet().hold(NS, Component::Storefront.as_str());
    env.create(Store::test()).await;
    env.wait_store("alice", "database ready", |s| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|s| is_true(s, "DatabaseReady"))
    })
    .await;
    let secrets = |env: &Env| {
        let api: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
        async move {
            let mut out = Vec::new();
            for name in [
                child::DATABASE_SECRET,
                child::ADMIN_SECRET,
                child::SALTS_SECRET,
            ] {
                let s = api.get(name).await.expect("secret");
                out.push((s.uid(), s.data.clone()));
            }
            out
        }
    };
    let first = secrets(&env).await;
    env.stop_operator().await;
    // Someone edits a generated value while the operator is down: it is not "repaired".
    let api: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
    api.patch(
        child::ADMIN_SECRET,
        &PatchParams::default(),
        &Patch::Merge(json!({"stringData": {"email": "owner@example.com"}})),
    )
    .await
    .expect("edit secret");
    let edited = secrets(&env).await;
    env.start_operator();
    env.cp.kubelet().release(NS, Component::Storefront.as_str());
    env.wait_phase("alice", Phase::Ready).await;
    assert_eq!(secrets(&env).await, edited, "secrets are create-only");
    assert_eq!(
        first[0], edited[0],
        "the database credentials were never regenerated"
    );
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(jobs.len(), 1, "one setup Job after the restart");
}

#[tokio::test]
async fn a_failed_setup_is_retried_by_annotation_and_by_spec_change() {
    let env = env_or_skip!(start, config());
    env.cp.kubelet().jobs(NS, JobPods::Fail);
    env.create(Store::test()).await;
    let failed = env.wait_phase("alice", Phase::Failed).await;
    let status = failed.status.unwrap_or_default();
    assert_eq!(
        condition(&status, "Stalled").map(|c| c.reason),
        Some("SetupFailed".into())
    );
    assert!(status.message.unwrap_or_default().contains("kubectl logs"));
    let reasons: Vec<String> = env.events("alice").await.into_iter().map(|e| e.0).collect();
    assert!(reasons.contains(&"SetupFailed".to_string()), "{reasons:?}");

    // Retry by annotation: the failed Job is deleted and run again.
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.retry("alice", "1").await;
    env.wait_phase("alice", Phase::Ready).await;

    // A spec change that changes the setup is a new Job; failing again, then a spec change.
    env.cp.kubelet().jobs(NS, JobPods::Fail);
    env.patch("alice", json!({"spec": {"setup": {"sampleProducts": 2}}}))
        .await;
    env.wait_phase("alice", Phase::Failed).await;
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.patch("alice", json!({"spec": {"setup": {"sampleProducts": 4}}}))
        .await;
    let store = env.wait_phase("alice", Phase::Ready).await;
    assert_eq!(
        store.status.and_then(|s| s.observed_generation),
        store.metadata.generation
    );
}

#[tokio::test]
async fn provisioning_times_out_and_a_retry_restarts_the_clock() {
    let mut config = config();
    config.provisioning_timeout_seconds = 8;
    let env = env_or_skip!(start, config);
    env.cp.kubelet().hold(NS, Component::Database.as_str());
    env.create(Store::test()).await;
    let failed = env.wait_phase("alice", Phase::Failed).await;
    let status = failed.status.unwrap_or_default();
    let stalled = condition(&status, "Stalled").expect("stalled");
    assert_eq!(stalled.reason, "ProvisioningTimeout");
    assert!(stalled.message.contains("database"), "{}", stalled.message);

    env.cp.kubelet().release(NS, Component::Database.as_str());
    env.retry("alice", "after-fix").await;
    let ready = env.wait_phase("alice", Phase::Ready).await;
    assert_eq!(
        ready.status.and_then(|s| s.observed_retry).as_deref(),
        Some("after-fix")
    );
}

#[tokio::test]
async fn an_invalid_spec_is_stalled_with_no_children() {
    let env = env_or_skip!(start, config());
    // Admission cannot know the operator's base domain: this host is refused by the operator.
    env.create(
        Store::test()
            .with_name("bob")
            .with_domain("shop.other.example"),
    )
    .await;
    let store = env.wait_phase("bob", Phase::Failed).await;
    let status = store.status.clone().unwrap_or_default();
    assert!(is_true(&status, "Stalled"));
    let object = serde_json::to_value(&store).unwrap_or_default();
    let (health, message) = common::argocd::health(&object);
    assert_eq!(health, "Degraded");
    assert!(
        message.starts_with("spec.domain: \"shop.other.example\" is not allowed for this store"),
        "{message}"
    );
    assert!(!store.finalizers().iter().any(|f| f == names::FINALIZER));
    assert!(env.namespace("store-bob").await.is_none());
    // Deleting it is immediate (no finalizer).
    env.delete("bob").await;
    env.wait_gone("bob").await;
}

#[tokio::test]
async fn the_crd_rejects_bad_stores_at_admission() {
    let env = env_or_skip!(prepare, config());
    let create = |value: serde_json::Value| {
        let api = env.stores();
        async move {
            let store: Store = serde_json::from_value(value).expect("store json");
            api.create(&PostParams::default(), &store).await
        }
    };
    let base = json!({"apiVersion": names::API_VERSION, "kind": "Store", "metadata": {"name": "ok"},
                      "spec": {"engine": "woocommerce", "owner": "a@example.com"}});
    let mut too_long = base.clone();
    too_long["metadata"]["name"] = json!("a".repeat(41));
    let mut both_tls = base.clone();
    both_tls["spec"]["tls"] = json!({"clusterIssuer": "x", "secretName": "y"});
    let mut bad_domain = base.clone();
    bad_domain["spec"]["domain"] = json!("not a host");
    let mut medusa_theme = base.clone();
    medusa_theme["spec"]["engine"] = json!("medusa");
    medusa_theme["spec"]["setup"] = json!({"theme": "storefront"});
    let mut woo_redis = base.clone();
    woo_redis["spec"]["versions"] = json!({"redis": "7.4.5"});
    for (what, bad) in [
        ("name over 40", too_long),
        ("two TLS sources", both_tls),
        ("bad domain", bad_domain),
        ("a WooCommerce theme on a Medusa store", medusa_theme),
        ("a Medusa version on a WooCommerce store", woo_redis),
    ] {
        let err = create(bad).await.expect_err(what);
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 422),
            "{what}: {err}"
        );
    }
    create(base.clone())
        .await
        .expect("a good store is accepted");
    // engine is immutable (CEL transition rule)
    let err = env
        .stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"engine": "medusa"}})),
        )
        .await
        .expect_err("engine change");
    assert!(err.to_string().contains("immutable"), "{err}");
    // A database's major version cannot change (the real apiserver's CEL, regex library).
    env.stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"versions": {"mariadb": "11.4"}}})),
        )
        .await
        .expect("pin mariadb 11.4");
    env.stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"versions": {"mariadb": "11.8"}}})),
        )
        .await
        .expect("a minor update");
    let err = env
        .stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"versions": {"mariadb": "12.0"}}})),
        )
        .await
        .expect_err("major change");
    assert!(
        err.to_string().contains("the major version cannot change"),
        "{err}"
    );
    // Volumes only grow: the class is fixed, a size once set stays set and never shrinks, and
    // the plan never goes down (the real apiserver's CEL with its quantity library).
    let refused = |name: &'static str, patch: serde_json::Value, needle: &'static str| {
        let stores = env.stores();
        async move {
            let err = stores
                .patch(name, &PatchParams::default(), &Patch::Merge(patch.clone()))
                .await
                .expect_err("refused");
            assert!(err.to_string().contains(needle), "{patch}: {err}");
        }
    };
    refused(
        "ok",
        json!({"spec": {"storage": {"storageClassName": "fast"}}}),
        "spec.storage.storageClassName is immutable",
    )
    .await;
    let mut with_storage = base.clone();
    with_storage["metadata"]["name"] = json!("st");
    with_storage["spec"]["storage"] = json!({"databaseSize": "2Gi"});
    create(with_storage)
        .await
        .expect("storage may be set at creation");
    refused(
        "st",
        json!({"spec": {"storage": {"databaseSize": "1Gi"}}}),
        "spec.storage.databaseSize can only grow",
    )
    .await;
    refused(
        "st",
        json!({"spec": {"storage": null}}),
        "spec.storage.databaseSize can only grow",
    )
    .await;
    env.stores()
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"storage": {"databaseSize": "3Gi"}, "plan": "medium"}})),
        )
        .await
        .expect("volumes and plans grow");
    refused(
        "st",
        json!({"spec": {"plan": "small"}}),
        "spec.plan: medium cannot become small",
    )
    .await;
    env.stores()
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"plan": "large"}})),
        )
        .await
        .expect("other fields stay mutable");
}

#[tokio::test]
async fn the_store_cap_holds_new_stores_until_capacity_frees() {
    let mut config = config();
    config.max_stores = 1;
    let env = env_or_skip!(start, config);
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    env.create(Store::test().with_name("bob")).await;
    let bob = env
        .wait_store("bob", "held by the cap", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "StoreLimitReached")
        })
        .await
        .expect("bob");
    assert_eq!(phase(Some(&bob)), Some(Phase::Pending));
    assert!(env.namespace("store-bob").await.is_none());
    env.delete("alice").await;
    env.wait_gone("alice").await;
    env.wait_phase("bob", Phase::Ready).await;
}

#[tokio::test]
async fn deleting_a_store_removes_its_namespace_then_the_store() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    env.delete("alice").await;
    env.wait_gone("alice").await;
    assert!(
        env.namespace(NS).await.is_none(),
        "the Store disappears only after its namespace"
    );
    // A store that never got past validation deletes at once; one deleted while provisioning too.
    env.cp
        .kubelet()
        .hold("store-carol", Component::Database.as_str());
    env.create(Store::test().with_name("carol")).await;
    env.wait_phase("carol", Phase::Provisioning).await;
    env.delete("carol").await;
    env.wait_gone("carol").await;
    assert!(env.namespace("store-carol").await.is_none());
}

#[tokio::test]
async fn retain_keeps_the_namespace_without_ownership() {
    let env = env_or_skip!(start, config());
    env.create(Store::test().with_deletion_policy(DeletionPolicy::Retain))
        .await;
    let store = env.wait_phase("alice", Phase::Ready).await;
    let uid = store.uid().unwrap_or_default();
    env.delete("alice").await;
    env.wait_gone("alice").await;
    // Give the garbage collector time to act on any reference we left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ns = env.namespace(NS).await.expect("namespace kept");
    assert!(ns.metadata.deletion_timestamp.is_none());
    assert!(ns.owner_references().iter().all(|o| o.uid != uid));
    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    let sets: Vec<StatefulSet> = env.children(NS, "alice").await;
    assert_eq!(secrets.len(), 3, "credentials kept");
    assert_eq!(sets.len(), 1, "database kept");
    for refs in secrets
        .iter()
        .map(|o| o.owner_references().to_vec())
        .chain(jobs.iter().map(|o| o.owner_references().to_vec()))
        .chain(sets.iter().map(|o| o.owner_references().to_vec()))
    {
        assert!(
            refs.iter().all(|o| o.uid != uid),
            "no reference to the deleted Store"
        );
    }
}

#[tokio::test]
async fn owner_references_let_the_garbage_collector_remove_children() {
    let mut env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Provisioning).await;
    env.wait_store("alice", "namespace ready", |s| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|s| is_true(s, "NamespaceReady"))
    })
    .await;
    // The operator is gone and someone force-removes the finalizer: the garbage collector alone
    // must remove the namespace (and with it everything) through the ownerReferences.
    env.stop_operator().await;
    env.patch("alice", json!({"metadata": {"finalizers": null}}))
        .await;
    env.delete("alice").await;
    env.wait_gone("alice").await;
    env.wait_namespace_gone(NS).await;
}

#[tokio::test]
async fn a_foreign_namespace_is_never_adopted_nor_deleted() {
    let env = env_or_skip!(start, config());
    env.cp
        .ensure_namespace(NS)
        .await
        .expect("foreign namespace");
    env.create(Store::test()).await;
    let store = env
        .wait_store("alice", "namespace taken", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "NamespaceTaken")
        })
        .await
        .expect("store");
    assert_eq!(phase(Some(&store)), Some(Phase::Failed));
    let configmaps: Vec<ConfigMap> = env.children(NS, "alice").await;
    assert!(
        configmaps.is_empty(),
        "nothing applied into a foreign namespace"
    );
    env.delete("alice").await;
    env.wait_gone("alice").await;
    let ns: Namespace = env.namespace(NS).await.expect("still there");
    assert!(ns.metadata.deletion_timestamp.is_none(), "never deleted");
}

#[tokio::test]
async fn metrics_follow_the_stores() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let text = env.metrics().encode();
    assert!(
        text.contains("storefleet_stores{phase=\"Ready\"} 1"),
        "{text}"
    );
    env.delete("alice").await;
    env.wait_gone("alice").await;
    let text = env.metrics().encode();
    assert!(
        text.contains("storefleet_stores{phase=\"Ready\"} 0"),
        "{text}"
    );
}

/// The apply layer's calls, each against the real apiserver, as the chart's ServiceAccount.
#[tokio::test]
async fn apply_layer_calls_behave_on_a_real_apiserver() {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::runtime::events::{Recorder, Reporter};
    use storefleet_operator::controller::context::{Context, SystemClock};
    use storefleet_operator::controller::requests::{
        self, ApplyError, create_once, get_metadata, is_rejection, ssa,
    };
    let env = env_or_skip!(prepare, config());
    let client = env.operator_client.clone();
    let (reader, _writer) = kube::runtime::reflector::store();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: names::FIELD_MANAGER.into(),
            instance: None,
        },
    );
    let ctx = Context::new(
        client,
        recorder,
        reader,
        config(),
        std::sync::Arc::new(SystemClock),
        Default::default(),
    );
    let ns = "store-calls";
    let labels = std::collections::BTreeMap::from([
        (
            keys::MANAGED_BY.to_string(),
            keys::MANAGED_BY_VALUE.to_string(),
        ),
        (keys::STORE.to_string(), "calls".to_string()),
    ]);
    let meta = |name: &str, namespace: Option<&str>| ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(String::from),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let namespace = Namespace {
        metadata: meta(ns, None),
        ..Namespace::default()
    };
    assert!(
        get_metadata::<Namespace>(&ctx, &namespace.metadata)
            .await
            .expect("get")
            .is_none(),
        "absent is None"
    );
    let applied = ssa(&ctx, &namespace).await.expect("apply creates");
    let rv = applied.resource_version();
    assert!(
        applied
            .managed_fields()
            .iter()
            .any(|f| f.manager.as_deref() == Some(names::FIELD_MANAGER))
    );
    let again = ssa(&ctx, &namespace).await.expect("apply again");
    assert_eq!(again.resource_version(), rv, "a no-op apply writes nothing");

    // Secrets are created, never applied, and read back as metadata only.
    let secret = |value: &str| Secret {
        metadata: meta("c", Some(ns)),
        string_data: Some(std::collections::BTreeMap::from([(
            "k".to_string(),
            value.to_string(),
        )])),
        ..Secret::default()
    };
    assert!(
        create_once(&ctx, &secret("1"))
            .await
            .expect("create")
            .is_some()
    );
    assert!(
        create_once(&ctx, &secret("2"))
            .await
            .expect("exists")
            .is_none(),
        "an existing Secret is left alone"
    );
    let stored: Secret = Api::namespaced(env.admin.clone(), ns)
        .get("c")
        .await
        .expect("admin reads the secret");
    assert_eq!(
        stored.data.and_then(|d| d.get("k").cloned()).map(|v| v.0),
        Some(b"1".to_vec()),
        "create never overwrites"
    );
    let live = get_metadata::<Secret>(&ctx, &secret("1").metadata)
        .await
        .expect("get")
        .expect("exists");
    let as_json = serde_json::to_value(&live).expect("json");
    assert!(as_json.get("data").is_none(), "metadata only: {as_json}");

    // ownerReferences are guarded by resourceVersion: a stale read is a conflict.
    let mut stale = live.metadata.clone();
    stale.resource_version = Some("1".into());
    let err = requests::set_owner_references::<Secret>(&ctx, &stale, vec![])
        .await
        .expect_err("stale");
    assert_eq!(requests::status_code(err.kube()), Some(409), "{err:?}");
    requests::set_owner_references::<Secret>(&ctx, &live.metadata, vec![])
        .await
        .expect("fresh");

    // A rejection by validation is one, with the apiserver's reason and no object body.
    let mut bad = Service {
        metadata: meta("bad", Some(ns)),
        ..Service::default()
    };
    bad.spec = Some(k8s_openapi::api::core::v1::ServiceSpec {
        ports: Some(vec![k8s_openapi::api::core::v1::ServicePort {
            port: 70000,
            ..Default::default()
        }]),
        ..Default::default()
    });
    let err = ssa(&ctx, &bad).await.expect_err("invalid");
    assert!(is_rejection(err.kube()), "{err:?}");
    assert!(
        matches!(&err, ApplyError::Apply { object, .. } if object == "Service store-calls/bad")
    );
    assert!(requests::rejection(&err).contains("port"), "{err:?}");
}

/// Ownership is by identity, not by name: a retained namespace is not adopted by a new Store
/// with the same name (another tenant's, here), whose deletion then leaves it alone; an admin
/// hands it over explicitly by setting the uid annotation.
#[tokio::test]
async fn a_retained_namespace_is_not_adopted_by_a_new_store_of_the_same_name() {
    let env = env_or_skip!(start, config());
    env.create(Store::test().with_deletion_policy(DeletionPolicy::Retain))
        .await;
    env.wait_phase("alice", Phase::Ready).await;
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
    let before = secrets.get(child::ADMIN_SECRET).await.expect("secret");
    env.delete("alice").await;
    env.wait_gone("alice").await;

    // Mallory creates a store with the same name.
    let mallory = env
        .create(
            Store::test()
                .with_owner("mallory@example.com")
                .with_deletion_policy(DeletionPolicy::Delete),
        )
        .await;
    let store = env
        .wait_store("alice", "namespace taken", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "NamespaceTaken")
        })
        .await
        .expect("store");
    let status = store.status.unwrap_or_default();
    assert_eq!(status.phase, Some(Phase::Failed));
    assert!(
        status
            .message
            .unwrap_or_default()
            .contains(names::STORE_UID_ANNOTATION),
        "the message says how an admin hands it over"
    );
    let after = secrets.get(child::ADMIN_SECRET).await.expect("secret kept");
    assert_eq!(
        after.resource_version(),
        before.resource_version(),
        "untouched"
    );
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert!(jobs.iter().all(|j| {
        j.owner_references()
            .iter()
            .all(|o| Some(&o.uid) != mallory.metadata.uid.as_ref())
    }));

    // Deleting Mallory's store does not delete the retained data.
    env.delete("alice").await;
    env.wait_gone("alice").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ns = env.namespace(NS).await.expect("still there");
    assert!(ns.metadata.deletion_timestamp.is_none());

    // An admin hands the namespace to a new Store on purpose.
    let heir = env.create(Store::test()).await;
    let namespaces: Api<Namespace> = Api::all(env.admin.clone());
    namespaces
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {names::STORE_UID_ANNOTATION: heir.metadata.uid}}})),
        )
        .await
        .expect("hand over");
    env.retry("alice", "adopted").await;
    env.wait_phase("alice", Phase::Ready).await;
    let kept = secrets.get(child::ADMIN_SECRET).await.expect("secret");
    assert_eq!(
        kept.data, before.data,
        "the retained credentials are the shop's"
    );
}

/// A generated Secret deleted after it was issued is reported, never regenerated (the database
/// and the shop still use its values); restoring it lets the store continue.
#[tokio::test]
async fn a_deleted_credentials_secret_is_reported_not_regenerated() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
    let backup = secrets.get(child::DATABASE_SECRET).await.expect("secret");
    secrets
        .delete(child::DATABASE_SECRET, &DeleteParams::default())
        .await
        .expect("delete");
    let store = env
        .wait_store("alice", "credentials lost", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "CredentialsLost")
        })
        .await
        .expect("store");
    let message = store.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains(child::DATABASE_SECRET), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        secrets
            .get_opt(child::DATABASE_SECRET)
            .await
            .expect("get")
            .is_none(),
        "not regenerated"
    );
    // Restore from the backup: the store continues by itself.
    let mut restored = backup.clone();
    restored.metadata = kube::api::ObjectMeta {
        name: backup.metadata.name.clone(),
        labels: backup.metadata.labels.clone(),
        owner_references: backup.metadata.owner_references.clone(),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &restored)
        .await
        .expect("restore");
    env.wait_phase("alice", Phase::Ready).await;
    let now = secrets.get(child::DATABASE_SECRET).await.expect("secret");
    assert_eq!(now.data, backup.data);
}

/// A spec change while setup runs does not start a second setup next to it: the new Job waits
/// for the old one, which is removed once finished.
#[tokio::test]
async fn setup_jobs_never_overlap_and_old_ones_are_removed() {
    let env = env_or_skip!(start, config());
    env.cp.kubelet().jobs(NS, JobPods::Hold);
    env.create(Store::test()).await;
    env.wait_store("alice", "setup running", |s| {
        s.and_then(|s| s.status.as_ref())
            .and_then(|s| condition(s, "SetupComplete"))
            .is_some_and(|c| c.reason == "SetupRunning")
    })
    .await;
    let first: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(first.len(), 1);
    let first = first[0].name_any();

    env.patch("alice", json!({"spec": {"setup": {"sampleProducts": 5}}}))
        .await;
    let waiting = env
        .wait_store("alice", "the new setup waits", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "SetupComplete"))
                .is_some_and(|c| c.message.contains("to finish before starting"))
        })
        .await
        .expect("store");
    let message = waiting
        .status
        .and_then(|s| condition(&s, "SetupComplete"))
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(message.contains(&first), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(jobs.len(), 1, "no second setup next to the running one");

    // The first run finishes: it is removed, the second runs, and only it remains.
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.wait_phase("alice", Phase::Ready).await;
    common::eventually("only the current setup Job remains", || async {
        let jobs: Vec<Job> = env.children(NS, "alice").await;
        (jobs.len() == 1 && jobs[0].name_any() != first).then_some(())
    })
    .await;
}

/// A host belongs to one Store: the older claim wins, the newer waits and starts when the host
/// is free; a store cannot name another store's host under the base domain at all.
#[tokio::test]
async fn a_host_is_served_by_one_store_only() {
    let mut config = config();
    config.owner_domains = [(
        "alice@example.com".to_string(),
        vec!["shop.example.com".to_string()],
    )]
    .into();
    let env = env_or_skip!(start, config);
    env.create(
        Store::test()
            .with_name("first")
            .with_domain("shop.example.com"),
    )
    .await;
    env.wait_phase("first", Phase::Ready).await;
    env.create(
        Store::test()
            .with_name("second")
            .with_domain("shop.example.com"),
    )
    .await;
    let second = env
        .wait_store("second", "host taken", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "HostTaken")
        })
        .await
        .expect("second");
    assert!(
        second
            .status
            .and_then(|s| s.message)
            .unwrap_or_default()
            .contains("first"),
        "names the holder"
    );
    assert!(
        env.namespace("store-second").await.is_none(),
        "nothing created"
    );

    // Mallory cannot name a store's host under the base domain.
    env.create(
        Store::test()
            .with_name("mallory")
            .with_owner("mallory@example.com")
            .with_domain("first.shop.local"),
    )
    .await;
    let mallory = env.wait_phase("mallory", Phase::Failed).await;
    let stalled = mallory
        .status
        .and_then(|s| condition(&s, "Stalled"))
        .expect("stalled");
    assert!(
        stalled.message.contains("not allowed"),
        "{}",
        stalled.message
    );

    // The host is free again: the waiting store starts by itself.
    env.delete("first").await;
    env.wait_gone("first").await;
    env.wait_phase("second", Phase::Ready).await;
}

/// A host that any other route of the cluster already serves (here an Ingress someone made in
/// another namespace before the store existed, as a squatter would for a future store's host)
/// is not given to the store: `HostTaken`, naming the route, nothing created; once that route
/// is gone the store starts by itself.
#[tokio::test]
async fn a_host_routed_by_a_foreign_route_is_taken() {
    use k8s_openapi::api::networking::v1::Ingress;
    let env = env_or_skip!(start, config());
    env.cp.ensure_namespace("web").await.expect("namespace");
    let squatter: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "landing", "namespace": "web"},
        "spec": {"rules": [{"host": "alice.shop.local", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "landing", "port": {"number": 80}}}
        }]}}]}
    }))
    .expect("ingress");
    let ingresses: Api<Ingress> = Api::namespaced(env.admin.clone(), "web");
    ingresses
        .create(&PostParams::default(), &squatter)
        .await
        .expect("foreign ingress");
    env.create(Store::test()).await;
    let alice = env
        .wait_condition("alice", "Stalled", "host taken", |c| {
            c.reason == "HostTaken"
        })
        .await;
    let message = alice.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains("Ingress web/landing"), "{message}");
    assert!(env.namespace(NS).await.is_none(), "nothing created");

    ingresses
        .delete("landing", &DeleteParams::default())
        .await
        .expect("delete");
    env.wait_phase("alice", Phase::Ready).await;
}

/// The per-owner cap is the operator's, so it holds whoever creates the Stores (any number of
/// API replicas, kubectl, GitOps): an owner's extra store waits; other owners are not affected.
#[tokio::test]
async fn the_per_owner_cap_holds_for_every_door() {
    let mut config = config();
    config.max_stores_per_owner = Some(1);
    let env = env_or_skip!(start, config);
    env.create(Store::test()).await;
    env.create(Store::test().with_name("alice-two")).await;
    env.create(Store::test().with_name("bob").with_owner("bob@example.com"))
        .await;
    env.wait_phase("bob", Phase::Ready).await;
    let mut held = 0;
    for name in ["alice", "alice-two"] {
        let store = env
            .wait_store(name, "admitted or held", |s| {
                s.and_then(|s| s.status.as_ref()).is_some_and(|st| {
                    st.phase == Some(Phase::Ready)
                        || condition(st, "Stalled").is_some_and(|c| c.reason == "StoreLimitReached")
                })
            })
            .await
            .expect("store");
        if store.status.and_then(|s| s.phase) == Some(Phase::Pending) {
            held += 1;
        }
    }
    assert_eq!(held, 1, "exactly one of alice's two stores waits");
}

/// Nothing is public before it is ours: while a new store's setup runs (its storefront is
/// Ready and would serve WordPress's installer), no route and no edge policy exist; they appear
/// once setup succeeded.
#[tokio::test]
async fn no_route_nor_edge_policy_exists_before_setup_completes() {
    use k8s_openapi::api::networking::v1::Ingress;
    let env = env_or_skip!(start, config());
    env.cp.kubelet().jobs(NS, JobPods::Hold);
    env.create(Store::test()).await;
    env.wait_store("alice", "setup running", |s| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            is_true(s, "StorefrontReady")
                && condition(s, "SetupComplete").is_some_and(|c| c.reason == "SetupRunning")
        })
    })
    .await;
    // A few more passes (watch events of the running Job) change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = env.status("alice").await;
    assert!(!is_true(&status, "SetupComplete"), "{status:?}");
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert!(ingresses.is_empty(), "an Ingress exists during setup");
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    let names: Vec<String> = policies.iter().map(|p| p.name_any()).collect();
    assert!(
        names.contains(&child::NETPOL_DEFAULT_DENY.to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&child::NETPOL_INGRESS.to_string()),
        "the edge may reach the storefront during setup: {names:?}"
    );

    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.wait_phase("alice", Phase::Ready).await;
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert_eq!(ingresses.len(), 1, "the route once the shop is ours");
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    assert!(
        policies
            .iter()
            .any(|p| p.name_any() == child::NETPOL_INGRESS),
        "the edge policy once the shop is ours"
    );
}

/// Data loss is never Ready: a Ready store whose namespace is deleted (its database and files
/// with it) is `Stalled`/`DataLost`, naming what vanished; nothing is created again on an empty
/// shop (no namespace, no setup Job, no route) until the owner asks to start over with the retry
/// annotation.
#[tokio::test]
async fn a_ready_store_whose_namespace_is_deleted_is_data_lost_not_ready() {
    use k8s_openapi::api::networking::v1::Ingress;
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    let ready = env.wait_phase("alice", Phase::Ready).await;
    let first_setup = ready
        .status
        .as_ref()
        .and_then(|s| s.completed_setup.clone())
        .expect("completed setup");
    let ns_uid = env.namespace(NS).await.and_then(|n| n.metadata.uid);
    let recorded = env
        .wait_store("alice", "the data recorded", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.data.as_ref())
                .is_some_and(|d| d.namespace_uid.is_some() && d.volumes.len() >= 2)
        })
        .await
        .and_then(|s| s.status)
        .and_then(|s| s.data)
        .expect("data");
    assert_eq!(recorded.namespace_uid, ns_uid);
    assert!(
        recorded.volumes.contains_key("data-database-0")
            && recorded.volumes.contains_key(child::STOREFRONT_DATA),
        "{recorded:?}"
    );

    // By mistake, the namespace goes (and the database and files in it).
    Api::<Namespace>::all(env.admin.clone())
        .delete(NS, &DeleteParams::default())
        .await
        .expect("delete namespace");
    let lost = env
        .wait_condition("alice", "Stalled", "DataLost", |c| {
            c.status == "True" && c.reason == "DataLost"
        })
        .await;
    let status = lost.status.clone().unwrap_or_default();
    assert_eq!(status.phase, Some(Phase::Failed));
    assert!(!is_true(&status, "Ready"));
    let message = condition(&status, "Ready")
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(
        message.contains("namespace store-alice was deleted") && message.contains("retry"),
        "{message}"
    );
    // Nothing comes back on an empty shop.
    env.wait_namespace_gone(NS).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        env.namespace(NS).await.is_none(),
        "the namespace was created again, empty"
    );
    let still = env.status("alice").await;
    assert_eq!(still.phase, Some(Phase::Failed));
    assert_eq!(still.completed_setup.as_deref(), Some(first_setup.as_str()));

    // The owner asks to start over: a new, empty shop is set up and becomes Ready.
    env.retry("alice", "start-over").await;
    let again = env.wait_phase("alice", Phase::Ready).await;
    let status = again.status.unwrap_or_default();
    let new_uid = env.namespace(NS).await.and_then(|n| n.metadata.uid);
    assert_ne!(new_uid, ns_uid);
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(jobs.len(), 1, "setup ran on the new shop");
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert_eq!(ingresses.len(), 1);
    let data = env
        .wait_store("alice", "the new data recorded", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.data.as_ref())
                .is_some_and(|d| d.namespace_uid == new_uid)
        })
        .await;
    assert!(data.is_some());
    assert!(status.completed_setup.is_some());
}

/// Refusal withdraws: a store that served under a domain its owner may no longer use (the
/// platform removed it from `ownerDomains`) is Stalled and its route and edge policy are
/// removed; the namespace and the data stay.
#[tokio::test]
async fn a_store_refused_after_it_served_loses_its_route() {
    use k8s_openapi::api::networking::v1::Ingress;
    let mut config = config();
    config.owner_domains = [(
        "alice@example.com".to_string(),
        vec!["shop.example.com".to_string()],
    )]
    .into();
    let mut env = env_or_skip!(start, config);
    env.create(Store::test().with_domain("shop.example.com"))
        .await;
    env.wait_phase("alice", Phase::Ready).await;
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert_eq!(ingresses.len(), 1);

    // The platform withdraws the domain from the owner.
    env.stop_operator().await;
    env.config.owner_domains.clear();
    env.start_operator();
    let refused = env.wait_phase("alice", Phase::Failed).await;
    let stalled = refused
        .status
        .and_then(|s| condition(&s, "Stalled"))
        .expect("stalled");
    assert!(
        stalled.message.contains("not allowed"),
        "{}",
        stalled.message
    );
    common::eventually("the route and the edge policy removed", || async {
        let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
        let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
        (ingresses.is_empty()
            && !policies
                .iter()
                .any(|p| p.name_any() == child::NETPOL_INGRESS))
        .then_some(())
    })
    .await;
    assert!(env.namespace(NS).await.is_some(), "the data stays");
}

/// The chart's ValidatingAdmissionPolicy keeps the operator's ServiceAccount in store namespaces:
/// with the same RBAC that lets it write Deployments anywhere, a Deployment in `kube-system`, a
/// change to a namespace that is not a store's and a namespace without a store uid are refused;
/// in a store's namespace (the store here) everything is accepted.
#[tokio::test]
async fn the_operator_may_write_only_in_store_namespaces() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;

    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "intruder"},
        "spec": {
            "selector": {"matchLabels": {"app": "intruder"}},
            "template": {
                "metadata": {"labels": {"app": "intruder"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .expect("deployment");
    let as_operator = |ns: &str| Api::<Deployment>::namespaced(env.operator_client.clone(), ns);
    let refusal = |e: kube::Error| match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => (0, other.to_string()),
    };
    // RBAC alone would allow it (a ClusterRole): the policy is what refuses.
    let message = common::eventually("a Deployment in kube-system refused", || async {
        match as_operator("kube-system")
            .create(&PostParams::default(), &deployment)
            .await
        {
            Ok(_) => panic!("the operator created a Deployment in kube-system"),
            Err(e) => {
                let (code, message) = refusal(e);
                (code == 403 && message.contains("namespaces of Stores")).then_some(message)
            }
        }
    })
    .await;
    assert!(message.contains("kube-system is not one"), "{message}");

    // Not a store's namespace: no change, no delete, no namespace without a store uid.
    let namespaces = Api::<Namespace>::all(env.operator_client.clone());
    let label = json!({"metadata": {"labels": {"storefleet.io/store": "alice"}}});
    let err = namespaces
        .patch("default", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect_err("the default namespace is not ours");
    assert_eq!(refusal(err).0, 403);
    let err = namespaces
        .delete("kube-public", &DeleteParams::default())
        .await
        .expect_err("kube-public is not ours");
    assert_eq!(refusal(err).0, 403);
    let unowned: Namespace = serde_json::from_value(json!({
        "metadata": {"name": "store-mallory", "labels": {"app.kubernetes.io/managed-by": "storefleet"}}
    }))
    .expect("namespace");
    let (code, message) = refusal(
        namespaces
            .create(&PostParams::default(), &unowned)
            .await
            .expect_err("no store uid"),
    );
    assert_eq!(code, 403, "{message}");
    assert!(message.contains("store-mallory is not one"), "{message}");

    // Nobody but the operator marks a namespace as a store's (Gateways select on the label):
    // not even a cluster admin, neither on a new namespace nor on an existing one.
    let admin_namespaces = Api::<Namespace>::all(env.admin.clone());
    let marked: Namespace = serde_json::from_value(json!({
        "metadata": {"name": "marked", "labels": {"storefleet.io/store": "alice"}}
    }))
    .expect("namespace");
    // (dry runs go through admission; the policy may take a moment to be in force)
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let message = common::eventually("a namespace marked by an admin refused", || async {
        let e = admin_namespaces.create(&dry_run, &marked).await.err()?;
        let (code, message) = refusal(e);
        (code == 403).then_some(message)
    })
    .await;
    assert!(message.contains("storefleet.io/store"), "{message}");
    for (ns, labels) in [
        ("default", json!({"storefleet.io/store": "alice"})),
        (NS, json!({"storefleet.io/store": null})),
    ] {
        let patch = json!({"metadata": {"labels": labels}});
        let err = admin_namespaces
            .patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect_err("the label is the operator's");
        assert_eq!(refusal(err).0, 403, "{ns}");
    }
    // Other labels of a store's namespace stay the admin's to change.
    let patch = json!({"metadata": {"labels": {"team": "shops"}}});
    admin_namespaces
        .patch(NS, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("another label");

    // In the store's namespace the same Deployment is accepted (dry run: nothing to clean up).
    as_operator(NS)
        .create(&dry_run, &deployment)
        .await
        .expect("the store's namespace is the operator's");
}

/// A StorageClass named `name` with the given `allowVolumeExpansion`, and bound volumes for
/// `store`'s two claims (the control plane has no provisioner: the PersistentVolumes are made
/// here and pre-bound, and the real PV controller binds them).
async fn storage_for(env: &Env, class: &str, expandable: bool, store: &str) {
    use k8s_openapi::api::core::v1::PersistentVolume;
    use k8s_openapi::api::storage::v1::StorageClass;
    let classes: Api<StorageClass> = Api::all(env.admin.clone());
    let sc: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": class},
        "provisioner": "example.com/none",
        "allowVolumeExpansion": expandable,
        "volumeBindingMode": "Immediate"
    }))
    .expect("class");
    classes
        .patch(
            class,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&sc),
        )
        .await
        .expect("class");
    let volumes: Api<PersistentVolume> = Api::all(env.admin.clone());
    for claim in ["data-database-0", "storefront-data"] {
        let name = format!("{store}-{claim}");
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "50Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": class,
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": format!("/tmp/storefleet-test-pv/{name}")},
                "claimRef": {"namespace": format!("store-{store}"), "name": claim}
            }
        }))
        .expect("pv");
        volumes
            .create(&PostParams::default(), &pv)
            .await
            .expect("pv");
    }
}

fn requested_storage(pvc: &k8s_openapi::api::core::v1::PersistentVolumeClaim) -> String {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or_default()
}

/// Growing a shop is the first day-2 thing its owner does: `small` → `medium` on a Ready store
/// grows its bound claims in place (the StorageClass allows expansion) and re-creates the
/// database StatefulSet with the new claim template (its pod orphaned, not deleted); nothing is
/// rejected or stalled on the way and the store is Ready again on the same claims. Where the class does not allow expansion the store says so, naming
/// the class, and nothing is changed.
#[tokio::test]
async fn a_larger_plan_grows_the_volumes_in_place() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let mut config = config();
    config.storage_class_name = Some("expandable".into());
    config.allowed_storage_class_names = vec!["fixed".into()];
    let env = env_or_skip!(start, config);
    storage_for(&env, "expandable", true, "alice").await;
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(env.admin.clone(), NS);
    common::eventually("both claims bound", || async {
        let bound =
            |c: PersistentVolumeClaim| c.status.and_then(|s| s.phase).as_deref() == Some("Bound");
        (bound(claims.get("data-database-0").await.ok()?)
            && bound(claims.get("storefront-data").await.ok()?))
        .then_some(())
    })
    .await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(env.admin.clone(), NS);
    let before = statefulsets.get(child::DATABASE).await.expect("sts");

    env.patch("alice", json!({"spec": {"plan": "medium"}}))
        .await;
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let store = env.stores().get("alice").await.expect("store");
        // The plan's new container resources roll the pods (Provisioning for that while), but
        // the volumes never stall it nor get a change rejected.
        let status = store.status.clone().unwrap_or_default();
        assert!(
            condition(&status, "Stalled").is_none()
                && !status
                    .message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("rejected"),
            "growing the volumes is accepted: {status:?}"
        );
        let db = claims.get("data-database-0").await.expect("claim");
        let files = claims.get("storefront-data").await.expect("claim");
        let sts = statefulsets.get(child::DATABASE).await.ok();
        let template = sts
            .as_ref()
            .and_then(|s| s.spec.volume_claim_templates.clone())
            .and_then(|t| t.into_iter().next())
            .map(|t| requested_storage(&t));
        let status = store.status.clone().unwrap_or_default();
        if requested_storage(&db) == "10Gi"
            && requested_storage(&files) == "5Gi"
            && template.as_deref() == Some("10Gi")
            && status.observed_generation == store.metadata.generation
            && status
                .volume_sizes
                .get("data-database-0")
                .map(String::as_str)
                == Some("10Gi")
        {
            let sts = sts.expect("sts");
            assert_ne!(sts.metadata.uid, before.metadata.uid, "re-created");
            assert_eq!(
                db.metadata.uid,
                status
                    .data
                    .as_ref()
                    .and_then(|d| d.volumes.get("data-database-0").cloned()),
                "the same claim, grown"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "volumes did not grow: db {} files {} template {template:?} status {:?}",
            requested_storage(&db),
            requested_storage(&files),
            status.volume_sizes
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Settled: still Ready, the re-created StatefulSet adopted the running pod.
    let store = env.wait_phase("alice", Phase::Ready).await;
    assert!(is_true(&store.status.unwrap_or_default(), "DatabaseReady"));

    // bob's class does not allow expansion: refused, naming the class; his claims unchanged.
    storage_for(&env, "fixed", false, "bob").await;
    env.create(Store::test().with_name("bob").with_storage_class("fixed"))
        .await;
    env.wait_phase("bob", Phase::Ready).await;
    let bob: Api<PersistentVolumeClaim> = Api::namespaced(env.admin.clone(), "store-bob");
    common::eventually("bob's claims bound", || async {
        let c = bob.get("storefront-data").await.ok()?;
        (c.status.and_then(|s| s.phase).as_deref() == Some("Bound")).then_some(())
    })
    .await;
    env.patch("bob", json!({"spec": {"plan": "medium"}})).await;
    let refused = env
        .wait_condition("bob", "Stalled", "expansion unsupported", |c| {
            c.reason == "VolumeExpansionUnsupported"
        })
        .await;
    let message = refused.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains("StorageClass fixed"), "{message}");
    let files = bob.get("storefront-data").await.expect("claim");
    assert_eq!(requested_storage(&files), "2Gi");
}

/// The API reads a store's admin login through the operator's grant in that store's namespace
/// only: as the API's ServiceAccount (the chart's RBAC, which grants no Secret cluster-wide),
/// the store's `admin-credentials` is readable, a Secret of that name elsewhere is not, nor any
/// other Secret of the store.
#[tokio::test]
async fn the_api_reads_a_stores_admin_login_in_that_namespace_only() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let mut config = config();
    config.api_service_account = Some(storefleet_operator::config::ServiceAccountRef {
        namespace: common::RELEASE_NAMESPACE.into(),
        name: "storefleet-api".into(),
    });
    let env = env_or_skip!(start, config);
    // The chart's API ServiceAccount and its (cluster-wide) RBAC.
    let api_rbac = storefleet_envtest::chart::access_objects(
        "storefleet",
        common::RELEASE_NAMESPACE,
        &[],
        "storefleet-api",
    )
    .expect("helm template");
    env.cp.apply(&api_rbac).await.expect("API RBAC");
    common::eventually("the API's ServiceAccount", || async {
        Api::<ServiceAccount>::namespaced(env.admin.clone(), common::RELEASE_NAMESPACE)
            .get_opt("storefleet-api")
            .await
            .ok()?
    })
    .await;
    let (_, api) = env
        .cp
        .service_account(common::RELEASE_NAMESPACE, "storefleet-api")
        .await
        .expect("API token");
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;

    let in_store: Api<Secret> = Api::namespaced(api.clone(), NS);
    let login = common::eventually("the API reads the store's login", || async {
        in_store.get(child::ADMIN_SECRET).await.ok()
    })
    .await;
    assert!(login.data.is_some_and(|d| d.contains_key("password")));
    let forbidden = |r: Result<Secret, kube::Error>| match r {
        Err(kube::Error::Api(s)) => s.code == 403,
        _ => false,
    };
    assert!(
        forbidden(in_store.get(child::DATABASE_SECRET).await),
        "no other Secret of the store"
    );
    // A Secret of the same name in a namespace that is no store's.
    let elsewhere: Secret = serde_json::from_value(json!({
        "metadata": {"name": child::ADMIN_SECRET, "namespace": "default"},
        "stringData": {"password": "not-yours"}
    }))
    .expect("secret");
    Api::<Secret>::namespaced(env.admin.clone(), "default")
        .create(&PostParams::default(), &elsewhere)
        .await
        .expect("secret");
    assert!(
        forbidden(
            Api::<Secret>::namespaced(api, "default")
                .get(child::ADMIN_SECRET)
                .await
        ),
        "admin-credentials outside store namespaces"
    );
}
