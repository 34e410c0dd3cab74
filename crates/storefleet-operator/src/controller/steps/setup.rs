//! The setup step: the setup Job (WP-CLI for WooCommerce, `medusa exec` for Medusa) once the
//! database and the storefront are ready and every child was accepted. Its name is a hash of its
//! inputs, so a spec change makes a new one; its success is recorded in the status
//! (`completedSetup`), and from then on exposes the store. The Job's life is the shape every step
//! shares (`job.rs`).

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::controller::context::Context;
use crate::controller::observe::Step;
use crate::controller::requests::ApplyError;
use crate::controller::status::{Blocked, Setup, StatusFacts};
use crate::controller::steps::job::{self, Gate};
use crate::controller::steps::restore;

/// What the setup step concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStep {
    /// The step, for the status.
    pub setup: Setup,
    /// Set when the setup failed for good (the store is Failed until a retry).
    pub blocked: Option<Blocked>,
    /// A failed Job was just deleted for a retry: check again soon.
    pub restarting: bool,
}

impl From<Gate> for SetupStep {
    fn from(gate: Gate) -> Self {
        let restarting = gate.restarting();
        let (setup, blocked) = match gate {
            Gate::Waiting(m) | Gate::Restarting(m) => (Setup::Gated(m), None),
            Gate::Started(m) | Gate::Running(m) => (Setup::Running(m), None),
            Gate::Done => (Setup::Succeeded, None),
            Gate::Failed(blocked) => (Setup::Failed(blocked.message.clone()), Some(blocked)),
        };
        Self {
            setup,
            blocked,
            restarting,
        }
    }
}

impl SetupStep {
    /// The step with `blocked` (another step's: a failed rollback) when it has none of its own.
    #[must_use]
    pub fn with_blocked(mut self, blocked: Option<Blocked>) -> Self {
        if self.blocked.is_none() {
            self.blocked = blocked;
        }
        self
    }
}

/// The gates the setup waits behind.
#[derive(Debug, Clone, Copy)]
pub struct Gates<'a> {
    /// The database step.
    pub database: &'a Step,
    /// The storefront step.
    pub storefront: &'a Step,
    /// Whether every child was accepted.
    pub applied: bool,
    /// Whether this pass is a retry after a failure.
    pub retry: bool,
    /// The store sleeps: a setup not done yet (the spec changed) waits for the wake.
    pub asleep: bool,
}

/// Runs the setup behind its gates (a new store's restore first, if it has one: setup adopts
/// the restored shop); records a success in `facts.completed_setup`.
pub async fn run_setup(
    ctx: &Context,
    job: &Job,
    restore_job: Option<&Job>,
    gates: Gates<'_>,
    facts: &mut StatusFacts,
) -> Result<SetupStep, ApplyError> {
    let name = job.name_any();
    let open = gates.database.is_ready() && gates.storefront.is_ready() && gates.applied;
    let restore = restore::run_restore(ctx, restore_job, open, gates.retry, facts).await?;
    if let Step::Waiting(message) = restore.step {
        return Ok(SetupStep {
            setup: match &restore.blocked {
                Some(blocked) => Setup::Failed(blocked.message.clone()),
                None => Setup::Gated(message),
            },
            blocked: restore.blocked,
            restarting: restore.restarting,
        });
    }
    let closed = match (gates.asleep, open) {
        (true, _) => Some("The store is hibernated: setup runs when it wakes"),
        (false, false) => Some("Waiting for the database and the storefront before running setup"),
        (false, true) => None,
    };
    let gates = job::Gates {
        closed: closed.map(str::to_string),
        done: facts.completed_setup.as_deref() == Some(name.as_str()),
        retry: gates.retry,
    };
    let gate = job::run(ctx, job::SETUP, job, &gates).await?;
    if gate == Gate::Done {
        facts.completed_setup = Some(name);
    }
    Ok(SetupStep::from(gate))
}
