//! The setup step: the setup Job (WP-CLI for WooCommerce, `medusa exec` for Medusa), behind its
//! gates.
//!
//! The Job is created (never applied) once the database and the storefront are ready; its name
//! is a hash of its inputs, so a spec change makes a new one. Setup Jobs of earlier specs never
//! overlap a new one: a running one is waited for, finished ones are removed.

use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};
use storefleet_types::names::{self, labels as keys};
use tracing::info;

use crate::controller::calls::{self, ApplyError, status_code};
use crate::controller::context::Context;
use crate::controller::memory::ChildKey;
use crate::controller::observe::{self, JobState, Step};
use crate::controller::status::{Blocked, Facts, Setup};
use crate::validate::ValidatedStore;

/// An apiserver call of the setup step failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Listing the store's setup Jobs failed.
    #[error("cannot list the setup jobs in {namespace}")]
    List {
        /// The store's namespace.
        namespace: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deleting a setup Job failed.
    #[error("cannot delete setup job {job}")]
    Delete {
        /// The Job.
        job: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Creating the Job or aligning its owners failed.
    #[error(transparent)]
    Write(#[from] ApplyError),
}

impl SetupError {
    /// The apiserver's error.
    pub fn kube(&self) -> &kube::Error {
        match self {
            Self::List { source, .. } | Self::Delete { source, .. } => source,
            Self::Write(e) => e.kube(),
        }
    }
}

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

impl SetupStep {
    fn of(setup: Setup) -> Self {
        Self {
            setup,
            blocked: None,
            restarting: false,
        }
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
}

/// The setup Job this pass wants, and what decides it.
struct Wanted<'a> {
    job: &'a Job,
    name: String,
    key: ChildKey,
    owned: bool,
    /// Set up with this Job already (the status says so).
    done: bool,
    /// The database and the storefront are ready and every child was accepted.
    open: bool,
}

/// Runs the setup behind its gates; records a success in `facts.completed_setup`.
pub async fn run_setup(
    ctx: &Context,
    store: &ValidatedStore,
    job: &Job,
    gates: Gates<'_>,
    facts: &mut Facts,
) -> Result<SetupStep, SetupError> {
    let name = job.name_any();
    let wanted = Wanted {
        job,
        key: ChildKey::new("Job", Some(&store.namespace), Some(&name)),
        owned: job.metadata.owner_references.is_some(),
        done: facts.completed_setup.as_deref() == Some(name.as_str()),
        open: gates.database.is_ready() && gates.storefront.is_ready() && gates.applied,
        name,
    };
    if let Some(step) = from_watches(ctx, &store.namespace, &wanted, facts).await? {
        return Ok(step);
    }
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &store.namespace);
    let (live, earlier_running) = list_setup_jobs(ctx, store, &jobs, &wanted.name).await?;
    if wanted.done {
        // Done before; the finished Job may have been cleaned up, which is fine.
        if let Some(live) = &live {
            calls::align_owners::<Job>(ctx, &live.metadata, &job.metadata).await?;
            let version = live.metadata.resource_version.as_deref();
            ctx.jobs
                .record(wanted.key, version, wanted.owned, JobState::Succeeded);
        }
        return Ok(SetupStep::of(Setup::Succeeded));
    }
    let Some(live) = live else {
        if let Some(earlier) = earlier_running {
            return Ok(SetupStep::of(Setup::Gated(format!(
                "Waiting for setup job {earlier} (from an earlier spec) to finish before starting {}",
                wanted.name
            ))));
        }
        if !wanted.open {
            return Ok(SetupStep::of(gated()));
        }
        let started = start(ctx, job, wanted.key, wanted.owned).await?;
        return Ok(started.unwrap_or_else(|| {
            SetupStep::of(Setup::Running(format!("Setup job {} started", wanted.name)))
        }));
    };
    if live.metadata.deletion_timestamp.is_some() {
        return Ok(SetupStep {
            restarting: true,
            ..SetupStep::of(Setup::Gated("Restarting setup".into()))
        });
    }
    calls::align_owners::<Job>(ctx, &live.metadata, &job.metadata).await?;
    let state = observe::job(&live);
    let version = live.metadata.resource_version.as_deref();
    ctx.jobs
        .record(wanted.key.clone(), version, wanted.owned, state.clone());
    if let JobState::Failed { reason, .. } = &state
        && gates.retry
    {
        info!(job_name = %wanted.name, %reason, "deleting failed setup job for a retry");
        delete(ctx, &jobs, &wanted.name).await?;
    }
    Ok(step_of(
        state,
        &wanted.name,
        &store.namespace,
        gates.retry,
        facts,
    ))
}

/// The setup as the watches show it, when that is enough: with no Job in the namespace the setup
/// is done, waits behind its gates, or starts now (a Job the watches did not show, from a
/// namespace handed over by a retained store, makes the create a conflict: then it is read);
/// with the Job unchanged since it was last read and no Job of an earlier spec, its last state.
async fn from_watches(
    ctx: &Context,
    namespace: &str,
    wanted: &Wanted<'_>,
    facts: &mut Facts,
) -> Result<Option<SetupStep>, SetupError> {
    if !ctx.seen.any("Job", namespace) {
        if wanted.done {
            return Ok(Some(SetupStep::of(Setup::Succeeded)));
        }
        if !wanted.open {
            return Ok(Some(SetupStep::of(gated())));
        }
        if let Some(started) = start(ctx, wanted.job, wanted.key.clone(), wanted.owned).await? {
            return Ok(Some(started));
        }
    }
    let earlier = ctx
        .seen
        .names("Job", namespace)
        .into_iter()
        .any(|n| n != wanted.name && n.starts_with(names::child::SETUP_JOB_PREFIX));
    if earlier {
        return Ok(None);
    }
    Ok(
        match ctx.jobs.current(&wanted.key, &ctx.seen, wanted.owned) {
            Some(JobState::Succeeded) => {
                facts.completed_setup = Some(wanted.name.clone());
                Some(SetupStep::of(Setup::Succeeded))
            }
            Some(JobState::Running(m)) => Some(SetupStep::of(Setup::Running(m))),
            // A failure is read again: a retry deletes the Job.
            Some(JobState::Failed { .. }) | None => None,
        },
    )
}

/// The store's setup Jobs: this pass's (if it exists) and the name of a running one of an
/// earlier spec; finished ones of earlier specs are deleted.
async fn list_setup_jobs(
    ctx: &Context,
    store: &ValidatedStore,
    jobs: &Api<Job>,
    job_name: &str,
) -> Result<(Option<Job>, Option<String>), SetupError> {
    let selector = format!(
        "{}={},{}={}",
        keys::STORE,
        store.name,
        keys::COMPONENT,
        names::Component::Setup.as_str()
    );
    ctx.metrics.api_request("list");
    let listed = jobs
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| SetupError::List {
            namespace: store.namespace.clone(),
            source,
        })?;
    let mut live = None;
    let mut earlier_running = None;
    for other in listed.items {
        let other_name = other.name_any();
        if other_name == job_name {
            live = Some(other);
        } else if other.metadata.deletion_timestamp.is_some()
            || matches!(observe::job(&other), JobState::Running(_))
        {
            earlier_running = Some(other_name);
        } else {
            info!(job = %other_name, "removing a finished setup job of an earlier spec");
            delete(ctx, jobs, &other_name).await?;
        }
    }
    Ok((live, earlier_running))
}

