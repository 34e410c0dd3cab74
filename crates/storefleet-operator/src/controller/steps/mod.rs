//! The steps that run after the children are applied, each behind its gates: the setup Job
//! (`setup.rs`, both engines) and Medusa's migration Job (`migration.rs`, run between the data
//! services and the Deployments). Each reads what was observed, decides what Job it wants now,
//! creates it once and reports a step for the status.

pub mod migration;
pub mod setup;
