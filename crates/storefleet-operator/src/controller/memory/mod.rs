//! The controller's memory, one type ([`Memory`]): what each store's last pass applied (its
//! [`Memo`]), what the watches have seen since ([`Seen`]: versions, workload steps, Job states),
//! each store's failures in a row (its backoff) and the places taken under the store caps. It
//! answers the questions a pass asks: which children need no apply ([`Memo::unchanged`]), what
//! a step's Job says ([`Memory::job`]), how long to back off ([`Memory::backoff`]); a deleted
//! store is forgotten in one call ([`Memory::forget`]).
//!
//! A child is skipped only when all of these hold: the store's desired objects are the same as
//! when it was last applied (a fingerprint), the pass that applied it is younger than
//! [`MEMO_TTL`], and the child's version (see [`version_of`]) as last seen by its watch is the
//! one our apply returned (or no event came yet). Anything else (a spec change, someone editing
//! or deleting the child, an operator restart) applies it again, unless the child shows itself
//! as what we would apply ([`applied`]: the hash it carries, and no field of ours taken by
//! another manager): then the memo adopts it without a request ([`Memo::adopt`]), so a restarted
//! operator writes nothing to a fleet that did not change. The status of a StatefulSet or
//! Deployment is no change: their watch keeps the step it shows ([`Seen::step`]). Every [`MEMO_TTL`] a store gets a full pass, so drift a watch could miss is
//! still repaired by server-side apply.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::controller::observe::{JobSeen, Step};
pub mod applied;
pub mod seen;

use crate::desired::StoreObjects;
pub use seen::{ChildKey, DELETED, Seen, version_of};

/// How long a pass's memo is trusted before a full pass.
pub const MEMO_TTL: Duration = Duration::from_secs(300);

/// What one store's last pass applied.
#[derive(Debug, Clone)]
pub struct Memo {
    fingerprint: u64,
    at: Instant,
    versions: HashMap<ChildKey, String>,
    /// Whether the generated Secrets were issued (namespace annotation), as last read.
    pub issued: bool,
    /// What each StatefulSet and Deployment said when last applied (or since, from its watch).
    pub workloads: HashMap<ChildKey, Step>,
    /// The route step, observed from the HTTPRoute as last applied.
    pub route: Option<Step>,
    /// StatefulSets re-created for a volume resize (pods orphaned, still serving): reported
    /// ready until the new StatefulSet says so itself.
    pub resizing: std::collections::HashSet<ChildKey>,
    /// The namespace's uid as last read (None: not read yet, or absent).
    pub namespace_uid: Option<String>,
    /// Whether a child the memo does not know may be trusted on its own word (see
    /// [`Memo::adopt`]): not in the full pass every [`MEMO_TTL`], which applies everything.
    adoptable: bool,
}