/// The setup step of a Job in `state` (pure); a success is recorded in `facts`. A failure on a
/// retry restarts the setup (the Job was deleted); otherwise it fails the store until a retry.
fn step_of(
    state: JobState,
    job_name: &str,
    namespace: &str,
    retry: bool,
    facts: &mut Facts,
) -> SetupStep {
    match state {
        JobState::Succeeded => {
            facts.completed_setup = Some(job_name.to_string());
            SetupStep::of(Setup::Succeeded)
        }
        JobState::Running(m) => SetupStep::of(Setup::Running(m)),
        JobState::Failed { reason, .. } if retry => SetupStep {
            restarting: true,
            ..SetupStep::of(Setup::Gated(format!("Restarting setup after {reason}")))
        },
        JobState::Failed { reason, message } => {
            let text = format!(
                "Setup job {job_name} failed ({reason}: {message}); see `kubectl logs -n {namespace} job/{job_name}`. Change the spec or the {} annotation to retry",
                names::RETRY_ANNOTATION
            );
            SetupStep {
                setup: Setup::Failed(text.clone()),
                blocked: Some(Blocked {
                    reason: "SetupFailed".into(),
                    message: text,
                }),
                restarting: false,
            }
        }
    }
}

/// Creates the setup Job and remembers it as started; None when it exists already.
async fn start(
    ctx: &Context,
    job: &Job,
    key: ChildKey,
    owned: bool,
) -> Result<Option<SetupStep>, SetupError> {
    let job_name = job.name_any();
    let Some(created) = calls::create_once(ctx, job).await? else {
        return Ok(None);
    };
    info!(%job_name, "started setup");
    let message = format!("Setup job {job_name} started");
    ctx.jobs.record(
        key,
        created.metadata.resource_version.as_deref(),
        owned,
        JobState::Running(message.clone()),
    );
    Ok(Some(SetupStep::of(Setup::Running(message))))
}

fn gated() -> Setup {
    Setup::Gated("Waiting for the database and the storefront before running setup".into())
}

/// Deletes a Job and its pods (background propagation); absent is fine.
async fn delete(ctx: &Context, jobs: &Api<Job>, name: &str) -> Result<(), SetupError> {
    ctx.metrics.api_request("delete");
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(source) => Err(SetupError::Delete {
            job: name.to_string(),
            source,
        }),
    }
}
