//! Report: the one status write of a pass (server-side apply of the status subresource, only
//! when something changed) and an event on every phase transition and every new failure.
//! Secrets never appear in either.

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;
use storefleet_types::names;
use storefleet_types::{Phase, Store, StoreStatus, condition};
use tracing::{info, warn};

use crate::controller::context::Context;
use crate::controller::requests::status_code;
use crate::controller::status::{Backups, Outcome, StatusFacts, next_status};

/// Writing the Store's status failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the status of Store {store}")]
pub struct StatusError {
    /// The Store.
    pub store: String,
    /// Why.
    #[source]
    pub source: kube::Error,
}

impl StatusError {
    /// The apiserver's error.
    pub fn kube(&self) -> &kube::Error {
        &self.source
    }
}

/// The Stalled reason, if any, of a status.
fn stalled_reason(status: &StoreStatus) -> Option<&str> {
    status
        .condition(condition::STALLED)
        .filter(|c| c.status == "True")
        .map(|c| c.reason.as_str())
}

/// Whether a status shows the store asleep with every workload stopped.
fn asleep(status: &StoreStatus) -> bool {
    status
        .condition(condition::HIBERNATED)
        .is_some_and(|c| c.status == "True")
}

/// Writes the status when it changed; publishes an event on every phase transition and every
/// new failure.
pub async fn finish(
    store: &Store,
    ctx: &Context,
    facts: StatusFacts,
    outcome: Outcome,
) -> Result<(), StatusError> {
    let prev = store.status.clone().unwrap_or_default();
    let (last, proven) = facts.backup.as_ref().map_or((None, None), |b| {
        (b.last.clone(), b.last_verified_restore.clone())
    });
    let next = next_status(&prev, facts, &outcome, ctx.clock.now());
    let name = store.name_any();
    if store.status.as_ref() != Some(&next) {
        patch_status(ctx, &name, &next).await?;
    }
    ctx.metrics.set_phase(&name, next.phase);
    if let Outcome::Progress(p) = &outcome {
        ctx.metrics.set_checkout(
            &name,
            p.probe.as_ref().and_then(|probe| match probe {
                Backups::Failed { .. } => Some(true),
                Backups::Succeeded { .. } => Some(false),
                Backups::Off | Backups::NoneYet => None,
            }),
        );
    }
    if let Outcome::Progress(p) = &outcome
        && let (Some(backup), Some(drill)) = (&p.backup, &p.drill)
    {
        let at = |b: &Backups| match b {
            Backups::Succeeded { at, .. } => at
                .parse::<k8s_openapi::jiff::Timestamp>()
                .ok()
                .map(|t| t.as_second()),
            _ => None,
        };
        let drill_failed = matches!(drill, Backups::Failed { .. });
        ctx.metrics.set_backups(
            &name,
            at(backup),
            at(drill),
            drill_failed,
            [last.as_ref(), proven.as_ref()],
        );
    }
    let phase_changed = prev.phase != next.phase || asleep(&prev) != asleep(&next);
    let failure_changed = stalled_reason(&prev) != stalled_reason(&next);
    let rejected_changed = matches!(&outcome, Outcome::Progress(p) if p.rejected.is_some())
        && prev.message != next.message;
    if phase_changed || failure_changed || rejected_changed {
        let note = next.message.clone().unwrap_or_default();
        let (type_, reason, action) = match (&outcome, next.phase) {
            (_, Some(Phase::Failed)) => (
                EventType::Warning,
                stalled_reason(&next).unwrap_or("Failed"),
                "Provision",
            ),
            (Outcome::LimitReached(_), _) => (EventType::Warning, "StoreLimitReached", "Admit"),
            (Outcome::Progress(p), _) if p.rejected.is_some() => {
                (EventType::Warning, "ApplyRejected", "Apply")
            }
            (_, Some(Phase::Ready)) => (EventType::Normal, "Ready", "Provision"),
            (_, Some(Phase::Deleting)) => (EventType::Normal, "Deleting", "Delete"),
            (_, Some(Phase::Hibernated)) if asleep(&next) => {
                (EventType::Normal, "Hibernated", "Hibernate")
            }
            (_, Some(Phase::Hibernated)) => (EventType::Normal, "Hibernating", "Hibernate"),
            _ if prev.phase == Some(Phase::Hibernated) => (EventType::Normal, "Waking", "Wake"),
            _ => (EventType::Normal, "Provisioning", "Provision"),
        };
        info!(store = %name, phase = ?next.phase, %reason, "{note}");
        publish(store, ctx, type_, reason, action, &note).await;
    }
    Ok(())
}

async fn patch_status(ctx: &Context, name: &str, status: &StoreStatus) -> Result<(), StatusError> {
    ctx.metrics.api_request("patch_status");
    let body = json!({"apiVersion": names::API_VERSION, "kind": names::KIND, "status": status});
    let params = PatchParams::apply(names::FIELD_MANAGER).force();
    match Api::<Store>::all(ctx.client.clone())
        .patch_status(name, &params, &Patch::Apply(&body))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(source) => Err(StatusError {
            store: name.to_string(),
            source,
        }),
    }
}

/// Records an event about the Store. A failure to record is logged, never fatal.
pub async fn publish(
    store: &Store,
    ctx: &Context,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.into()),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.events.publish(&event, &store.object_ref(&())).await {
        warn!(store = %store.name_any(), error = %e, "cannot publish event");
    }
}
