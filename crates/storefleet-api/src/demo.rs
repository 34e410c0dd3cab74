//! `storefleet-api --demo`: the dashboard on the in-memory backend, with sample stores and a
//! stand-in operator that walks new stores through the real steps (namespace, database,
//! storefront, setup) to Ready, retries failed ones and finishes deletions. Nothing is
//! provisioned; the dashboard shows a banner saying so (`/api/v1/me` answers `demo: true`).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use storefleet_types::names::{self, child};
use storefleet_types::{Engine, Phase, Plan, Store, StoreSpec, StoreStatus};
use tokio::sync::broadcast::error::RecvError;

use crate::backend::memory::MemoryBackend;
use crate::backend::{Backend, Change, EventView};
use crate::tokens::{Role, TokenEntry};

/// The demo's tenant token (printed at start).
pub const TENANT_TOKEN: &str = "demo-tenant-token";
/// The demo's admin token (printed at start).
pub const ADMIN_TOKEN: &str = "demo-admin-token";
/// The demo tenant.
pub const TENANT: &str = "demo@storefleet.local";

/// The demo's tokens: one tenant, one admin.
pub fn tokens() -> Vec<TokenEntry> {
    vec![
        TokenEntry {
            token: TENANT_TOKEN.into(),
            user: TENANT.into(),
            role: Role::Tenant,
        },
        TokenEntry {
            token: ADMIN_TOKEN.into(),
            user: "admin".into(),
            role: Role::Admin,
        },
    ]
}

/// The steps a store goes through, as the operator reports them: (message, conditions done).
const STEPS: [(&str, usize); 5] = [
    ("Creating the namespace, quota and network policies", 0),
    ("Waiting for database (0/1 ready)", 1),
    ("Waiting for storefront (0/1 available)", 2),
    (
        "Running setup: WooCommerce, theme, sample products, a test order",
        3,
    ),
    ("Store is ready", 4),
];

const STEP_CONDITIONS: [&str; 4] = [
    storefleet_types::condition::NAMESPACE_READY,
    storefleet_types::condition::DATABASE_READY,
    storefleet_types::condition::STOREFRONT_READY,
    storefleet_types::condition::SETUP_COMPLETE,
];

fn condition(type_: &str, ok: bool, reason: &str, message: &str, at: Timestamp) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: Some(1),
        last_transition_time: Time(at),
    }
}

/// The status of a store at step `step` of [`STEPS`] (the last one is Ready).
fn status_at(
    name: &str,
    engine: Engine,
    step: usize,
    started: Timestamp,
    now: Timestamp,
) -> StoreStatus {
    let (message, done) = STEPS[step.min(STEPS.len() - 1)];
    let ready = done == STEP_CONDITIONS.len();
    let mut conditions = vec![condition(
        storefleet_types::condition::READY,
        ready,
        if ready { "StoreReady" } else { "Provisioning" },
        message,
        now,
    )];
    for (i, type_) in STEP_CONDITIONS.iter().enumerate() {
        let ok = i < done;
        conditions.push(condition(
            type_,
            ok,
            if ok { "Ready" } else { "Waiting" },
            if ok { "Ready" } else { message },
            now,
        ));
    }
    StoreStatus {
        observed_generation: Some(1),
        phase: Some(if ready {
            Phase::Ready
        } else {
            Phase::Provisioning
        }),
        conditions,
        namespace: Some(format!("store-{name}")),
        // As the operator writes them: Medusa's storefront is /shop and its admin /app.
        url: Some(match engine {
            Engine::Woocommerce => format!("http://{name}.demo.storefleet.local"),
            Engine::Medusa => format!("http://{name}.demo.storefleet.local/shop"),
        }),
        admin_url: Some(match engine {
            Engine::Woocommerce => format!("http://{name}.demo.storefleet.local/wp-admin/"),
            Engine::Medusa => format!("http://{name}.demo.storefleet.local/app"),
        }),
        credentials_secret: Some(child::ADMIN_SECRET.into()),
        message: Some(message.into()),
        provisioning_started_at: Some(Time(started)),
        ready_at: ready.then_some(Time(now)),
        ..StoreStatus::default()
    }
}

fn failed_status(name: &str, started: Timestamp, now: Timestamp) -> StoreStatus {
    let message =
        "Setup failed: could not install theme storefrnt (check spec.setup.theme), then retry";
    let mut status = status_at(name, Engine::Woocommerce, 3, started, now);
    status.phase = Some(Phase::Failed);
    status.message = Some(message.into());
    status.conditions[0] = condition(
        storefleet_types::condition::READY,
        false,
        "SetupFailed",
        message,
        now,
    );
    status.conditions.push(condition(
        storefleet_types::condition::STALLED,
        true,
        "SetupFailed",
        message,
        now,
    ));
    status
}

