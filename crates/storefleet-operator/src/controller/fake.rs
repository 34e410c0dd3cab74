//! An in-memory apiserver for tests and the write-count bench.
//!
//! It keeps objects as JSON, applies like server-side apply does for a single field manager
//! (the object becomes what was applied; `status` and server-set metadata stay), counts every
//! write, records events, plays garbage collector when a Store goes away, and lets a test play
//! kubelet and the Job controller (`mark_*`) or inject failures (`fail_next`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use storefleet_types::names::{self, child, labels as keys};
use storefleet_types::{Store, StoreStatus};

use super::cluster::{Cluster, ClusterError, Created, Deleted, Kind, ObjRef, StoreEvent};

/// One write call, as counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `apply`, `create`, `delete`, `patch-owners`, `add-finalizer`, `remove-finalizer`, `patch-status`.
    pub op: &'static str,
    /// What was written.
    pub target: String,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<ObjRef, Value>,
    stores: BTreeMap<String, Store>,
    writes: Vec<Write>,
    reads: usize,
    calls: Vec<(&'static str, Kind)>,
    events: Vec<(String, StoreEvent)>,
    failures: Vec<(&'static str, ClusterError)>,
    uid: u64,
}

/// The in-memory cluster. Cheap to clone (shared state).
#[derive(Debug, Clone, Default)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

impl FakeCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates (or replaces the spec and metadata of) a Store, as `kubectl apply` would.
    pub fn put_store(&self, mut store: Store) {
        let mut s = self.lock();
        let name = store.metadata.name.clone().unwrap_or_default();
        let existing = s.stores.get(&name).cloned();
        s.uid += 1;
        let uid = format!("00000000-0000-4000-8000-{:012}", s.uid);
        match existing {
            Some(old) => {
                let spec_changed = old.spec != store.spec;
                store.metadata.uid = old.metadata.uid.clone();
                store.metadata.creation_timestamp = old.metadata.creation_timestamp.clone();
                store.metadata.finalizers = old.metadata.finalizers.clone();
                store.metadata.deletion_timestamp = old.metadata.deletion_timestamp.clone();
                store.metadata.generation =
                    Some(old.metadata.generation.unwrap_or(1) + i64::from(spec_changed));
                store.status = old.status.clone();
            }
            None => {
                store.metadata.uid = Some(uid);
                store.metadata.generation = Some(1);
                store.metadata.creation_timestamp = Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH),
                );
                store.status = None;
            }
        }
        s.stores.insert(name, store);
    }

    /// The Store as the apiserver has it now.
    pub fn store(&self, name: &str) -> Option<Store> {
        self.lock().stores.get(name).cloned()
    }

    /// Sets an annotation on a Store (no generation change), as `kubectl annotate` would.
    pub fn annotate_store(&self, name: &str, key: &str, value: &str) {
        if let Some(store) = self.lock().stores.get_mut(name) {
            store
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(key.into(), value.into());
        }
    }

    /// `kubectl delete store`: sets the deletionTimestamp, or removes it at once when it has no
    /// finalizers (then garbage collection runs).
    pub fn delete_store(&self, name: &str) {
        let mut s = self.lock();
        let Some(store) = s.stores.get_mut(name) else {
            return;
        };
        if store.metadata.finalizers.iter().flatten().next().is_none() {
            let uid = store.metadata.uid.clone().unwrap_or_default();
            s.stores.remove(name);
            collect_garbage(&mut s, &uid);
        } else if store.metadata.deletion_timestamp.is_none() {
            store.metadata.deletion_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH),
            );
        }
    }

    /// Adds a finalizer of someone else to a Store (e.g. `foregroundDeletion`).
    pub fn add_store_finalizer(&self, name: &str, finalizer: &str) {
        if let Some(store) = self.lock().stores.get_mut(name) {
            store
                .metadata
                .finalizers
                .get_or_insert_with(Vec::new)
                .push(finalizer.into());
        }
    }

    /// Plays the garbage collector of a foreground deletion: deletes the Store's dependents
    /// (a Namespace starts terminating), then, once `release` is true, drops `finalizer`.
    pub fn foreground_gc(&self, name: &str, finalizer: &str, release: bool) {
        let mut s = self.lock();
        let Some(uid) = s.stores.get(name).and_then(|st| st.metadata.uid.clone()) else {
            return;
        };
        let owned = owned_by(&s, &uid);
        for r in owned {
            if r.kind == Kind::Namespace {
                if let Some(ns) = s.objects.get_mut(&r) {
                    ns["metadata"]["deletionTimestamp"] = json!("1970-01-01T00:00:00Z");
                }
            } else {
                s.objects.remove(&r);
            }
        }
        if release && let Some(store) = s.stores.get_mut(name) {
            if let Some(f) = store.metadata.finalizers.as_mut() {
                f.retain(|f| f != finalizer);
            }
            if store.metadata.finalizers.iter().flatten().next().is_none() {
                s.stores.remove(name);
            }
        }
    }

    /// An object, as stored.
    pub fn object(&self, target: &ObjRef) -> Option<Value> {
        self.lock().objects.get(target).cloned()
    }

    /// Every object of a kind.
    pub fn objects_of(&self, kind: Kind) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|(r, _)| r.kind == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// How many objects there are (Stores not counted).
    pub fn object_count(&self) -> usize {
        self.lock().objects.len()
    }

    /// Changes an object by hand (drift).
    pub fn edit(&self, target: &ObjRef, f: impl FnOnce(&mut Value)) {
        if let Some(o) = self.lock().objects.get_mut(target) {
            f(o);
        }
    }

    /// Removes an object by hand, bypassing the operator.
    pub fn remove(&self, target: &ObjRef) {
        self.lock().objects.remove(target);
    }

    /// Every write so far.
    pub fn writes(&self) -> Vec<Write> {
        self.lock().writes.clone()
    }

    /// Every call on a child kind so far, as (Cluster method, kind): what RBAC must allow.
    pub fn calls(&self) -> Vec<(&'static str, Kind)> {
        self.lock().calls.clone()
    }

    /// How many reads so far.
    pub fn reads(&self) -> usize {
        self.lock().reads
    }

    /// Every event so far, with the Store's name.
    pub fn events(&self) -> Vec<(String, StoreEvent)> {
        self.lock().events.clone()
    }

    /// Makes the next call of `op` (`get`, `apply`, `create`, ...) fail with `error`.
    pub fn fail_next(&self, op: &'static str, error: ClusterError) {
        self.lock().failures.push((op, error));
    }

    /// Plays kubelet: the database StatefulSet of `namespace` has its replica ready.
    pub fn mark_database_ready(&self, namespace: &str) {
        self.edit(
            &ObjRef::namespaced(Kind::StatefulSet, namespace, child::DATABASE),
            |o| {
                o["status"] = json!({"replicas": 1, "readyReplicas": 1});
            },
        );
    }

    /// Plays the Deployment controller: the storefront is Available.
    pub fn mark_storefront_available(&self, namespace: &str) {
        self.edit(&ObjRef::namespaced(Kind::Deployment, namespace, child::STOREFRONT), |o| {
            let generation = o["metadata"]["generation"].as_i64().unwrap_or(1);
            o["status"] = json!({
                "observedGeneration": generation,
                "replicas": 1, "availableReplicas": 1, "readyReplicas": 1,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
            });
        });
    }

    fn job_in(&self, namespace: &str) -> Option<ObjRef> {
        self.lock()
            .objects
            .keys()
            .find(|r| r.kind == Kind::Job && r.namespace.as_deref() == Some(namespace))
            .cloned()
    }

    /// Plays the Job controller: the setup Job of `namespace` completed. Returns its name.
    pub fn complete_job(&self, namespace: &str) -> Option<String> {
        let target = self.job_in(namespace)?;
        self.edit(&target, |o| {
            o["status"] =
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
        });
        Some(target.name)
    }

    /// Plays the Job controller: the setup Job of `namespace` failed for good.
    pub fn fail_job(&self, namespace: &str, reason: &str, message: &str) -> Option<String> {
        let target = self.job_in(namespace)?;
        self.edit(&target, |o| {
            o["status"] = json!({"failed": 4, "conditions": [{"type": "Failed", "status": "True", "reason": reason, "message": message}]});
        });
        Some(target.name)
    }

    /// Plays the namespace controller: terminating namespaces and their contents disappear.
    pub fn finish_terminating_namespaces(&self) {
        let mut s = self.lock();
        let gone: Vec<String> = s
            .objects
            .iter()
            .filter(|(r, o)| {
                r.kind == Kind::Namespace && !o["metadata"]["deletionTimestamp"].is_null()
            })
            .map(|(r, _)| r.name.clone())
            .collect();
        s.objects
            .retain(|r, _| !gone.contains(&r.name) || r.kind != Kind::Namespace);
        s.objects
            .retain(|r, _| r.namespace.as_ref().is_none_or(|ns| !gone.contains(ns)));
    }

    fn take_failure(&self, op: &'static str) -> Result<(), ClusterError> {
        let mut s = self.lock();
        match s.failures.iter().position(|(o, _)| *o == op) {
            Some(i) => Err(s.failures.remove(i).1),
            None => Ok(()),
        }
    }

    fn record(&self, op: &'static str, target: impl ToString) {
        self.lock().writes.push(Write {
            op,
            target: target.to_string(),
        });
    }

    fn record_call(&self, op: &'static str, kind: Kind) {
        self.lock().calls.push((op, kind));
    }
}

