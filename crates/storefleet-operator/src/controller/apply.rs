//! Apply: the store's children, typed, in the documented order.
//!
//! Every child but the generated Secrets and the setup Job is written with server-side apply
//! (field manager `storefleet-operator`, force): an apply that changes nothing writes nothing to
//! etcd, one that finds a field changed or removed puts it back, and a field we stop sending is
//! dropped (server-side apply knows which fields we own). A child the memo (`memo.rs`) shows
//! unchanged since our last apply is skipped; every few minutes a pass applies everything. The
//! applied StatefulSets and Deployments feed `observe`. Secrets are created once and never
//! overwritten; only their metadata is ever read. The Namespace is read first: it decides
//! ownership. A migration Job (Medusa) is created once the StatefulSets are ready, and the
//! Deployments after it are applied only when it has succeeded: a new image never serves
//! before its database is migrated.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use storefleet_types::names;

use super::Context;
pub use super::calls::{
    ApplyError, align_owners, belongs_to, create_once, delete_child, describe, get, get_metadata,
    is_rejection, rejection, set_owner_references, ssa, status_code,
};
use super::children::ChildKind;
use super::memo::{ChildKey, Memo, version_of};
use super::migration;
use super::observe::{self, Step};
use super::status::Blocked;
use crate::build::route::RouteObject;
use crate::build::secrets::Csprng;
use crate::build::{Child, SecretTemplate, StoreObjects};
use crate::gateway_api::HTTPRoute;
use k8s_openapi::api::networking::v1::Ingress;

/// What applying the children found.
#[derive(Debug)]
pub struct Live {
    /// The database step: every StatefulSet (MariaDB; PostgreSQL and Redis), as last applied.
    pub database: Step,
    /// The storefront step: the migration (Medusa), then every Deployment, as last applied.
    pub storefront: Step,
    /// Whether the Gateway accepted the HTTPRoute, as last applied; None for an Ingress.
    pub route: Option<Step>,
    /// The first rejection by the apiserver (the other children were still applied).
    pub rejected: Option<String>,
    /// Set when the migration failed for good (the store is Failed until a retry).
    pub blocked: Option<Blocked>,
    /// A failed migration Job was just deleted for a retry: check again soon.
    pub restarting: bool,
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
}

/// The memo key of an object of kind `K`.
pub fn key_of<K: ChildKind>(meta: &ObjectMeta) -> ChildKey {
    ChildKey::new(
        &K::kind(&()),
        meta.namespace.as_deref(),
        meta.name.as_deref(),
    )
}

/// Applies every child except the setup Job, in order, skipping those the memo shows unchanged
/// since our last apply. Only the Namespace (ownership) and issued Secrets (create-only) are
/// read first.
pub async fn apply_children(
    ctx: &Context,
    name: &str,
    uid: &str,
    objects: &StoreObjects,
    retry: bool,
) -> Result<Result<Live, Refusal>, ApplyError> {
    let mut memo = ctx.memos.take(name, objects);
    let result = apply_with(ctx, &mut memo, name, uid, objects, retry).await;
    // The memo holds only what succeeded, so it is kept whatever happened.
    ctx.memos.put(name, memo);
    result
}

/// Server-side apply of one child unless the memo shows it unchanged; records what it returned.
async fn apply_one<K: ChildKind>(
    ctx: &Context,
    memo: &mut Memo,
    object: &K,
) -> Result<Option<K>, ApplyError> {
    let key = key_of::<K>(object.meta());
    if memo.unchanged(&key, &ctx.seen) {
        return Ok(None);
    }
    let first_sight = !memo.knows(&key, &ctx.seen);
    let applied = ssa(ctx, object).await?;
    // kube-apiserver writes a PersistentVolumeClaim once more on the first re-apply after its
    // creation (seen on 1.36), so a claim is memoized from its second apply on: otherwise that
    // write would happen on the next full pass of a Ready store.
    if !(first_sight && K::kind(&()) == "PersistentVolumeClaim") {
        memo.record(key, version_of(&K::kind(&()), applied.meta()).as_deref());
    }
    Ok(Some(applied))
}

