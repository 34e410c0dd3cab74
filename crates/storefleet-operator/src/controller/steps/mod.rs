//! The steps that run after the children are applied, each behind its gates: the setup Job
//! (`setup.rs`, both engines) and Medusa's migration Job (`migration.rs`, run between the data
//! services and the Deployments). Both have the one shape of `job.rs`: a Job per input, created
//! once behind gates, read from its watch, never two at once, retried by deletion; each step
//! says only what gates it and what its outcome means for the status. The sweep (`sweep.rs`)
//! removes the Jobs of earlier inputs.
//!
//! A new step (a backup, a restore) is a [`job::StepKind`] in `job.rs`,
//! a file here that builds its gates and maps its [`job::Gate`] into the status, its Job built in
//! `crate::desired`, and one line in the driver that runs it.

pub mod job;
pub mod migration;
pub mod restore;
pub mod setup;
pub mod upgrade;
