//! Apply: the store's children, typed, wave by wave (`desired::wave`): the Namespace, then at once
//! everything that runs no pod (quota, limit range, network policies, Secrets, Services, claims,
//! ConfigMaps), then the StatefulSets, the migration Job (Medusa), the Deployments; the route and
//! the edge policies once set up ([`expose`]). Within a wave at most [`PARALLEL_APPLIES`]
//! requests of a store are in flight. What a store no longer wants is removed by the sweep
//! (`sweep.rs`), not here.
//!
//! Every child but the generated Secrets and the Jobs is written with server-side apply
//! (field manager `storefleet-operator`, force): an apply that changes nothing writes nothing to
//! etcd, one that finds a field changed or removed puts it back, and a field we stop sending is
//! dropped (server-side apply knows which fields we own). A child the memo (`memory/`) shows
//! unchanged since our last apply is skipped; every few minutes a pass applies everything. The
//! applied StatefulSets and Deployments feed `observe`. Secrets are created once and never
//! overwritten; only their metadata is ever read. The Namespace is read first: it decides
//! ownership. A migration Job (Medusa) is created once the StatefulSets are ready, and the
//! Deployments after it are applied only when it has succeeded: a new image never serves
//! before its database is migrated.

pub mod child;
pub mod volumes;

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use storefleet_types::names;

use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::data::{self, ObservedData};
use crate::controller::memory::seen::Identity;
use crate::controller::memory::{ChildKey, Memo};
use crate::controller::observe::Step;
use crate::controller::requests::{
    ApplyError, belongs_to, get_metadata, is_rejection, rejection, ssa,
};
use crate::controller::status::Blocked;
use crate::controller::steps::migration;
use crate::desired::route::RouteObject;
use crate::desired::wave::Wave;
use crate::desired::{Child, StoreObjects};
use child::{Pending, adopt, record, start};
use storefleet_types::StoreData;

/// What applying the children found.
#[derive(Debug)]
pub struct AppliedChildren {
    /// The database step: every StatefulSet (MariaDB; PostgreSQL and Redis), as last applied.
    pub database: Step,
    /// The storefront step: the migration (Medusa), then every Deployment, as last applied.
    pub storefront: Step,
    /// The first rejection by the apiserver (the other children were still applied).
    pub rejected: Option<String>,
    /// Set when the migration failed for good (the store is Failed until a retry).
    pub blocked: Option<Blocked>,
    /// A failed migration Job was just deleted for a retry: check again soon.
    pub restarting: bool,
    /// The migration step (Medusa) has succeeded for the current image.
    pub migrated: bool,
    /// What this pass observed of the objects that hold the store's data.
    pub data: ObservedData,
    /// The size each data claim has now (with its StatefulSet's template).
    pub volume_sizes: BTreeMap<String, String>,
    /// Medusa's worker Deployment, as last seen; None for WooCommerce.
    pub worker: Option<Step>,
}

/// What applying the children came to.
#[derive(Debug)]
pub enum Applied {
    /// Every child was applied (or rejected: see [`AppliedChildren::rejected`]).
    Children(AppliedChildren),
    /// None could be, or not all: the store waits.
    Refused(Refusal),
}

/// Why the children could not be applied: the store waits (these become status, not errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The namespace exists and belongs to someone else (message says what to do).
    NamespaceTaken(String),
    /// The namespace of an earlier store of this name is still terminating.
    NamespaceTerminating,
    /// Generated Secrets that were issued and are gone (names).
    CredentialsLost(Vec<String>),
    /// The objects that held the store's data vanished or were replaced (what, one phrase each).
    DataLost(Vec<String>),
    /// A data volume cannot be made the size the spec asks (a shrink, or no expansion).
    Unresizable(volumes::Unresizable),
}

/// Requests one store's pass keeps in flight at most, within a wave.
pub const PARALLEL_APPLIES: usize = 8;

