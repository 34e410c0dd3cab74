//! One reconcile of one Store: the finalizer is the single top-level switch between
//! [`apply`] (converge the children) and [`cleanup`] (delete or release them).
//!
//! Children are server-side applied on every pass (an apply that changes nothing writes nothing
//! to etcd, and one that finds drift repairs it); a Secret is created only when absent; the
//! status is patched only when it changed. A Ready store's reconcile therefore changes no
//! resourceVersion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::runtime::controller::Action;
use serde::Serialize;
use serde_json::Value;
use storefleet_types::names::{self, child, labels as keys};
use storefleet_types::{DeletionPolicy, Phase, Store, condition};
use tracing::{Instrument, debug, info, warn};

use super::cluster::{Cluster, ClusterError, EventKind, Kind, ObjRef, StoreEvent};
use super::observe::{self, JobState, Step};
use super::status::{Blocked, Facts, Outcome, Progress, Setup, next_status};
use super::{Context, Error};
use crate::build::secrets::Csprng;
use crate::build::{self, Child, StoreObjects};
use crate::validate::{self, ValidatedStore};

/// How often a store waiting for capacity checks again.
pub const LIMIT_RECHECK: Duration = Duration::from_secs(30);
/// How often a Ready store is checked even without events.
pub const READY_RESYNC: Duration = Duration::from_secs(300);
/// Longest wait between checks while provisioning.
pub const PROVISIONING_RECHECK: Duration = Duration::from_secs(30);
/// Wait while something is being deleted (a namespace, a failed Job).
pub const DELETION_RECHECK: Duration = Duration::from_secs(5);

/// Whether the Store carries our finalizer.
pub fn has_finalizer(store: &Store) -> bool {
    store
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == names::FINALIZER)
}

fn store_name(store: &Store) -> String {
    store.metadata.name.clone().unwrap_or_default()
}

/// Reconciles one Store; the entry point given to the kube-runtime Controller.
pub async fn reconcile<C: Cluster>(
    store: Arc<Store>,
    ctx: Arc<Context<C>>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let name = store_name(&store);
    let span = tracing::info_span!("reconcile", store = %name);
    let result = async {
        if store.metadata.deletion_timestamp.is_some() {
            cleanup(&store, &ctx).await
        } else {
            apply(&store, &ctx).await
        }
    }
    .instrument(span)
    .await;
    ctx.metrics.reconciled(
        if result.is_ok() { "success" } else { "error" },
        started.elapsed(),
    );
    match &result {
        Ok(action) => {
            ctx.succeeded(&name);
            debug!(store = %name, ?action, "reconciled");
        }
        Err(e) => warn!(store = %name, error = %e, kind = e.metric_label(), "reconcile failed"),
    }
    result
}

fn to_json<T: Serialize>(object: &T, what: &str) -> Result<Value, ClusterError> {
    serde_json::to_value(object).map_err(|e| ClusterError::Transient {
        target: what.to_string(),
        message: format!("cannot serialize: {e}"),
    })
}

fn kind_of(child: &Child<'_>) -> Kind {
    match child {
        Child::Namespace(_) => Kind::Namespace,
        Child::ResourceQuota(_) => Kind::ResourceQuota,
        Child::LimitRange(_) => Kind::LimitRange,
        Child::NetworkPolicy(_) => Kind::NetworkPolicy,
        Child::GeneratedSecret(_) => Kind::Secret,
        Child::Service(_) => Kind::Service,
        Child::StatefulSet(_) => Kind::StatefulSet,
        Child::PersistentVolumeClaim(_) => Kind::PersistentVolumeClaim,
        Child::Deployment(_) => Kind::Deployment,
        Child::Ingress(_) => Kind::Ingress,
        Child::ConfigMap(_) => Kind::ConfigMap,
        Child::Job(_) => Kind::Job,
    }
}

