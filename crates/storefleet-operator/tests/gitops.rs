//! What users plug into their own tools (`config/`): the Argo CD health check (run through Lua
//! 5.4 against its upstream-format test cases, and against statuses the real reconciler
//! writes), the Flux example, and the Prometheus alert rules (every metric they use exists).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::controller::fake::{self, FakeCluster};
use storefleet_operator::controller::reconcile::reconcile;
use storefleet_operator::metrics::Metrics;
use storefleet_types::{Engine, Phase, Store};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn health_dir() -> PathBuf {
    root().join("config/argocd/storefleet.io/Store")
}

/// A JSON value as a Lua table constructor.
fn lua_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(a) => format!(
            "{{{}}}",
            a.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!(
                    "[{}] = {}",
                    lua_literal(&Value::String(k.clone())),
                    lua_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs health.lua on an object; returns (status, message).
fn health(object: &Value) -> (String, String) {
    let script = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
        lua_literal(object),
        lua_literal(&Value::String(
            health_dir().join("health.lua").display().to_string()
        ))
    );
    let out = Command::new("lua5.4")
        .args(["-e", &script])
        .output()
        .unwrap_or_else(|e| {
            panic!("lua5.4 is needed for this test (make test-deps installs it): {e}")
        });
    assert!(
        out.status.success(),
        "lua failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, message) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), message.to_string())
}

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

/// The health check reads the statuses the reconciler really writes.
#[test]
fn argocd_health_check_reads_real_statuses() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let fake = FakeCluster::new();
        let (ctx, _clock) = fake::context(&fake, OperatorConfig::default());
        let step = |name: &str| {
            let store = fake.store(name).expect("store");
            let ctx = ctx.clone();
            async move { reconcile(Arc::new(store), ctx).await.expect("reconcile") }
        };
        let as_json =
            |name: &str| serde_json::to_value(fake.store(name).expect("store")).expect("json");

        fake.put_store(Store::test());
        step("alice").await;
        assert_eq!(health(&as_json("alice")).0, "Progressing");
        fake.mark_database_ready("store-alice");
        fake.mark_storefront_available("store-alice");
        step("alice").await;
        fake.complete_job("store-alice").expect("job");
        step("alice").await;
        assert_eq!(
            fake.store("alice")
                .and_then(|s| s.status)
                .and_then(|s| s.phase),
            Some(Phase::Ready)
        );
        assert_eq!(
            health(&as_json("alice")),
            ("Healthy".into(), "Store is ready".into())
        );

        fake.put_store(Store::test().with_name("bob").with_engine(Engine::Medusa));
        step("bob").await;
        let (status, message) = health(&as_json("bob"));
        assert_eq!(
            (status.as_str(), message.as_str()),
            ("Degraded", "engine medusa is not available yet")
        );
    });
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
    assert!(
        exprs["current"]
            .as_str()
            .is_some_and(|e| e.contains("Ready"))
    );
    assert!(
        exprs["failed"]
            .as_str()
            .is_some_and(|e| e.contains("Stalled"))
    );
}

#[test]
fn alert_rules_use_metrics_the_operator_exports() {
    let text = std::fs::read_to_string(root().join("config/prometheus/storefleet-alerts.yaml"))
        .expect("rules");
    let rules: Value = serde_saphyr::from_str(&text).expect("yaml");
    let metrics = Metrics::default();
    metrics.reconcile_error("Transient");
    metrics.time_to_ready(std::time::Duration::from_secs(1));
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
