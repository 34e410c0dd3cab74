//! Waves: the apply order as the dependencies between children, so that a pass can apply the
//! children of one wave at once. A wave starts when the one before it has finished.
//!
//! ```text
//!  Namespace ─► Foundation: quota, limit range, network policies, Secrets, Services,
//!                           ConfigMaps (nothing that runs a pod)
//!            ─► Volumes: the volume claims, and the growth of existing ones, once the quota
//!                        and limit range that admit their size are in place
//!            ─► Data: the databases (StatefulSets)
//!            ─► Migration: the migration Job (Medusa), once the databases are ready
//!            ─► Storefront: the Deployments (after a successful migration)
//!            ─► Setup: the setup Job, behind its gates
//!            ─► Exposure: the edge policies and the route, once setup has installed the shop
//!                         with our admin (a shop is never public before it is ours)
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
    /// Services, ConfigMaps.
    Foundation,
    /// PersistentVolumeClaims (and the growth of every data claim, the StatefulSets' too): after
    /// the quota and limit range, which admit (or refuse) their size.
    Volumes,
    /// The database and cache StatefulSets.
    Data,
    /// The migration Job: created once every StatefulSet is ready.
    Migration,
    /// The storefront Deployments: applied once the migration (if any) has succeeded.
    Storefront,
    /// The setup Job, created by the setup step behind its gates.
    Setup,
    /// What only a set-up shop has: the edge policies, the Ingress or HTTPRoute, the backup
    /// CronJob. Applied once the store has been set up (on its current data), removed while it
    /// is refused or its data is gone (empty data is never backed up over good snapshots).
    Exposure,
}

impl Wave {
    /// Every wave, in order.
    pub const ALL: [Wave; 8] = [
        Wave::Namespace,
        Wave::Foundation,
        Wave::Volumes,
        Wave::Data,
        Wave::Migration,
        Wave::Storefront,
        Wave::Setup,
        Wave::Exposure,
    ];

    /// Whether children of this wave run pods.
    pub fn runs_pods(self) -> bool {
        (Wave::Data..=Wave::Setup).contains(&self)
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
            | Child::Role(_)
            | Child::RoleBinding(_)
            | Child::ConfigMap(_)
            | Child::BackupSecret(_) => Wave::Foundation,
            Child::PersistentVolumeClaim(_) => Wave::Volumes,
            Child::StatefulSet(_) => Wave::Data,
            Child::MigrationJob(_) => Wave::Migration,
            Child::Deployment(_) => Wave::Storefront,
            Child::SetupJob(_) | Child::RestoreJob(_) => Wave::Setup,
            Child::EdgePolicy(_)
            | Child::Ingress(_)
            | Child::HttpRoute(_)
            | Child::BackupCronJob(_)
            | Child::CronJob(_) => Wave::Exposure,
        }
    }
}