async fn apply_with(
    ctx: &Context,
    memo: &mut Memo,
    name: &str,
    uid: &str,
    objects: &StoreObjects,
    retry: bool,
) -> Result<Result<Live, Refusal>, ApplyError> {
    // Whether the generated Secrets were issued before (marked on the Namespace): from then on
    // the database and the shop hold their values, and a missing one is lost, not regenerated.
    let ns_key = key_of::<Namespace>(&objects.namespace.metadata);
    if !memo.unchanged(&ns_key, &ctx.seen) {
        memo.issued = false;
        if let Some(ns) = get_metadata::<Namespace>(ctx, &objects.namespace.metadata).await? {
            let ns_name = ns.name_any();
            if !belongs_to(&ns.metadata, name, uid) {
                return Ok(Err(Refusal::NamespaceTaken(format!(
                    "Namespace {ns_name} exists and does not belong to this store (it may be kept from a deleted store with the same name); delete it, rename the store, or have an admin hand it over by setting its {} annotation to this store's uid",
                    names::STORE_UID_ANNOTATION
                ))));
            }
            if ns.metadata.deletion_timestamp.is_some() {
                return Ok(Err(Refusal::NamespaceTerminating));
            }
            memo.issued = ns
                .annotations()
                .contains_key(names::CREDENTIALS_ISSUED_ANNOTATION);
        }
    }
    let issued = memo.issued;
    let namespace = issued_namespace(&objects.namespace, issued);
    let mut rejected = None;
    let mut lost = Vec::new();
    // Whether every StatefulSet so far is ready, and the migration (if any) has succeeded.
    let mut data_ready = true;
    let mut migration: Option<migration::Migration> = None;
    for child in objects.children() {
        let result = match child {
            Child::Namespace(_) => apply_one(ctx, memo, &namespace).await.map(drop),
            Child::ResourceQuota(o) => apply_one(ctx, memo, o).await.map(drop),
            Child::LimitRange(o) => apply_one(ctx, memo, o).await.map(drop),
            Child::NetworkPolicy(o) => apply_one(ctx, memo, o).await.map(drop),
            Child::Service(o) => apply_one(ctx, memo, o).await.map(drop),
            Child::StatefulSet(o) => apply_one(ctx, memo, o).await.map(|applied| {
                let key = key_of::<StatefulSet>(&o.metadata);
                if let Some(sts) = applied {
                    memo.workloads
                        .insert(key.clone(), observe::database(Some(&sts)));
                }
                data_ready &= memo.workloads.get(&key).is_some_and(Step::is_ready);
            }),
            Child::MigrationJob(job) => migration::migrate(ctx, memo, job, data_ready, retry)
                .await
                .map(|m| migration = Some(m)),
            // A Deployment waits for the migration before it: it is not applied at all, so
            // a running older version keeps serving until the new one's database is ready.
            Child::Deployment(_) if migration.as_ref().is_some_and(|m| !m.step.is_ready()) => {
                Ok(())
            }
            Child::PersistentVolumeClaim(o) => apply_one(ctx, memo, o).await.map(drop),
            Child::Deployment(o) => apply_one(ctx, memo, o).await.map(|applied| {
                if let Some(deploy) = applied {
                    memo.workloads.insert(
                        key_of::<Deployment>(&o.metadata),
                        observe::storefront(Some(&deploy)),
                    );
                }
            }),
            Child::Ingress(o) => apply_one(ctx, memo, o).await.map(drop),
            Child::HttpRoute(o) => apply_one(ctx, memo, o).await.map(|applied| {
                if let Some(route) = applied {
                    memo.route = Some(observe::route(&route));
                }
            }),
            Child::ConfigMap(o) => apply_one(ctx, memo, o).await.map(drop),
            // The setup step creates the Job behind its gates.
            Child::Job(_) => Ok(()),
            Child::GeneratedSecret(t) => secret(ctx, memo, t, issued, &mut lost).await,
        };
        match result {
            Ok(()) => {}
            Err(e) if is_rejection(e.kube()) => {
                if rejected.is_none() {
                    rejected = Some(format!("Kubernetes rejected {}", rejection(&e)));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !lost.is_empty() {
        return Ok(Err(Refusal::CredentialsLost(lost)));
    }
    prune_other_route(ctx, objects).await?;
    // Every generated Secret exists now: mark them issued (once in a store's life).
    if !issued && rejected.is_none() {
        let marked = ssa(ctx, &issued_namespace(&objects.namespace, true)).await?;
        memo.record(ns_key, marked.metadata.resource_version.as_deref());
        memo.issued = true;
    }
    let waiting = |what: &str| Step::Waiting(format!("Waiting for {what} (not created yet)"));
    let workloads = |kind: &str| -> Step {
        objects
            .children()
            .iter()
            .filter_map(|child| match (child, kind) {
                (Child::StatefulSet(o), "StatefulSet") => Some(key_of::<StatefulSet>(&o.metadata)),
                (Child::Deployment(o), "Deployment") => Some(key_of::<Deployment>(&o.metadata)),
                _ => None,
            })
            .map(|key| {
                memo.workloads
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| waiting(key.name()))
            })
            .find(|step| !step.is_ready())
            .unwrap_or(Step::Ready)
    };
    let (storefront, blocked, restarting) = match migration {
        Some(m) if !m.step.is_ready() => (m.step, m.blocked, m.restarting),
        _ => (workloads("Deployment"), None, false),
    };
    Ok(Ok(Live {
        database: workloads("StatefulSet"),
        storefront,
        blocked,
        restarting,
        route: match &objects.route {
            RouteObject::Ingress(_) => None,
            RouteObject::HttpRoute(_) => Some(
                memo.route
                    .clone()
                    .unwrap_or_else(|| waiting("the HTTPRoute")),
            ),
        },
        rejected,
    }))
}

/// A store switched between Ingress and Gateway routing: the route of the kind it no longer has
/// is deleted once the watches show it exists (the watch of HTTPRoutes runs only when the
/// operator offers Gateway routing).
async fn prune_other_route(ctx: &Context, objects: &StoreObjects) -> Result<(), ApplyError> {
    let (meta, stale_kind) = match &objects.route {
        RouteObject::Ingress(o) => (&o.metadata, key_of::<HTTPRoute>(&o.metadata)),
        RouteObject::HttpRoute(o) => (&o.metadata, key_of::<Ingress>(&o.metadata)),
    };
    if !ctx.seen.contains(&stale_kind) {
        return Ok(());
    }
    let (namespace, name) = (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    );
    match &objects.route {
        RouteObject::Ingress(_) => delete_child::<HTTPRoute>(ctx, namespace, name).await?,
        RouteObject::HttpRoute(_) => delete_child::<Ingress>(ctx, namespace, name).await?,
    }
    ctx.seen.saw(stale_kind, None);
    Ok(())
}

/// A generated Secret: created with fresh values while none was ever issued; once issued, only
/// read (metadata) so that a lost one is reported, never regenerated.
async fn secret(
    ctx: &Context,
    memo: &mut Memo,
    template: &SecretTemplate,
    issued: bool,
    lost: &mut Vec<String>,
) -> Result<(), ApplyError> {
    let key = key_of::<Secret>(&template.metadata);
    if memo.unchanged(&key, &ctx.seen) {
        return Ok(());
    }
    if !issued {
        // Fresh values from the CSPRNG; never logged, never overwritten.
        if let Some(created) = create_once(ctx, &template.materialize(&mut Csprng)).await? {
            memo.record(key, created.metadata.resource_version.as_deref());
            return Ok(());
        }
    }
    match get_metadata::<Secret>(ctx, &template.metadata).await? {
        Some(existing) => {
            align_owners::<Secret>(ctx, &existing.metadata, &template.metadata).await?;
            memo.record(key, existing.metadata.resource_version.as_deref());
        }
        None if issued => lost.push(template.metadata.name.clone().unwrap_or_default()),
        // Deleted between our create and our read: the next pass creates it.
        None => {}
    }
    Ok(())
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
