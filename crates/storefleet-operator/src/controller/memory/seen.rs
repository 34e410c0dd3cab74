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

/// One child object: kind, namespace ("" for cluster-scoped), name. One is kept for every child
/// of every store (and again in its store's memo), so the kind, one of a few, is not a copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildKey {
    kind: &'static str,
    namespace: String,
    name: String,
}

/// The one copy of a kind's name (the kinds are few: the children's, and what tests make up).
fn interned(kind: &str) -> &'static str {
    static KINDS: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut kinds = KINDS.lock().unwrap_or_else(PoisonError::into_inner);
    let kinds = kinds.get_or_insert_with(HashSet::new);
    if let Some(known) = kinds.get(kind) {
        return known;
    }
    let new: &'static str = Box::leak(kind.to_string().into_boxed_str());
    kinds.insert(new);
    new
}

impl ChildKey {
    /// The key of an object.
    pub fn new(kind: &str, namespace: Option<&str>, name: Option<&str>) -> Self {
        Self {
            kind: interned(kind),
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.unwrap_or_default().to_string(),
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> &str {
        self.kind
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
        // A CronJob's status moves at every run it schedules (`active`, `lastScheduleTime`,
        // `lastSuccessfulTime`): found by the rollout bench, a patch of `cron` per run and pass.
        "ResourceQuota" | "Ingress" | "StatefulSet" | "Deployment" | "CronJob"
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

/// What the watches recorded of one child (all in one entry: one key per child, one lookup).
#[derive(Debug, Default)]
struct Entry {
    /// Its version (see [`version_of`]), or [`DELETED`]; None: nothing recorded yet.
    version: Option<Box<str>>,
    uid: Option<Box<str>>,
    trust: Option<Trust>,
    /// Boxed: only workloads and Jobs have one, and the map's every slot would hold its size.
    observed: Option<Box<Observed>>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.version.is_none()
            && self.uid.is_none()
            && self.trust.is_none()
            && self.observed.is_none()
    }

    /// Whether the object exists as far as the watches know.
    fn exists(&self) -> bool {
        self.version.as_deref().is_some_and(|v| v != DELETED)
    }
}

/// What a watch event showed of an existing object (see [`Seen::saw_object`]).
#[derive(Debug)]
pub struct SeenObject {
    /// Its version (see [`version_of`]); None: no version to compare.
    pub version: Option<String>,
    pub uid: Option<String>,
    pub trust: Trust,
    /// What its status says, for the kinds whose status decides a step.
    pub observed: Option<Observed>,
}

/// The last version (see [`version_of`]) the watches saw of each labelled child, and, for the
/// kinds whose status decides a step, what it says.
#[derive(Debug, Default)]
pub struct Seen {
    entries: Mutex<HashMap<ChildKey, Entry>>,
    /// The kinds watched, and those whose watch has listed every object once.
    kinds: Mutex<(HashSet<String>, HashSet<String>)>,
}

impl Seen {
    fn entries(&self) -> MutexGuard<'_, HashMap<ChildKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn kinds(&self) -> MutexGuard<'_, (HashSet<String>, HashSet<String>)> {
        self.kinds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the entry of `key` (created empty), dropping it when nothing is left in it.
    fn update(&self, key: ChildKey, change: impl FnOnce(&mut Entry)) {
        use std::collections::hash_map::Entry as Slot;
        match self.entries().entry(key) {
            Slot::Occupied(mut slot) => {
                change(slot.get_mut());
                if slot.get().is_empty() {
                    slot.remove();
                }
            }
            Slot::Vacant(slot) => {
                let mut entry = Entry::default();
                change(&mut entry);
                if !entry.is_empty() {
                    slot.insert(entry);
                }
            }
        }
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

    /// Records a watch event of an existing object: everything it showed at once.
    pub fn saw_object(&self, key: ChildKey, object: SeenObject) {
        self.update(key, |e| {
            e.version = object.version.map(String::into_boxed_str);
            e.uid = object.uid.map(String::into_boxed_str);
            e.trust = Some(object.trust);
            if let Some(observed) = object.observed {
                e.observed = Some(Box::new(observed));
            }
        });
    }

    /// Records what a watch event's metadata says of our last apply of `key` (tests; the
    /// watches record whole events: [`Seen::saw_object`]).
    #[cfg(test)]
    pub fn saw_trust(&self, key: ChildKey, trust: Trust) {
        self.update(key, |e| e.trust = Some(trust));
    }

    /// What the object `key` says of our last apply of it, with its version (see
    /// [`version_of`]): once every watch has listed, while it exists.
    pub fn trust(&self, key: &ChildKey) -> Option<(Trust, String)> {
        if !self.complete() {
            return None;
        }
        let entries = self.entries();
        let entry = entries.get(key).filter(|e| e.exists())?;
        let version = entry.version.as_deref()?.to_string();
        entry.trust.clone().map(|t| (t, version))
    }

    /// What the watches know of the object `key`'s identity.
    pub fn identity(&self, key: &ChildKey) -> Identity {
        let entries = self.entries();
        let Some(entry) = entries.get(key) else {
            return Identity::Unknown;
        };
        match entry.version.as_deref() {
            Some(DELETED) => Identity::Gone,
            Some(_) => entry
                .uid
                .as_deref()
                .map_or(Identity::Unknown, |uid| Identity::Uid(uid.to_string())),
            None => Identity::Unknown,
        }
    }

    /// Records what an observed child's status showed in a watch event (tests; the watches
    /// record whole events: [`Seen::saw_object`]).
    #[cfg(test)]
    pub fn saw_observed(&self, key: ChildKey, observed: Observed) {
        self.update(key, |e| e.observed = Some(Box::new(observed)));
    }

    /// The step the watch last showed for the workload `key`, if the object is still the one at
    /// `version` (status updates aside).
    pub fn step(&self, key: &ChildKey, version: &str) -> Option<Step> {
        let entries = self.entries();
        let entry = entries
            .get(key)
            .filter(|e| e.version.as_deref() == Some(version))?;
        match entry.observed.as_deref() {
            Some(Observed::Step(step)) => Some(step.clone()),
            _ => None,
        }
    }

    /// What the watch last showed of the Job `key`, while it exists.
    pub fn job(&self, key: &ChildKey) -> Option<JobSeen> {
        let entries = self.entries();
        match entries.get(key).filter(|e| e.exists())?.observed.as_deref() {
            Some(Observed::Job(job)) => Some(job.clone()),
            _ => None,
        }
    }

    /// The existing Jobs of `namespace` whose names start with `prefix`, with what their watch
    /// showed (Unknown state: seen, state not yet).
    pub fn jobs(&self, namespace: &str, prefix: &str) -> Vec<(String, Option<JobSeen>)> {
        let mut jobs: Vec<(String, Option<JobSeen>)> = self
            .entries()
            .iter()
            .filter(|(k, e)| {
                k.kind == "Job"
                    && k.namespace == namespace
                    && k.name.starts_with(prefix)
                    && e.exists()
            })
            .map(|(k, e)| {
                let job = match e.observed.as_deref() {
                    Some(Observed::Job(job)) => Some(job.clone()),
                    _ => None,
                };
                (k.name.clone(), job)
            })
            .collect();
        jobs.sort_by(|a, b| a.0.cmp(&b.0));
        jobs
    }

    /// Records a watch event: a version, [`DELETED`] (which forgets all but that), or None
    /// (forgets the object).
    pub fn saw(&self, key: ChildKey, resource_version: Option<&str>) {
        self.update(key, |e| match resource_version {
            Some(rv) if rv != DELETED => e.version = Some(rv.into()),
            gone => {
                *e = Entry {
                    version: gone.map(Into::into),
                    ..Entry::default()
                }
            }
        });
    }

    /// What the watches last recorded for `key` (see [`version_of`]).
    pub fn get(&self, key: &ChildKey) -> Option<String> {
        self.entries()
            .get(key)
            .and_then(|e| e.version.as_deref().map(str::to_string))
    }

    /// Whether the watches saw the object `key` (and no delete since, as far as we know).
    pub fn contains(&self, key: &ChildKey) -> bool {
        self.entries().get(key).is_some_and(Entry::exists)
    }

    /// Whether the watches saw any object of `kind` in `namespace` that still exists.
    pub fn any(&self, kind: &str, namespace: &str) -> bool {
        self.entries()
            .iter()
            .any(|(k, e)| k.kind == kind && k.namespace == namespace && e.exists())
    }

    /// The names of the existing objects of `kind` in `namespace` the watches saw.
    pub fn names(&self, kind: &str, namespace: &str) -> Vec<String> {
        self.entries()
            .iter()
            .filter(|(k, e)| k.kind == kind && k.namespace == namespace && e.exists())
            .map(|(k, _)| k.name.clone())
            .collect()
    }

    /// Forgets everything in `namespace` and the namespace itself (a deleted store).
    pub fn forget_namespace(&self, namespace: &str) {
        self.entries().retain(|k, _| {
            k.namespace != namespace && !(k.kind == "Namespace" && k.name == namespace)
        });
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
    fn one_entry_holds_what_an_event_showed_and_a_deletion_keeps_only_that() {
        let seen = Seen::default();
        let key = ChildKey::new("Job", Some("store-a"), Some("setup-1"));
        let job = JobSeen {
            state: crate::controller::observe::JobState::Succeeded,
            owned: true,
            deleting: false,
            finished_at: None,
        };
        seen.saw_object(
            key.clone(),
            SeenObject {
                version: Some("3".into()),
                uid: Some("u3".into()),
                trust: Trust::default(),
                observed: Some(Observed::Job(job.clone())),
            },
        );
        assert_eq!(seen.identity(&key), Identity::Uid("u3".into()));
        assert_eq!(seen.job(&key), Some(job.clone()));
        assert_eq!(
            seen.jobs("store-a", "setup-"),
            [("setup-1".into(), Some(job))]
        );
        assert_eq!(seen.names("Job", "store-a"), ["setup-1"]);
        seen.saw(key.clone(), Some(DELETED));
        assert_eq!(seen.identity(&key), Identity::Gone);
        assert_eq!(seen.job(&key), None);
        assert!(seen.names("Job", "store-a").is_empty());
        seen.saw(key.clone(), None);
        assert_eq!(seen.identity(&key), Identity::Unknown);
        assert!(
            seen.entries().is_empty(),
            "nothing kept of a forgotten object"
        );
    }

    #[test]
    fn keys_share_one_copy_of_each_kind() {
        let a = ChildKey::new(&String::from("Service"), Some("store-a"), Some("x"));
        let b = ChildKey::new("Service", Some("store-b"), Some("x"));
        assert!(std::ptr::eq(a.kind(), b.kind()));
        assert_eq!(a.kind(), "Service");
        assert_ne!(ChildKey::new("Secret", Some("store-a"), Some("x")), a);
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
