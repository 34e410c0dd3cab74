//! A store's life: Ready with every child admitted, a no-op pass, drift, setup failures and
//! retries, the provisioning timeout, setup Jobs that never overlap, the metrics.

use super::*;

#[tokio::test]
async fn a_store_becomes_ready_with_every_child_admitted() {
    let env = env_or_skip!(start, config());
    // What the setup reads from the running shop (its termination message, as the setup script
    // writes it) becomes status.versions.
    env.cp.kubelet().report(
        NS,
        "setup",
        r#"{"wordpress": "6.8.3", "woocommerce": "9.9.5", "php": "8.3.26", "database": "11.4.8-MariaDB"}"#,
    );
    env.create(Store::test()).await;
    let store = env.wait_phase("alice", Phase::Ready).await;
    let versions = env
        .wait_store("alice", "status.versions", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.versions.as_ref())
                .is_some()
        })
        .await
        .and_then(|s| s.status)
        .and_then(|s| s.versions)
        .expect("versions");
    assert_eq!(
        Some(versions.job.as_str()),
        store
            .status
            .as_ref()
            .and_then(|s| s.completed_setup.as_deref()),
        "read from the setup Job that succeeded"
    );
    assert_eq!(
        (
            versions.wordpress.as_deref(),
            versions.woocommerce.as_deref(),
            versions.database.as_deref()
        ),
        (Some("6.8.3"), Some("9.9.5"), Some("11.4.8-MariaDB"))
    );
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
    // No secret value anywhere in status or events (their values: a field's name, such as
    // `versions.wordpress`, is no leak of a database named wordpress).
    fn strings(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut text = format!("{:?}", env.events("alice").await);
    strings(&serde_json::to_value(&status).expect("json"), &mut text);
    // Names are no secrets: a database named `wordpress` is in every WordPress image's name.
    let names_only = ["database", "username"];
    for secret in &secrets {
        for (key, value) in secret.data.iter().flatten() {
            let value = String::from_utf8_lossy(&value.0);
            if value.len() >= 8 && !names_only.contains(&key.as_str()) {
                assert!(
                    !text.contains(value.as_ref()),
                    "a secret value leaked: {}/{key}",
                    secret.name_any()
                );
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

/// The requests about alice's store (its namespace, its children, the Store) since `mark`,
/// lists and watches aside, as "verb resource name".
fn requests_about_alice(env: &Env, mark: usize) -> Vec<String> {
    env.operator_requests()[mark..]
        .iter()
        .filter(|r| r.verb != "watch" && r.verb != "list")
        .filter(|r| {
            r.namespace.as_deref() == Some(NS) || matches!(r.name.as_deref(), Some(NS | "alice"))
        })
        .map(|r| {
            format!(
                "{} {} {}",
                r.verb,
                r.resource,
                r.name.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// Restarts the operator; the requests' mark before it starts again, once alice's store was
/// looked at (its namespace read: every store's first pass reads it) and 3 s more.
async fn restart(env: &mut Env, meanwhile: impl std::future::Future<Output = ()>) -> usize {
    env.stop_operator().await;
    meanwhile.await;
    let mark = env.operator_requests().len();
    env.start_operator();
    common::eventually("alice looked at after the restart", || async {
        requests_about_alice(env, mark)
            .contains(&format!("get namespaces {NS}"))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    mark
}

#[tokio::test]
async fn a_restarted_operator_writes_nothing_and_repairs_what_changed_while_it_was_down() {
    let mut env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = env.versions("alice").await;
    assert!(before.len() > 15, "{before:#?}");

    // A restarted operator looks at every store: it trusts the children that carry the hash of
    // what it would apply and whose fields no one else took; it reads the namespace, nothing more.
    let mark = restart(&mut env, async {}).await;
    assert_eq!(
        requests_about_alice(&env, mark),
        [format!("get namespaces {NS}")]
    );
    assert_eq!(
        before,
        env.versions("alice").await,
        "a resourceVersion changed"
    );

    // Someone raises the quota while the operator is down (`kubectl edit` takes the field):
    // the restarted operator puts it back, with that one apply.
    let quotas: Api<k8s_openapi::api::core::v1::ResourceQuota> =
        Api::namespaced(env.admin.clone(), NS);
    let pods = |q: &k8s_openapi::api::core::v1::ResourceQuota| {
        q.spec
            .as_ref()
            .and_then(|s| s.hard.as_ref())
            .and_then(|h| h.get("pods"))
            .map(|q| q.0.clone())
    };
    let limit = pods(&quotas.get(child::QUOTA).await.expect("quota"));
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    let mark = restart(&mut env, async {
        quotas
            .patch(
                child::QUOTA,
                &edit,
                &Patch::Merge(json!({"spec": {"hard": {"pods": "1000"}}})),
            )
            .await
            .expect("edit the quota");
    })
    .await;
    common::eventually("the quota put back", || async {
        let q = quotas.get(child::QUOTA).await.ok()?;
        (pods(&q) == limit).then_some(())
    })
    .await;
    assert_eq!(
        requests_about_alice(&env, mark),
        [
            format!("get namespaces {NS}"),
            format!("patch resourcequotas {}", child::QUOTA)
        ]
    );
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

/// WordPress's scheduled work runs from outside: the storefront has `DISABLE_WP_CRON`, the
/// CronJob `cron` exists once the shop is set up (restricted, as www-data, on the storefront's
/// node, one run at a time) and the newest finished run is the `CronHealthy` condition.
#[tokio::test]
async fn wordpress_cron_runs_from_a_cron_job_and_its_outcome_is_a_condition() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let deployments: Vec<Deployment> = env.children(NS, "alice").await;
    let storefront = serde_json::to_string(&deployments[0].spec).expect("json");
    assert!(storefront.contains("DISABLE_WP_CRON"), "{storefront}");
    let cron_job = common::eventually("the cron CronJob", || async {
        let cron_jobs: Vec<k8s_openapi::api::batch::v1::CronJob> = env.children(NS, "alice").await;
        cron_jobs.into_iter().find(|c| c.name_any() == child::CRON)
    })
    .await;
    assert_eq!(cron_job.spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(cron_job.spec.schedule, "0 0 1 1 *", "the operator config's");
    let status = env.status("alice").await;
    assert_eq!(
        condition(&status, "CronHealthy").map(|c| c.reason.clone()),
        Some("NoCronRunYet".to_string())
    );
    // A run as the cronjob controller would make it: it fails, then the next one succeeds.
    let run = |name: &str| run_of(&cron_job, name);
    let jobs: Api<Job> = Api::namespaced(env.admin.clone(), NS);
    env.cp.kubelet().jobs(NS, JobPods::Fail);
    jobs.create(&PostParams::default(), &run("cron-1"))
        .await
        .expect("a cron Job");
    env.wait_condition("alice", "CronHealthy", "the failed run", |c| {
        c.status == "False" && c.reason == "CronFailed" && c.message.contains("kubectl logs")
    })
    .await;
    assert_eq!(
        env.status("alice").await.phase,
        Some(Phase::Ready),
        "a failed run is no outage"
    );
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    jobs.create(&PostParams::default(), &run("cron-2"))
        .await
        .expect("a cron Job");
    env.wait_condition("alice", "CronHealthy", "the good run", |c| {
        c.status == "True" && c.reason == "CronSucceeded"
    })
    .await;
}

#[tokio::test]
async fn the_checkout_probe_runs_from_a_cron_job_and_names_the_failing_step() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let probe = common::eventually("the probe CronJob", || async {
        let cron_jobs: Vec<k8s_openapi::api::batch::v1::CronJob> = env.children(NS, "alice").await;
        cron_jobs.into_iter().find(|c| c.name_any() == child::PROBE)
    })
    .await;
    assert_eq!(probe.spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(probe.spec.schedule, "0 0 1 1 *", "the operator config's");
    let status = env.status("alice").await;
    assert_eq!(
        condition(&status, "CheckoutHealthy").map(|c| c.reason.clone()),
        Some("NoProbeYet".to_string())
    );
    // A run as the cronjob controller would make it; its pod exits with the cart step's code,
    // which the Job's pod failure policy (checked by the real Job controller) turns into the
    // Job's condition, and the operator into the step's name.
    let run = |name: &str| run_of(&probe, name);
    let jobs: Api<Job> = Api::namespaced(env.admin.clone(), NS);
    env.cp.kubelet().jobs(NS, JobPods::FailWith(13));
    jobs.create(&PostParams::default(), &run("probe-1"))
        .await
        .expect("a probe Job");
    let broken = env
        .wait_condition("alice", "CheckoutHealthy", "the failed probe", |c| {
            c.status == "False" && c.reason == "CheckoutBroken"
        })
        .await;
    let message = condition(&broken.status.unwrap_or_default(), "CheckoutHealthy")
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(
        message.contains("at cart: a product cannot be put into a cart")
            && message.contains("kubectl logs -n store-alice job/probe-1"),
        "{message}"
    );
    assert!(
        env.metrics()
            .encode()
            .contains("storefleet_checkout_broken{store=\"alice\"} 1"),
        "the metric the alert reads"
    );
    assert_eq!(env.status("alice").await.phase, Some(Phase::Ready));
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    jobs.create(&PostParams::default(), &run("probe-2"))
        .await
        .expect("a probe Job");
    env.wait_condition("alice", "CheckoutHealthy", "the good probe", |c| {
        c.status == "True" && c.reason == "CheckoutWorks"
    })
    .await;
}

/// A Job of `cron_job` named `name`, as the cronjob controller would make it.
fn run_of(cron_job: &k8s_openapi::api::batch::v1::CronJob, name: &str) -> Job {
    Job {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.into()),
            labels: cron_job
                .spec
                .job_template
                .metadata
                .clone()
                .and_then(|m| m.labels),
            ..Default::default()
        },
        spec: cron_job.spec.job_template.spec.clone(),
        status: None,
    }
}
