//! The controller: drives every Store from Pending to Ready, keeps it there, deletes it cleanly.
//!
//! ```text
//!  reconcile(store)                                              driver.rs
//!   ├─ admit: validate (pure), host and caps (from the cache)    admission.rs   refused: status
//!   └─ kube finalizer                                                           (+ route withdrawn)
//!       ├─ Apply:   desired objects (crate::desired, pure)
//!       │           ─► their repository Secrets (backups)          backup_keys.rs (cached)
//!       │           ─► the namespace: ours? issued? (read once)    apply/mod.rs
//!       │           ─► the data still there? (namespace, volumes)  data.rs (pure)  lost: DataLost
//!       │           ─► each child, typed server-side apply,        apply/child.rs, requests.rs
//!       │              wave by wave, in parallel within a wave     desired/wave.rs
//!       │              (skipping what the memory shows unchanged)  memory/  [Secrets: create-only]
//!       │              data claims grown first                     apply/volumes.rs
//!       │              Medusa: the migration step gates the        steps/migration.rs
//!       │              Deployments                                 (the shape: steps/job.rs)
//!       │           ─► a restore (spec.restoreFrom), then the      steps/restore.rs,
//!       │              setup step behind its gates                 steps/setup.rs
//!       │           ─► expose (route, edge policies, backup        apply/mod.rs (Exposure wave)
//!       │              CronJobs) once set up; a backup asked for   backups.rs
//!       │           ─► sweep what the pass no longer wants         sweep.rs (from the watches)
//!       │           ─► the recurring runs: backups (and WordPress   backups.rs
//!       │              cron) from the watches; their pods' reports, reports.rs (once a Job)
//!       │              the setup's versions; a drill due? started,  drills.rs (its own
//!       │              recorded, its namespace removed              namespace, pure `next`)
//!       │           ─► assess: timeout, ready, next look (pure)    assess.rs, observe.rs
//!       │           ─► one status write + events                   report.rs, status.rs (pure),
//!       │                                                          events.rs (series)
//!       └─ Cleanup: a drill's namespace, then the store's namespace   cleanup.rs
//!                   or release the children
//!  shared by every pass: context.rs (client, Store cache, config, clock) and its memory/
//!  (memos, what the watches saw, backoffs, places under the caps); errors: error.rs
//!  run: leader election, the Controller and its watches          runtime.rs, watches.rs, routes.rs
//! ```
//!
//! The kinds of child are listed once (`children.rs`); the watches (`watches.rs`), the sweep's
//! deletes and the Retain cleanup derive from that list. Each step has its own error enum carrying the `kube::Error`;
//! `Error::metric_label` (`error.rs`) names the step and `error_policy` decides how soon to come
//! back. The I/O is tested against a real kube-apiserver, kube-controller-manager and etcd
//! (`tests/control_plane/`, crate `storefleet-envtest`).

pub mod admission;
pub mod apply;
pub mod assess;
pub mod backup_keys;
pub mod backups;
pub mod children;
pub mod cleanup;
pub mod context;
pub mod data;
pub mod drills;
pub mod driver;
pub mod error;
pub mod events;
pub mod memory;
pub mod observe;
pub mod report;
pub mod reports;
pub mod requests;
pub mod rollout;
pub mod rollouts;
pub mod routes;
pub mod runtime;
pub mod status;
pub mod steps;
pub mod sweep;
pub mod upgrade;
pub mod watches;
