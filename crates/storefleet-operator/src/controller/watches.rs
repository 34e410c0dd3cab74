//! The child watches: every child kind, selected by our labels, mapped back to its Store;
//! every event recorded in [`Seen`] for the memo.

use std::sync::Arc;

use futures::TryStreamExt;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use storefleet_types::Store;
use storefleet_types::names::labels as keys;

use crate::controller::children::{ChildKind, KindVisitor, for_each_kind, key_of};
use crate::controller::memory::applied::Trust;
use crate::controller::memory::seen::SeenObject;
use crate::controller::memory::{DELETED, Seen, version_of};
use crate::controller::observe::Observed;

/// The watches being added to the controller, one kind at a time.
struct Watch {
    controller: Option<Controller<Store>>,
    client: Client,
    seen: Arc<Seen>,
    gateway_api: bool,
}
impl Watch {
    /// Adds a watch of kind `K` (`events` of whole objects or of metadata only).
    fn add<K, O>(
        &mut self,
        events: impl futures::Stream<Item = Result<watcher::Event<O>, watcher::Error>> + Send + 'static,
        observe: fn(&O) -> Option<Observed>,
    ) where
        K: ChildKind,
        O: kube::Resource<DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        let seen = self.seen.clone();
        let kind = K::kind(&()).to_string();
        seen.watching(&kind);
        // The events themselves (not only the objects) are read, so that a deletion is
        // recorded as one even where the memo compares managedFields (see memory::version_of).
        let events = events
            .map_ok(move |event| {
                match &event {
                    watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                        let meta = o.meta();
                        let object = SeenObject {
                            version: version_of(&kind, meta),
                            uid: meta.uid.clone(),
                            trust: Trust::of(meta),
                            observed: observe(o),
                        };
                        seen.saw_object(key_of::<K>(meta), object);
                    }
                    watcher::Event::Delete(o) => {
                        seen.saw(key_of::<K>(o.meta()), Some(DELETED));
                    }
                    watcher::Event::InitDone => seen.listed(&kind),
                    watcher::Event::Init => {}
                }
                event
            })
            .touched_objects();
        self.controller = self.controller.take().map(|c| {
            c.watches_stream(events, |object: O| {
                object
                    .labels()
                    .get(keys::STORE)
                    .map(|name| ObjectRef::<Store>::new(name))
            })
        });
    }
}
impl KindVisitor for Watch {
    fn visit<K: ChildKind>(&mut self) {
        if K::GATEWAY_API && !self.gateway_api {
            return;
        }
        let selector = format!("{}={}", keys::MANAGED_BY, keys::MANAGED_BY_VALUE);
        let config = watcher::Config::default().labels(&selector);
        let client = self.client.clone();
        if K::OBSERVED {
            self.add::<K, K>(watcher::watcher(Api::all(client), config), K::observed);
        } else {
            // An Api of PartialObjectMeta makes metadata-only requests.
            let api = Api::<PartialObjectMeta<K>>::all(client);
            self.add::<K, PartialObjectMeta<K>>(watcher::watcher(api, config), |_| None);
        }
    }
}

/// Watches every child kind carrying our labels (Gateway API kinds only when the configuration
/// offers Gateway routing) and maps each object to its Store. The watches are metadata-only (no
/// Secret value, spec or status is ever held in memory), except for the kinds whose status
/// decides a step (StatefulSets, Deployments, Jobs): their events carry whole objects, of which
/// only what the status says is kept ([`Seen::saw_object`]). Every event is recorded in [`Seen`] (see
/// [`version_of`]), deletions included, and triggers a reconcile of the Store.
pub fn watch_children(
    controller: Controller<Store>,
    client: &Client,
    seen: &Arc<Seen>,
    gateway_api: bool,
) -> Controller<Store> {
    let mut watch = Watch {
        controller: Some(controller),
        client: client.clone(),
        seen: seen.clone(),
        gateway_api,
    };
    for_each_kind(&mut watch);
    match watch.controller {
        Some(controller) => controller,
        None => unreachable!("the visitor always puts the controller back"),
    }
}
