//! The `Store` custom resource of Storefleet, as Rust types.
//!
//! ```text
//!   Store (cluster-scoped, storefleet.io/v1alpha1)
//!    ├── spec: StoreSpec      what is asked for      (spec.rs: schema + CEL rules)
//!    ├── status: StoreStatus  what was observed      (status.rs: phase + conditions)
//!    └── names                every shared name      (names.rs: group, finalizer, labels, children)
//!   StoreRollout (cluster-scoped): a fleet's upgrade in waves        (rollout.rs: spec + status)
//! ```
//!
//! This crate has no client and no I/O: the operator, the API and the tests all depend on it, and
//! `Store::crd()` is the CRD that `crd/` holds.

pub mod names;
pub mod rollout;
pub mod spec;
pub mod status;

#[cfg(any(test, feature = "testing"))]
pub mod fixtures;

pub use rollout::{
    RolloutMark, RolloutPhase, RolloutSelector, RolloutState, RolloutStore, StoreRollout,
    StoreRolloutSpec, StoreRolloutStatus, WaveSpec, WaveStatus,
};
pub use spec::{
    BackupSpec, DeletionPolicy, Engine, GatewaySpec, IngressSpec, PaymentMethod, Plan,
    RestoreFromSpec, RetentionSpec, SetupSpec, StorageSpec, Store, StoreSpec, TlsSpec,
    VersionsSpec,
};
pub use status::{
    BackupRecord, BackupStatus, DeployedVersions, DrillRun, Phase, RunningVersions, StoreData,
    StoreStatus, UpgradePhase, UpgradeStatus, condition,
};
