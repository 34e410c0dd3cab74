//! The Helm chart (`charts/storefleet`): lint and template with default, local and prod values,
//! every rendered object checked against its Kubernetes type (no unknown field), restricted
//! pod security, the operator config it renders accepted by the operator, the CRD in step with
//! `crd/`, and RBAC that grants exactly what the code uses: for the operator, what its binary
//! called on a real apiserver (audit log); for the API, its RBAC table.
//!
//! helm comes from `make test-deps` (`.tools/bin/helm`), or `$HELM`.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use storefleet_envtest::JobPods;
use storefleet_operator::config::OperatorConfig;
use storefleet_types::{DeletionPolicy, Phase, Store};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn helm() -> PathBuf {
    let path = std::env::var("HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".tools/bin/helm"));
    assert!(
        path.exists(),
        "helm not found at {}: run `make test-deps` (or set HELM)",
        path.display()
    );
    path
}

const VALUES: [&str; 3] = ["", "values-local.yaml", "values-prod.yaml"];

fn helm_run(args: &[&str]) -> String {
    let out = Command::new(helm())
        .args(args)
        .current_dir(root())
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `helm template` with a values file, as JSON documents.
fn render(values: &str) -> Vec<Value> {
    let mut args = vec![
        "template",
        "storefleet",
        "charts/storefleet",
        "--namespace",
        "storefleet-system",
    ];
    let file = format!("charts/storefleet/{values}");
    if !values.is_empty() {
        args.extend(["-f", &file]);
    }
    let text = helm_run(&args);
    text.split("\n---")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|d| {
            serde_saphyr::from_str::<Value>(d)
                .unwrap_or_else(|e| panic!("rendered YAML does not parse ({e}):\n{d}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn kind(v: &Value) -> &str {
    v["kind"].as_str().unwrap_or_default()
}

fn find<'a>(docs: &'a [Value], k: &str, name_suffix: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            kind(d) == k
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with(name_suffix))
        })
        .unwrap_or_else(|| panic!("no {k} named *{name_suffix}"))
}

/// Paths present in `original` but lost by a typed round trip: fields the type does not know.
fn unknown_fields(original: &Value, roundtrip: &Value, path: &str, out: &mut Vec<String>) {
    match (original, roundtrip) {
        (Value::Object(o), Value::Object(r)) => {
            for (k, v) in o {
                match r.get(k) {
                    Some(rv) => unknown_fields(v, rv, &format!("{path}.{k}"), out),
                    None if v.is_null() => {}
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Value::Array(o), Value::Array(r)) => {
            for (i, (a, b)) in o.iter().zip(r).enumerate() {
                unknown_fields(a, b, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn check_typed<T: serde::de::DeserializeOwned + serde::Serialize>(
    doc: &Value,
) -> Result<(), String> {
    let typed: T = serde_json::from_value(doc.clone()).map_err(|e| format!("{e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut unknown = vec![];
    unknown_fields(doc, &back, "", &mut unknown);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("unknown fields {unknown:?}"))
    }
}

#[test]
fn chart_lints_with_every_values_file() {
    for values in VALUES {
        let mut args = vec!["lint", "charts/storefleet", "--strict"];
        let file = format!("charts/storefleet/{values}");
        if !values.is_empty() {
            args.extend(["-f", &file]);
        }
        helm_run(&args);
    }
}

#[test]
fn every_rendered_object_matches_its_kubernetes_type() {
    use k8s_openapi::api::{
        apps::v1 as apps, core::v1 as core, networking::v1 as net, policy::v1 as policy,
        rbac::v1 as rbac,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    for values in VALUES {
        for doc in render(values) {
            let name = format!("{values}: {} {}", kind(&doc), doc["metadata"]["name"]);
            let result = match kind(&doc) {
                "ServiceAccount" => check_typed::<core::ServiceAccount>(&doc),
                "ConfigMap" => check_typed::<core::ConfigMap>(&doc),
                "Secret" => check_typed::<core::Secret>(&doc),
                "Service" => check_typed::<core::Service>(&doc),
                "Deployment" => check_typed::<apps::Deployment>(&doc),
                "ClusterRole" => check_typed::<rbac::ClusterRole>(&doc),
                "ClusterRoleBinding" => check_typed::<rbac::ClusterRoleBinding>(&doc),
                "Role" => check_typed::<rbac::Role>(&doc),
                "RoleBinding" => check_typed::<rbac::RoleBinding>(&doc),
                "ValidatingAdmissionPolicy" => check_typed::<
                    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
                >(&doc),
                "ValidatingAdmissionPolicyBinding" => check_typed::<
                    k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
                >(&doc),
                "NetworkPolicy" => check_typed::<net::NetworkPolicy>(&doc),
                "Ingress" => check_typed::<net::Ingress>(&doc),
                "HTTPRoute" => check_typed::<storefleet_operator::gateway_api::HTTPRoute>(&doc),
                "PodDisruptionBudget" => check_typed::<policy::PodDisruptionBudget>(&doc),
                "CustomResourceDefinition" => check_typed::<CustomResourceDefinition>(&doc),
                "ServiceMonitor" => {
                    // Not a core type: the fields Prometheus Operator requires.
                    let ok = doc["apiVersion"] == "monitoring.coreos.com/v1"
                        && doc["spec"]["selector"]["matchLabels"].is_object()
                        && doc["spec"]["endpoints"][0]["port"] == "http";
                    if ok {
                        Ok(())
                    } else {
                        Err("incomplete ServiceMonitor".into())
                    }
                }
                other => Err(format!("unexpected kind {other}")),
            };
            if let Err(e) = result {
                panic!("{name}: {e}");
            }
            let labels = &doc["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/part-of"], "storefleet", "{name}");
        }
    }
}

#[test]
fn pods_are_restricted_with_resources_and_probes() {
    for values in VALUES {
        let docs = render(values);
        for d in docs.iter().filter(|d| kind(d) == "Deployment") {
            let name = d["metadata"]["name"].as_str().unwrap_or_default();
            let pod = &d["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{name}"
            );
            for c in pod["containers"].as_array().expect("containers") {
                let sc = &c["securityContext"];
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
                assert_eq!(
                    sc["capabilities"]["drop"],
                    serde_json::json!(["ALL"]),
                    "{name}"
                );
                assert!(
                    c["resources"]["limits"]["memory"].is_string()
                        && c["resources"]["requests"]["cpu"].is_string(),
                    "{name}"
                );
                assert!(
                    c["readinessProbe"]["httpGet"]["path"] == "/readyz"
                        && c["livenessProbe"]["httpGet"]["path"] == "/healthz",
                    "{name}"
                );
            }
        }
    }
    let prod = render("values-prod.yaml");
    let operator = find(&prod, "Deployment", "-operator");
    assert_eq!(operator["spec"]["replicas"], 2);
    assert!(
        operator["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .expect("args")
            .iter()
            .any(|a| a == "--leader-election=true")
    );
    assert!(prod.iter().any(|d| kind(d) == "ServiceMonitor"));
    assert!(prod.iter().any(|d| kind(d) == "PodDisruptionBudget"));
    assert!(
        !prod.iter().any(|d| kind(d) == "Secret"),
        "prod uses an existing tokens Secret"
    );
    let local = render("values-local.yaml");
    assert_eq!(
        find(&local, "Deployment", "-operator")["spec"]["replicas"],
        1
    );
    // The demo serves the dashboard through the Gateway, as the stores.
    let route = find(&local, "HTTPRoute", "-api");
    assert_eq!(route["spec"]["parentRefs"][0]["name"], "shops");
    assert_eq!(
        route["spec"]["rules"][0]["backendRefs"][0]["name"],
        find(&local, "Service", "-api")["metadata"]["name"]
    );
    assert!(!local.iter().any(|d| kind(d) == "Ingress"));
    assert!(prod.iter().any(|d| kind(d) == "Ingress"));
}

#[test]
fn the_rendered_operator_config_is_accepted_by_the_operator() {
    for values in VALUES {
        let docs = render(values);
        let cm = find(&docs, "ConfigMap", "-operator-config");
        let text = cm["data"]["config.yaml"].as_str().expect("config.yaml");
        let config = OperatorConfig::from_yaml(text).unwrap_or_else(|e| panic!("{values}: {e}"));
        config.check().unwrap_or_else(|e| panic!("{values}: {e}"));
    }
    let prod = render("values-prod.yaml");
    let cm = find(&prod, "ConfigMap", "-operator-config");
    let config = OperatorConfig::from_yaml(cm["data"]["config.yaml"].as_str().expect("text"))
        .expect("valid");
    assert_eq!(
        config.ingress.default_cluster_issuer.as_deref(),
        Some("letsencrypt-prod")
    );
    assert_eq!(config.storage_class_name.as_deref(), Some("fast-ssd"));
    // Medusa stores run the chart's own storefleet-medusa image unless the config names one.
    let default = render("");
    let cm = find(&default, "ConfigMap", "-operator-config");
    let config = OperatorConfig::from_yaml(cm["data"]["config.yaml"].as_str().expect("text"))
        .expect("valid");
    assert_eq!(
        config.images.medusa.reference(None),
        "ghcr.io/storefleet/storefleet-medusa:0.1.0"
    );
    let local = render("values-local.yaml");
    let cm = find(&local, "ConfigMap", "-operator-config");
    let config = OperatorConfig::from_yaml(cm["data"]["config.yaml"].as_str().expect("text"))
        .expect("valid");
    assert_eq!(
        config.images.medusa.reference(None),
        "localhost/storefleet/storefleet-medusa:dev",
        "make demo loads this image into kind"
    );
    // No Store can be given the dashboard's host (a store named `storefleet` under localtest.me).
    assert_eq!(config.reserved_hosts, ["storefleet.localtest.me"]);
    let store = storefleet_types::Store::test().with_name("storefleet");
    let refused = storefleet_operator::validate::validate(&store, &config).expect_err("reserved");
    assert_eq!(refused.reason(), "HostReserved");
    let prod = render("values-prod.yaml");
    let cm = find(&prod, "ConfigMap", "-operator-config");
    let config = OperatorConfig::from_yaml(cm["data"]["config.yaml"].as_str().expect("text"))
        .expect("valid");
    assert_eq!(config.reserved_hosts, ["storefleet.example.com"]);
    assert_eq!(
        config.images.wordpress,
        OperatorConfig::default().images.wordpress,
        "the other images keep their defaults"
    );
}

#[test]
fn the_chart_crd_is_the_committed_crd_and_is_kept() {
    let committed =
        std::fs::read_to_string(root().join("crd/storefleet.io_stores.yaml")).expect("crd");
    let copy =
        std::fs::read_to_string(root().join("charts/storefleet/files/storefleet.io_stores.yaml"))
            .expect("chart copy");
    assert_eq!(
        committed, copy,
        "charts/storefleet/files/ is out of date: run `make crd`"
    );
    let docs = render("");
    let rendered = find(&docs, "CustomResourceDefinition", "stores.storefleet.io");
    let committed: Value = serde_saphyr::from_str(&committed).expect("crd parses");
    assert_eq!(
        numbers_as_f64(&rendered["spec"]),
        numbers_as_f64(&committed["spec"]),
        "helm changed the CRD while templating it"
    );
    assert_eq!(
        rendered["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let no_keep = helm_run(&[
        "template",
        "storefleet",
        "charts/storefleet",
        "--set",
        "crds.keep=false",
    ]);
    assert!(!no_keep.contains("helm.sh/resource-policy"));
    let no_crd = helm_run(&[
        "template",
        "storefleet",
        "charts/storefleet",
        "--set",
        "crds.install=false",
    ]);
    assert!(!no_crd.contains("kind: CustomResourceDefinition"));
}

/// YAML tools disagree on `50` vs `50.0`; compare numbers by value.
fn numbers_as_f64(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_f64).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The chart's grants for a ServiceAccount, as permissions (ClusterRoles and Roles it is bound to).
fn granted(
    docs: &[Value],
    role_suffix: &str,
) -> BTreeSet<(String, String, String, Option<String>, bool)> {
    let mut out = BTreeSet::new();
    for d in docs
        .iter()
        .filter(|d| matches!(kind(d), "ClusterRole" | "Role"))
    {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        if !(name.ends_with(role_suffix)
            || name.ends_with(&format!("{role_suffix}-leader-election")))
        {
            continue;
        }
        let namespaced = kind(d) == "Role";
        for rule in d["rules"].as_array().expect("rules") {
            let list = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            };
            let names = list("resourceNames");
            for g in list("apiGroups") {
                for r in list("resources") {
                    for v in list("verbs") {
                        assert!(g != "*" && r != "*" && v != "*", "wildcard in {name}");
                        if names.is_empty() {
                            out.insert((g.clone(), r.clone(), v.clone(), None, namespaced));
                        }
                        for n in &names {
                            out.insert((
                                g.clone(),
                                r.clone(),
                                v.clone(),
                                Some(n.clone()),
                                namespaced,
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Permissions the operator needs that an audit log cannot show: `update` on Leases is how
/// kube-lease-manager takes over an expired Lease held by another replica (a path this test
/// does not reach); `update` on stores/finalizers is an authorization check made inside the
/// OwnerReferencesPermissionEnforcement admission plugin (enabled in the test apiserver, so a
/// chart without it fails every apply of an owned child), not a request of its own. The same
/// plugin checks `delete` on every object whose ownerReferences change (a Retain store's
/// children): see [`owner_reference_changes`].
const UNEXERCISED: &[(&str, &str, &str, bool)] = &[
    ("coordination.k8s.io", "leases", "update", true),
    ("storefleet.io", "stores/finalizers", "update", false),
    // Read only when a volume is to grow (control_plane::a_larger_plan_grows_the_volumes_in_place).
    ("", "persistentvolumeclaims", "get", false),
    ("apps", "statefulsets", "get", false),
    ("storage.k8s.io", "storageclasses", "get", false),
    // Written only where the operator has a backup target.
    ("batch", "cronjobs", "create", false),
    ("batch", "cronjobs", "patch", false),
    ("batch", "cronjobs", "delete", false),
    // A finished setup's, backup's or drill's pod is read for its report (status.versions,
    // status.backup): once a setup succeeds, which not every run of this test reaches.
    ("", "pods", "list", false),
    // An Event's series: the same event (type, reason, action, note) again within 6 minutes,
    // which this run need not bring (exercised in stores::access on the real apiserver).
    ("events.k8s.io", "events", "patch", true),
];

type Grant = (String, String, String, Option<String>, bool);

/// `delete` on every namespaced child kind the operator patched (it changes their
/// ownerReferences under Retain; OwnerReferencesPermissionEnforcement checks `delete`).
fn owner_reference_changes(used: &BTreeSet<Grant>) -> Vec<Grant> {
    used.iter()
        .filter(|(g, r, v, _, _)| {
            v == "patch"
                && !r.contains('/')
                && g != "storefleet.io"
                && r != "leases"
                && r != "events"
        })
        .map(|(g, r, _, n, ns)| (g.clone(), r.clone(), "delete".to_string(), n.clone(), *ns))
        .collect()
}

/// The operator binary (built with every target, so two rustls providers are linked) runs
/// against a real apiserver as the chart's ServiceAccount, with leader election, through full
/// lifecycles: Delete with a failed setup and a retry, Delete switched to Retain while running,
/// Retain deleted at once. The permissions it used (from the apiserver's audit log) must be
/// exactly the ones the chart grants, and nothing may be forbidden.
#[tokio::test]
async fn operator_rbac_is_exactly_what_the_binary_uses_on_a_real_apiserver() {
    let Some(env) = common::Env::prepare(
        "operator_rbac_is_exactly_what_the_binary_uses_on_a_real_apiserver",
        OperatorConfig::default(),
    )
    .await
    else {
        return;
    };
    let config = env.cp.dir().join("operator.yaml");
    // As the chart configures it: the API's ServiceAccount is granted each store's admin login.
    std::fs::write(
        &config,
        format!(
            "setup:\n  backoffLimit: 0\napiServiceAccount:\n  namespace: {}\n  name: storefleet-api\n",
            common::RELEASE_NAMESPACE
        ),
    )
    .expect("config");
    let port = storefleet_envtest::ports::free_port().expect("free port");
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(env.cp.dir().join("operator.log")).expect("log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_storefleet-operator"))
        .args(["run", "--leader-election=true", "--log-format=text"])
        .arg(format!("--listen={addr}"))
        .arg(format!("--lease-namespace={}", common::RELEASE_NAMESPACE))
        .arg("--identity=operator-0")
        .arg(format!("--config={}", config.display()))
        .env("KUBECONFIG", &env.operator_kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the operator binary");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(child);
    let operator_log =
        || std::fs::read_to_string(env.cp.dir().join("operator.log")).unwrap_or_default();

    let kubelet = env.cp.kubelet();
    let run = async {
        // alice: Delete; the setup fails once, a retry succeeds.
        kubelet.jobs("store-alice", JobPods::Fail);
        env.create(Store::test()).await;
        env.wait_phase("alice", Phase::Failed).await;
        kubelet.jobs("store-alice", JobPods::Succeed);
        env.retry("alice", "1").await;
        env.wait_phase("alice", Phase::Ready).await;
        // bob: switched to Retain while Ready (create-only children are un-owned), deleted.
        env.create(Store::test().with_name("bob")).await;
        env.wait_phase("bob", Phase::Ready).await;
        env.patch(
            "bob",
            serde_json::json!({"spec": {"deletionPolicy": "Retain"}}),
        )
        .await;
        env.wait_store("bob", "Retain observed", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.observed_generation)
                == Some(2)
        })
        .await;
        env.delete("bob").await;
        env.wait_gone("bob").await;
        // carol: Retain, deleted while provisioning.
        kubelet.hold("store-carol", "database");
        env.create(
            Store::test()
                .with_name("carol")
                .with_deletion_policy(DeletionPolicy::Retain),
        )
        .await;
        env.wait_phase("carol", Phase::Provisioning).await;
        env.delete("carol").await;
        env.wait_gone("carol").await;
        // dave: a Medusa store (its migration Job is read until it succeeds).
        env.create(
            Store::test()
                .with_name("dave")
                .with_engine(storefleet_types::Engine::Medusa),
        )
        .await;
        env.wait_phase("dave", Phase::Ready).await;
        env.delete("dave").await;
        env.wait_gone("dave").await;
        // A rollout that covers no store: read, and its status written.
        let rollouts: kube::Api<storefleet_types::StoreRollout> = kube::Api::all(env.admin.clone());
        let rollout = serde_json::from_value(serde_json::json!({
            "apiVersion": "storefleet.io/v1alpha1", "kind": "StoreRollout",
            "metadata": {"name": "nobody"},
            "spec": {"target": {"redis": "7.4.6"}, "selector": {"matchLabels": {"tier": "none"}}},
        }))
        .expect("rollout");
        rollouts
            .create(&kube::api::PostParams::default(), &rollout)
            .await
            .expect("create the rollout");
        common::eventually("the rollout Completed", || async {
            let r = rollouts.get("nobody").await.ok()?;
            (r.status?.phase? == storefleet_types::RolloutPhase::Completed).then_some(())
        })
        .await;
        env.delete("alice").await;
        env.wait_gone("alice").await;
    };
    tokio::select! {
        () = run => {}
        () = async { loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if let Ok(Some(status)) = child.0.try_wait() {
                panic!("the operator exited ({status}):\n{}", operator_log());
            }
        } } => {}
    }
    let readyz = tokio::net::TcpStream::connect(addr).await;
    assert!(readyz.is_ok(), "the health server listens");
    assert!(
        !operator_log().contains('\u{1b}'),
        "plain logs when not a terminal:\n{}",
        operator_log()
    );
    assert!(
        !operator_log().contains("CryptoProvider"),
        "{}",
        operator_log()
    );

    let requests = env.operator_requests();
    let forbidden: Vec<_> = requests.iter().filter(|r| r.code == 403).collect();
    assert!(forbidden.is_empty(), "forbidden requests: {forbidden:#?}");
    let events: Vec<_> = requests.iter().filter(|r| r.resource == "events").collect();
    assert!(!events.is_empty(), "the operator published events");
    for r in events {
        assert_eq!(r.namespace.as_deref(), Some("default"), "{r:?}");
    }
    let used: BTreeSet<(String, String, String, Option<String>, bool)> = env
        .cp
        .permissions_used(&common::operator_user())
        .expect("audit log")
        .into_iter()
        .map(|(g, r, v)| {
            // Granted by Roles: Leases in the release namespace, Events in `default`.
            let namespaced = r == "leases" || r == "events";
            (g, r, v, None, namespaced)
        })
        .chain(UNEXERCISED.iter().map(|(g, r, v, namespaced)| {
            (
                g.to_string(),
                r.to_string(),
                v.to_string(),
                None,
                *namespaced,
            )
        }))
        .collect();
    let used: BTreeSet<_> = used
        .iter()
        .cloned()
        .chain(owner_reference_changes(&used))
        .collect();
    let granted = granted(&render(""), "-operator");
    let missing: Vec<_> = used.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "the chart does not grant what the operator used: {missing:#?}"
    );
    assert!(
        extra.is_empty(),
        "the chart grants what the operator never used: {extra:#?}"
    );
    // Fencing: a leader whose renewals fail (here: its Lease permissions are revoked, as a
    // partition would) stops within the lease duration instead of reconciling on.
    let bindings: kube::Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        kube::Api::namespaced(env.admin.clone(), common::RELEASE_NAMESPACE);
    bindings
        .delete(
            "storefleet-operator-leader-election",
            &kube::api::DeleteParams::default(),
        )
        .await
        .expect("revoke the Lease permissions");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.0.try_wait() {
            assert!(!status.success(), "exits with an error: {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leader kept running without a valid Lease:\n{}",
            operator_log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        operator_log().contains("stopping as leader"),
        "{}",
        operator_log()
    );
}

#[test]
fn api_rbac_is_exactly_what_the_code_calls() {
    use storefleet_api::backend::kube::{RBAC, RBAC_IN_EVENTS_NAMESPACE};
    let entries = |table: &[(&str, &str, &str, Option<&str>)], namespaced: bool| {
        table
            .iter()
            .map(|(g, r, v, n)| {
                (
                    g.to_string(),
                    r.to_string(),
                    v.to_string(),
                    n.map(String::from),
                    namespaced,
                )
            })
            .collect::<Vec<_>>()
    };
    let required: BTreeSet<_> = entries(RBAC, false)
        .into_iter()
        .chain(entries(RBAC_IN_EVENTS_NAMESPACE, true))
        .collect();
    // The Role is in the namespace the events are in.
    let docs = render("");
    let role = docs
        .iter()
        .find(|d| {
            kind(d) == "Role"
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-api"))
        })
        .expect("the API's Role");
    assert_eq!(
        role["metadata"]["namespace"],
        storefleet_api::backend::kube::EVENTS_NAMESPACE
    );
    let granted = granted(&render(""), "-api");
    assert_eq!(granted, required);
    // What it calls in store namespaces is exactly what the operator's Role there grants.
    let config = OperatorConfig {
        api_service_account: Some(storefleet_operator::config::ServiceAccountRef {
            namespace: "storefleet-system".into(),
            name: "storefleet-api".into(),
        }),
        ..OperatorConfig::default()
    };
    let store = storefleet_operator::validate::validate(&Store::test(), &config).expect("valid");
    let access = storefleet_operator::desired::build(&store)
        .api_access
        .expect("granted");
    let mut in_stores = BTreeSet::new();
    for rule in access.role.rules.iter().flatten() {
        for g in rule.api_groups.iter().flatten() {
            for r in rule.resources.iter().flatten() {
                for v in &rule.verbs {
                    for n in rule.resource_names.iter().flatten() {
                        in_stores.insert((g.clone(), r.clone(), v.clone(), Some(n.clone()), true));
                    }
                }
            }
        }
    }
    let expected: BTreeSet<_> = entries(
        storefleet_api::backend::kube::RBAC_IN_STORE_NAMESPACES,
        true,
    )
    .into_iter()
    .collect();
    assert_eq!(in_stores, expected);
    // The chart names the API's ServiceAccount to the operator.
    let docs = render("");
    let cm = find(&docs, "ConfigMap", "-operator-config");
    let rendered = OperatorConfig::from_yaml(cm["data"]["config.yaml"].as_str().expect("text"))
        .expect("valid");
    assert_eq!(
        rendered.api_service_account.map(|sa| sa.name),
        Some("storefleet-api".to_string())
    );
}

/// A PodDisruptionBudget must let a node drain evict one pod: none for a single replica, and
/// never `minAvailable` equal to the replicas.
#[test]
fn disruption_budgets_never_block_a_drain() {
    let mut seen = 0;
    for values in ["", "values-local.yaml", "values-prod.yaml"] {
        let docs = render(values);
        for pdb in docs.iter().filter(|d| kind(d) == "PodDisruptionBudget") {
            seen += 1;
            let labels = &pdb["spec"]["selector"]["matchLabels"];
            let deployment = docs
                .iter()
                .find(|d| {
                    kind(d) == "Deployment"
                        && labels.as_object().is_some_and(|l| {
                            l.iter()
                                .all(|(k, v)| &d["spec"]["template"]["metadata"]["labels"][k] == v)
                        })
                })
                .unwrap_or_else(|| panic!("{values}: the budget selects a Deployment"));
            let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
            let evictable = match (
                pdb["spec"]["maxUnavailable"].as_i64(),
                pdb["spec"]["minAvailable"].as_i64(),
            ) {
                (Some(max), _) => max,
                (None, Some(min)) => replicas - min,
                _ => 0,
            };
            assert!(
                replicas > 1 && evictable >= 1,
                "{values}: {pdb} with {replicas} replica(s) blocks a drain"
            );
        }
    }
    assert!(
        seen >= 2,
        "prod values render budgets for the operator and the API"
    );
}

/// A missing Lease namespace (the usual start-up problem outside the chart) is one actionable
/// line and a non-zero exit, not a raw API error.
#[tokio::test]
async fn a_missing_lease_namespace_is_one_clear_line_on_a_real_apiserver() {
    let Some(env) = common::Env::prepare(
        "a_missing_lease_namespace_is_one_clear_line_on_a_real_apiserver",
        OperatorConfig::default(),
    )
    .await
    else {
        return;
    };
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_storefleet-operator"))
            .args(["run", "--leader-election=true", "--log-format=text"])
            .args([
                "--listen=127.0.0.1:0",
                "--lease-namespace=no-such-namespace",
            ])
            .env("KUBECONFIG", &env.operator_kubeconfig)
            .env("RUST_LOG", "warn")
            .output(),
    )
    .await
    .expect("exits by itself")
    .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no-such-namespace for the leader-election Lease does not exist")
            && stderr.contains("--leader-election=false"),
        "{stderr}"
    );
    assert!(!stderr.contains("ApiError"), "{stderr}");
}

/// Every child kind the controller knows (`controller::children`, the one list) may be watched,
/// listed and applied by the chart's operator role, cluster-wide: a new child kind without its
/// RBAC fails here, before any cluster sees it. Gateway API kinds are granted exactly when the
/// values configure Gateway routing (values-local.yaml does, the defaults do not).
#[test]
fn the_operator_may_watch_and_apply_every_child_kind() {
    let plain = granted(&render(""), "-operator");
    let with_gateway = granted(&render("values-local.yaml"), "-operator");
    for (resource, gateway_api) in storefleet_operator::controller::children::api_resources() {
        let granted = if gateway_api {
            let grant = (
                resource.group.clone(),
                resource.plural.clone(),
                "watch".to_string(),
                None,
                false,
            );
            assert!(
                !plain.contains(&grant),
                "{} is granted without Gateway routing",
                resource.plural
            );
            &with_gateway
        } else {
            &plain
        };
        for verb in ["list", "watch", "patch"] {
            let grant = (
                resource.group.clone(),
                resource.plural.clone(),
                verb.to_string(),
                None,
                false,
            );
            assert!(
                granted.contains(&grant),
                "the chart does not grant {verb} on {} ({})",
                resource.plural,
                resource.kind
            );
        }
    }
}
