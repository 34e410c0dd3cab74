//! What users plug into their own tools (`config/`): the Argo CD health check (run through Lua
//! 5.4 against its upstream-format test cases; `control_plane.rs` runs it on statuses the
//! operator writes on a real apiserver), the Flux example, and the Prometheus alert rules (every metric they use exists).

use crate::argocd;

use argocd::{discover_actions, health_dir, lua_literal, root, run_action, run_action_hibernate};
use serde_json::Value;
use storefleet_operator::metrics::Metrics;

#[test]
fn lua_literals() {
    let v = serde_json::json!({"a": [1, "x\"y"], "b": null, "c": {"d": true}});
    assert_eq!(
        lua_literal(&v),
        r#"{["a"] = {1, "x\"y"}, ["c"] = {["d"] = true}}"#
    );
}

#[test]
fn argocd_health_checks_pass_their_upstream_test_cases() {
    for dir in argocd::health_dirs() {
        health_cases(&dir);
    }
}

fn health_cases(dir: &std::path::Path) {
    let cases: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("health_test.yaml")).expect("tests"),
    )
    .expect("yaml");
    let cases = cases["tests"].as_array().expect("tests list");
    assert!(cases.len() >= 6);
    for case in cases {
        let input = case["inputPath"].as_str().expect("inputPath");
        let object: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join(input)).expect("testdata"))
                .expect("yaml");
        let (status, message) = argocd::health_in(dir, &object);
        assert_eq!(
            status,
            case["healthStatus"]["status"].as_str().expect("status"),
            "{input}"
        );
        assert_eq!(
            message,
            case["healthStatus"]["message"].as_str().expect("message"),
            "{input}"
        );
    }
}

#[test]
fn argocd_resource_actions_pass_their_upstream_discovery_cases_and_set_their_annotation() {
    let dir = health_dir().join("actions");
    let cases: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("action_test.yaml")).expect("tests"),
    )
    .expect("yaml");
    let load = |input: &str| -> Value {
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join(input)).expect("testdata"))
            .expect("yaml")
    };
    let cases = cases["discoveryTests"].as_array().expect("discoveryTests");
    assert!(cases.len() >= 4);
    for case in cases {
        let input = case["inputPath"].as_str().expect("inputPath");
        let mut want: Vec<(String, bool)> = case["result"]
            .as_array()
            .expect("result")
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().expect("name").to_string(),
                    a["disabled"].as_bool().expect("disabled"),
                )
            })
            .collect();
        want.sort();
        assert_eq!(discover_actions(&load(input)), want, "{input}");
    }
    // Each action sets its annotation to the time (a new value each time it is run, the way
    // kubectl annotate does), keeping the others.
    let mut ready = load("testdata/ready-with-backups.yaml");
    ready["metadata"]["annotations"] = serde_json::json!({"team": "shop"});
    for (action, annotation) in [
        ("backup-now", "storefleet.io/backup-now"),
        ("drill-now", "storefleet.io/drill-now"),
        ("retry", "storefleet.io/retry"),
    ] {
        let annotations = run_action(&ready, action);
        let value = annotations
            .iter()
            .find(|(k, _)| k == annotation)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{action} sets {annotation}: {annotations:?}"));
        assert!(
            value.len() == 16
                && value.ends_with('Z')
                && value[..8].chars().all(|c| c.is_ascii_digit()),
            "{action}: a UTC time, {value}"
        );
        assert!(annotations.contains(&("team".into(), "shop".into())));
    }
    // Without any annotation yet.
    let bare = load("testdata/ready.yaml");
    assert_eq!(run_action(&bare, "backup-now").len(), 1);
    // Hibernate and wake write the spec (declarative, as git would).
    assert_eq!(run_action_hibernate(&bare, "hibernate"), "true");
    let asleep = load("testdata/hibernated.yaml");
    assert_eq!(run_action_hibernate(&asleep, "wake"), "false");
}

