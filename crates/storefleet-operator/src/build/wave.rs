//! Waves: the apply order as the dependencies between children, so that a pass can apply the
//! children of one wave at once. A wave starts when the one before it has finished.
//!
//! ```text
//!  Namespace ─► Foundation: quota, limit range, network policies, Secrets, Services,
//!                           volume claims, ConfigMaps, the route (nothing that runs a pod)
//!            ─► Data: the databases (StatefulSets)
//!            ─► Migration: the migration Job (Medusa), once the databases are ready
//!            ─► Storefront: the Deployments (after a successful migration)
//!            ─► Setup: the setup Job, behind its gates
//! ```
//!
//! So no pod ever starts before its namespace's quota, limit range, network policies and
//! Secrets exist, and the documented order of [`StoreObjects::children`](super::StoreObjects::children)
//! is a valid sequential order of the waves.

use super::Child;

/// A stage of the apply order; children of the same wave do not depend on each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wave {
    /// The Namespace: everything else lives in it.
    Namespace,
    /// What runs no pod: ResourceQuota, LimitRange, NetworkPolicies, generated Secrets,
    /// Services, PersistentVolumeClaims, ConfigMaps, the Ingress or HTTPRoute.
    Foundation,
    /// The database and cache StatefulSets.
    Data,
    /// The migration Job: created once every StatefulSet is ready.
    Migration,
    /// The storefront Deployments: applied once the migration (if any) has succeeded.
    Storefront,
    /// The setup Job, created by the setup step behind its gates.
    Setup,
}

impl Wave {
    /// Every wave, in order.
    pub const ALL: [Wave; 6] = [
        Wave::Namespace,
        Wave::Foundation,
        Wave::Data,
        Wave::Migration,
        Wave::Storefront,
        Wave::Setup,
    ];

    /// Whether children of this wave run pods.
    pub fn runs_pods(self) -> bool {
        self >= Wave::Data
    }
}

impl Child<'_> {
    /// The wave the child is applied in.
    pub fn wave(&self) -> Wave {
        match self {
            Child::Namespace(_) => Wave::Namespace,
            Child::ResourceQuota(_)
            | Child::LimitRange(_)
            | Child::NetworkPolicy(_)
            | Child::GeneratedSecret(_)
            | Child::Service(_)
            | Child::PersistentVolumeClaim(_)
            | Child::ConfigMap(_)
            | Child::Ingress(_)
            | Child::HttpRoute(_) => Wave::Foundation,
            Child::StatefulSet(_) => Wave::Data,
            Child::MigrationJob(_) => Wave::Migration,
            Child::Deployment(_) => Wave::Storefront,
            Child::Job(_) => Wave::Setup,
        }
    }
}
