//! What users plug into their own tools (`config/`): the Argo CD health check (run through Lua
//! 5.4 against its upstream-format test cases; `control_plane.rs` runs it on statuses the
//! operator writes on a real apiserver), the Flux example, and the Prometheus alert rules (every metric they use exists).

use crate::argocd;

use argocd::{health, health_dir, lua_literal, root};
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
fn argocd_health_check_passes_its_upstream_test_cases() {
    let cases: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(health_dir().join("health_test.yaml")).expect("tests"),
    )
    .expect("yaml");
    let cases = cases["tests"].as_array().expect("tests list");
    assert!(cases.len() >= 6);
    for case in cases {
        let input = case["inputPath"].as_str().expect("inputPath");
        let object: Value = serde_saphyr::from_str(
            &std::fs::read_to_string(health_dir().join(input)).expect("testdata"),
        )
        .expect("yaml");
        let (status, message) = health(&object);
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
    metrics.set_backups("alice", Some(1_800_000_000), Some(1_800_000_000), false);
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
