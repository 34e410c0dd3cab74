//! One pass of a StoreRollout (the I/O around `rollout.rs`): the stores from the Store cache
//! (no request), the plan (pure), one status write when it changed, an event per change.
//!
//! A rollout needs no finalizer: it owns nothing. Deleted mid-wave, it admits no more stores;
//! those upgrading finish their transaction, and every store keeps what it then runs.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use storefleet_types::{Store, StoreRollout, StoreRolloutStatus, names};
use tracing::{info, warn};

use crate::controller::context::Context;
use crate::controller::rollout::{self, Candidate};

/// How soon a failed pass is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Why a rollout's pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// Its status could not be written.
    #[error("cannot write the status of StoreRollout {rollout}: {source}")]
    Status {
        /// The rollout.
        rollout: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// What a rollout knows of `store`.
pub fn candidate<'a>(store: &'a Store, rollout: &StoreRollout) -> Candidate<'a> {
    let status = store.status.as_ref();
    Candidate {
        name: store.metadata.name.as_deref().unwrap_or_default(),
        engine: store.spec.engine,
        plan: store.spec.plan,
        labels: store.labels(),
        pinned: rollout::pins(
            store.spec.versions.as_ref(),
            &rollout.spec.target,
            store.spec.engine,
        ),
        set_up: status.is_some_and(|s| s.completed_setup.is_some()),
        asleep: store.spec.hibernate,
        deleting: store.metadata.deletion_timestamp.is_some(),
        mark: status.and_then(|s| s.rollout.as_ref()),
    }
}

/// Drives one rollout a step: admits stores, ends and starts waves, halts; the entry point
/// given to the rollout's Controller.
pub async fn reconcile(
    rollout: Arc<StoreRollout>,
    ctx: Arc<Context>,
) -> Result<Action, RolloutError> {
    if rollout.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    // Until the Store cache has listed every store, a store of a wave would look deleted.
    if ctx.stores.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(RETRY_AFTER));
    }
    let stores = ctx.stores.state();
    let candidates: Vec<Candidate<'_>> = stores.iter().map(|s| candidate(s, &rollout)).collect();
    let decision = rollout::plan(&rollout, &candidates, ctx.clock.now());
    let name = rollout.name_any();
    if rollout.status.as_ref() != Some(&decision.status) {
        write_status(&ctx, &name, &decision.status).await?;
    }
    if !decision.admitted.is_empty() {
        info!(rollout = %name, stores = ?decision.admitted, "admitted");
    }
    for (warning, reason, note) in &decision.notes {
        publish(&ctx, &rollout, *warning, reason, note).await;
    }
    Ok(decision
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

/// A failed pass is tried again soon.
pub fn error_policy(
    rollout: Arc<StoreRollout>,
    error: &RolloutError,
    _ctx: Arc<Context>,
) -> Action {
    warn!(rollout = %rollout.name_any(), error = %error, "rollout pass failed");
    Action::requeue(RETRY_AFTER)
}

async fn write_status(
    ctx: &Context,
    name: &str,
    status: &StoreRolloutStatus,
) -> Result<(), RolloutError> {
    ctx.metrics.api_request("patch_status");
    let body = json!({
        "apiVersion": names::API_VERSION,
        "kind": names::ROLLOUT_KIND,
        "status": status,
    });
    let params = PatchParams::apply(names::FIELD_MANAGER).force();
    match Api::<StoreRollout>::all(ctx.client.clone())
        .patch_status(name, &params, &Patch::Apply(&body))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(RolloutError::Status {
            rollout: name.into(),
            source,
        }),
    }
}

async fn publish(ctx: &Context, rollout: &StoreRollout, warning: bool, reason: &str, note: &str) {
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.into(),
        note: Some(note.into()),
        action: "Rollout".into(),
        secondary: None,
    };
    if let Err(e) = ctx.events.publish(&event, &rollout.object_ref(&())).await {
        warn!(rollout = %rollout.name_any(), error = %e, "cannot publish event");
    }
}
