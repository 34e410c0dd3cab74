//! [`Child`]: one object of a store, borrowed from [`StoreObjects`](super::StoreObjects), in
//! apply order; the apply step and `render` walk these.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::SecretTemplate;
use crate::gateway_api::HTTPRoute;

/// One child, borrowed, in apply order. Secrets appear as templates: the apply step creates
/// them only when absent.
#[derive(Debug, Clone, Copy)]
pub enum Child<'a> {
    /// Namespace.
    Namespace(&'a Namespace),
    /// ResourceQuota.
    ResourceQuota(&'a ResourceQuota),
    /// LimitRange.
    LimitRange(&'a LimitRange),
    /// NetworkPolicy between the store's own pods (or out of it).
    NetworkPolicy(&'a NetworkPolicy),
    /// NetworkPolicy that lets the edge in: applied with the route, after setup.
    EdgePolicy(&'a NetworkPolicy),
    /// Secret with generated values: create-only.
    GeneratedSecret(&'a SecretTemplate),
    /// Role (the API's read of the store's admin login).
    Role(&'a Role),
    /// RoleBinding of that Role to the API's ServiceAccount.
    RoleBinding(&'a RoleBinding),
    /// Service.
    Service(&'a Service),
    /// StatefulSet.
    StatefulSet(&'a StatefulSet),
    /// PersistentVolumeClaim.
    PersistentVolumeClaim(&'a PersistentVolumeClaim),
    /// Deployment.
    Deployment(&'a Deployment),
    /// Ingress.
    Ingress(&'a Ingress),
    /// Gateway API HTTPRoute.
    HttpRoute(&'a HTTPRoute),
    /// ConfigMap.
    ConfigMap(&'a ConfigMap),
    /// The setup Job: created by the setup step behind its gates.
    SetupJob(&'a Job),
    /// A migration Job: created once per image; the Deployments after it wait for its success.
    MigrationJob(&'a Job),
    /// The backup CronJob: applied with the route, once the store is set up on its data.
    BackupCronJob(&'a CronJob),
    /// The CronJob of WordPress's scheduled work: applied with the route, once set up.
    CronJob(&'a CronJob),
    /// A repository Secret (built by the controller from the platform key): applied.
    BackupSecret(&'a Secret),
    /// The restore Job of a new store (`spec.restoreFrom`): created by the restore step, once,
    /// before setup.
    RestoreJob(&'a Job),
}

impl Child<'_> {
    /// The child's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Child::Namespace(o) => &o.metadata,
            Child::ResourceQuota(o) => &o.metadata,
            Child::LimitRange(o) => &o.metadata,
            Child::NetworkPolicy(o) | Child::EdgePolicy(o) => &o.metadata,
            Child::GeneratedSecret(t) => &t.metadata,
            Child::Role(o) => &o.metadata,
            Child::RoleBinding(o) => &o.metadata,
            Child::Service(o) => &o.metadata,
            Child::StatefulSet(o) => &o.metadata,
            Child::PersistentVolumeClaim(o) => &o.metadata,
            Child::Deployment(o) => &o.metadata,
            Child::Ingress(o) => &o.metadata,
            Child::HttpRoute(o) => &o.metadata,
            Child::ConfigMap(o) => &o.metadata,
            Child::SetupJob(o) | Child::MigrationJob(o) | Child::RestoreJob(o) => &o.metadata,
            Child::BackupCronJob(o) | Child::CronJob(o) => &o.metadata,
            Child::BackupSecret(o) => &o.metadata,
        }
    }
}
