//! What a child itself says of our last server-side apply of it, so that a memo that knows
//! nothing (a restarted operator, a pass after a spec change) can trust it without applying it
//! again ([`Trust`]).
//!
//! Every object we apply carries [`APPLIED_ANNOTATION`](names::APPLIED_ANNOTATION): a hash of the object as sent (without
//! the annotation), stable across processes ([`hash_of`]). A child is as we left it when its
//! annotation is the hash of what we would apply now and no other field manager owns a field we
//! set (its managedFields outside the status subresource): an edit by `kubectl edit`, `kubectl
//! apply` or `scale` moves the fields it changed to its own manager, and that child is applied
//! again. Fields others set that we do not (the Deployment controller's revision annotation, a
//! claim's binding) are no change. A field someone removed without taking it (no manager left)
//! is not seen here; the full pass every `MEMO_TTL` applies everything and puts it back.
//!
//! Create-only Secrets are never re-applied: one is as we left it when it exists and is owned by
//! the Stores the deletion policy says.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use serde::Serialize;
use serde_json::Value;
use storefleet_types::names;

/// The hash of `object` as applied (its JSON), as carried in [`names::APPLIED_ANNOTATION`]: SHA-256,
/// its first 128 bits in hex. Stable across processes and Rust versions (unlike
/// `DefaultHasher`), and one-way: the backup repository Secret we apply carries it too, as a
/// chart's `checksum/secret` annotation would.
pub fn hash_of(object: &Value) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, object.to_string().as_bytes());
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `object` as sent by a server-side apply: with [`names::APPLIED_ANNOTATION`] set to its hash.
pub fn stamped<K: Resource + Clone + Serialize>(object: &K) -> K {
    let mut sent = object.clone();
    if let Ok(json) = serde_json::to_value(object) {
        sent.meta_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert(names::APPLIED_ANNOTATION.into(), hash_of(&json));
    }
    sent
}

/// What a child's metadata says of our last apply of it, as a watch saw it. Kept for every
/// child of every store, so kept small: a fieldsV1 tree is held as its leaf paths
/// ([`leaf_paths`]), not as JSON maps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trust {
    /// The hash our last apply stamped on it.
    applied: Option<Box<str>>,
    /// The uids of the Stores owning it, sorted.
    store_owners: Box<[Box<str>]>,
    /// The fields other managers own outside the status subresource: every path from the
    /// root to a leaf of their fieldsV1 trees, its keys joined by [`PATH_SEPARATOR`].
    foreign: Box<[Box<str>]>,
}

/// Joins the keys of a fieldsV1 path: a line break, which no key holds (`f:` keys are field
/// names, label and annotation keys; `k:` and `v:` keys are JSON, whose strings escape it).
const PATH_SEPARATOR: char = '\n';

impl Trust {
    /// What `meta` says (from a watch event). The foreign fields are read only from an object
    /// that carries our hash: nothing else can be trusted as applied anyway, and an object made
    /// by another controller from our template (a CronJob's Job) has every field of it owned by
    /// that controller: at 1,000 stores, those paths were half the operator's heap.
    pub fn of(meta: &ObjectMeta) -> Self {
        let applied: Option<Box<str>> = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(names::APPLIED_ANNOTATION))
            .map(|h| h.as_str().into());
        let mut foreign = Vec::new();
        for entry in meta
            .managed_fields
            .iter()
            .flatten()
            .filter(|_| applied.is_some())
            .filter(|e| e.manager.as_deref() != Some(names::FIELD_MANAGER))
            .filter(|e| e.subresource.as_deref() != Some("status"))
        {
            if let Some(fields) = &entry.fields_v1 {
                leaf_paths(&fields.0, &mut String::new(), &mut foreign);
            }
        }
        foreign.sort();
        foreign.dedup();
        Self {
            applied,
            store_owners: store_owners(meta.owner_references.as_deref()),
            foreign: foreign.into(),
        }
    }

    /// Whether the child is what applying `desired` (JSON, unstamped) would make it.
    pub fn holds_applied(&self, desired: &Value) -> bool {
        self.applied.as_deref() == Some(hash_of(desired).as_str())
            && !self.foreign.iter().any(|path| overlaps(path, desired))
    }

    /// Whether a create-only child is owned by the Stores `desired` names.
    pub fn holds_owners(&self, desired: &ObjectMeta) -> bool {
        self.store_owners == store_owners(desired.owner_references.as_deref())
    }
}

