//! What the watches saw of each labelled child: its version (see [`version_of`]), and for the
//! kinds whose status decides a step, what that status says ([`Observed`]: a workload's step, a
//! Job's state). The memo compares the versions with what the last pass applied; the steps read
//! their Jobs' states here, and the sweep finds what a store no longer wants.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::controller::memory::applied::Trust;
use crate::controller::observe::{JobSeen, Observed, Step};

/// One child object: kind, namespace ("" for cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildKey {
    kind: String,
    namespace: String,
    name: String,
}

impl ChildKey {
    /// The key of an object.
    pub fn new(kind: &str, namespace: Option<&str>, name: Option<&str>) -> Self {
        Self {
            kind: kind.to_string(),
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.unwrap_or_default().to_string(),
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object's namespace ("" for cluster-scoped).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// What the watches know of an object's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// It exists with this uid.
    Uid(String),
    /// It was deleted.
    Gone,
    /// Nothing seen yet (the watch may not have listed it).
    Unknown,
}

/// What the watches record for a deleted child: never equal to a version the memo holds.
pub const DELETED: &str = "deleted";

/// Kinds whose status updates by other controllers are no change to us: the quota
/// controller's usage on a ResourceQuota and an ingress controller's address on an Ingress
/// (never read), and the status of StatefulSets and Deployments (read from their watch, which
/// keeps the step it shows: [`Seen::step`]).
fn status_is_not_a_change(kind: &str) -> bool {
    matches!(
        kind,
        "ResourceQuota" | "Ingress" | "StatefulSet" | "Deployment"
    )
}

/// What the memo compares for a child: its resourceVersion, or, for kinds whose status updates
/// are no change to us, a hash of its uid and of every managedFields entry outside the status
/// subresource. A status update then is no change, while anyone's write to the object itself (a
/// field changed or removed, a label, a `scale`, a re-creation) is one. Deletions are recorded as
/// [`DELETED`].
pub fn version_of(kind: &str, meta: &ObjectMeta) -> Option<String> {
    let resource_version = meta.resource_version.clone();
    let fields = meta.managed_fields.as_deref().unwrap_or_default();
    if !status_is_not_a_change(kind) || fields.is_empty() {
        return resource_version;
    }
    let mut hasher = DefaultHasher::new();
    meta.uid.hash(&mut hasher);
    for entry in fields
        .iter()
        .filter(|e| e.subresource.as_deref() != Some("status"))
    {
        entry.manager.hash(&mut hasher);
        entry.operation.hash(&mut hasher);
        entry.api_version.hash(&mut hasher);
        entry
            .time
            .as_ref()
            .map(|t| t.0.to_string())
            .hash(&mut hasher);
        entry
            .fields_v1
            .as_ref()
            .map(|f| serde_json::to_string(&f.0).unwrap_or_default())
            .hash(&mut hasher);
    }
    Some(format!("fields:{:016x}", hasher.finish()))
}

/// The last version (see [`version_of`]) the watches saw of each labelled child, and, for the
/// kinds whose status decides a step, what it says.
#[derive(Debug, Default)]
pub struct Seen {
    versions: Mutex<HashMap<ChildKey, String>>,
    observed: Mutex<HashMap<ChildKey, Observed>>,
    uids: Mutex<HashMap<ChildKey, String>>,
    trusts: Mutex<HashMap<ChildKey, Trust>>,
    /// The kinds watched, and those whose watch has listed every object once.
    kinds: Mutex<(HashSet<String>, HashSet<String>)>,
}

impl Seen {
    fn versions(&self) -> MutexGuard<'_, HashMap<ChildKey, String>> {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn observed(&self) -> MutexGuard<'_, HashMap<ChildKey, Observed>> {
        self.observed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn uids(&self) -> MutexGuard<'_, HashMap<ChildKey, String>> {
        self.uids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn trusts(&self) -> MutexGuard<'_, HashMap<ChildKey, Trust>> {
        self.trusts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn kinds(&self) -> MutexGuard<'_, (HashSet<String>, HashSet<String>)> {
        self.kinds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A watch of `kind` is starting.
    pub fn watching(&self, kind: &str) {
        self.kinds().0.insert(kind.to_string());
    }

    /// The watch of `kind` has listed every object once.
    pub fn listed(&self, kind: &str) {
        self.kinds().1.insert(kind.to_string());
    }

    /// Whether every watch has listed its objects once: until then, what the watches saw is not
    /// the whole picture, and no child is trusted on its own word ([`Seen::trust`]).
    pub fn complete(&self) -> bool {
        let kinds = self.kinds();
        kinds.0.is_subset(&kinds.1)
    }

    /// Records what a watch event's metadata says of our last apply of `key`.
    pub fn saw_trust(&self, key: ChildKey, trust: Trust) {
        self.trusts().insert(key, trust);
    }

    /// What the object `key` says of our last apply of it, with its version (see
    /// [`version_of`]): once every watch has listed, while it exists.
    pub fn trust(&self, key: &ChildKey) -> Option<(Trust, String)> {
        if !self.complete() {
            return None;
        }
        let version = self.get(key).filter(|v| v != DELETED)?;
        self.trusts().get(key).cloned().map(|t| (t, version))
    }

    /// Records the uid a watch event showed for `key`.
    pub fn saw_uid(&self, key: ChildKey, uid: Option<&str>) {
        match uid {
            Some(uid) => {
                self.uids().insert(key, uid.to_string());
            }
            None => {
                self.uids().remove(&key);
            }
        }
    }

    /// What the watches know of the object `key`'s identity.
    pub fn identity(&self, key: &ChildKey) -> Identity {
        match self.get(key).as_deref() {
            Some(DELETED) => Identity::Gone,
            Some(_) => self
                .uids()
                .get(key)
                .map_or(Identity::Unknown, |uid| Identity::Uid(uid.clone())),
            None => Identity::Unknown,
        }
    }

    /// Records what an observed child's status showed in a watch event.
    pub fn saw_observed(&self, key: ChildKey, observed: Observed) {
        self.observed().insert(key, observed);
    }

    /// The step the watch last showed for the workload `key`, if the object is still the one at
    /// `version` (status updates aside).
    pub fn step(&self, key: &ChildKey, version: &str) -> Option<Step> {
        if self.get(key).as_deref() != Some(version) {
            return None;
        }
        match self.observed().get(key) {
            Some(Observed::Step(step)) => Some(step.clone()),
            _ => None,
        }
    }

    /// What the watch last showed of the Job `key`, while it exists.
    pub fn job(&self, key: &ChildKey) -> Option<JobSeen> {
        if !self.contains(key) {
            return None;
        }
        match self.observed().get(key) {
            Some(Observed::Job(job)) => Some(job.clone()),
            _ => None,
        }
    }

    /// The existing Jobs of `namespace` whose names start with `prefix`, with what their watch
    /// showed (Unknown state: seen, state not yet).
    pub fn jobs(&self, namespace: &str, prefix: &str) -> Vec<(String, Option<JobSeen>)> {
        let mut jobs: Vec<(String, Option<JobSeen>)> = self
            .names("Job", namespace)
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .map(|n| {
                let key = ChildKey::new("Job", Some(namespace), Some(&n));
                let job = self.job(&key);
                (n, job)
            })
            .collect();
        jobs.sort_by(|a, b| a.0.cmp(&b.0));
        jobs
    }

    /// Records a watch event.
    pub fn saw(&self, key: ChildKey, resource_version: Option<&str>) {
        if resource_version.is_none_or(|v| v == DELETED) {
            self.observed().remove(&key);
            self.uids().remove(&key);
            self.trusts().remove(&key);
        }
        let mut seen = self.versions();
        match resource_version {
            Some(rv) => {
                seen.insert(key, rv.to_string());
            }
            None => {
                seen.remove(&key);
            }
        }
    }

    /// What the watches last recorded for `key` (see [`version_of`]).
    pub fn get(&self, key: &ChildKey) -> Option<String> {
        self.versions().get(key).cloned()
    }

    /// Whether the watches saw the object `key` (and no delete since, as far as we know).
    pub fn contains(&self, key: &ChildKey) -> bool {
        self.get(key).is_some_and(|v| v != DELETED)
    }

    /// Whether the watches saw any object of `kind` in `namespace` that still exists.
    pub fn any(&self, kind: &str, namespace: &str) -> bool {
        self.versions()
            .iter()
            .any(|(k, v)| k.kind == kind && k.namespace == namespace && v != DELETED)
    }

    /// The names of the existing objects of `kind` in `namespace` the watches saw.
    pub fn names(&self, kind: &str, namespace: &str) -> Vec<String> {
        self.versions()
            .iter()
            .filter(|(k, v)| k.kind == kind && k.namespace == namespace && *v != DELETED)
            .map(|(k, _)| k.name.clone())
            .collect()
    }

    /// Forgets everything in `namespace` and the namespace itself (a deleted store).
    pub fn forget_namespace(&self, namespace: &str) {
        self.observed().retain(|k, _| k.namespace != namespace);
        self.uids().retain(|k, _| k.namespace != namespace);
        let kept = |k: &ChildKey| {
            k.namespace != namespace && !(k.kind == "Namespace" && k.name == namespace)
        };
        self.trusts().retain(|k, _| kept(k));
        self.versions().retain(|k, _| kept(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    fn entry(
        manager: &str,
        subresource: Option<&str>,
        fields: serde_json::Value,
    ) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(
                if subresource.is_some() {
                    "Update"
                } else {
                    "Apply"
                }
                .into(),
            ),
            api_version: Some("v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(fields)),
            subresource: subresource.map(str::to_string),
            time: None,
        }
    }

    fn meta(rv: &str, entries: Vec<ManagedFieldsEntry>) -> ObjectMeta {
        ObjectMeta {
            resource_version: Some(rv.into()),
            uid: Some("u1".into()),
            managed_fields: Some(entries),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_status_update_is_no_change_for_noise_kinds_only() {
        let ours = entry(
            "storefleet-operator",
            None,
            serde_json::json!({"f:spec": {"f:hard": {}}}),
        );
        let usage = |n: u32| {
            entry(
                "kube-controller-manager",
                Some("status"),
                serde_json::json!({"f:status": {"f:used": {format!("f:pods{n}"): {}}}}),
            )
        };
        let before = meta("10", vec![ours.clone(), usage(1)]);
        let status_only = meta("11", vec![ours.clone(), usage(2)]);
        assert_eq!(
            version_of("ResourceQuota", &before),
            version_of("ResourceQuota", &status_only)
        );
        // Someone else's write to the object itself is a change.
        let edited = meta(
            "12",
            vec![
                ours.clone(),
                usage(2),
                entry(
                    "kubectl-edit",
                    None,
                    serde_json::json!({"f:spec": {"f:hard": {"f:pods": {}}}}),
                ),
            ],
        );
        assert_ne!(
            version_of("ResourceQuota", &before),
            version_of("ResourceQuota", &edited)
        );
        // A re-created object (another uid) is a change.
        let mut recreated = before.clone();
        recreated.uid = Some("u2".into());
        assert_ne!(
            version_of("ResourceQuota", &before),
            version_of("ResourceQuota", &recreated)
        );
        // So do the workloads, whose status comes from their watch; a `scale` is a change.
        assert_eq!(
            version_of("Deployment", &before),
            version_of("Deployment", &status_only)
        );
        let scaled = meta(
            "13",
            vec![
                ours.clone(),
                usage(1),
                entry(
                    "kubectl",
                    Some("scale"),
                    serde_json::json!({"f:spec": {"f:replicas": {}}}),
                ),
            ],
        );
        assert_ne!(
            version_of("Deployment", &before),
            version_of("Deployment", &scaled)
        );
        // Other kinds compare resourceVersions.
        assert_eq!(version_of("Service", &status_only).as_deref(), Some("11"));
        assert_ne!(
            version_of("Service", &before),
            version_of("Service", &status_only)
        );
    }

    #[test]
    fn a_child_is_trusted_on_its_word_only_once_every_watch_listed_and_while_it_exists() {
        let seen = Seen::default();
        let key = ChildKey::new("Service", Some("store-a"), Some("storefront"));
        seen.watching("Service");
        seen.watching("Namespace");
        seen.saw_trust(key.clone(), Trust::default());
        seen.saw(key.clone(), Some("7"));
        seen.listed("Service");
        assert!(!seen.complete());
        assert_eq!(seen.trust(&key), None, "the Namespace watch has not listed");
        seen.listed("Namespace");
        assert!(seen.complete());
        assert_eq!(seen.trust(&key), Some((Trust::default(), "7".to_string())));
        seen.saw(key.clone(), Some(DELETED));
        assert_eq!(seen.trust(&key), None, "deleted");
        seen.saw_trust(key.clone(), Trust::default());
        seen.saw(key.clone(), Some("9"));
        seen.forget_namespace("store-a");
        assert_eq!(seen.trust(&key), None, "forgotten with its namespace");
    }

    #[test]
    fn a_watched_step_holds_only_for_the_version_it_was_seen_at() {
        let seen = Seen::default();
        let key = ChildKey::new("Deployment", Some("store-a"), Some("storefront"));
        seen.saw_observed(key.clone(), Observed::Step(Step::Ready));
        seen.saw(key.clone(), Some("fields:1"));
        assert_eq!(seen.step(&key, "fields:1"), Some(Step::Ready));
        assert_eq!(seen.step(&key, "fields:2"), None, "another object");
        seen.saw(key.clone(), Some(DELETED));
        assert_eq!(seen.step(&key, DELETED), None, "a deletion forgets it");
    }
}