/// Objects whose ownerReferences name `owner_uid`.
fn owned_by(s: &State, owner_uid: &str) -> Vec<ObjRef> {
    s.objects
        .iter()
        .filter(|(_, o)| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid))
        })
        .map(|(r, _)| r.clone())
        .collect()
}

/// Garbage collection: objects whose ownerReferences name a deleted owner go too.
fn collect_garbage(s: &mut State, owner_uid: &str) {
    let owned = owned_by(s, owner_uid);
    for r in owned {
        s.objects.remove(&r);
        if r.kind == Kind::Namespace {
            s.objects
                .retain(|o, _| o.namespace.as_deref() != Some(r.name.as_str()));
        }
    }
}

fn namespace_exists(s: &State, target: &ObjRef) -> Result<(), ClusterError> {
    match &target.namespace {
        Some(ns)
            if !s
                .objects
                .contains_key(&ObjRef::cluster(Kind::Namespace, ns)) =>
        {
            Err(ClusterError::Rejected {
                target: target.to_string(),
                message: format!("namespaces \"{ns}\" not found"),
            })
        }
        _ => Ok(()),
    }
}

impl Cluster for FakeCluster {
    async fn get(&self, target: &ObjRef) -> Result<Option<Value>, ClusterError> {
        self.take_failure("get")?;
        let mut s = self.lock();
        s.reads += 1;
        s.calls.push(("get", target.kind));
        Ok(s.objects.get(target).cloned())
    }

