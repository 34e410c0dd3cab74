//! Admission: whether a Store may be provisioned (a valid spec, a host of its own, room under the
//! caps), and what its status says about a retry. Reads only the controller's caches.

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
        && let Err(message) = ctx.admit(&validated.name, &store.spec.owner)
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
