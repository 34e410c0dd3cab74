//! `Store.status`: what the operator observed, in the shape kubectl, Argo CD and Flux read.
//!
//! | state | conditions | phase |
//! |---|---|---|
//! | working on it | `Ready=Unknown/False`, `Reconciling=True` | Provisioning |
//! | cannot proceed without a change | `Ready=False`, `Stalled=True` | Failed |
//! | done | `Ready=True` | Ready |
//! | being deleted | `Ready=False`, `Reconciling=True` | Deleting |
//!
//! Secrets never appear here: [`StoreStatus::credentials_secret`] names the Secret instead.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a Store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreStatus {
    /// The `metadata.generation` this status describes; written on every reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Coarse summary of the conditions, for humans and dashboards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// `Ready`, `Reconciling`, `Stalled` and one condition per provisioning step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The store's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,

    /// Where customers reach the shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,

    /// Where the shop's admin logs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,

    /// Name of the Secret (in [`Self::namespace`]) holding the admin login. Never the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,

    /// Human-readable summary of the current state (the Ready condition's message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// Name of the setup Job that last succeeded. While it matches the setup the spec asks for,
    /// the setup is not run again (even if that finished Job is deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_setup: Option<String>,

    /// Name of the restore Job that put `spec.restoreFrom`'s backup in place. Set once: a store
    /// is restored once in its life, never again over the shop it became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_restore: Option<String>,

    /// The value of the `storefleet.io/retry` annotation the operator last saw; changing the
    /// annotation on a Failed store asks for a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_retry: Option<String>,

    /// When the operator first started provisioning this store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_started_at: Option<Time>,

    /// When the store first became Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<Time>,

    /// What identifies the store's data, recorded once setup has succeeded on it: when one of
    /// these objects vanishes or is replaced, the shop's data is gone and the store is
    /// `Stalled` with reason `DataLost` (never set up again, never Ready on an empty shop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<StoreData>,

    /// The size each data volume claim has been grown to (with its StatefulSet's claim
    /// template), by claim name: a larger plan or size grows the claims in place, and they never
    /// shrink.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_sizes: BTreeMap<String, String>,

    /// The store's newest backup and its newest restore proven by a drill (stores with backups
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStatus>,

    /// What the shop runs, as its newest successful setup read it from the running shop (not
    /// what the spec asks for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<RunningVersions>,

    /// What the store's shop was last set up and verified on; it keeps running these until its
    /// spec (or a StoreRollout admitting it) asks for others: an upgrade, carried out as one
    /// transaction (`upgrade`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed: Option<DeployedVersions>,

    /// The store's newest upgrade: in progress, or how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeStatus>,

    /// The StoreRollout that admitted the store, and how the store's move to its target goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutMark>,
}

/// The versions a store's children are built from: every image it runs, by role, and the
/// WooCommerce version when one is pinned.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployedVersions {
    /// Each image, by role: `wordpress`, `mariadb`, `wpCli` (WooCommerce stores); `medusa`,
    /// `postgres`, `redis` (Medusa stores).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// The WooCommerce plugin version asked for, when pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub woocommerce: Option<String>,
}

/// A store's upgrade from one set of versions to another: a backup first (the restore point),
/// then the new images and the database updates of the new setup, then a verification that the
/// shop still sells; a failed check rolls the store back to the old images and, once its
/// database was touched, to the restore point.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    /// What the store ran before: what a rollback returns to.
    pub from: DeployedVersions,
    /// What the spec asks for.
    pub to: DeployedVersions,
    /// Where the upgrade is.
    pub phase: UpgradePhase,
    /// When it started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it entered its phase (RFC 3339); a phase that waits too long fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_since: Option<String>,
    /// The snapshot of the backup taken before the upgrade (none for a store without backups:
    /// its rollback brings back the old images over the database as the upgrade left it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_point: Option<String>,
    /// The rollback's restore Job, once it put the restore point back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<String>,
    /// The check that failed (a rollback's or an abort's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_check: Option<String>,
    /// The StoreRollout whose target this is (none: the store's own spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
}

/// Where an upgrade is. The first four are in progress; the rest are how it ended.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum UpgradePhase {
    /// The pre-upgrade backup runs; nothing has changed yet.
    #[default]
    BackingUp,
    /// The new images roll out and the new setup updates the database.
    Upgrading,
    /// The new version's shop is checked as a customer walks it.
    Verifying,
    /// A check failed: the old images, the restore point, the old setup, a check again.
    RollingBack,
    /// Verified: the store runs the new versions.
    Succeeded,
    /// A check failed and the store runs the old versions again, verified. Not tried again
    /// until the spec asks for other versions or a retry.
    RolledBack,
    /// The pre-upgrade backup failed: nothing was changed.
    Aborted,
    /// The rollback itself failed: the store needs a human (see the `Upgraded` condition).
    RollbackFailed,
}

impl UpgradePhase {
    /// Whether the upgrade still runs.
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            Self::BackingUp | Self::Upgrading | Self::Verifying | Self::RollingBack
        )
    }
}

/// The versions a store's shop runs, read by its setup Job from the shop itself. A field the Job
/// did not report (its pod was gone before the operator read it) is left out.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunningVersions {
    /// The setup Job that read them.
    pub job: String,
    /// WordPress core (WooCommerce stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wordpress: Option<String>,
    /// The WooCommerce plugin (WooCommerce stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub woocommerce: Option<String>,
    /// PHP (WooCommerce stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub php: Option<String>,
    /// Medusa (`@medusajs/medusa`, Medusa stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medusa: Option<String>,
    /// The database server (MariaDB or PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

