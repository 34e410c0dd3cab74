//! The controller: drives every Store from Pending to Ready, keeps it there, deletes it cleanly.
//!
//! ```text
//!  reconcile(store)                                               reconcile.rs
//!   ├─ admit: validate (pure), host and caps (from the cache)     refused: status (+ route withdrawn)
//!   └─ kube finalizer
//!       ├─ Apply:   build (crate::desired, pure)
//!       │           ─► the data still there? (namespace, volumes)  data.rs (pure)   lost: DataLost
//!       │           ─► apply each child, typed server-side apply   apply.rs, apply_child.rs, calls.rs
//!       │              wave by wave, in parallel within a wave     desired/wave.rs
//!       │              (skipping what the memo shows unchanged)    memo.rs, seen.rs  [Secrets: create-only]
//!       │              Medusa: migration Job gates the Deployments  migration.rs
//!       │           ─► observe the applied or watched objects      observe.rs (pure)
//!       │           ─► setup Job behind its gates                  setup.rs
//!       │           ─► expose (route, edge policies) once set up   apply.rs (Exposure wave)
//!       │           ─► one status write + events                   report.rs, status.rs (pure)
//!       └─ Cleanup: delete the namespace or release the children  cleanup.rs
//! ```
//!
//! The kinds of child are listed once (`children.rs`); the watches (`watches.rs`) and the Retain
//! cleanup derive from that list. Each step has its own error enum carrying the `kube::Error`;
//! [`Error::metric_label`] names the step and [`error_policy`] decides how soon to come back.
//! The I/O is tested against a real kube-apiserver, kube-controller-manager and etcd
//! (`tests/control_plane.rs`, crate `storefleet-envtest`).
pub mod admission;
pub mod apply;
pub mod assess;
pub mod calls;
pub mod children;
pub mod cleanup;
pub mod context;
pub mod data;
pub mod driver;
pub mod error;
pub mod memory;
pub mod observe;
pub mod report;
pub mod routes;
pub mod runtime;
pub mod status;
pub mod steps;
pub mod watches;