fn child_json(child: &Child<'_>) -> Result<Value, ClusterError> {
    let what = kind_of(child).as_str();
    match child {
        Child::Namespace(o) => to_json(o, what),
        Child::ResourceQuota(o) => to_json(o, what),
        Child::LimitRange(o) => to_json(o, what),
        Child::NetworkPolicy(o) => to_json(o, what),
        // Secrets are created from templates, never applied: see apply_children.
        Child::GeneratedSecret(t) => to_json(&t.metadata, what),
        Child::Service(o) => to_json(o, what),
        Child::StatefulSet(o) => to_json(o, what),
        Child::PersistentVolumeClaim(o) => to_json(o, what),
        Child::Deployment(o) => to_json(o, what),
        Child::Ingress(o) => to_json(o, what),
        Child::ConfigMap(o) => to_json(o, what),
        Child::Job(o) => to_json(o, what),
    }
}

fn is_terminating(object: &Value) -> bool {
    !object["metadata"]["deletionTimestamp"].is_null()
}

fn store_label(object: &Value) -> Option<&str> {
    object["metadata"]["labels"][keys::STORE].as_str()
}

/// The status facts every pass writes, from the previous status.
fn facts_from(store: &Store) -> Facts {
    let prev = store.status.clone().unwrap_or_default();
    Facts {
        generation: store.metadata.generation.unwrap_or(0),
        namespace: prev.namespace,
        url: prev.url,
        admin_url: prev.admin_url,
        credentials_secret: prev.credentials_secret,
        completed_setup: prev.completed_setup,
        observed_retry: store
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(names::RETRY_ANNOTATION))
            .cloned(),
        provisioning_started_at: prev.provisioning_started_at,
        ready_at: prev.ready_at,
    }
}

