//! The Kubernetes permissions the operator needs, derived from what the code calls.
//!
//! [`for_calls`] maps the reconciler's [`Cluster`](super::cluster::Cluster) calls on child kinds
//! (as the in-memory cluster records them) to RBAC verbs; [`runtime`] lists what `run` needs on
//! top (watches of every child kind and of Stores, the finalizer and status writes, Events,
//! the leader-election Lease). The chart's RBAC is tested against their union.

use std::collections::BTreeSet;

use super::cluster::Kind;
use super::kube_cluster::api_resource;

/// One permission: (API group, resource, verb, whether only in the release namespace).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// API group ("" for core).
    pub group: String,
    /// Resource (plural, with subresource).
    pub resource: String,
    /// Verb.
    pub verb: String,
    /// Granted by a Role in the release namespace rather than a ClusterRole.
    pub release_namespace_only: bool,
}

fn perm(group: &str, resource: &str, verb: &str) -> Permission {
    Permission {
        group: group.into(),
        resource: resource.into(),
        verb: verb.into(),
        release_namespace_only: false,
    }
}

/// The verbs a `Cluster` method needs. Server-side apply may create the object, so `apply`
/// needs both `patch` and `create`.
pub fn verbs_of(call: &str) -> &'static [&'static str] {
    match call {
        "get" => &["get"],
        "list" => &["list"],
        "apply" => &["patch", "create"],
        "create" => &["create"],
        "delete" => &["delete"],
        "patch-owners" => &["patch"],
        _ => &[],
    }
}

/// Permissions for recorded calls on child kinds.
pub fn for_calls(calls: &[(&str, Kind)]) -> BTreeSet<Permission> {
    calls
        .iter()
        .flat_map(|(call, kind)| {
            let ar = api_resource(*kind);
            verbs_of(call)
                .iter()
                .map(move |v| perm(&ar.group, &ar.plural, v))
        })
        .collect()
}

/// What `run` needs beyond the reconciler's child calls.
pub fn runtime() -> BTreeSet<Permission> {
    let mut out = BTreeSet::new();
    // The controller watches every child kind (by label) and the Stores.
    for kind in Kind::ALL {
        let ar = api_resource(kind);
        out.insert(perm(&ar.group, &ar.plural, "list"));
        out.insert(perm(&ar.group, &ar.plural, "watch"));
    }
    for verb in ["get", "list", "watch", "patch"] {
        out.insert(perm("storefleet.io", "stores", verb)); // finalizer: merge patch
    }
    out.insert(perm("storefleet.io", "stores/status", "patch"));
    // ownerReferences with blockOwnerDeletion need update on the owner's finalizers.
    out.insert(perm("storefleet.io", "stores/finalizers", "update"));
    out.insert(perm("events.k8s.io", "events", "create"));
    out.insert(perm("events.k8s.io", "events", "patch"));
    for verb in ["get", "create", "patch", "update"] {
        out.insert(Permission {
            release_namespace_only: true,
            ..perm("coordination.k8s.io", "leases", verb)
        });
    }
    out
}
