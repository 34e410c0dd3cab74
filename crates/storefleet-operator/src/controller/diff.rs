//! Is a live object already what we would apply? (pure)
//!
//! Server-side apply of an unchanged object is still a write call; a Ready store's reconcile
//! must make none. So each child is compared first: converged when every field we set is in the
//! live object with the same value (the apiserver adds defaults and others may add fields; those
//! are not ours). Quantities compare by value, because the apiserver canonicalizes them
//! (`1000m` is stored as `1`). Ownership compares exactly: a Store's ownerReference present on
//! one side only is a difference (that is how `deletionPolicy: Retain` drops them).

use serde_json::Value;
use storefleet_types::names;

use crate::quantity;

/// True when applying `desired` would not change `live`.
pub fn converged(live: &Value, desired: &Value) -> bool {
    contains(live, desired) && store_owners(live) == store_owners(desired)
}

/// The ownerReferences that point at a Store.
fn store_owners(object: &Value) -> Vec<&Value> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter(|r| r["apiVersion"] == names::API_VERSION && r["kind"] == names::KIND)
                .map(|r| &r["uid"])
                .collect()
        })
        .unwrap_or_default()
}

/// `desired` is a subset of `live`: every key of every object in `desired` is in `live` with an
/// equal value; arrays match element by element.
pub fn contains(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => contains(lv, dv),
            None => is_empty(dv),
        }),
        (Value::Array(l), Value::Array(d)) => {
            l.len() == d.len() && l.iter().zip(d).all(|(lv, dv)| contains(lv, dv))
        }
        (Value::String(l), Value::String(d)) => l == d || same_quantity(l, d),
        (Value::Null, d) => is_empty(d),
        (l, d) => l == d,
    }
}

/// Values the apiserver drops when empty (Go's `omitempty`: null, {}, [], false, 0, "").
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
    }
}

fn same_quantity(a: &str, b: &str) -> bool {
    let numeric = |s: &str| s.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    numeric(a)
        && numeric(b)
        && matches!((quantity::parse(a), quantity::parse(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_foreign_fields_do_not_matter() {
        let desired =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 1}});
        let live = json!({
            "metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "extra": "y"}, "managedFields": []},
            "spec": {"replicas": 1, "revisionHistoryLimit": 10},
            "status": {"readyReplicas": 1},
        });
        assert!(converged(&live, &desired));
    }

    #[test]
    fn changed_or_missing_fields_do() {
        let desired = json!({"spec": {"replicas": 1, "template": {"image": "a:1"}}});
        assert!(!converged(
            &json!({"spec": {"replicas": 2, "template": {"image": "a:1"}}}),
            &desired
        ));
        assert!(!converged(
            &json!({"spec": {"replicas": 1, "template": {}}}),
            &desired
        ));
        assert!(!converged(
            &json!({"spec": {"replicas": 1, "template": {"image": "a:1"}, "x": [1]}}),
            &json!({"spec": {"x": [1, 2]}})
        ));
    }

    #[test]
    fn empty_desired_values_match_absent_ones() {
        assert!(converged(
            &json!({"spec": {}}),
            &json!({"spec": {"podSelector": {}}})
        ));
        assert!(converged(
            &json!({"spec": {}}),
            &json!({"spec": {"items": []}})
        ));
        assert!(!converged(
            &json!({"spec": {}}),
            &json!({"spec": {"podSelector": {"a": "b"}}})
        ));
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(converged(&json!({"cpu": "1"}), &json!({"cpu": "1000m"})));
        assert!(converged(
            &json!({"memory": "1536Mi"}),
            &json!({"memory": "1.5Gi"})
        ));
        assert!(!converged(
            &json!({"memory": "1Gi"}),
            &json!({"memory": "1G"})
        ));
        assert!(!converged(&json!({"name": "a1"}), &json!({"name": "a01"})));
    }

    #[test]
    fn store_ownership_must_match_exactly() {
        let owner = json!({"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "name": "a", "uid": "u1"});
        let owned = json!({"metadata": {"name": "x", "ownerReferences": [owner]}});
        let unowned = json!({"metadata": {"name": "x"}});
        assert!(converged(&owned, &owned));
        assert!(
            !converged(&owned, &unowned),
            "Retain must drop the reference"
        );
        assert!(
            !converged(&unowned, &owned),
            "a missing reference is restored"
        );
    }
}