/// Converges a Store that is not being deleted.
async fn apply<C: Cluster>(store: &Store, ctx: &Context<C>) -> Result<Action, Error> {
    let name = store_name(store);
    let now = ctx.clock.now();
    let prev = store.status.clone().unwrap_or_default();
    let mut facts = facts_from(store);

    // 1. validate (pure). A user error waits for a change of the spec.
    let validated = match validate::validate(store, &ctx.config) {
        Ok(v) => v,
        Err(e) => {
            let blocked = Blocked {
                reason: e.reason().to_string(),
                message: e.to_string(),
            };
            finish(store, ctx, facts, Outcome::Invalid(blocked)).await?;
            return Ok(Action::await_change());
        }
    };

    // A host belongs to one Store: the oldest valid claim wins, the others wait (they start
    // by themselves when the holder is deleted or moves).
    if let Some(holder) = host_holder(store, &validated.host, ctx) {
        let blocked = Blocked {
            reason: "HostTaken".into(),
            message: format!(
                "Host {} is already served by store {holder}; choose another spec.domain",
                validated.host
            ),
        };
        finish(store, ctx, facts, Outcome::Invalid(blocked)).await?;
        return Ok(Action::requeue(LIMIT_RECHECK));
    }

    // 2. the store cap, then the finalizer: only admitted stores get children.
    if !has_finalizer(store) {
        if let Err(message) = ctx.admit(&name, &store.spec.owner) {
            finish(store, ctx, facts, Outcome::LimitReached(message)).await?;
            return Ok(Action::requeue(LIMIT_RECHECK));
        }
        ctx.cluster.add_finalizer(store).await?;
    }

    facts.namespace = Some(validated.namespace.clone());
    facts.url = Some(validated.url());
    facts.admin_url = Some(validated.admin_url());
    facts.credentials_secret = Some(child::ADMIN_SECRET.to_string());

    // A retry: the store Failed and since then its spec or its retry annotation changed.
    let stalled_generation = prev
        .conditions
        .iter()
        .find(|c| c.type_ == condition::STALLED && c.status == "True")
        .and_then(|c| c.observed_generation);
    let retry = prev.phase == Some(Phase::Failed)
        && (facts.observed_retry != prev.observed_retry
            || stalled_generation.is_some_and(|g| g < facts.generation));
    if retry {
        info!(store = %name, "retry requested");
        ctx.cluster
            .publish(
                store,
                event(
                    EventKind::Normal,
                    "RetryRequested",
                    "Retry",
                    "Provisioning again after a failure",
                ),
            )
            .await;
    }
    if retry || facts.provisioning_started_at.is_none() {
        facts.provisioning_started_at = Some(Time(now));
    }

    // 3. build (pure), 4. apply, 5. observe.
    let objects = build::build(&validated);
    let applied = match apply_children(ctx, &name, &validated.uid, &objects).await? {
        Applied::Done(applied) => applied,
        Applied::NamespaceTaken(message) => {
            let blocked = Blocked {
                reason: "NamespaceTaken".into(),
                message,
            };
            finish(store, ctx, facts, Outcome::Invalid(blocked)).await?;
            return Ok(Action::await_change());
        }
        Applied::CredentialsLost(secrets) => {
            let blocked = Blocked {
                reason: "CredentialsLost".into(),
                message: format!(
                    "Secret(s) {} in namespace {} were deleted after the store was set up; the database and the shop still use their values, so new ones would lock the store out. Restore them from a backup (the store continues by itself), or delete the store",
                    secrets.join(", "),
                    validated.namespace
                ),
            };
            finish(store, ctx, facts, Outcome::Invalid(blocked)).await?;
            return Ok(Action::requeue(LIMIT_RECHECK));
        }
        Applied::NamespaceTerminating => {
            let mut progress =
                waiting_progress("Waiting for the old namespace to finish terminating");
            progress.namespace =
                Step::Waiting(format!("Namespace {} is terminating", validated.namespace));
            finish(store, ctx, facts, Outcome::Progress(progress)).await?;
            return Ok(Action::requeue(DELETION_RECHECK));
        }
    };
    let database = observe::database(applied.live(Kind::StatefulSet, child::DATABASE));
    let storefront = observe::storefront(applied.live(Kind::Deployment, child::STOREFRONT));

    // 6. the setup Job, behind its gates.
    let (setup, mut blocked, restart) = run_setup(
        ctx,
        &validated,
        &objects,
        &database,
        &storefront,
        &applied,
        retry,
        &mut facts,
    )
    .await?;

    let mut progress = Progress {
        namespace: if applied.rejected.is_some() {
            Step::Waiting("Isolation objects not applied".into())
        } else {
            Step::Ready
        },
        database,
        storefront,
        setup,
        blocked: None,
        rejected: applied.rejected.clone(),
    };

    // 7. the provisioning timeout applies until the store is first Ready.
    let timeout = Duration::from_secs(ctx.config.provisioning_timeout_seconds);
    let elapsed = facts
        .provisioning_started_at
        .as_ref()
        .map(|t| Duration::from_secs(u64::try_from(now.as_second() - t.0.as_second()).unwrap_or(0)))
        .unwrap_or_default();
    if blocked.is_none() && facts.ready_at.is_none() && !progress.is_ready() && elapsed >= timeout {
        let waiting = progress.waiting_for().1;
        blocked = Some(Blocked {
            reason: "ProvisioningTimeout".into(),
            message: format!(
                "Store did not become ready within {}s ({waiting}). Fix the cause, then change the spec or the {} annotation to retry",
                timeout.as_secs(),
                names::RETRY_ANNOTATION
            ),
        });
    }
    progress.blocked = blocked;
    if progress.is_ready() && facts.ready_at.is_none() {
        facts.ready_at = Some(Time(now));
        let created = store
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now, |t| t.0);
        ctx.metrics.time_to_ready(Duration::from_secs(
            u64::try_from(now.as_second() - created.as_second()).unwrap_or(0),
        ));
    }

    let rejected = applied.rejected.clone();
    let outcome = Outcome::Progress(progress);
    let phase = outcome.phase();
    finish(store, ctx, facts, outcome).await?;
    if let Some(message) = rejected {
        return Err(ClusterError::Rejected {
            target: name,
            message,
        }
        .into());
    }
    Ok(match phase {
        _ if restart => Action::requeue(DELETION_RECHECK),
        Phase::Ready => Action::requeue(READY_RESYNC),
        Phase::Failed => Action::await_change(),
        _ => Action::requeue(
            PROVISIONING_RECHECK
                .min(timeout.saturating_sub(elapsed))
                .max(Duration::from_secs(1)),
        ),
    })
}

