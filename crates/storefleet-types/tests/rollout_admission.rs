//! The StoreRollout CRD's admission rules, as the apiserver applies them: the OpenAPI schema
//! through a JSON-schema validator, then the CEL rules through kube's client-side evaluator.
//! (The control-plane tests create rollouts on a real apiserver too.)

use kube::CustomResourceExt;
use serde_json::{Value, json};
use storefleet_types::StoreRollout;

mod support;

fn admit(object: &Value, old: Option<&Value>) -> Result<(), Vec<String>> {
    support::admit(&support::schema(&StoreRollout::crd()), object, old)
}

fn rollout(spec: Value) -> Value {
    json!({
        "apiVersion": "storefleet.io/v1alpha1",
        "kind": "StoreRollout",
        "metadata": {"name": "wp7"},
        "spec": spec,
    })
}

fn target() -> Value {
    json!({"wordpress": "7.0.4-php8.3-apache"})
}

#[track_caller]
fn rejected(object: &Value, old: Option<&Value>, needle: &str) {
    match admit(object, old) {
        Ok(()) => panic!("expected rejection mentioning {needle:?} for {object}"),
        Err(errors) => assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected an error mentioning {needle:?}, got {errors:#?}"
        ),
    }
}

#[test]
fn good_rollouts_are_accepted() {
    for spec in [
        json!({"target": target()}),
        json!({"target": target(), "waves": [{"stores": 1}, {"percent": 10}, {"percent": 100}],
               "pauseSeconds": 600, "maxFailures": 2, "maxConcurrent": 10, "paused": true,
               "selector": {"engine": "woocommerce", "plan": "large", "matchLabels": {"tier": "gold"}}}),
        json!({"target": {"medusa": "0.2.0", "redis": "7.4.6"}}),
    ] {
        let object = rollout(spec);
        if let Err(e) = admit(&object, None) {
            panic!("{object} refused: {e:#?}");
        }
    }
    // The example in examples/ is one of them.
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rollout.yaml"),
    )
    .expect("examples/rollout.yaml");
    assert!(example.contains("kind: StoreRollout") && example.contains("wordpress: 7.0.4"));
}

#[test]
fn a_rollout_names_a_version_and_sane_waves() {
    rejected(&rollout(json!({"target": {}})), None, "names no version");
    rejected(&rollout(json!({})), None, "target");
    for bad in [
        json!({"stores": 0}),
        json!({"percent": 150}),
        json!({"percent": 0}),
        json!({"stores": "ten"}),
        json!({"stores": -1}),
        json!({}),
    ] {
        let object = rollout(json!({"target": target(), "waves": [bad]}));
        assert!(admit(&object, None).is_err(), "{object} accepted");
    }
    rejected(
        &rollout(json!({"target": target(), "waves": [{"stores": 1, "percent": 10}]})),
        None,
        "either stores",
    );
    rejected(&rollout(json!({"target": target(), "waves": []})), None, "");
    rejected(
        &rollout(json!({"target": target(), "maxConcurrent": 0})),
        None,
        "maxConcurrent",
    );
    rejected(
        &rollout(json!({"target": {"wordpress": "7.0.4 latest"}})),
        None,
        "wordpress",
    );
}

#[test]
fn the_target_and_the_selector_are_fixed_but_the_pace_is_not() {
    let old = rollout(json!({"target": target(), "selector": {"engine": "woocommerce"}}));
    let moved =
        rollout(json!({"target": {"wordpress": "7.1.0"}, "selector": {"engine": "woocommerce"}}));
    rejected(&moved, Some(&old), "target is fixed");
    let wider = rollout(json!({"target": target(), "selector": {}}));
    rejected(&wider, Some(&old), "selector is fixed");
    let slower = rollout(
        json!({"target": target(), "selector": {"engine": "woocommerce"},
                                "maxConcurrent": 1, "pauseSeconds": 3600, "paused": true}),
    );
    if let Err(e) = admit(&slower, Some(&old)) {
        panic!("a change of pace refused: {e:#?}");
    }
}