/// Applies every child except the setup Job, wave by wave, skipping those the memo shows
/// unchanged since our last apply. Only the Namespace (ownership) and issued Secrets
/// (create-only) are read first.
pub async fn apply_children(
    ctx: &Context,
    memo: &mut Memo,
    (name, uid): (&str, &str),
    objects: &StoreObjects,
    (recorded, recorded_sizes): (Option<&StoreData>, &BTreeMap<String, String>),
    retry: bool,
) -> Result<Applied, ApplyError> {
    if let Some(refusal) = read_namespace(ctx, memo, (name, uid), objects, recorded).await? {
        return Ok(Applied::Refused(refusal));
    }
    // The data lives in the namespace and the volumes we recorded once setup had succeeded; if
    // one of them was replaced, nothing is applied on the empty ones (no new setup, no route).
    let observed = observe_data(ctx, memo, objects);
    if let Some(recorded) = recorded {
        let lost = data::lost(recorded, &objects.namespace.name_any(), &observed);
        if !lost.is_empty() {
            return Ok(Applied::Refused(Refusal::DataLost(lost)));
        }
    }
    let issued = memo.issued;
    let mut pass = Pass {
        namespace: issued_namespace(&objects.namespace, issued),
        children: objects.children(),
        issued,
        retry,
        grown: volumes::Grown::default(),
        rejected: None,
        lost: Vec::new(),
        migration: None,
        asleep: objects.asleep,
    };
    for wave in Wave::ALL {
        if wave == Wave::Volumes {
            // Before the claims are applied: every data claim (the StatefulSets' too) grows to
            // the size asked, or the store is refused.
            match grow_volumes(ctx, memo, objects, recorded_sizes).await? {
                Ok(grown) => pass.grown = grown,
                Err(unresizable) => return Ok(Applied::Refused(Refusal::Unresizable(unresizable))),
            }
        }
        let results = apply_wave(ctx, memo, &mut pass, wave).await;
        settle(results, &mut pass.rejected)?;
    }
    if !pass.lost.is_empty() {
        return Ok(Applied::Refused(Refusal::CredentialsLost(pass.lost)));
    }
    // Every generated Secret exists now: mark them issued (once in a store's life).
    if !issued && pass.rejected.is_none() {
        let ns_key = key_of::<Namespace>(&objects.namespace.metadata);
        let marked = ssa(ctx, &issued_namespace(&objects.namespace, true)).await?;
        memo.record(ns_key, marked.metadata.resource_version.as_deref());
        memo.issued = true;
    }
    Ok(Applied::Children(conclude(memo, pass, observed)))
}

/// One pass of [`apply_children`], between its waves.
struct Pass<'a> {
    /// The Namespace as applied (issued or not).
    namespace: Namespace,
    /// Every child of the store.
    children: Vec<Child<'a>>,
    /// Whether the generated Secrets were issued before this pass.
    issued: bool,
    /// Whether this pass is a retry after a failure.
    retry: bool,
    /// The data claims' sizes, and claims being re-created for a new template.
    grown: volumes::Grown,
    /// The first rejection by the apiserver.
    rejected: Option<String>,
    /// Issued Secrets found missing.
    lost: Vec<String>,
    /// The migration step (Medusa), once its wave ran.
    migration: Option<migration::Migration>,
    /// The store sleeps: no migration runs (its database is stopped), and the Deployments are
    /// applied at zero whatever their image (the migration runs first when it wakes).
    asleep: bool,
}

/// Whether the generated Secrets were issued before (marked on the Namespace): from then on the
/// database and the shop hold their values, and a missing one is lost, not regenerated. The
/// Namespace decides ownership: another's, or one still terminating, refuses the store.
async fn read_namespace(
    ctx: &Context,
    memo: &mut Memo,
    (name, uid): (&str, &str),
    objects: &StoreObjects,
    recorded: Option<&StoreData>,
) -> Result<Option<Refusal>, ApplyError> {
    let ns_key = key_of::<Namespace>(&objects.namespace.metadata);
    if memo.unchanged(&ns_key, ctx.memory.seen()) {
        return Ok(None);
    }
    memo.issued = false;
    let read = get_metadata::<Namespace>(ctx, &objects.namespace.metadata).await?;
    memo.namespace_uid = read.as_ref().and_then(|ns| ns.metadata.uid.clone());
    let Some(ns) = read else {
        // Gone, and recorded as the store's: not to be created again empty.
        let lost = recorded
            .map(|recorded| data::lost(recorded, &objects.namespace.name_any(), &gone_namespace()))
            .unwrap_or_default();
        return Ok((!lost.is_empty()).then_some(Refusal::DataLost(lost)));
    };
    if !belongs_to(&ns.metadata, name, uid) {
        return Ok(Some(Refusal::NamespaceTaken(format!(
            "Namespace {} exists and does not belong to this store (it may be kept from a deleted store with the same name); delete it, rename the store, or have an admin hand it over by setting its {} annotation to this store's uid",
            ns.name_any(),
            names::STORE_UID_ANNOTATION
        ))));
    }
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(Some(Refusal::NamespaceTerminating));
    }
    memo.issued = ns
        .annotations()
        .contains_key(names::CREDENTIALS_ISSUED_ANNOTATION);
    Ok(None)
}

