//! An in-memory backend for tests, the load benchmark and the browser test. It behaves like
//! the apiserver where the API cares: names are unique, the CRD's admission rules that the API
//! does not check itself can be simulated with [`MemoryBackend::reject_next`], and the test
//! plays the operator with [`MemoryBackend::set_phase`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use storefleet_types::names::child;
use storefleet_types::{Phase, Store, StoreStatus};
use tokio::sync::broadcast;

use super::{Backend, BackendError, Change, Credentials, EventView};

#[derive(Debug, Default)]
struct State {
    stores: BTreeMap<String, Arc<Store>>,
    events: BTreeMap<String, Vec<EventView>>,
    reject: Option<String>,
    uid: u64,
}

/// The in-memory backend.
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            changes: broadcast::channel(1024).0,
        }
    }
}

/// The password the memory backend's credentials Secret holds.
pub const TEST_PASSWORD: &str = "memory-backend-password";

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next create fails as the apiserver's admission would, with `message`.
    pub fn reject_next(&self, message: &str) {
        self.lock().reject = Some(message.into());
    }

    /// Plays the operator's cleanup: a deleting store disappears.
    pub fn finish_deletion(&self, name: &str) {
        let removed = self.lock().stores.remove(name);
        if let Some(store) = removed {
            let _ = self.changes.send(Change::Deleted(store));
        }
    }

    /// Plays the operator: sets the phase (and Ready condition, URL) and records an event.
    pub fn set_phase(&self, name: &str, phase: Phase, message: &str) {
        let updated = {
            let mut s = self.lock();
            let Some(store) = s.stores.get(name) else {
                return;
            };
            let mut store = (**store).clone();
            let ready = phase == Phase::Ready;
            store.status = Some(StoreStatus {
                phase: Some(phase),
                message: Some(message.into()),
                url: Some(format!("http://{name}.shop.local")),
                admin_url: Some(format!("http://{name}.shop.local/wp-admin/")),
                namespace: Some(format!("store-{name}")),
                credentials_secret: Some(child::ADMIN_SECRET.into()),
                observed_generation: store.metadata.generation,
                conditions: vec![Condition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    reason: phase.as_str().into(),
                    message: message.into(),
                    observed_generation: store.metadata.generation,
                    last_transition_time: Time(Timestamp::now()),
                }],
                ..StoreStatus::default()
            });
            let store = Arc::new(store);
            s.stores.insert(name.into(), store.clone());
            let kind = if phase == Phase::Failed {
                "Warning"
            } else {
                "Normal"
            };
            s.events.entry(name.into()).or_default().insert(
                0,
                EventView {
                    type_: kind.into(),
                    reason: phase.as_str().into(),
                    message: message.into(),
                    time: Some(Timestamp::now().to_string()),
                },
            );
            store
        };
        let _ = self.changes.send(Change::Upsert(updated));
    }
}

impl MemoryBackend {
    /// Changes one store as a client's patch would; announces it.
    fn change(&self, name: &str, f: impl FnOnce(&mut Store)) -> Result<Arc<Store>, BackendError> {
        let updated = {
            let mut s = self.lock();
            let store = s
                .stores
                .get(name)
                .ok_or_else(|| BackendError::NotFound(name.into()))?;
            let mut store = (**store).clone();
            f(&mut store);
            let store = Arc::new(store);
            s.stores.insert(name.into(), store.clone());
            store
        };
        let _ = self.changes.send(Change::Upsert(updated.clone()));
        Ok(updated)
    }

    /// Sets when a store was created (sample stores of the demo are days old).
    pub fn backdate(&self, name: &str, created: Timestamp) {
        let mut s = self.lock();
        if let Some(store) = s.stores.get(name) {
            let mut store = (**store).clone();
            store.metadata.creation_timestamp = Some(Time(created));
            s.stores.insert(name.into(), Arc::new(store));
        }
    }

    /// Plays the operator in full: replaces the store's status and records an event (the demo
    /// uses it to walk stores through their steps).
    pub fn put_status(&self, name: &str, status: StoreStatus, event: EventView) {
        let updated = {
            let mut s = self.lock();
            let Some(store) = s.stores.get(name) else {
                return;
            };
            let mut store = (**store).clone();
            store.status = Some(status);
            let store = Arc::new(store);
            s.stores.insert(name.into(), store.clone());
            s.events.entry(name.into()).or_default().insert(0, event);
            store
        };
        let _ = self.changes.send(Change::Upsert(updated));
    }
}

impl Backend for MemoryBackend {
    async fn list(&self) -> Result<Vec<Arc<Store>>, BackendError> {
        yield_once().await;
        Ok(self.lock().stores.values().cloned().collect())
    }

    async fn get(&self, name: &str) -> Result<Option<Arc<Store>>, BackendError> {
        Ok(self.lock().stores.get(name).cloned())
    }

    async fn create(&self, mut store: Store) -> Result<Arc<Store>, BackendError> {
        yield_once().await;
        let created = {
            let mut s = self.lock();
            if let Some(message) = s.reject.take() {
                return Err(BackendError::Invalid(message));
            }
            let name = store.metadata.name.clone().unwrap_or_default();
            if s.stores.contains_key(&name) {
                return Err(BackendError::AlreadyExists(name));
            }
            s.uid += 1;
            store.metadata.uid = Some(format!("uid-{}", s.uid));
            store.metadata.generation = Some(1);
            store.metadata.creation_timestamp = Some(Time(Timestamp::now()));
            let store = Arc::new(store);
            s.stores.insert(name, store.clone());
            store
        };
        let _ = self.changes.send(Change::Upsert(created.clone()));
        Ok(created)
    }

    async fn delete(&self, target: &Store) -> Result<(), BackendError> {
        // Like the apiserver with the operator's finalizer: the store lingers as deleting until
        // `finish_deletion` (the operator's cleanup) runs. Like a uid precondition, a store of
        // the same name with another uid is not touched.
        let name = target.metadata.name.as_deref().unwrap_or_default();
        let updated = {
            let mut s = self.lock();
            let Some(store) = s.stores.get(name) else {
                return Ok(());
            };
            if store.metadata.uid != target.metadata.uid {
                return Err(BackendError::NotFound(name.into()));
            }
            if store.metadata.deletion_timestamp.is_some() {
                return Ok(());
            }
            let mut store = (**store).clone();
            store.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
            let store = Arc::new(store);
            s.stores.insert(name.into(), store.clone());
            store
        };
        let _ = self.changes.send(Change::Upsert(updated));
        Ok(())
    }

    async fn annotate(
        &self,
        name: &str,
        annotation: &str,
        value: &str,
    ) -> Result<Arc<Store>, BackendError> {
        self.change(name, |store| {
            store
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(annotation.into(), value.into());
        })
    }

    async fn hibernate(&self, name: &str, hibernate: bool) -> Result<Arc<Store>, BackendError> {
        self.change(name, |store| store.spec.hibernate = hibernate)
    }

    async fn events(&self, store: &Store) -> Result<Vec<EventView>, BackendError> {
        let name = store.metadata.name.clone().unwrap_or_default();
        Ok(self.lock().events.get(&name).cloned().unwrap_or_default())
    }

    async fn credentials(&self, _store: &Store) -> Result<Option<Credentials>, BackendError> {
        Ok(Some(Credentials {
            username: "storeadmin".into(),
            password: TEST_PASSWORD.into(),
        }))
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn ready(&self) -> bool {
        true
    }
}

/// Gives way once, as a real backend call does, so that concurrent requests interleave (in any
/// executor: tests also drive this backend with `futures::executor::block_on`).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
