//! The migration step of a Medusa store: the Job `migrate-<hash of the image>` runs
//! `medusa db:migrate` once the data services are ready; `apply` does not apply the server and
//! worker Deployments until it has succeeded, so a new image never serves before its database is
//! migrated. A failed migration fails the store until a retry. The Job's life is the shape every
//! step shares (`job.rs`): two migrations never run at once, and the finished Jobs of earlier
//! images are swept once this one has succeeded.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::controller::context::Context;
use crate::controller::observe::Step;
use crate::controller::requests::ApplyError;
use crate::controller::status::Blocked;
use crate::controller::steps::job::{self, Gate};

/// What the migration step concluded.
#[derive(Debug)]
pub struct Migration {
    /// The step, for the status (the storefront's, until it is done).
    pub step: Step,
    /// Set when the Job failed for good.
    pub blocked: Option<Blocked>,
    /// A failed Job was just deleted for a retry.
    pub restarting: bool,
}

/// Runs the migration Job `job` once the data services are ready.
pub async fn migrate(
    ctx: &Context,
    job: &Job,
    data_ready: bool,
    retry: bool,
) -> Result<Migration, ApplyError> {
    let gates = job::Gates {
        closed: (!data_ready).then(|| {
            "Waiting for the database and the cache before migrating the database".to_string()
        }),
        done: false,
        retry,
    };
    let gate = job::run(ctx, job::MIGRATION, job, &gates).await?;
    let name = job.name_any();
    let restarting = gate.restarting();
    let (step, blocked) = match gate {
        Gate::Done => (Step::Ready, None),
        Gate::Running(m) => (
            Step::Waiting(format!("Migrating the database (job {name}: {m})")),
            None,
        ),
        Gate::Waiting(m) | Gate::Started(m) | Gate::Restarting(m) => (Step::Waiting(m), None),
        Gate::Failed(blocked) => (Step::Waiting(blocked.message.clone()), Some(blocked)),
    };
    Ok(Migration {
        step,
        blocked,
        restarting,
    })
}
