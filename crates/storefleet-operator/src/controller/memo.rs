//! What the last pass applied, and what the watches have seen since: lets a pass skip the
//! requests for children that cannot have changed.
//!
//! A child is skipped only when all of these hold: the store's desired objects are the same as
//! when it was last applied (a fingerprint), the pass that applied it is younger than
//! [`MEMO_TTL`], and the child's resourceVersion as last seen by the metadata watch is the one
//! our apply returned (or no event came yet). Anything else (a spec change, someone editing or
//! deleting the child, a status change of the StatefulSet or Deployment, an operator restart)
//! applies it again. Every [`MEMO_TTL`] a store gets a full pass, so drift a watch could miss is
//! still repaired by server-side apply.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::observe::Step;
use crate::build::StoreObjects;

/// How long a pass's memo is trusted before a full pass.
pub const MEMO_TTL: Duration = Duration::from_secs(300);

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

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The last resourceVersion the watches saw of each labelled child.
#[derive(Debug, Default)]
pub struct Seen(Mutex<HashMap<ChildKey, String>>);

impl Seen {
    /// Records a watch event.
    pub fn saw(&self, key: ChildKey, resource_version: Option<&str>) {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match resource_version {
            Some(rv) => {
                seen.insert(key, rv.to_string());
            }
            None => {
                seen.remove(&key);
            }
        }
    }

    fn get(&self, key: &ChildKey) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Whether the watches saw the object `key` (and no delete since, as far as we know).
    pub fn contains(&self, key: &ChildKey) -> bool {
        self.get(key).is_some()
    }

    /// Whether the watches saw any object of `kind` in `namespace`.
    pub fn any(&self, kind: &str, namespace: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .any(|k| k.kind == kind && k.namespace == namespace)
    }

    /// Forgets everything in `namespace` and the namespace itself (a deleted store).
    pub fn forget_namespace(&self, namespace: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| {
                k.namespace != namespace && !(k.kind == "Namespace" && k.name == namespace)
            });
    }
}

/// What one store's last pass applied.
#[derive(Debug, Clone)]
pub struct Memo {
    fingerprint: u64,
    at: Instant,
    versions: HashMap<ChildKey, String>,
    /// Whether the generated Secrets were issued (namespace annotation), as last read.
    pub issued: bool,
    /// What each StatefulSet and Deployment said when last applied, and each migration Job
    /// when last read.
    pub workloads: HashMap<ChildKey, Step>,
    /// The route step, observed from the HTTPRoute as last applied.
    pub route: Option<Step>,
}

impl Memo {
    /// A memo for objects with `fingerprint`, nothing recorded yet.
    fn fresh(fingerprint: u64) -> Self {
        Self {
            fingerprint,
            at: Instant::now(),
            versions: HashMap::new(),
            issued: false,
            workloads: HashMap::new(),
            route: None,
        }
    }

    /// Whether this memo still describes objects with `fingerprint` and is young enough to
    /// trust.
    fn is_current(&self, fingerprint: u64) -> bool {
        self.at.elapsed() < MEMO_TTL && self.fingerprint == fingerprint
    }

    /// Whether the child `key` is as our last apply left it.
    pub fn unchanged(&self, key: &ChildKey, seen: &Seen) -> bool {
        self.versions
            .get(key)
            .is_some_and(|ours| seen.get(key).is_none_or(|theirs| &theirs == ours))
    }

    /// Whether the child `key` was applied by an earlier pass or reported by a watch.
    pub fn knows(&self, key: &ChildKey, seen: &Seen) -> bool {
        self.versions.contains_key(key) || seen.get(key).is_some()
    }

    /// Records the resourceVersion an apply (or read) returned.
    pub fn record(&mut self, key: ChildKey, resource_version: Option<&str>) {
        match resource_version {
            Some(rv) => {
                self.versions.insert(key, rv.to_string());
            }
            None => {
                self.versions.remove(&key);
            }
        }
    }
}

/// A hash of everything a store should consist of.
fn fingerprint(objects: &StoreObjects) -> u64 {
    let mut hasher = DefaultHasher::new();
    // Debug covers every field of the typed objects; the hash never leaves the process.
    format!("{objects:?}").hash(&mut hasher);
    hasher.finish()
}

/// The memos of all stores.
#[derive(Debug, Default)]
pub struct Memos(Mutex<HashMap<String, Memo>>);

impl Memos {
    /// The store's memo if it still describes `objects`, else a fresh one.
    pub fn take(&self, store: &str, objects: &StoreObjects) -> Memo {
        let memo = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
        // Hashed once per pass: the objects' Debug text covers every field.
        let fingerprint = fingerprint(objects);
        match memo {
            Some(memo) if memo.is_current(fingerprint) => memo,
            _ => Memo::fresh(fingerprint),
        }
    }

    /// Keeps the store's memo for the next pass.
    pub fn put(&self, store: &str, memo: Memo) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(store.to_string(), memo);
    }

    /// Forgets a store.
    pub fn forget(&self, store: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
    }
}