/// Every data claim (the StatefulSets' too) grown to the size asked; in a new namespace its
/// claims are made with their sizes, nothing to read.
async fn grow_volumes(
    ctx: &Context,
    memo: &mut Memo,
    objects: &StoreObjects,
    recorded_sizes: &BTreeMap<String, String>,
) -> Result<Result<volumes::Grown, volumes::Unresizable>, ApplyError> {
    let claims = objects.data_claims();
    let grown = if memo.namespace_uid.is_some() {
        match volumes::grow(ctx, &objects.namespace.name_any(), &claims, recorded_sizes).await? {
            Ok(grown) => grown,
            Err(unresizable) => return Ok(Err(unresizable)),
        }
    } else {
        volumes::Grown::made(&claims)
    };
    memo.resizing.extend(grown.orphaned.iter().cloned());
    Ok(Ok(grown))
}

/// The requests of one wave, at most [`PARALLEL_APPLIES`] in flight.
async fn apply_wave(
    ctx: &Context,
    memo: &mut Memo,
    pass: &mut Pass<'_>,
    wave: Wave,
) -> Vec<Result<(), ApplyError>> {
    let mut results = Vec::new();
    match wave {
        // Created by the setup step, behind its gates; the exposure follows it (`expose`).
        Wave::Setup | Wave::Exposure => {}
        Wave::Migration => {
            for child in pass.children.iter().filter(|c| c.wave() == wave) {
                if let Child::MigrationJob(job) = child {
                    let data_ready =
                        !pass.asleep && steps(memo, &pass.children, Wave::Data).is_none();
                    let result = migration::migrate(ctx, job, data_ready, pass.retry).await;
                    results.push(result.map(|m| pass.migration = Some(m)));
                }
            }
        }
        // The Deployments wait for the migration: they are not applied at all, so a running
        // older version keeps serving until the new one's database is ready.
        Wave::Storefront
            if !pass.asleep && pass.migration.as_ref().is_some_and(|m| !m.step.is_ready()) => {}
        _ => {
            for child in pass.children.iter().filter(|c| c.wave() == wave) {
                adopt(ctx, memo, *child, &pass.namespace, pass.issued);
            }
            refresh_workloads(ctx, memo, &pass.children, wave);
            let started: Vec<Pending<'_>> = pass
                .children
                .iter()
                .filter(|c| c.wave() == wave)
                // Being deleted for a new claim template: applied again by a later pass.
                .filter(|c| !orphaned(c, &pass.grown.orphaned))
                .filter_map(|c| start(ctx, memo, *c, &pass.namespace, pass.issued))
                .collect();
            let done: Vec<_> = stream::iter(started)
                .buffered(PARALLEL_APPLIES)
                .collect()
                .await;
            for result in done {
                results.push(result.map(|d| record(memo, d, &mut pass.lost)));
            }
        }
    }
    results
}