#[test]
fn flux_example_health_checks_stores() {
    let text = std::fs::read_to_string(root().join("config/flux/storefleet-stores.yaml"))
        .expect("flux example");
    let docs: Vec<Value> = text
        .split("\n---")
        .map(|d| serde_saphyr::from_str(d).expect("yaml"))
        .collect();
    let ks = docs
        .iter()
        .find(|d| d["kind"] == "Kustomization")
        .expect("Kustomization");
    let checks = ks["spec"]["healthChecks"].as_array().expect("healthChecks");
    assert!(
        checks
            .iter()
            .all(|c| c["apiVersion"] == "storefleet.io/v1alpha1" && c["kind"] == "Store")
    );
    let exprs = &ks["spec"]["healthCheckExprs"][0];
    // A StoreRollout follows the same status contract: the same expressions.
    let rollout = &ks["spec"]["healthCheckExprs"][1];
    assert_eq!(rollout["kind"], "StoreRollout");
    for which in ["inProgress", "current", "failed"] {
        assert_eq!(rollout[which], exprs[which], "{which}");
    }
    // Evaluated with a CEL interpreter, as Flux does, on the object's `metadata` and `status`.
    let eval = |which: &str, store: &Value| -> bool {
        let source = exprs[which].as_str().expect("expression");
        let program = cel::Program::compile(source).expect("compiles");
        let mut ctx = cel::Context::default();
        ctx.add_variable("metadata", store["metadata"].clone())
            .expect("metadata");
        ctx.add_variable("status", store["status"].clone())
            .expect("status");
        matches!(program.execute(&ctx), Ok(cel::Value::Bool(true)))
    };
    let store = |generation: i64, observed: Option<i64>, conditions: Value| {
        let mut status = serde_json::json!({"conditions": conditions});
        if let Some(g) = observed {
            status["observedGeneration"] = g.into();
        }
        serde_json::json!({"metadata": {"generation": generation}, "status": status})
    };
    let cond = |t: &str, s: &str| serde_json::json!({"type": t, "status": s});
    // (store, current, inProgress, failed)
    let cases = [
        (store(1, None, serde_json::json!([])), false, true, false),
        (
            store(1, Some(1), serde_json::json!([])),
            false,
            false,
            false,
        ),
        (
            store(
                1,
                Some(1),
                serde_json::json!([cond("Ready", "False"), cond("Reconciling", "True")]),
            ),
            false,
            true,
            false,
        ),
        (
            store(1, Some(1), serde_json::json!([cond("Ready", "True")])),
            true,
            false,
            false,
        ),
        (
            store(2, Some(1), serde_json::json!([cond("Ready", "True")])),
            false,
            true,
            false,
        ),
        (
            store(
                1,
                Some(1),
                serde_json::json!([cond("Ready", "False"), cond("Stalled", "True")]),
            ),
            false,
            false,
            true,
        ),
    ];
    for (i, (object, current, in_progress, failed)) in cases.iter().enumerate() {
        assert_eq!(eval("current", object), *current, "case {i}: current");
        assert_eq!(
            eval("inProgress", object),
            *in_progress,
            "case {i}: inProgress"
        );
        assert_eq!(eval("failed", object), *failed, "case {i}: failed");
    }
}

#[test]
fn alert_rules_use_metrics_the_operator_exports() {
    let text = std::fs::read_to_string(root().join("config/prometheus/storefleet-alerts.yaml"))
        .expect("rules");
    let rules: Value = serde_saphyr::from_str(&text).expect("yaml");
    let metrics = Metrics::default();
    metrics.reconcile_error("Apply");
    metrics.time_to_ready(std::time::Duration::from_secs(1));
    let proven = storefleet_types::BackupRecord {
        job: "drill-29000".into(),
        snapshot_time: Some("2027-01-15T08:00:00Z".into()),
        seconds: Some(40),
        ..storefleet_types::BackupRecord::default()
    };
    metrics.set_backups(
        "alice",
        Some(1_800_000_000),
        Some(1_800_000_000),
        false,
        [Some(&proven), Some(&proven)],
    );
    metrics.set_checkout("alice", Some(false));
    let exported = metrics.encode();
    let mut checked = 0;
    for group in rules["spec"]["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let expr = rule["expr"].as_str().expect("expr");
            assert!(rule["alert"].is_string() && rule["annotations"]["summary"].is_string());
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("storefleet_") {
                    assert!(
                        exported.contains(&format!("\n{word}"))
                            || exported.contains(&format!("\n{word}{{")),
                        "{word} is not exported"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 3, "the rules reference the operator's metrics");
}
