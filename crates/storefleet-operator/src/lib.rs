//! storefleet-operator: turns each `Store` into an isolated online shop.
//!
//! One reconcile of one Store is a straight line; only the steps marked (client) talk to the
//! apiserver, and `render` runs the pure ones to show what a Store produces:
//!
//! ```text
//!  Store ──► validate ──► build ──► apply ──► observe ──► status
//!            (pure)       (pure)    (client)  (client)    (client)
//!            validate.rs  desired/    ...
//!               │           │
//!               └───────────┴──► render.rs: multi-document YAML, no cluster needed
//! ```
//!
//! - [`config`]: the operator's configuration (plans, images, domains), loaded and checked.
//! - [`validate`]: `&Store` + config → [`validate::ValidatedStore`] or a user error.
//! - [`build`]: one pure function per child object, typed k8s-openapi structs.
//! - [`render`]: validate + build + serialize, for `storefleet-operator render`.
//! - [`controller`]: the reconcile loop (apply, observe, status, cleanup) and `run`.
//! - [`metrics`], [`http`]: Prometheus metrics and the health endpoints.

pub mod config;
pub mod controller;
pub mod desired;
pub mod gateway_api;
pub mod http;
pub mod metrics;
pub mod render;
pub mod validate;