/// A rejected child is reported (the first one) and the others are still applied; any other
/// error ends the pass once the wave's requests have finished (what succeeded is remembered).
fn settle(
    results: Vec<Result<(), ApplyError>>,
    rejected: &mut Option<String>,
) -> Result<(), ApplyError> {
    let mut failed = None;
    for result in results {
        match result {
            Ok(()) => {}
            Err(e) if is_rejection(e.kube()) => {
                if rejected.is_none() {
                    *rejected = Some(format!("Kubernetes rejected {}", rejection(&e)));
                }
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// What the applied children say: the database and storefront steps (the migration first,
/// when it is not done), and the volumes' sizes.
fn conclude(memo: &mut Memo, pass: Pass<'_>, observed: ObservedData) -> AppliedChildren {
    let migrated = pass.migration.as_ref().is_some_and(|m| m.step.is_ready());
    let (storefront, blocked, restarting) = match pass.migration {
        // Asleep, a migration not run yet waits for the wake; the step is the Deployments'.
        Some(m) if !m.step.is_ready() && !pass.asleep => (m.step, m.blocked, m.restarting),
        _ => (
            steps(memo, &pass.children, Wave::Storefront).unwrap_or(Step::Ready),
            None,
            false,
        ),
    };
    // A re-created StatefulSet is resizing no more once it says it is ready itself.
    let orphaned = &pass.grown.orphaned;
    let workloads = &memo.workloads;
    memo.resizing
        .retain(|key| orphaned.contains(key) || !workloads.get(key).is_some_and(Step::is_ready));
    let worker = pass.children.iter().find_map(|c| match c {
        Child::Deployment(d) if d.metadata.name.as_deref() == Some(names::child::WORKER) => {
            let key = key_of::<Deployment>(&d.metadata);
            Some(
                memo.workloads
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| waiting(key.name())),
            )
        }
        _ => None,
    });
    AppliedChildren {
        worker,
        database: steps(memo, &pass.children, Wave::Data).unwrap_or(Step::Ready),
        volume_sizes: pass.grown.sizes,
        storefront,
        blocked,
        restarting,
        migrated,
        rejected: pass.rejected,
        data: observed,
    }
}

fn gone_namespace() -> ObservedData {
    ObservedData {
        namespace: Some(Identity::Gone),
        volumes: Default::default(),
    }
}

/// The namespace (as read by this pass or an earlier one of the same version) and the data
/// volume claims (as the watches saw them).
fn observe_data(ctx: &Context, memo: &Memo, objects: &StoreObjects) -> ObservedData {
    let namespace = objects.namespace.name_any();
    let ns_key = key_of::<Namespace>(&objects.namespace.metadata);
    let from_watch = match ctx.memory.seen().identity(&ns_key) {
        Identity::Uid(uid) => Some(Identity::Uid(uid)),
        _ => None,
    };
    ObservedData {
        namespace: memo.namespace_uid.clone().map(Identity::Uid).or(from_watch),
        volumes: objects
            .data_volumes()
            .into_iter()
            .map(|claim| {
                let key = ChildKey::new("PersistentVolumeClaim", Some(&namespace), Some(&claim));
                let identity = ctx.memory.seen().identity(&key);
                (claim, identity)
            })
            .collect(),
    }
}

/// Opens the store to the edge: applies the edge policies and the route (the [`Wave::Exposure`]
/// children), skipping those the memo shows unchanged. Returns whether the Gateway accepted the
/// HTTPRoute, as last applied (None for an Ingress).
pub async fn expose(
    ctx: &Context,
    memo: &mut Memo,
    objects: &StoreObjects,
) -> Result<Option<Step>, ApplyError> {
    let children = objects.children();
    for child in children.iter().filter(|c| c.wave() == Wave::Exposure) {
        adopt(ctx, memo, *child, &objects.namespace, true);
    }
    let started: Vec<Pending<'_>> = children
        .iter()
        .filter(|c| c.wave() == Wave::Exposure)
        .filter_map(|c| start(ctx, memo, *c, &objects.namespace, true))
        .collect();
    let done: Vec<_> = stream::iter(started)
        .buffered(PARALLEL_APPLIES)
        .collect()
        .await;
    let mut failed = None;
    for result in done {
        match result {
            Ok(d) => record(memo, d, &mut Vec::new()),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    let route = match &objects.route {
        RouteObject::Ingress(_) => None,
        RouteObject::HttpRoute(_) => Some(
            memo.route
                .clone()
                .unwrap_or_else(|| waiting("the HTTPRoute")),
        ),
    };
    match failed {
        Some(e) => Err(e),
        None => Ok(route),
    }
}

/// The workloads of `wave` that need no apply (unchanged since ours, status aside) take the
/// step their watch last showed: their status updates are read from the watch, not by applying
/// them again.
fn refresh_workloads(ctx: &Context, memo: &mut Memo, children: &[Child<'_>], wave: Wave) {
    for key in workloads(children, wave) {
        if !memo.unchanged(&key, ctx.memory.seen()) {
            continue;
        }
        if let Some(step) = memo
            .version(&key)
            .and_then(|version| ctx.memory.seen().step(&key, version))
        {
            memo.workloads.insert(key, step);
        }
    }
}

/// The keys of the StatefulSets and Deployments of `wave`.
fn workloads<'a>(children: &'a [Child<'_>], wave: Wave) -> impl Iterator<Item = ChildKey> + 'a {
    children
        .iter()
        .filter(move |c| c.wave() == wave)
        .filter_map(|child| match child {
            Child::StatefulSet(o) => Some(key_of::<StatefulSet>(&o.metadata)),
            Child::Deployment(o) => Some(key_of::<Deployment>(&o.metadata)),
            _ => None,
        })
}

fn waiting(what: &str) -> Step {
    Step::Waiting(format!("Waiting for {what} (not created yet)"))
}

/// The first workload of `wave` (StatefulSets or Deployments) that is not ready, as last
/// applied; None when all are.
fn steps(memo: &Memo, children: &[Child<'_>], wave: Wave) -> Option<Step> {
    workloads(children, wave)
        // Its pod kept running through the re-creation: still serving.
        .filter(|key| !memo.resizing.contains(key))
        .map(|key| {
            memo.workloads
                .get(&key)
                .cloned()
                .unwrap_or_else(|| waiting(key.name()))
        })
        .find(|step| !step.is_ready())
}

/// Whether `child` is a StatefulSet deleted (pods orphaned) for a new claim template.
fn orphaned(child: &Child<'_>, orphaned: &[ChildKey]) -> bool {
    match child {
        Child::StatefulSet(o) => orphaned.contains(&key_of::<StatefulSet>(&o.metadata)),
        _ => false,
    }
}

/// The Namespace, carrying the issued-credentials annotation once the Secrets were issued.
fn issued_namespace(namespace: &Namespace, issued: bool) -> Namespace {
    let mut ns = namespace.clone();
    if issued {
        ns.annotations_mut()
            .insert(names::CREDENTIALS_ISSUED_ANNOTATION.into(), "true".into());
    }
    ns
}