fn waiting_progress(message: &str) -> Progress {
    Progress {
        namespace: Step::Waiting(message.into()),
        database: Step::Waiting(message.into()),
        storefront: Step::Waiting(message.into()),
        setup: Setup::Gated(message.into()),
        blocked: None,
        rejected: None,
    }
}

/// The name of an older Store (by creation, then name) that validly claims `host`, if any.
fn host_holder<C: Cluster>(store: &Store, host: &str, ctx: &Context<C>) -> Option<String> {
    let key = |s: &Store| {
        (
            s.metadata.creation_timestamp.as_ref().map(|t| t.0),
            s.metadata.name.clone().unwrap_or_default(),
        )
    };
    let mine = key(store);
    ctx.cluster
        .stores()
        .iter()
        .filter(|other| other.metadata.uid != store.metadata.uid)
        .filter(|other| key(other) < mine)
        .filter(|other| validate::validate(other, &ctx.config).is_ok_and(|v| v.host == host))
        .map(|other| store_name(other))
        .min()
}

/// What applying the children found.
struct AppliedChildren {
    /// Live objects as the apiserver returned them from the apply (None when not applied).
    live: BTreeMap<ObjRef, Option<Value>>,
    /// The first apiserver rejection, if any.
    rejected: Option<String>,
}

impl AppliedChildren {
    fn live(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.live
            .iter()
            .find(|(r, _)| r.kind == kind && r.name == name)
            .and_then(|(_, v)| v.as_ref())
    }
}

enum Applied {
    Done(AppliedChildren),
    NamespaceTaken(String),
    NamespaceTerminating,
    /// Generated Secrets that were issued and are gone (names).
    CredentialsLost(Vec<String>),
}

