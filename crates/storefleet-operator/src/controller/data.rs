//! The store's data, by identity (pure): which objects hold it (the namespace, the database
//! and file volumes), what the status recorded of them once setup succeeded, and whether they
//! are still the same objects. A namespace or a volume that vanished or was replaced means the
//! shop's data is gone: the store is `Stalled` (`DataLost`), never set up again on an empty
//! shop and never reported Ready, until its owner restores it or starts it over.
//!
//! ```text
//!  recorded (status.data) ──┐
//!                           ├─► lost(): what vanished, or nothing ─► DataLost | go on
//!  observed (watches, GET) ─┘
//!  setup succeeded ─► record(): recorded + what is newly known
//! ```

use std::collections::BTreeMap;

use storefleet_types::StoreData;

use crate::controller::memory::seen::Identity;

/// What this pass observed of the objects that hold the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedData {
    /// The namespace, as read this pass (or remembered from a read of the same version).
    pub namespace: Option<Identity>,
    /// Each data volume claim (by name), as the watches saw it.
    pub volumes: BTreeMap<String, Identity>,
}

/// What vanished or was replaced, one phrase per object; empty when the data is there (an
/// object the watches have not shown yet counts as there: it is checked on a later pass).
pub fn lost(recorded: &StoreData, namespace: &str, observed: &ObservedData) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(uid) = &recorded.namespace_uid {
        match &observed.namespace {
            Some(Identity::Gone) => out.push(format!("namespace {namespace} was deleted")),
            Some(Identity::Uid(now)) if now != uid => {
                out.push(format!(
                    "namespace {namespace} was deleted and created again"
                ));
            }
            _ => {}
        }
    }
    for (name, uid) in &recorded.volumes {
        match observed.volumes.get(name) {
            Some(Identity::Gone) => out.push(format!("volume claim {name} was deleted")),
            Some(Identity::Uid(now)) if now != uid => {
                out.push(format!(
                    "volume claim {name} was deleted and created again (empty)"
                ));
            }
            _ => {}
        }
    }
    out
}

/// The identity to record once setup has succeeded: what was recorded, plus every object now
/// known that was not recorded yet (a recorded uid is never overwritten: only a retry clears
/// it).
pub fn record(recorded: Option<&StoreData>, observed: &ObservedData) -> StoreData {
    let mut out = recorded.cloned().unwrap_or_default();
    if out.namespace_uid.is_none()
        && let Some(Identity::Uid(uid)) = &observed.namespace
    {
        out.namespace_uid = Some(uid.clone());
    }
    for (name, identity) in &observed.volumes {
        if let Identity::Uid(uid) = identity {
            out.volumes
                .entry(name.clone())
                .or_insert_with(|| uid.clone());
        }
    }
    out
}

/// The status message of a store whose data is gone.
pub fn lost_message(what: &[String]) -> String {
    format!(
        "The shop's data is gone: {}. The store is not set up again on an empty shop and its route is withdrawn. Restore the namespace's volumes from your own backup into a new store (Storefleet has no restore of its own yet), delete this store, or change the storefleet.io/retry annotation to start it over as a new, empty shop",
        what.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> Identity {
        Identity::Uid(s.into())
    }

    fn recorded() -> StoreData {
        StoreData {
            namespace_uid: Some("ns-1".into()),
            volumes: BTreeMap::from([("data-mariadb-0".into(), "pvc-1".into())]),
        }
    }

    #[test]
    fn the_same_objects_are_no_loss() {
        let observed = ObservedData {
            namespace: Some(uid("ns-1")),
            volumes: BTreeMap::from([("data-mariadb-0".into(), uid("pvc-1"))]),
        };
        assert!(lost(&recorded(), "store-alice", &observed).is_empty());
    }

    #[test]
    fn what_is_not_known_yet_is_no_loss() {
        let observed = ObservedData {
            namespace: None,
            volumes: BTreeMap::from([("data-mariadb-0".into(), Identity::Unknown)]),
        };
        assert!(lost(&recorded(), "store-alice", &observed).is_empty());
    }

    #[test]
    fn a_deleted_or_replaced_namespace_or_volume_is_a_loss() {
        let gone = ObservedData {
            namespace: Some(Identity::Gone),
            volumes: BTreeMap::new(),
        };
        assert_eq!(
            lost(&recorded(), "store-alice", &gone),
            ["namespace store-alice was deleted"]
        );
        let replaced = ObservedData {
            namespace: Some(uid("ns-2")),
            volumes: BTreeMap::from([("data-mariadb-0".into(), uid("pvc-2"))]),
        };
        let what = lost(&recorded(), "store-alice", &replaced);
        assert_eq!(what.len(), 2, "{what:?}");
        assert!(what[1].contains("data-mariadb-0"));
        let message = lost_message(&what);
        assert!(message.contains("namespace store-alice was deleted and created again"));
        assert!(message.contains("storefleet.io/retry"));
    }

    #[test]
    fn nothing_recorded_means_nothing_to_lose() {
        let gone = ObservedData {
            namespace: Some(Identity::Gone),
            volumes: BTreeMap::from([("data-mariadb-0".into(), Identity::Gone)]),
        };
        assert!(lost(&StoreData::default(), "store-alice", &gone).is_empty());
    }

    #[test]
    fn recording_keeps_what_was_recorded_and_adds_what_is_new() {
        let observed = ObservedData {
            namespace: Some(uid("ns-2")),
            volumes: BTreeMap::from([
                ("data-mariadb-0".into(), uid("pvc-2")),
                ("storefront-data".into(), uid("pvc-3")),
                ("later".into(), Identity::Unknown),
            ]),
        };
        let out = record(Some(&recorded()), &observed);
        assert_eq!(out.namespace_uid.as_deref(), Some("ns-1"));
        assert_eq!(out.volumes["data-mariadb-0"], "pvc-1");
        assert_eq!(out.volumes["storefront-data"], "pvc-3");
        assert!(!out.volumes.contains_key("later"));
        let fresh = record(None, &observed);
        assert_eq!(fresh.namespace_uid.as_deref(), Some("ns-2"));
    }
}