fn event(type_: &str, reason: &str, message: &str, at: Timestamp) -> EventView {
    EventView {
        type_: type_.into(),
        reason: reason.into(),
        message: message.into(),
        time: Some(at.to_string()),
    }
}

fn sample(name: &str, display: &str, engine: Engine, plan: Plan, owner: &str) -> Store {
    Store::new(
        name,
        StoreSpec {
            engine,
            owner: owner.into(),
            plan,
            display_name: Some(display.into()),
            domain: None,
            ingress: None,
            gateway: None,
            tls: None,
            storage: None,
            versions: None,
            setup: None,
            backup: None,
            restore_from: None,
            deletion_policy: Default::default(),
            hibernate: false,
        },
    )
}

/// Adds the sample stores: a Ready one, one on its way, a Failed one, and another tenant's.
pub async fn seed(backend: &MemoryBackend) {
    let now = Timestamp::now();
    let ago = |minutes: i64| now - SignedDuration::from_mins(minutes);
    let samples = [
        (
            "acme-outdoor",
            "ACME Outdoor Supplies",
            Engine::Woocommerce,
            Plan::Medium,
            TENANT,
        ),
        (
            "bike-barn",
            "The Bike Barn",
            Engine::Medusa,
            Plan::Small,
            TENANT,
        ),
        (
            "corner-bakery",
            "The Corner Bakery",
            Engine::Woocommerce,
            Plan::Small,
            TENANT,
        ),
        (
            "vinyl-vault",
            "Vinyl Vault",
            Engine::Woocommerce,
            Plan::Small,
            TENANT,
        ),
        (
            "north-wind",
            "North Wind Tea",
            Engine::Woocommerce,
            Plan::Large,
            "someone-else@example.com",
        ),
    ];
    let created = [ago(3 * 24 * 60), ago(26 * 60), ago(2), ago(50), ago(95)];
    for ((name, display, engine, plan, owner), at) in samples.into_iter().zip(created) {
        let _ = backend
            .create(sample(name, display, engine, plan, owner))
            .await;
        backend.backdate(name, at);
    }
    for (name, engine, at) in [
        ("acme-outdoor", Engine::Woocommerce, ago(3 * 24 * 60)),
        ("bike-barn", Engine::Medusa, ago(26 * 60)),
        ("north-wind", Engine::Woocommerce, ago(90)),
    ] {
        backend.put_status(
            name,
            status_at(
                name,
                engine,
                STEPS.len() - 1,
                at,
                at + SignedDuration::from_mins(4),
            ),
            event(
                "Normal",
                "StoreReady",
                "Store is ready",
                at + SignedDuration::from_mins(4),
            ),
        );
    }
    backend.put_status(
        "corner-bakery",
        status_at("corner-bakery", Engine::Woocommerce, 2, ago(1), now),
        event("Normal", "Provisioning", STEPS[2].0, now),
    );
    backend.put_status(
        "vinyl-vault",
        failed_status("vinyl-vault", ago(45), ago(25)),
        event(
            "Warning",
            "SetupFailed",
            "Setup failed: could not install theme storefrnt",
            ago(25),
        ),
    );
}

/// The stand-in operator: walks each new or retried store through [`STEPS`], one every `step`;
/// a deleted store disappears after one `step`. Runs until the backend is dropped.
pub async fn run(backend: MemoryBackend, step: Duration) {
    let mut changes = backend.subscribe();
    // A store already on its way when the demo starts (seeded) continues too.
    if let Ok(stores) = backend.list().await {
        for store in stores {
            if store.status.as_ref().and_then(|s| s.phase) == Some(Phase::Provisioning) {
                tokio::spawn(walk(backend.clone(), name_of(&store), 2, step));
            }
        }
    }
    let mut retries = std::collections::HashMap::new();
    loop {
        let change = match changes.recv().await {
            Ok(change) => change,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Change::Upsert(store) = change else {
            continue;
        };
        let name = name_of(&store);
        if store.metadata.deletion_timestamp.is_some() {
            let backend = backend.clone();
            tokio::spawn(async move {
                tokio::time::sleep(step).await;
                backend.finish_deletion(&name);
            });
            continue;
        }
        let retry = store
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(names::RETRY_ANNOTATION))
            .cloned();
        let phase = store.status.as_ref().and_then(|s| s.phase);
        let failed = phase == Some(Phase::Failed);
        if (store.spec.hibernate && phase == Some(Phase::Ready))
            || (!store.spec.hibernate && phase == Some(Phase::Hibernated))
        {
            tokio::spawn(sleep_or_wake(
                backend.clone(),
                name,
                store.spec.engine,
                step,
            ));
        } else if store.status.is_none() {
            tokio::spawn(walk(backend.clone(), name, 0, step));
        } else if failed && retry.is_some() && retries.get(&name) != Some(&retry) {
            retries.insert(name.clone(), retry);
            tokio::spawn(walk(backend.clone(), name, 3, step));
        }
    }
}