    async fn apply(&self, target: &ObjRef, object: &Value) -> Result<(), ClusterError> {
        self.take_failure("apply")?;
        self.record("apply", target);
        self.record_call("apply", target.kind);
        let mut s = self.lock();
        namespace_exists(&s, target)?;
        let mut next = object.clone();
        if let Some(old) = s.objects.get(target) {
            for key in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "generation",
            ] {
                if !old["metadata"][key].is_null() {
                    next["metadata"][key] = old["metadata"][key].clone();
                }
            }
            if !old["status"].is_null() {
                next["status"] = old["status"].clone();
            }
            if old["spec"] != next["spec"] && !old["metadata"]["generation"].is_null() {
                next["metadata"]["generation"] =
                    json!(old["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
            }
        } else {
            s.uid += 1;
            next["metadata"]["uid"] = json!(format!("uid-{}", s.uid));
            next["metadata"]["generation"] = json!(1);
        }
        s.objects.insert(target.clone(), next);
        Ok(())
    }

    async fn create(&self, target: &ObjRef, object: &Value) -> Result<Created, ClusterError> {
        self.take_failure("create")?;
        self.record("create", target);
        self.record_call("create", target.kind);
        let mut s = self.lock();
        namespace_exists(&s, target)?;
        if s.objects.contains_key(target) {
            return Ok(Created::AlreadyExists);
        }
        let mut next = object.clone();
        s.uid += 1;
        next["metadata"]["uid"] = json!(format!("uid-{}", s.uid));
        s.objects.insert(target.clone(), next);
        Ok(Created::New)
    }

    async fn delete(&self, target: &ObjRef) -> Result<Deleted, ClusterError> {
        self.take_failure("delete")?;
        self.record("delete", target);
        self.record_call("delete", target.kind);
        let mut s = self.lock();
        if target.kind == Kind::Namespace {
            // Namespaces terminate until `finish_terminating_namespaces`.
            return Ok(match s.objects.get_mut(target) {
                Some(ns) => {
                    ns["metadata"]["deletionTimestamp"] = json!("1970-01-01T00:00:00Z");
                    Deleted::Deleting
                }
                None => Deleted::NotFound,
            });
        }
        Ok(if s.objects.remove(target).is_some() {
            Deleted::Deleting
        } else {
            Deleted::NotFound
        })
    }

    async fn list_labelled(&self, kind: Kind, store: &str) -> Result<Vec<Value>, ClusterError> {
        self.take_failure("list")?;
        let mut s = self.lock();
        s.reads += 1;
        s.calls.push(("list", kind));
        Ok(s.objects
            .iter()
            .filter(|(r, o)| r.kind == kind && o["metadata"]["labels"][keys::STORE] == store)
            .map(|(_, o)| o.clone())
            .collect())
    }

    async fn set_owner_references(
        &self,
        target: &ObjRef,
        current: &Value,
        owners: &Value,
    ) -> Result<(), ClusterError> {
        self.take_failure("patch-owners")?;
        self.record("patch-owners", target);
        self.record_call("patch-owners", target.kind);
        let mut s = self.lock();
        let Some(live) = s.objects.get_mut(target) else {
            return Ok(());
        };
        if live["metadata"]["ownerReferences"] != current["metadata"]["ownerReferences"] {
            return Err(ClusterError::Conflict(target.to_string()));
        }
        live["metadata"]["ownerReferences"] = owners.clone();
        Ok(())
    }

    async fn add_finalizer(&self, store: &Store) -> Result<(), ClusterError> {
        self.take_failure("add-finalizer")?;
        let name = store.metadata.name.clone().unwrap_or_default();
        self.record("add-finalizer", &name);
        let mut s = self.lock();
        if let Some(live) = s.stores.get_mut(&name) {
            let finalizers = live.metadata.finalizers.get_or_insert_with(Vec::new);
            if !finalizers.iter().any(|f| f == names::FINALIZER) {
                finalizers.push(names::FINALIZER.into());
            }
        }
        Ok(())
    }

    async fn remove_finalizer(&self, store: &Store) -> Result<(), ClusterError> {
        self.take_failure("remove-finalizer")?;
        let name = store.metadata.name.clone().unwrap_or_default();
        self.record("remove-finalizer", &name);
        let mut s = self.lock();
        let Some(live) = s.stores.get_mut(&name) else {
            return Ok(());
        };
        if let Some(f) = live.metadata.finalizers.as_mut() {
            f.retain(|f| f != names::FINALIZER);
        }
        if live.metadata.deletion_timestamp.is_some()
            && live.metadata.finalizers.iter().flatten().next().is_none()
        {
            let uid = live.metadata.uid.clone().unwrap_or_default();
            s.stores.remove(&name);
            collect_garbage(&mut s, &uid);
        }
        Ok(())
    }

    async fn patch_status(&self, store: &Store, status: &StoreStatus) -> Result<(), ClusterError> {
        self.take_failure("patch-status")?;
        let name = store.metadata.name.clone().unwrap_or_default();
        self.record("patch-status", &name);
        if let Some(live) = self.lock().stores.get_mut(&name) {
            live.status = Some(status.clone());
        }
        Ok(())
    }

    async fn publish(&self, store: &Store, event: StoreEvent) {
        let name = store.metadata.name.clone().unwrap_or_default();
        self.lock().events.push((name, event));
    }

    fn stores(&self) -> Vec<Arc<Store>> {
        self.lock().stores.values().cloned().map(Arc::new).collect()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        *now = Timestamp::from_second(now.as_second().saturating_add(secs)).unwrap_or(*now);
    }
}

impl super::Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reconcile context over `fake` with `config`, a manual clock at a fixed start and fresh
/// metrics: what tests and the write-count bench drive the real reconciler with.
pub fn context(
    fake: &FakeCluster,
    config: crate::config::OperatorConfig,
) -> (Arc<super::Context<FakeCluster>>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
    ));
    let ctx = super::Context::new(
        fake.clone(),
        config,
        clock.clone(),
        Arc::new(crate::metrics::Metrics::default()),
    );
    (Arc::new(ctx), clock)
}