impl Memo {
    /// A memo for objects with `fingerprint`, nothing recorded yet.
    fn fresh(fingerprint: u64) -> Self {
        Self {
            adoptable: true,
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

    /// Takes the child `key` as our last apply left it, without applying it, when the memo does
    /// not know it yet (a restarted operator, a pass after a spec change) and the child itself
    /// shows it is what we would apply (`holds`, on what its watch saw: see `applied.rs`). Not in
    /// the full pass every [`MEMO_TTL`].
    pub fn adopt(
        &mut self,
        key: &ChildKey,
        seen: &Seen,
        holds: impl FnOnce(&applied::Trust) -> bool,
    ) {
        if !self.adoptable || self.versions.contains_key(key) {
            return;
        }
        if let Some((trust, version)) = seen.trust(key)
            && holds(&trust)
        {
            self.versions.insert(key.clone(), version);
        }
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

/// Everything the controller remembers between passes (see the module doc).
#[derive(Debug, Default)]
pub struct Memory {
    seen: Arc<Seen>,
    memos: Memos,
    failures: Mutex<HashMap<String, u32>>,
    places: Mutex<HashSet<String>>,
    terminating: Mutex<HashSet<String>>,
}

impl Memory {
    /// What the watches saw (they write it; see `watches.rs`).
    pub fn seen(&self) -> &Arc<Seen> {
        &self.seen
    }

    /// The store's memo for one pass (see [`Memos::for_pass`]).
    pub fn for_pass<'a>(&'a self, store: &str, objects: &StoreObjects) -> PassMemo<'a> {
        self.memos.for_pass(store, objects)
    }

    /// What the watch last showed of the Job `key`, while it exists.
    pub fn job(&self, key: &ChildKey) -> Option<JobSeen> {
        self.seen.job(key)
    }

    /// Backoff for a failing store: 5 s doubling to 5 min; the count resets on success.
    pub fn backoff(&self, store: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = failures.entry(store.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 5u64.saturating_mul(1u64 << (*n - 1).min(6));
        Duration::from_secs(secs.min(300))
    }

    /// A pass of the store succeeded: its backoff starts over.
    pub fn succeeded(&self, store: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
    }

    /// The stores holding a place under the caps since admission (before their finalizer shows
    /// in the cache); held while admission decides, so two decisions never interleave.
    pub fn places(&self) -> MutexGuard<'_, HashSet<String>> {
        self.places.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Frees the store's place under the caps.
    pub fn release(&self, store: &str) {
        self.places().remove(store);
    }

    /// Forgets a deleted store: its memo, its place, its backoff and what the watches saw in its
    /// namespace.
    pub fn forget(&self, store: &str, namespace: &str) {
        self.release(store);
        self.memos.forget(store);
        self.succeeded(store);
        self.seen.forget_namespace(namespace);
        self.terminated(namespace);
    }

    /// Whether a namespace a cleanup deletes is known to be terminating already: then the
    /// namespace watch tells when it is gone, and no pass needs to read it.
    pub fn is_terminating(&self, namespace: &str) -> bool {
        self.terminating().contains(namespace)
    }

    /// A namespace a cleanup deleted (or found being deleted) is terminating.
    pub fn terminating_now(&self, namespace: &str) {
        self.terminating().insert(namespace.to_string());
    }

    /// A namespace is gone (or forgotten).
    pub fn terminated(&self, namespace: &str) {
        self.terminating().remove(namespace);
    }

    fn terminating(&self) -> MutexGuard<'_, HashSet<String>> {
        self.terminating
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One value read from the cluster, kept for a while (e.g. the platform's backup keys).
pub struct Cached<T>(Mutex<Option<(Instant, T)>>);

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cached")
    }
}

impl<T: Clone> Cached<T> {
    /// The value, if it was kept less than `ttl` ago.
    pub fn get(&self, ttl: Duration) -> Option<T> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` from now on.
    pub fn put(&self, value: T) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), value));
    }
}

/// Values read from the cluster, one per name, each kept for a while (e.g. each store's own
/// bucket key).
pub struct CachedBy<T>(Mutex<HashMap<String, (Instant, T)>>);

impl<T> Default for CachedBy<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T> std::fmt::Debug for CachedBy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachedBy")
    }
}

impl<T: Clone> CachedBy<T> {
    /// The value of `name`, if it was kept less than `ttl` ago.
    pub fn get(&self, name: &str, ttl: Duration) -> Option<T> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` as `name`'s from now on (and forgets the values older than `ttl`).
    pub fn put(&self, name: &str, value: T, ttl: Duration) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|_, (at, _)| at.elapsed() < ttl);
        all.insert(name.to_string(), (Instant::now(), value));
    }
}

/// A hash of everything a store should consist of.
fn fingerprint(objects: &StoreObjects) -> u64 {
    let mut hasher = DefaultHasher::new();
    // Debug covers every field of the typed objects; the hash never leaves the process.
    format!("{objects:?}").hash(&mut hasher);
    hasher.finish()
}

/// The memo a pass starts from: the last one while it describes objects with `fingerprint` and
/// is younger than [`MEMO_TTL`]; a fresh one otherwise, which adopts children on their word
/// after a spec change (or when there was none: a restart), and not in the full pass.
fn renewed(memo: Option<Memo>, fingerprint: u64) -> Memo {
    match memo {
        Some(memo) if memo.is_current(fingerprint) => memo,
        Some(memo) if memo.at.elapsed() >= MEMO_TTL => Memo {
            adoptable: false,
            ..Memo::fresh(fingerprint)
        },
        _ => Memo::fresh(fingerprint),
    }
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
struct Memos(Mutex<HashMap<String, Memo>>);

impl Memos {
    /// The store's memo if it still describes `objects`, else a fresh one.
    fn take(&self, store: &str, objects: &StoreObjects) -> Memo {
        let memo = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(store);
        // Hashed once per pass: the objects' Debug text covers every field.
        renewed(memo, fingerprint(objects))
    }

    /// Keeps the store's memo for the next pass.
    fn put(&self, store: &str, memo: Memo) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(store.to_string(), memo);
    }

    /// The store's memo for one pass (see [`Memos::take`]), put back when the pass drops it,
    /// whatever happened: the memo holds only what succeeded.
    fn for_pass<'a>(&'a self, store: &str, objects: &StoreObjects) -> PassMemo<'a> {
        PassMemo {
            memos: self,
            store: store.to_string(),
            memo: self.take(store, objects),
        }
    }

    /// Forgets a store.
    fn forget(&self, store: &str) {
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
    fn backoff_doubles_to_five_minutes_and_a_success_resets_it() {
        let memory = Memory::default();
        let waits: Vec<u64> = (0..8).map(|_| memory.backoff("a").as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(memory.backoff("b").as_secs(), 5, "per store");
        memory.succeeded("a");
        assert_eq!(memory.backoff("a").as_secs(), 5);
    }

    #[test]
    fn a_forgotten_store_leaves_nothing_behind() {
        let memory = Memory::default();
        let key = ChildKey::new("Service", Some("store-a"), Some("storefront"));
        let other = ChildKey::new("Service", Some("store-b"), Some("storefront"));
        memory.seen().saw(key.clone(), Some("1"));
        memory.seen().saw(other.clone(), Some("1"));
        memory.places().insert("a".into());
        memory.backoff("a");
        memory.memos.put("a", Memo::fresh(7));
        memory.forget("a", "store-a");
        assert!(!memory.seen().contains(&key));
        assert!(
            memory.seen().contains(&other),
            "another store's children stay"
        );
        assert!(memory.places().is_empty());
        assert_eq!(memory.backoff("a").as_secs(), 5);
        assert!(memory.memos.0.lock().expect("memos").is_empty());
    }

    #[test]
    fn a_memo_adopts_what_it_does_not_know_except_in_the_full_pass() {
        let seen = Seen::default();
        let key = ChildKey::new("Service", Some("store-a"), Some("database"));
        seen.saw_trust(key.clone(), applied::Trust::default());
        seen.saw(key.clone(), Some("5"));
        let mut memo = renewed(None, 1);
        memo.adopt(&key, &seen, |_| false);
        assert!(!memo.unchanged(&key, &seen), "the child does not hold");
        memo.adopt(&key, &seen, |_| true);
        assert!(memo.unchanged(&key, &seen));
        // A version the memo knows (its own apply's) is kept.
        let mut memo = renewed(None, 1);
        memo.record(key.clone(), Some("4"));
        memo.adopt(&key, &seen, |_| true);
        assert_eq!(memo.version(&key), Some("4"));
        // After a spec change the memo starts over and adopts; the full pass does not.
        let mut changed = renewed(Some(memo.clone()), 2);
        changed.adopt(&key, &seen, |_| true);
        assert_eq!(changed.version(&key), Some("5"));
        let old = Memo {
            at: Instant::now()
                .checked_sub(MEMO_TTL)
                .expect("the machine has been up longer than the TTL"),
            ..memo
        };
        let mut full = renewed(Some(old), 1);
        full.adopt(&key, &seen, |_| true);
        assert!(
            !full.unchanged(&key, &seen),
            "the full pass applies everything"
        );
    }

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