/// Hibernates a Ready store asked to sleep, or wakes a hibernated one, after one `step`.
async fn sleep_or_wake(backend: MemoryBackend, name: String, engine: Engine, step: Duration) {
    tokio::time::sleep(step).await;
    let Some(store) = backend.get(&name).await.ok().flatten() else {
        return;
    };
    let now = Timestamp::now();
    let mut status = status_at(&name, engine, STEPS.len() - 1, now, now);
    if store.spec.hibernate {
        let message = "The store is hibernated: no pod runs, its volumes, Secrets and route are kept; set spec.hibernate to false to wake it";
        status.phase = Some(Phase::Hibernated);
        status.message = Some(message.into());
        status.conditions[0] = condition(
            storefleet_types::condition::READY,
            false,
            "Hibernated",
            message,
            now,
        );
        status.conditions.push(condition(
            storefleet_types::condition::HIBERNATED,
            true,
            "Hibernated",
            message,
            now,
        ));
        backend.put_status(&name, status, event("Normal", "Hibernated", message, now));
    } else {
        backend.put_status(
            &name,
            status,
            event("Normal", "Ready", "Store is ready", now),
        );
    }
}

fn name_of(store: &Store) -> String {
    store.metadata.name.clone().unwrap_or_default()
}

async fn walk(backend: MemoryBackend, name: String, from: usize, step: Duration) {
    let started = Timestamp::now();
    for (i, (message, _)) in STEPS.iter().enumerate().skip(from) {
        tokio::time::sleep(step).await;
        let Some(store) = backend
            .get(&name)
            .await
            .ok()
            .flatten()
            .filter(|s| s.metadata.deletion_timestamp.is_none())
        else {
            return;
        };
        let now = Timestamp::now();
        let reason = if i == STEPS.len() - 1 {
            "StoreReady"
        } else {
            "Provisioning"
        };
        backend.put_status(
            &name,
            status_at(&name, store.spec.engine, i, started, now),
            event("Normal", reason, message, now),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_demo_store_hibernates_and_wakes() {
        let backend = MemoryBackend::new();
        seed(&backend).await;
        tokio::spawn(run(backend.clone(), Duration::from_millis(10)));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let name = "acme-outdoor";
        let phase = |b: MemoryBackend| async move {
            b.get(name)
                .await
                .ok()
                .flatten()
                .and_then(|s| s.status.clone())
                .and_then(|s| s.phase)
        };
        assert_eq!(phase(backend.clone()).await, Some(Phase::Ready));
        for (hibernate, want) in [(true, Phase::Hibernated), (false, Phase::Ready)] {
            let _ = backend.hibernate(name, hibernate).await;
            let mut now = None;
            for _ in 0..200 {
                now = phase(backend.clone()).await;
                if now == Some(want) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(now, Some(want));
        }
    }

    #[tokio::test]
    async fn a_new_store_walks_to_ready_and_a_deleted_one_goes() {
        let backend = MemoryBackend::new();
        seed(&backend).await;
        tokio::spawn(run(backend.clone(), Duration::from_millis(20)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = backend
            .create(sample(
                "new-shop",
                "New Shop",
                Engine::Woocommerce,
                Plan::Small,
                TENANT,
            ))
            .await;
        let phase = |b: MemoryBackend| async move {
            b.get("new-shop")
                .await
                .ok()
                .flatten()
                .and_then(|s| s.status.clone())
                .and_then(|s| s.phase)
        };
        let mut seen = Vec::new();
        for _ in 0..200 {
            if let Some(p) = phase(backend.clone()).await
                && seen.last() != Some(&p)
            {
                seen.push(p);
            }
            if seen.last() == Some(&Phase::Ready) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(seen, [Phase::Provisioning, Phase::Ready]);
        let store = backend.get("new-shop").await.ok().flatten().expect("store");
        let status = store.status.clone().unwrap_or_default();
        assert!(
            status.conditions.iter().all(|c| c.status == "True"),
            "{status:?}"
        );

        backend.delete(&store).await.expect("delete");
        for _ in 0..100 {
            if backend.get("new-shop").await.ok().flatten().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the deleted store never went away");
    }

    #[tokio::test]
    async fn the_samples_cover_every_state_and_another_tenant() {
        let backend = MemoryBackend::new();
        seed(&backend).await;
        let stores = backend.list().await.expect("list");
        let phases: Vec<_> = stores
            .iter()
            .filter(|s| s.spec.owner == TENANT)
            .filter_map(|s| s.status.as_ref().and_then(|st| st.phase))
            .collect();
        for p in [Phase::Ready, Phase::Provisioning, Phase::Failed] {
            assert!(phases.contains(&p), "{p:?} in {phases:?}");
        }
        assert!(stores.iter().any(|s| s.spec.owner != TENANT));
    }
}