/// Whether a live Namespace belongs to the Store `name` with `uid`: our label, and the Store's
/// uid in its annotation or in an ownerReference (namespaces made before the annotation existed).
/// A name alone is not ownership: a retained namespace outlives its Store.
fn belongs_to(ns: &Value, name: &str, uid: &str) -> bool {
    let meta = &ns["metadata"];
    let by_annotation = meta["annotations"][names::STORE_UID_ANNOTATION].as_str() == Some(uid);
    let by_owner = meta["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)));
    store_label(ns) == Some(name) && !uid.is_empty() && (by_annotation || by_owner)
}

/// Applies every child except the Job, in order, with server-side apply: an apply that changes
/// nothing writes nothing, and a field someone removed or changed is put back. Secrets are
/// created only when absent. Only the Namespace (ownership) and the Secrets (create-only) are
/// read first.
async fn apply_children<C: Cluster>(
    ctx: &Context<C>,
    name: &str,
    uid: &str,
    objects: &StoreObjects,
) -> Result<Applied, Error> {
    let mut out = AppliedChildren {
        live: BTreeMap::new(),
        rejected: None,
    };
    // Whether the generated Secrets were issued before (marked on the Namespace): from then on
    // the database and the shop hold their values, and a missing one is lost, not regenerated.
    let mut issued = false;
    let mut lost = Vec::new();
    let mut namespace_json = None;
    for child in objects.children() {
        let kind = kind_of(&child);
        if kind == Kind::Job {
            continue;
        }
        let meta = child.metadata();
        let target = ObjRef {
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        };
        if kind == Kind::Namespace
            && let Some(ns) = ctx.cluster.get(&target).await?
        {
            if !belongs_to(&ns, name, uid) {
                return Ok(Applied::NamespaceTaken(format!(
                    "Namespace {} exists and does not belong to this store (it may be kept from a deleted store with the same name); delete it, rename the store, or have an admin hand it over by setting its {} annotation to this store's uid",
                    target.name,
                    names::STORE_UID_ANNOTATION
                )));
            }
            if is_terminating(&ns) {
                return Ok(Applied::NamespaceTerminating);
            }
            issued =
                ns["metadata"]["annotations"][names::CREDENTIALS_ISSUED_ANNOTATION].is_string();
        }
        let write = match &child {
            Child::GeneratedSecret(t) => match ctx.cluster.get(&target).await? {
                // Secrets' contents are not kept.
                Some(live) => align_owners(ctx, &target, &live, &t.metadata)
                    .await
                    .map(|()| Some(Value::Null)),
                None if issued => {
                    lost.push(target.name.clone());
                    continue;
                }
                None => {
                    // Fresh values from the CSPRNG; never logged, never overwritten.
                    let secret = to_json(&t.materialize(&mut Csprng), "Secret")?;
                    ctx.cluster.create(&target, &secret).await.map(|_| None)
                }
            },
            Child::Namespace(_) => {
                let mut json = child_json(&child)?;
                if issued {
                    json["metadata"]["annotations"][names::CREDENTIALS_ISSUED_ANNOTATION] =
                        Value::from("true");
                }
                namespace_json = Some((target.clone(), json.clone()));
                ctx.cluster.apply(&target, &json).await.map(Some)
            }
            _ => {
                debug!(store = %name, object = %target, "applying");
                ctx.cluster
                    .apply(&target, &child_json(&child)?)
                    .await
                    .map(Some)
            }
        };
        match write {
            Ok(live) => {
                out.live.insert(target, live);
            }
            Err(ClusterError::Rejected { target: t, message }) => {
                if out.rejected.is_none() {
                    out.rejected = Some(format!("Kubernetes rejected {t}: {message}"));
                }
                out.live.insert(target, None);
            }
            Err(other) => return Err(other.into()),
        }
    }
    if !lost.is_empty() {
        return Ok(Applied::CredentialsLost(lost));
    }
    // Every generated Secret exists now: mark them issued (once in a store's life).
    if !issued
        && out.rejected.is_none()
        && let Some((target, mut json)) = namespace_json
    {
        json["metadata"]["annotations"][names::CREDENTIALS_ISSUED_ANNOTATION] = Value::from("true");
        ctx.cluster.apply(&target, &json).await?;
    }
    Ok(Applied::Done(out))
}

/// Runs the setup behind its gates. Returns the step, a blocking failure, and whether a failed
/// Job was just deleted for a retry.
#[allow(clippy::too_many_arguments)]
async fn run_setup<C: Cluster>(
    ctx: &Context<C>,
    validated: &ValidatedStore,
    objects: &StoreObjects,
    database: &Step,
    storefront: &Step,
    applied: &AppliedChildren,
    retry: bool,
    facts: &mut Facts,
) -> Result<(Setup, Option<Blocked>, bool), Error> {
    let job = &objects.setup.job;
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let target = ObjRef::namespaced(Kind::Job, &validated.namespace, &job_name);
    // Setup Jobs of earlier specs: finished ones are removed; a running one is waited for, so
    // that two setups never run at once (duplicate products and orders).
    let mut live_job = None;
    let mut earlier_running = None;
    for other in ctx
        .cluster
        .list_setup_jobs(&validated.namespace, &validated.name)
        .await?
    {
        let other_name = other["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if other_name == job_name {
            live_job = Some(other);
            continue;
        }
        if is_terminating(&other) {
            earlier_running = Some(other_name);
            continue;
        }
        match observe::job(&other) {
            JobState::Running(_) => earlier_running = Some(other_name),
            JobState::Succeeded | JobState::Failed { .. } => {
                info!(job = %other_name, "removing a finished setup job of an earlier spec");
                ctx.cluster
                    .delete(&ObjRef::namespaced(
                        Kind::Job,
                        &validated.namespace,
                        &other_name,
                    ))
                    .await?;
            }
        }
    }
    if facts.completed_setup.as_deref() == Some(job_name.as_str()) {
        // Done before; the finished Job may have been cleaned up, which is fine.
        if let Some(live) = &live_job {
            align_owners(ctx, &target, live, &job.metadata).await?;
        }
        return Ok((Setup::Succeeded, None, false));
    }
    match live_job {
        Some(live) if is_terminating(&live) => {
            Ok((Setup::Gated("Restarting setup".into()), None, true))
        }
        Some(live) => match observed_job(ctx, &target, &live, job).await? {
            JobState::Succeeded => {
                facts.completed_setup = Some(job_name);
                Ok((Setup::Succeeded, None, false))
            }
            JobState::Running(m) => Ok((Setup::Running(m), None, false)),
            JobState::Failed { reason, .. } if retry => {
                info!(job = %target, %reason, "deleting failed setup job for a retry");
                ctx.cluster.delete(&target).await?;
                Ok((
                    Setup::Gated(format!("Restarting setup after {reason}")),
                    None,
                    true,
                ))
            }
            JobState::Failed { reason, message } => {
                let text = format!(
                    "Setup job {job_name} failed ({reason}: {message}); see `kubectl logs -n {} job/{job_name}`. Change the spec or the {} annotation to retry",
                    validated.namespace,
                    names::RETRY_ANNOTATION
                );
                Ok((
                    Setup::Failed(text.clone()),
                    Some(Blocked {
                        reason: "SetupFailed".into(),
                        message: text,
                    }),
                    false,
                ))
            }
        },
        None if let Some(earlier) = earlier_running => Ok((
            Setup::Gated(format!(
                "Waiting for setup job {earlier} (from an earlier spec) to finish before starting {job_name}"
            )),
            None,
            false,
        )),
        None if database.is_ready() && storefront.is_ready() && applied.rejected.is_none() => {
            info!(job = %target, "starting setup");
            ctx.cluster.create(&target, &to_json(job, "Job")?).await?;
            Ok((
                Setup::Running(format!("Setup job {job_name} started")),
                None,
                false,
            ))
        }
        None => Ok((
            Setup::Gated("Waiting for the database and the storefront before running setup".into()),
            None,
            false,
        )),
    }
}

/// The Job's state, after aligning its ownership with the deletion policy.
async fn observed_job<C: Cluster>(
    ctx: &Context<C>,
    target: &ObjRef,
    live: &Value,
    job: &k8s_openapi::api::batch::v1::Job,
) -> Result<JobState, ClusterError> {
    align_owners(ctx, target, live, &job.metadata).await?;
    Ok(observe::job(live))
}

/// Create-only children (Secrets, the Job) are never re-applied, so their ownerReferences
/// follow the deletion policy here: switching a store to Retain un-owns them too. Only
/// references to a Store are touched; others are kept.
async fn align_owners<C: Cluster>(
    ctx: &Context<C>,
    target: &ObjRef,
    live: &Value,
    desired: &ObjectMeta,
) -> Result<(), ClusterError> {
    let wanted: Vec<Value> = match &desired.owner_references {
        Some(refs) => refs
            .iter()
            .map(|r| to_json(r, "ownerReference"))
            .collect::<Result<_, _>>()?,
        None => vec![],
    };
    let is_store = |r: &Value| r["kind"] == names::KIND && r["apiVersion"] == names::API_VERSION;
    let live_refs: Vec<Value> = live["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let uids = |refs: &[Value]| -> Vec<Value> {
        refs.iter()
            .filter(|r| is_store(r))
            .map(|r| r["uid"].clone())
            .collect()
    };
    if uids(&live_refs) == uids(&wanted) {
        return Ok(());
    }
    let mut owners: Vec<Value> = live_refs.into_iter().filter(|r| !is_store(r)).collect();
    owners.extend(wanted);
    ctx.cluster
        .set_owner_references(target, live, &Value::Array(owners))
        .await
}

fn event(kind: EventKind, reason: &str, action: &str, note: &str) -> StoreEvent {
    StoreEvent {
        kind,
        reason: reason.into(),
        action: action.into(),
        note: note.into(),
    }
}

/// The Stalled reason, if any, of a status.
fn stalled_reason(status: &storefleet_types::StoreStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == condition::STALLED && c.status == "True")
        .map(|c| c.reason.as_str())
}