impl StoreStatus {
    /// The condition of `type_`, if any (conditions are a map keyed on their type).
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Whether the condition of `type_` is `True`.
    pub fn is_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == "True")
    }
}

/// The objects a store's data lives in, by uid.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreData {
    /// The uid of the store's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_uid: Option<String>,

    /// The uid of each volume claim that holds the shop's data (database, files), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
}

/// What the store's backups have recorded, from the reports of their pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// The newest successful backup: its snapshot, when it was taken, how long it took, its
    /// dump's size and what the shop held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<BackupRecord>,

    /// The newest drill that restored a backup and found it whole: `snapshot` is the newest
    /// backup proven by a restore (the RPO is the age of its `snapshotTime`), `seconds` the
    /// measured restore time (the RTO), the counts what the restored shop held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_restore: Option<BackupRecord>,

    /// The drill running now, if one is: the newest backup being restored into a throwaway
    /// namespace of the platform's, the shop started there and checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_drill: Option<DrillRun>,

    /// The newest finished drill, succeeded or failed (`BackupVerified` says which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<DrillRun>,
}

/// One drill: when it started, and once it finished, how it ended.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRun {
    /// Its Job.
    pub job: String,

    /// The throwaway namespace it ran in (removed once it finished).
    pub namespace: String,

    /// When it started (RFC 3339).
    pub started_at: String,

    /// When it finished (RFC 3339); absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,

    /// Whether it proved the backup; absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,

    /// What failed (the failing step's own words), for a drill that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// The value of the store's `storefleet.io/drill-now` annotation it answered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<String>,
}

/// One backup or drill, as its pod reported it. A field its pod did not report (the pod was
/// removed before the operator read it) is left out.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// The Job that ran it.
    pub job: String,

    /// When the Job finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,

    /// The restic snapshot (short id): what `spec.restoreFrom.snapshot` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,

    /// When the snapshot was taken (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_time: Option<String>,

    /// How long it took: a backup's dump and upload; a drill's restore, load and checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,

    /// The size of the database dump in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,

    /// Orders in the shop (in the backup; in the restored shop, for a drill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<i64>,

    /// Published products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<i64>,

    /// Customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<i64>,
}

/// Coarse lifecycle phase.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Phase {
    /// Accepted, nothing done yet.
    Pending,
    /// Children are being created or are not ready yet.
    Provisioning,
    /// The shop is serving and set up.
    Ready,
    /// Cannot proceed without a change (bad spec, timeout, setup failed).
    Failed,
    /// Being deleted.
    Deleting,
    /// Asleep (`spec.hibernate`): no pod runs; volumes, Secrets and route kept.
    Hibernated,
}

impl Phase {
    /// The value as written in the status.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Provisioning => "Provisioning",
            Self::Ready => "Ready",
            Self::Failed => "Failed",
            Self::Deleting => "Deleting",
            Self::Hibernated => "Hibernated",
        }
    }
}

/// Condition types.
pub mod condition {
    /// The store is serving and set up.
    pub const READY: &str = "Ready";
    /// The operator is working towards the desired state (kstatus).
    pub const RECONCILING: &str = "Reconciling";
    /// The operator cannot proceed without a change (kstatus).
    pub const STALLED: &str = "Stalled";
    /// Namespace, quota, limit range and network policies exist.
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    /// The database is ready.
    pub const DATABASE_READY: &str = "DatabaseReady";
    /// The storefront is available.
    pub const STOREFRONT_READY: &str = "StorefrontReady";
    /// The setup Job succeeded.
    pub const SETUP_COMPLETE: &str = "SetupComplete";
    /// The store's HTTPRoute was accepted by its Gateway (Gateway API routing only).
    pub const ROUTE_ACCEPTED: &str = "RouteAccepted";
    /// The store's newest scheduled backup succeeded (stores with backups only).
    pub const BACKUP_READY: &str = "BackupReady";
    /// The store's newest drill restored its newest backup and found it whole (stores with
    /// backups only): a backup counts once a drill restored it.
    pub const BACKUP_VERIFIED: &str = "BackupVerified";
    /// WordPress's scheduled work (due events, Action Scheduler) ran in its newest run.
    pub const CRON_HEALTHY: &str = "CronHealthy";
    /// The store is asleep (`spec.hibernate`): True once no pod of its workloads runs; False
    /// while they stop or while it waits for its setup to finish. Absent on an awake store.
    pub const HIBERNATED: &str = "Hibernated";
    /// The newest checkout probe walked a customer's way to paying (home, a product, a cart,
    /// the payment methods) without a failure.
    pub const CHECKOUT_HEALTHY: &str = "CheckoutHealthy";
    /// Medusa: the worker (subscribers, scheduled jobs, workflows) is available.
    pub const WORKER_HEALTHY: &str = "WorkerHealthy";
    /// The store's newest upgrade (a change of its versions): True once verified, False while
    /// it runs or when it was rolled back, aborted or failed. Absent before the first upgrade.
    pub const UPGRADED: &str = "Upgraded";
    /// A StoreRollout stopped admitting stores: more failed than its budget allows.
    pub const HALTED: &str = "Halted";
}
