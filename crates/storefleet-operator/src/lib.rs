//! storefleet-operator: turns each `Store` into an isolated online shop.
//!
//! One reconcile of one Store is a straight line; only the steps marked (client) talk to the
//! apiserver, and `render` runs the pure ones to show what a Store produces:
//!
//! ```text
//!  Store ──► validate ──► admit ──► desired ──► apply ──► steps ──► assess ──► report
//!            (pure)       (cache)   (pure)      (client)  (client)  (pure)     (client)
//!            validate/    controller/admission  controller/apply/   controller/assess.rs
//!               │                   desired/    controller/steps/   controller/report.rs
//!               └───────────────────────┴──► render.rs: multi-document YAML, no cluster needed
//! ```
//!
//! - [`config`]: the operator's configuration (plans, images, domains), loaded and checked.
//! - [`validate`]: `&Store` + config → [`validate::ValidatedStore`] or a user error.
//! - [`desired`]: what should exist: one pure function per child object, typed k8s-openapi
//!   structs.
//! - [`render`]: validate + desired + serialize, for `storefleet-operator render`.
//! - [`controller`]: the reconcile (driver, admission, apply, steps, assess, report, cleanup)
//!   and `run`.
//! - [`metrics`], [`http`]: Prometheus metrics and the health endpoints.

pub mod config;
pub mod controller;
pub mod desired;
pub mod gateway_api;
pub mod http;
pub mod metrics;
pub mod render;
pub mod validate;