/// Writes the status when it changed; publishes an event on every phase transition and every
/// new failure.
async fn finish<C: Cluster>(
    store: &Store,
    ctx: &Context<C>,
    facts: Facts,
    outcome: Outcome,
) -> Result<(), Error> {
    let prev = store.status.clone().unwrap_or_default();
    let next = next_status(&prev, facts, &outcome, ctx.clock.now());
    let name = store_name(store);
    if store.status.as_ref() != Some(&next) {
        ctx.cluster.patch_status(store, &next).await?;
    }
    ctx.metrics.set_phase(&name, next.phase);
    let phase_changed = prev.phase != next.phase;
    let failure_changed = stalled_reason(&prev) != stalled_reason(&next);
    let rejected_changed = matches!(&outcome, Outcome::Progress(p) if p.rejected.is_some())
        && prev.message != next.message;
    if phase_changed || failure_changed || rejected_changed {
        let note = next.message.clone().unwrap_or_default();
        let ev = match (&outcome, next.phase) {
            (_, Some(Phase::Failed)) => event(
                EventKind::Warning,
                stalled_reason(&next).unwrap_or("Failed"),
                "Provision",
                &note,
            ),
            (Outcome::LimitReached(_), _) => {
                event(EventKind::Warning, "StoreLimitReached", "Admit", &note)
            }
            (Outcome::Progress(p), _) if p.rejected.is_some() => {
                event(EventKind::Warning, "ApplyRejected", "Apply", &note)
            }
            (_, Some(Phase::Ready)) => event(EventKind::Normal, "Ready", "Provision", &note),
            (_, Some(Phase::Deleting)) => event(EventKind::Normal, "Deleting", "Delete", &note),
            _ => event(EventKind::Normal, "Provisioning", "Provision", &note),
        };
        info!(store = %name, phase = ?next.phase, reason = %ev.reason, "{note}");
        ctx.cluster.publish(store, ev).await;
    }
    Ok(())
}

