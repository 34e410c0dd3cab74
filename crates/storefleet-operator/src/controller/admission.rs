//! Admission: whether a Store may be provisioned (a valid spec, a host of its own, room under the
//! caps), and what its status says about a retry. Reads only the controller's caches.

use std::collections::HashSet;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use storefleet_types::Store;

use crate::controller::context::{Context, LIMIT_RECHECK};
use crate::controller::status::{Blocked, Outcome};
use crate::validate::{self, ValidatedStore};

/// Whether a store that is not being deleted may be provisioned.
#[derive(Debug)]
pub enum Admission {
    /// Yes, as validated.
    Admitted(Box<ValidatedStore>),
    /// No: the outcome for the status, and when to look again.
    Refused(Box<Outcome>, Action),
}

/// A store may be provisioned with a valid spec, a host no older store claims and no other
/// route serves, and room under the caps. A refused store gets no child and no finalizer.
pub fn admit(store: &Store, ctx: &Context) -> Admission {
    let validated = match validate::validate(store, &ctx.config) {
        Ok(validated) => validated,
        Err(e) => {
            let blocked = Blocked {
                reason: e.reason().to_string(),
                message: e.to_string(),
            };
            return Admission::Refused(Box::new(Outcome::Invalid(blocked)), Action::await_change());
        }
    };
    // A host belongs to one Store: the oldest valid claim wins, the others wait (they start by
    // themselves when the holder is deleted or moves). Nor may a store take a host that a route
    // outside its namespace already serves (the ingress controller or Gateway would give it to
    // the older route).
    let host = &validated.host;
    let taken = host_holder(store, host, ctx)
        .map(|holder| format!("Host {host} is already served by store {holder}; choose another spec.domain"))
        .or_else(|| {
            ctx.routes.holder(host, &validated.namespace).map(|route| {
                format!("Host {host} is already routed by {route}, which is older than this store's route; choose another spec.domain or remove that route")
            })
        });
    if let Some(message) = taken {
        let blocked = Blocked {
            reason: "HostTaken".into(),
            message,
        };
        return Admission::Refused(
            Box::new(Outcome::Invalid(blocked)),
            Action::requeue(LIMIT_RECHECK),
        );
    }
    if !store.has_finalizer()
        && let Err(message) = take_place(ctx, &validated.name, &store.spec.owner)
    {
        return Admission::Refused(
            Box::new(Outcome::LimitReached(message)),
            Action::requeue(LIMIT_RECHECK),
        );
    }
    Admission::Admitted(Box::new(validated))
}

/// The name of an older Store (by creation, then name) that validly claims `host`, if any.
fn host_holder(store: &Store, host: &str, ctx: &Context) -> Option<String> {
    let key = |s: &Store| {
        (
            s.metadata.creation_timestamp.as_ref().map(|t| t.0),
            s.name_any(),
        )
    };
    let mine = key(store);
    ctx.stores
        .state()
        .iter()
        .filter(|other| other.metadata.uid != store.metadata.uid)
        .filter(|other| key(other) < mine)
        .filter(|other| validate::validate(other, &ctx.config).is_ok_and(|v| v.host == host))
        .map(|other| other.name_any())
        .min()
}

/// Whether the store `name` of `owner` may start provisioning under the store caps (all
/// stores, and per owner); if so it holds a place from now on. Stores that hold the finalizer
/// (provisioning started) count; admission decisions are serialized (the places stay locked while
/// one is taken) so two concurrent reconciles cannot both take the last place. The operator is
/// the one writer of finalizers, so this holds however many API replicas (or kubectl users)
/// create Stores.
fn take_place(ctx: &Context, name: &str, owner: &str) -> Result<(), String> {
    let mut places = ctx.memory.places();
    if places.contains(name) {
        return Ok(());
    }
    let stores = ctx.stores.state();
    // A store deleted between its admission and its finalizer leaves no event to release its
    // place: forget places of stores that no longer exist.
    places.retain(|n| stores.iter().any(|s| s.metadata.name.as_deref() == Some(n)));
    let owner_of = |n: &str| {
        stores
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(n))
            .map(|s| s.spec.owner.clone())
    };
    let taken: HashSet<String> = stores
        .iter()
        .filter(|s| s.has_finalizer())
        .filter_map(|s| s.metadata.name.clone())
        .chain(places.iter().cloned())
        .filter(|n| n != name)
        .collect();
    let max = usize::try_from(ctx.config.max_stores).unwrap_or(usize::MAX);
    if taken.len() >= max {
        return Err(format!(
            "Waiting for capacity: {} stores exist and the operator allows {max}; this store starts when one is deleted",
            taken.len()
        ));
    }
    if let Some(per_owner) = ctx.config.max_stores_per_owner {
        let mine = taken
            .iter()
            .filter(|n| owner_of(n).as_deref() == Some(owner))
            .count();
        if mine >= usize::try_from(per_owner).unwrap_or(usize::MAX) {
            return Err(format!(
                "Waiting for capacity: owner {owner} has {mine} stores and the operator allows {per_owner} per owner; this store starts when one of them is deleted"
            ));
        }
    }
    places.insert(name.to_string());
    Ok(())
}
