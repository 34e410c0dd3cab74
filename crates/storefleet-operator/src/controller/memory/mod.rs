//! What the last pass applied, and what the watches have seen since: lets a pass skip the
//! requests for children that cannot have changed.
//!
//! A child is skipped only when all of these hold: the store's desired objects are the same as
//! when it was last applied (a fingerprint), the pass that applied it is younger than
//! [`MEMO_TTL`], and the child's version (see [`version_of`]) as last seen by its watch is the
//! one our apply returned (or no event came yet). Anything else (a spec change, someone editing
//! or deleting the child, an operator restart) applies it again. The status of a StatefulSet or
//! Deployment is no change: their watch keeps the step it shows ([`Seen::step`]). Every [`MEMO_TTL`] a store gets a full pass, so drift a watch could miss is
//! still repaired by server-side apply.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::controller::observe::{JobState, Step};
pub mod seen;

use crate::desired::StoreObjects;
pub use seen::{ChildKey, DELETED, Seen, version_of};

/// How long a pass's memo is trusted before a full pass.
pub const MEMO_TTL: Duration = Duration::from_secs(300);

/// Each setup Job's state as last read, with the resourceVersion it was read at and whether
/// it was owned by its Store then: while the watches show the same version (and the ownership
/// wanted is the same), the state still holds and the Job need not be read again.
#[derive(Debug, Default)]
pub struct JobStates(Mutex<HashMap<ChildKey, (String, bool, JobState)>>);

impl JobStates {
    /// Records what a Job at `resource_version` said.
    pub fn record(
        &self,
        key: ChildKey,
        resource_version: Option<&str>,
        owned: bool,
        state: JobState,
    ) {
        let mut states = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match resource_version {
            Some(rv) => {
                states.insert(key, (rv.to_string(), owned, state));
            }
            None => {
                states.remove(&key);
            }
        }
    }

    /// The Job's state, if the watches show it unchanged since it was read.
    pub fn current(&self, key: &ChildKey, seen: &Seen, owned: bool) -> Option<JobState> {
        let states = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (rv, was_owned, state) = states.get(key)?;
        (seen.get(key).as_deref() == Some(rv.as_str()) && *was_owned == owned)
            .then(|| state.clone())
    }

    /// Forgets the Jobs of `namespace` (a deleted store).
    pub fn forget_namespace(&self, namespace: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| k.namespace() != namespace);
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
    /// StatefulSets re-created for a volume resize (pods orphaned, still serving): reported
    /// ready until the new StatefulSet says so itself.
    pub resizing: std::collections::HashSet<ChildKey>,
    /// The namespace's uid as last read (None: not read yet, or absent).
    pub namespace_uid: Option<String>,
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
            resizing: std::collections::HashSet::new(),
            namespace_uid: None,
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

    /// The version our last apply of `key` returned.
    pub fn version(&self, key: &ChildKey) -> Option<&str> {
        self.versions.get(key).map(String::as_str)
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

/// One store's memo during a pass: taken once, put back on drop.
#[derive(Debug)]
pub struct PassMemo<'a> {
    memos: &'a Memos,
    store: String,
    memo: Memo,
}

impl std::ops::Deref for PassMemo<'_> {
    type Target = Memo;
    fn deref(&self) -> &Memo {
        &self.memo
    }
}

impl std::ops::DerefMut for PassMemo<'_> {
    fn deref_mut(&mut self) -> &mut Memo {
        &mut self.memo
    }
}

impl Drop for PassMemo<'_> {
    fn drop(&mut self) {
        let memo = std::mem::replace(&mut self.memo, Memo::fresh(0));
        self.memos.put(&self.store, memo);
    }
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

    /// The store's memo for one pass (see [`Memos::take`]), put back when the pass drops it,
    /// whatever happened: the memo holds only what succeeded.
    pub fn for_pass<'a>(&'a self, store: &str, objects: &StoreObjects) -> PassMemo<'a> {
        PassMemo {
            memos: self,
            store: store.to_string(),
            memo: self.take(store, objects),
        }
    }

    /// Forgets a store.
    pub fn forget(&self, store: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::memory::seen::{DELETED, Seen};

    #[test]
    fn a_deleted_child_is_a_change_and_no_longer_seen() {
        let seen = Seen::default();
        let key = ChildKey::new("ResourceQuota", Some("store-a"), Some("store-quota"));
        let mut memo = Memo::fresh(1);
        memo.record(key.clone(), Some("fields:1"));
        seen.saw(key.clone(), Some("fields:1"));
        assert!(memo.unchanged(&key, &seen));
        assert!(seen.contains(&key) && seen.any("ResourceQuota", "store-a"));
        seen.saw(key.clone(), Some(DELETED));
        assert!(
            !memo.unchanged(&key, &seen),
            "a deleted child is applied again"
        );
        assert!(!seen.contains(&key) && !seen.any("ResourceQuota", "store-a"));
    }
}