/// Deletion: phase Deleting, then delete the namespace (Delete) or drop our ownerReferences
/// (Retain), then release the finalizer. Idempotent; 404 is success; works when nothing was
/// ever created.
async fn cleanup<C: Cluster>(store: &Store, ctx: &Context<C>) -> Result<Action, Error> {
    let name = store_name(store);
    if !has_finalizer(store) {
        ctx.release(&name);
        return Ok(Action::await_change());
    }
    let facts = facts_from(store);
    let namespace = facts
        .namespace
        .clone()
        .unwrap_or_else(|| ctx.config.namespace_for(&name));
    let ns_ref = ObjRef::cluster(Kind::Namespace, &namespace);
    match store.spec.deletion_policy {
        DeletionPolicy::Delete => {
            finish(
                store,
                ctx,
                facts,
                Outcome::Deleting(format!(
                    "Deleting namespace {namespace} and everything in it"
                )),
            )
            .await?;
            let uid = store.metadata.uid.as_deref().unwrap_or_default();
            match ctx.cluster.get(&ns_ref).await? {
                Some(ns) if !belongs_to(&ns, &name, uid) => {
                    warn!(store = %name, %namespace, "namespace does not belong to this store; leaving it");
                }
                Some(ns) if is_terminating(&ns) => return Ok(Action::requeue(DELETION_RECHECK)),
                Some(_) => {
                    ctx.cluster.delete(&ns_ref).await?;
                    return Ok(Action::requeue(DELETION_RECHECK));
                }
                None => {}
            }
        }
        DeletionPolicy::Retain => {
            finish(
                store,
                ctx,
                facts,
                Outcome::Deleting(format!(
                    "Keeping namespace {namespace} (deletionPolicy: Retain)"
                )),
            )
            .await?;
            let uid = store.metadata.uid.clone().unwrap_or_default();
            for kind in Kind::ALL.iter().rev() {
                for object in ctx.cluster.list_labelled(*kind, &name).await? {
                    let refs = object["metadata"]["ownerReferences"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let kept: Vec<Value> = refs
                        .iter()
                        .filter(|r| r["uid"] != uid.as_str())
                        .cloned()
                        .collect();
                    if kept.len() != refs.len() {
                        ctx.cluster
                            .set_owner_references(
                                &ObjRef::of(*kind, &object),
                                &object,
                                &Value::Array(kept),
                            )
                            .await?;
                    }
                }
            }
        }
    }
    ctx.cluster.remove_finalizer(store).await?;
    ctx.release(&name);
    ctx.metrics.remove_store(&name);
    info!(store = %name, "cleanup finished");
    Ok(Action::await_change())
}