fn store_owners(refs: Option<&[OwnerReference]>) -> Box<[Box<str>]> {
    let mut uids: Vec<Box<str>> = refs
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == names::KIND && r.api_version == names::API_VERSION)
        .map(|r| r.uid.as_str().into())
        .collect();
    uids.sort();
    uids.into()
}

/// Every path from the root of a fieldsV1 tree to one of its leaves (an empty map, or no map),
/// its keys joined by [`PATH_SEPARATOR`] after `prefix`.
fn leaf_paths(fields: &Value, prefix: &mut String, out: &mut Vec<Box<str>>) {
    let Some(map) = fields.as_object().filter(|m| !m.is_empty()) else {
        if !prefix.is_empty() {
            out.push(prefix.as_str().into());
        }
        return;
    };
    for (key, sub) in map {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(PATH_SEPARATOR);
        }
        prefix.push_str(key);
        leaf_paths(sub, prefix, out);
        prefix.truncate(len);
    }
}

/// Whether a manager owning the leaf `path` (see [`leaf_paths`]) owns anything `desired` sets.
/// Map fields (`f:`) are followed; list items (`k:`, `v:`, `i:`) under a list we set count as
/// ours (conservative: the child is applied again); owning a map's existence (`.`) is no value.
fn overlaps(path: &str, desired: &Value) -> bool {
    let mut value = desired;
    let mut keys = path.split(PATH_SEPARATOR).peekable();
    while let Some(key) = keys.next() {
        let Some(name) = key.strip_prefix("f:") else {
            return key != ".";
        };
        match value.get(name) {
            None | Some(Value::Null) => return false,
            Some(inner @ Value::Object(_)) if keys.peek().is_some() => value = inner,
            Some(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    use serde_json::json;

    fn entry(manager: &str, subresource: Option<&str>, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some("Update".into()),
            fields_v1: Some(FieldsV1(fields)),
            subresource: subresource.map(str::to_string),
            ..ManagedFieldsEntry::default()
        }
    }

    fn desired() -> Value {
        json!({
            "metadata": {"name": "storefront", "labels": {"app": "shop"}, "annotations": {"a": "b"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "wp"}]}}}
        })
    }

    fn live(entries: Vec<ManagedFieldsEntry>, applied: &str) -> ObjectMeta {
        ObjectMeta {
            annotations: Some(
                [(names::APPLIED_ANNOTATION.to_string(), applied.to_string())].into(),
            ),
            managed_fields: Some(entries),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn the_hash_is_sha256_of_the_json_and_the_stamp_carries_it() {
        // SHA-256("{}") = 44136fa3 55b3678a 1146ad16 f7e8649e 94fb4fc2 1fe77e83 10c060f6 1caaff8a
        assert_eq!(hash_of(&json!({})), "44136fa355b3678a1146ad16f7e8649e");
        let cm = k8s_openapi::api::core::v1::ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                ..ObjectMeta::default()
            },
            ..Default::default()
        };
        let stamp = stamped(&cm);
        let expected = hash_of(&serde_json::to_value(&cm).expect("json"));
        assert_eq!(
            stamp
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(names::APPLIED_ANNOTATION)),
            Some(&expected)
        );
        assert_ne!(
            expected,
            hash_of(&serde_json::to_value(&stamp).expect("json"))
        );
    }

    #[test]
    fn a_child_is_trusted_only_with_our_hash_and_no_field_of_ours_taken() {
        let ours = entry(
            names::FIELD_MANAGER,
            None,
            json!({"f:spec": {"f:replicas": {}}}),
        );
        let hash = hash_of(&desired());
        assert!(Trust::of(&live(vec![ours.clone()], &hash)).holds_applied(&desired()));
        // Another spec (or none applied by us).
        assert!(!Trust::of(&live(vec![ours.clone()], "0000")).holds_applied(&desired()));
        assert!(!Trust::default().holds_applied(&desired()));
        // Status and fields we do not set are no change.
        let status = entry(
            "kube-controller-manager",
            Some("status"),
            json!({"f:status": {}}),
        );
        let revision = entry(
            "kube-controller-manager",
            None,
            json!({"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}),
        );
        // Another manager's key in a map we set is not ours.
        assert!(
            Trust::of(&live(vec![ours.clone(), status, revision], &hash)).holds_applied(&desired())
        );
        // `kubectl scale` took replicas; `kubectl edit` took a label or a container.
        for taken in [
            json!({"f:spec": {"f:replicas": {}}}),
            json!({"f:metadata": {"f:labels": {"f:app": {}}}}),
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"wp\"}": {"f:image": {}}}}}}}),
        ] {
            let edit = entry("kubectl-edit", None, taken.clone());
            assert!(
                !Trust::of(&live(vec![ours.clone(), edit], &hash)).holds_applied(&desired()),
                "{taken}"
            );
        }
    }

    #[test]
    fn an_object_without_our_hash_keeps_no_foreign_fields() {
        let job_controller = entry(
            "kube-controller-manager",
            None,
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"wp\"}": {"f:image": {}}}}}}}),
        );
        let mut made_by_cron = live(vec![job_controller.clone()], "");
        made_by_cron.annotations = None;
        let trust = Trust::of(&made_by_cron);
        assert!(trust.foreign.is_empty());
        assert!(!trust.holds_applied(&desired()));
        // With our hash, the same entry is kept (and takes a field of ours).
        let stamped = Trust::of(&live(vec![job_controller], &hash_of(&desired())));
        assert_eq!(stamped.foreign.len(), 1);
        assert!(!stamped.holds_applied(&desired()));
    }

    #[test]
    fn a_fields_tree_is_kept_as_its_leaf_paths_with_the_same_answers() {
        let fields = json!({
            "f:metadata": {"f:annotations": {".": {}, "f:x": {}}, "f:labels": {}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"wp\"}": {".": {}}}}}}
        });
        let mut paths = Vec::new();
        leaf_paths(&fields, &mut String::new(), &mut paths);
        let paths: Vec<&str> = paths.iter().map(|p| &**p).collect();
        assert_eq!(
            paths,
            [
                "f:metadata\nf:annotations\n.",
                "f:metadata\nf:annotations\nf:x",
                "f:metadata\nf:labels",
                "f:spec\nf:template\nf:spec\nf:containers\nk:{\"name\":\"wp\"}\n."
            ]
        );
        let overlapping = |path: &str| overlaps(path, &desired());
        // A map's existence, or a key we do not set, is not ours.
        assert!(!overlapping("f:metadata\nf:annotations\n."));
        assert!(!overlapping("f:metadata\nf:annotations\nf:x"));
        assert!(!overlapping("f:status\nf:replicas"));
        // A map we set owned as a leaf, a scalar, a list we set: ours.
        assert!(overlapping("f:metadata\nf:labels"));
        assert!(overlapping("f:metadata\nf:annotations\nf:a"));
        assert!(overlapping("f:spec\nf:replicas\nf:deeper"));
        assert!(overlapping(paths[3]));
        // A list item key under a map we set.
        assert!(overlapping("f:metadata\nk:odd"));
    }

    #[test]
    fn a_create_only_child_is_trusted_with_the_owners_asked() {
        let owner = |uid: &str| OwnerReference {
            api_version: names::API_VERSION.into(),
            kind: names::KIND.into(),
            name: "alice".into(),
            uid: uid.into(),
            ..OwnerReference::default()
        };
        let other = OwnerReference {
            kind: "Other".into(),
            ..owner("x")
        };
        let with = |refs: Vec<OwnerReference>| ObjectMeta {
            owner_references: Some(refs),
            ..ObjectMeta::default()
        };
        let live = Trust::of(&with(vec![owner("u1"), other]));
        assert!(live.holds_owners(&with(vec![owner("u1")])));
        assert!(!live.holds_owners(&with(vec![])), "retained: un-owned");
        assert!(!Trust::of(&with(vec![])).holds_owners(&with(vec![owner("u1")])));
    }
}
