//! The Kubernetes Events about Stores (`events.k8s.io/v1`), as client-go's event recorder
//! writes them: a first occurrence is a new Event; the same event again within
//! [`SERIES_WINDOW`] (same type, reason, action, note and Store) adds to that Event's series
//! (`series.count`, `series.lastObservedTime`) instead of a new object.
//!
//! kube's `Recorder` does the same but keeps a whole copy of every Event of the last six
//! minutes (about 2 KiB each: with 1,000 stores being created, megabytes) and keys the series
//! without the note, so a new note on the same reason was shown with the old one. Here a recent
//! Event is a hash and what its series patch needs: its namespace, name and count.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use serde_json::{Value, json};

/// How long an Event takes the same event again into its series (client-go: 6 minutes).
pub const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// Where the Events of a cluster-scoped object go.
const CLUSTER_SCOPED_NAMESPACE: &str = "default";

/// Who writes the Events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    /// `reportingController`.
    pub controller: String,
    /// `reportingInstance` (the pod; the controller when unknown).
    pub instance: String,
}

/// An Event of the last [`SERIES_WINDOW`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recent {
    namespace: Box<str>,
    name: Box<str>,
    count: i32,
    last: Timestamp,
}

/// Publishes Events (see the module doc).
pub struct Events {
    client: Client,
    reporter: Reporter,
    recent: Mutex<HashMap<u64, Recent>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("reporter", &self.reporter)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Events written by `reporter` through `client`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            recent: Mutex::default(),
        }
    }

    /// Publishes `event` about `regarding`: a new Event, or one more in the series of the same
    /// event published less than [`SERIES_WINDOW`] ago. A series whose Event is gone (its TTL in
    /// the apiserver) starts again as a new Event.
    pub async fn publish(
        &self,
        event: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = key_of(event, regarding);
        let recent = {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            forget_old(&mut recent, now);
            recent.get(&key).cloned()
        };
        if let Some(mut known) = recent {
            known.count = known.count.saturating_add(1);
            known.last = now;
            let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &known.namespace);
            let patch = series_patch(known.count, now);
            match api
                .patch(&known.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.remember(key, known);
                    return Ok(());
                }
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let first = first_event(event, regarding, &self.reporter, now);
        let namespace = first.metadata.namespace.clone().unwrap_or_default();
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let created = api.create(&PostParams::default(), &first).await?;
        let recent = Recent {
            namespace: namespace.into(),
            name: created.metadata.name.unwrap_or_default().into(),
            count: 1,
            last: now,
        };
        self.remember(key, recent);
        Ok(())
    }

    fn remember(&self, key: u64, recent: Recent) {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, recent);
    }
}

/// What makes two publications the same event (client-go's key: type, reason, action, note,
/// the object regarded).
fn key_of(event: &Event, regarding: &ObjectReference) -> u64 {
    let mut hasher = DefaultHasher::new();
    matches!(event.type_, EventType::Warning).hash(&mut hasher);
    event.reason.hash(&mut hasher);
    event.action.hash(&mut hasher);
    event.note.hash(&mut hasher);
    regarding.api_version.hash(&mut hasher);
    regarding.kind.hash(&mut hasher);
    regarding.namespace.hash(&mut hasher);
    regarding.name.hash(&mut hasher);
    regarding.uid.hash(&mut hasher);
    hasher.finish()
}

/// Drops the events older than [`SERIES_WINDOW`] (and shrinks the map after a burst).
fn forget_old(recent: &mut HashMap<u64, Recent>, now: Timestamp) {
    recent.retain(|_, r| r.last + SERIES_WINDOW > now);
    if recent.capacity() > 64 && recent.len() < recent.capacity() / 4 {
        recent.shrink_to_fit();
    }
}

/// The first Event of a series.
fn first_event(
    event: &Event,
    regarding: &ObjectReference,
    reporter: &Reporter,
    now: Timestamp,
) -> K8sEvent {
    let namespace = regarding
        .namespace
        .clone()
        .unwrap_or_else(|| CLUSTER_SCOPED_NAMESPACE.into());
    let name = regarding.name.as_deref().unwrap_or(&reporter.controller);
    K8sEvent {
        metadata: ObjectMeta {
            namespace: Some(namespace),
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(now)),
        type_: Some(
            match event.type_ {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .into(),
        ),
        reason: Some(event.reason.clone()),
        action: Some(event.action.clone()),
        note: event.note.clone(),
        regarding: Some(regarding.clone()),
        related: event.secondary.clone(),
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(reporter.instance.clone()),
        ..K8sEvent::default()
    }
}

/// The merge patch that counts one more occurrence.
fn series_patch(count: i32, now: Timestamp) -> Value {
    json!({"series": {"count": count, "lastObservedTime": MicroTime(now)}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Provision".into(),
            secondary: None,
        }
    }

    fn store(name: &str, uid: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("storefleet.io/v1alpha1".into()),
            kind: Some("Store".into()),
            name: Some(name.into()),
            uid: Some(uid.into()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn the_same_event_is_the_same_type_reason_action_note_and_object() {
        let a = key_of(&event("Ready", "serving"), &store("a", "1"));
        assert_eq!(a, key_of(&event("Ready", "serving"), &store("a", "1")));
        assert_ne!(
            a,
            key_of(&event("Ready", "again"), &store("a", "1")),
            "note"
        );
        assert_ne!(a, key_of(&event("Failed", "serving"), &store("a", "1")));
        assert_ne!(a, key_of(&event("Ready", "serving"), &store("b", "1")));
        assert_ne!(
            a,
            key_of(&event("Ready", "serving"), &store("a", "2")),
            "re-created"
        );
        let warning = Event {
            type_: EventType::Warning,
            ..event("Ready", "serving")
        };
        assert_ne!(a, key_of(&warning, &store("a", "1")));
    }

    #[test]
    fn a_first_event_says_who_what_and_about_which_store_in_default() {
        let now = Timestamp::from_second(1_700_000_000).expect("time");
        let reporter = Reporter {
            controller: "storefleet-operator".into(),
            instance: "pod-1".into(),
        };
        let e = first_event(&event("Ready", "serving"), &store("a", "1"), &reporter, now);
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(
            e.metadata.name.as_deref(),
            Some(format!("a.{:x}", now.as_nanosecond()).as_str())
        );
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.reason.as_deref(), Some("Ready"));
        assert_eq!(e.note.as_deref(), Some("serving"));
        assert_eq!(e.reporting_instance.as_deref(), Some("pod-1"));
        assert_eq!(e.regarding, Some(store("a", "1")));
        assert_eq!(e.event_time, Some(MicroTime(now)));
        assert_eq!(e.series, None);
        let patch = series_patch(2, now);
        assert_eq!(patch["series"]["count"], 2);
        assert_eq!(
            patch["series"]["lastObservedTime"],
            serde_json::to_value(MicroTime(now)).expect("time")
        );
    }

    #[test]
    fn events_older_than_the_window_are_forgotten_and_the_map_shrinks() {
        let t0 = Timestamp::from_second(1_700_000_000).expect("time");
        let mut recent: HashMap<u64, Recent> = (0..1000)
            .map(|i| {
                let at = if i < 10 { t0 + SERIES_WINDOW } else { t0 };
                let r = Recent {
                    namespace: "default".into(),
                    name: format!("e{i}").into(),
                    count: 1,
                    last: at,
                };
                (i, r)
            })
            .collect();
        forget_old(&mut recent, t0 + SERIES_WINDOW);
        assert_eq!(recent.len(), 10, "only those of the last window");
        assert!(recent.capacity() < 100, "{}", recent.capacity());
    }
}
