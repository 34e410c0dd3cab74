//! The restore step of a new store with `spec.restoreFrom`: the restore Job puts the backup's
//! database and files in place once the database and the storefront are ready, before setup,
//! once in the store's life (`status.completedRestore`): never again over the shop it became.
//! Setup waits for it, then adopts the restored shop. A rollback of a failed upgrade restores its
//! restore point the same way (once per upgrade: `status.upgrade.restored`), before the old
//! version's setup. The Job's life is the shape every step shares (`job.rs`).

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::controller::context::Context;
use crate::controller::observe::Step;
use crate::controller::requests::ApplyError;
use crate::controller::status::{Blocked, StatusFacts};
use crate::controller::steps::job::{self, Gate};
use crate::controller::upgrade;

/// What the restore step concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    /// Ready once restored (or nothing to restore); what it waits for otherwise.
    pub step: Step,
    /// Set when the restore failed for good.
    pub blocked: Option<Blocked>,
    /// A failed Job was just deleted for a retry.
    pub restarting: bool,
}

impl Restore {
    /// A store that restores nothing.
    pub fn nothing() -> Self {
        Self {
            step: Step::Ready,
            blocked: None,
            restarting: false,
        }
    }
}

/// Runs the restore Job `job` (if the store has one) once `open`; records a success in
/// `facts.completed_restore`, or a rollback's in `facts.upgrade.restored`.
pub async fn run_restore(
    ctx: &Context,
    job: Option<&Job>,
    open: bool,
    retry: bool,
    facts: &mut StatusFacts,
) -> Result<Restore, ApplyError> {
    let Some(job) = job else {
        return Ok(Restore::nothing());
    };
    let name = job.name_any();
    let rollback = upgrade::restoring(facts.upgrade.as_ref()).is_some();
    let gates = job::Gates {
        closed: (!open).then(|| {
            "Waiting for the database and the storefront before restoring the backup".to_string()
        }),
        // Once restored, never again: whatever the Job is named now.
        done: match (rollback, &facts.upgrade) {
            (true, Some(u)) => u.restored.is_some(),
            _ => facts.completed_restore.is_some(),
        },
        retry,
    };
    let gate = job::run(ctx, job::RESTORE, job, &gates).await?;
    let restarting = gate.restarting();
    let (step, blocked) = match gate {
        Gate::Done => {
            match facts.upgrade.as_mut().filter(|_| rollback) {
                Some(u) => {
                    u.restored.get_or_insert(name);
                }
                None => {
                    facts.completed_restore.get_or_insert(name);
                }
            }
            (Step::Ready, None)
        }
        Gate::Running(m) => (
            Step::Waiting(format!("Restoring the backup (job {name}: {m})")),
            None,
        ),
        Gate::Waiting(m) | Gate::Started(m) | Gate::Restarting(m) => (Step::Waiting(m), None),
        Gate::Failed(blocked) => (Step::Waiting(blocked.message.clone()), Some(blocked)),
    };
    Ok(Restore {
        step,
        blocked,
        restarting,
    })
}
