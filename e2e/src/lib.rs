//! Storefleet's end-to-end suite: checks a real cluster (whatever `KUBECONFIG`, or
//! `~/.kube/config`, points at).
//!
//! ```text
//!  storefleet-e2e (bin) ─► harness: connect? ──no──► every test: "skipped: no reachable cluster"
//!                                   │yes
//!                                   ├─ install crd/ (server-side apply), start the operator
//!                                   │  (local binary, or the in-cluster chart when
//!                                   │   STOREFLEET_E2E_IN_CLUSTER=1)
//!                                   └─ run each enabled test, clean up after each one
//!  tiers: control plane (default) · workloads (STOREFLEET_E2E_WORKLOADS=1) · scale (STOREFLEET_E2E_SCALE=N)
//! ```
//!
//! The helpers here (waiting, printer columns, metrics, cleanup bookkeeping, the summary) are
//! unit-tested in `make test`; the suite itself runs with `make e2e`.

pub mod harness;
pub mod kube_env;
pub mod operator;
pub mod settings;
pub mod suite;
pub mod text;
pub mod wait;
