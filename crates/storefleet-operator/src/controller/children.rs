//! The kinds of object a Store is made of, listed once.
//!
//! [`for_each_kind`] is the one list: the controller's watches, the Retain cleanup and the RBAC
//! tests all derive from it (a new child kind is one line here plus its builder). Each kind
//! knows how to address its objects ([`ChildKind::api`]), so the apply layer stays typed.
//! Gateway API kinds ([`ChildKind::GATEWAY_API`]) are used only when the operator configuration
//! offers Gateway routing. The kinds whose status decides a step ([`ChildKind::OBSERVED`]) say
//! what their watch keeps ([`ChildKind::observed`]).

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::core::ApiResource;

use crate::controller::memory::seen::ChildKey;
use crate::controller::observe::{self, Observed};
use crate::gateway_api::HTTPRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind of child object: a typed k8s-openapi struct that the operator applies and watches.
pub trait ChildKind:
    Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// Whether the kind is a Gateway API CRD: watched and cleaned up only when the operator
    /// offers Gateway routing (a cluster without the CRDs has no such kind to watch).
    const GATEWAY_API: bool;

    /// Whether the kind's status decides a step (StatefulSets, Deployments, the steps' Jobs): its
    /// watch reads whole objects and keeps what they say ([`ChildKind::observed`]), never the
    /// object; the other kinds are watched as metadata only.
    const OBSERVED: bool;

    /// The Api for objects of this kind in `namespace` (ignored for cluster-scoped kinds).
    fn api(client: Client, namespace: &str) -> Api<Self>;

    /// What the object's status says (None for kinds not [`ChildKind::OBSERVED`]).
    fn observed(&self) -> Option<Observed>;
}

/// The key (in the memo and in what the watches saw) of an object of kind `K`.
pub fn key_of<K: ChildKind>(meta: &ObjectMeta) -> ChildKey {
    ChildKey::new(
        &K::kind(&()),
        meta.namespace.as_deref(),
        meta.name.as_deref(),
    )
}

/// Something done once per child kind (a generic method cannot be a closure).
pub trait KindVisitor {
    /// Called once for each kind, in apply order.
    fn visit<K: ChildKind>(&mut self);
}

macro_rules! child_kinds {
    ($($kind:ty => $scope:ident $(if $cond:ident)? $(observed by $step:path)?),+ $(,)?) => {
        $(impl ChildKind for $kind {
            const GATEWAY_API: bool = child_kinds!(@flag $($cond)?);
            const OBSERVED: bool = child_kinds!(@observed $($step)?);
            fn api(client: Client, namespace: &str) -> Api<Self> {
                child_kinds!(@api $scope, client, namespace)
            }
            fn observed(&self) -> Option<Observed> {
                child_kinds!(@step self $(, $step)?)
            }
        })+

        /// Visits every child kind, in apply order.
        pub fn for_each_kind(visitor: &mut impl KindVisitor) {
            $(visitor.visit::<$kind>();)+
        }
    };
    (@observed) => { false };
    (@observed $step:path) => { true };
    (@step $self:ident) => {{
        let _ = $self;
        None
    }};
    (@step $self:ident, $step:path) => { Some($step($self)) };
    (@flag) => { false };
    (@flag gateway_api) => { true };
    (@api cluster, $client:ident, $namespace:ident) => {{
        let _ = $namespace;
        Api::all($client)
    }};
    (@api namespaced, $client:ident, $namespace:ident) => {
        Api::namespaced($client, $namespace)
    };
}

child_kinds! {
    Namespace => cluster,
    ResourceQuota => namespaced,
    LimitRange => namespaced,
    NetworkPolicy => namespaced,
    Secret => namespaced,
    Role => namespaced,
    RoleBinding => namespaced,
    Service => namespaced,
    StatefulSet => namespaced observed by observe::statefulset,
    PersistentVolumeClaim => namespaced,
    Deployment => namespaced observed by observe::deployment,
    Ingress => namespaced,
    HTTPRoute => namespaced if gateway_api,
    ConfigMap => namespaced,
    Job => namespaced observed by observe::job_observed,
    CronJob => namespaced,
}

/// The API resource (group, version, kind, plural) of every child kind, in apply order, and
/// whether it is a Gateway API kind ([`ChildKind::GATEWAY_API`]).
pub fn api_resources() -> Vec<(ApiResource, bool)> {
    struct Collect(Vec<(ApiResource, bool)>);
    impl KindVisitor for Collect {
        fn visit<K: ChildKind>(&mut self) {
            self.0.push((ApiResource::erase::<K>(&()), K::GATEWAY_API));
        }
    }
    let mut collect = Collect(Vec::new());
    for_each_kind(&mut collect);
    collect.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_once_namespace_first() {
        let kinds: Vec<String> = api_resources().into_iter().map(|(r, _)| r.kind).collect();
        assert_eq!(kinds.first().map(String::as_str), Some("Namespace"));
        let mut unique = kinds.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len(), "{kinds:?}");
        assert_eq!(kinds.len(), 16);
        let gateway: Vec<_> = api_resources()
            .into_iter()
            .filter(|(_, g)| *g)
            .map(|(r, _)| r.kind)
            .collect();
        assert_eq!(gateway, ["HTTPRoute"]);
    }

    #[test]
    fn only_the_workloads_and_jobs_are_observed() {
        struct Kinds(Vec<String>);
        impl KindVisitor for Kinds {
            fn visit<K: ChildKind>(&mut self) {
                if K::OBSERVED {
                    self.0.push(K::kind(&()).to_string());
                }
            }
        }
        let mut observed = Kinds(Vec::new());
        for_each_kind(&mut observed);
        assert_eq!(observed.0, ["StatefulSet", "Deployment", "Job"]);
        assert_eq!(
            StatefulSet::default().observed(),
            Some(Observed::Step(observe::database(Some(
                &StatefulSet::default()
            ))))
        );
        assert!(matches!(
            Job::default().observed(),
            Some(Observed::Job(observe::JobSeen {
                state: observe::JobState::Running(_),
                owned: false,
                deleting: false,
                finished_at: None,
            }))
        ));
        assert_eq!(Secret::default().observed(), None);
    }
}
