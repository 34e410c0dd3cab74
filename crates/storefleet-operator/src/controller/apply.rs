//! Apply: the store's children, typed, in the documented order.
//!
//! Every child but the generated Secrets and the setup Job is written with server-side apply
//! (field manager `storefleet-operator`, force) on every pass: an apply that changes nothing
//! writes nothing to etcd, one that finds a field changed or removed puts it back, and a field
//! we stop sending is dropped (server-side apply knows which fields we own). The applied objects
//! come back typed and feed `observe`. Secrets are created once and never overwritten; only their
//! metadata is ever read. The Namespace is read first: it decides ownership.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::{Api, ResourceExt};
use serde_json::json;
use storefleet_types::names::{self, labels as keys};
use tracing::debug;

use super::Context;
use super::children::ChildKind;
use crate::build::secrets::Csprng;
use crate::build::{Child, StoreObjects};

/// An apiserver call of the apply step failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Reading an object (the Namespace, a Secret's metadata) failed.
    #[error("cannot read {object}")]
    Read {
        /// What was read.
        object: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Server-side apply of a child failed.
    #[error("cannot apply {object}")]
    Apply {
        /// What was applied.
        object: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Creating an object (a generated Secret, the setup Job) failed.
    #[error("cannot create {object}")]
    Create {
        /// What was created.
        object: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Changing an object's ownerReferences failed.
    #[error("cannot set the ownerReferences of {object}")]
    Own {
        /// What was patched.
        object: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl ApplyError {
    /// The apiserver's error.
    pub fn kube(&self) -> &kube::Error {
        match self {
            Self::Read { source, .. }
            | Self::Apply { source, .. }
            | Self::Create { source, .. }
            | Self::Own { source, .. } => source,
        }
    }

    /// The variant name (the metric label).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Read { .. } => "Read",
            Self::Apply { .. } => "Apply",
            Self::Create { .. } => "Create",
            Self::Own { .. } => "Own",
        }
    }
}

/// The HTTP status of an apiserver error, if it answered.
pub fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// True when the apiserver refused the request itself (validation, admission, quota, RBAC):
/// 4xx other than 404, 409 and 429.
pub fn is_rejection(error: &kube::Error) -> bool {
    status_code(error).is_some_and(|c| (400..500).contains(&c) && ![404, 409, 429].contains(&c))
}

/// `Kind namespace/name` of an object, for messages.
pub fn describe<K: ChildKind>(object: &K) -> String {
    let kind = K::kind(&());
    let meta = object.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn api_of<K: ChildKind>(ctx: &Context, meta: &ObjectMeta) -> Api<K> {
    K::api(
        ctx.client.clone(),
        meta.namespace.as_deref().unwrap_or_default(),
    )
}

/// Server-side apply of one child under our field manager, with force; returns the object as
/// stored.
pub async fn ssa<K: ChildKind>(ctx: &Context, object: &K) -> Result<K, ApplyError> {
    ctx.metrics.api_request("apply");
    let name = object.meta().name.clone().unwrap_or_default();
    debug!(object = %describe(object), "applying");
    api_of::<K>(ctx, object.meta())
        .patch(
            &name,
            &PatchParams::apply(names::FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .map_err(|source| ApplyError::Apply {
            object: describe(object),
            source,
        })
}

/// Creates `object` unless it exists (an existing one is never modified). True when created.
pub async fn create_once<K: ChildKind>(ctx: &Context, object: &K) -> Result<bool, ApplyError> {
    ctx.metrics.api_request("create");
    let params = PostParams {
        field_manager: Some(names::FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api_of::<K>(ctx, object.meta())
        .create(&params, object)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if status_code(&e) == Some(409) => Ok(false),
        Err(source) => Err(ApplyError::Create {
            object: describe(object),
            source,
        }),
    }
}

/// Reads the metadata of the object `desired` names (metadata only: a Secret's values are never
/// read); None when absent.
pub async fn get_metadata<K: ChildKind>(
    ctx: &Context,
    desired: &ObjectMeta,
) -> Result<Option<PartialObjectMeta<K>>, ApplyError> {
    ctx.metrics.api_request("get");
    let name = desired.name.clone().unwrap_or_default();
    api_of::<K>(ctx, desired)
        .get_metadata_opt(&name)
        .await
        .map_err(|source| ApplyError::Read {
            object: format!("{} {name}", K::kind(&())),
            source,
        })
}

/// Create-only children (Secrets, the Job) are never re-applied, so their ownerReferences
/// follow the deletion policy here: switching a store to Retain un-owns them too. Only
/// references to a Store are touched; others are kept. The patch is guarded by the
/// resourceVersion that was read, so a concurrent change is a conflict, not a lost update.
pub async fn align_owners<K: ChildKind>(
    ctx: &Context,
    live: &ObjectMeta,
    desired: &ObjectMeta,
) -> Result<(), ApplyError> {
    let wanted = desired.owner_references.clone().unwrap_or_default();
    let current = live.owner_references.clone().unwrap_or_default();
    let is_store =
        |r: &OwnerReference| r.kind == names::KIND && r.api_version == names::API_VERSION;
    let uids = |refs: &[OwnerReference]| -> Vec<String> {
        refs.iter()
            .filter(|r| is_store(r))
            .map(|r| r.uid.clone())
            .collect()
    };
    if uids(&current) == uids(&wanted) {
        return Ok(());
    }
    let mut owners: Vec<OwnerReference> = current.into_iter().filter(|r| !is_store(r)).collect();
    owners.extend(wanted);
    set_owner_references::<K>(ctx, live, owners).await
}

/// Replaces the ownerReferences of an existing object (merge patch guarded by its
/// resourceVersion). A vanished object is fine.
pub async fn set_owner_references<K: ChildKind>(
    ctx: &Context,
    live: &ObjectMeta,
    owners: Vec<OwnerReference>,
) -> Result<(), ApplyError> {
    ctx.metrics.api_request("patch");
    let name = live.name.clone().unwrap_or_default();
    let patch = json!({"metadata": {
        "resourceVersion": live.resource_version,
        "ownerReferences": owners,
    }});
    match api_of::<K>(ctx, live)
        .patch_metadata(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(source) => Err(ApplyError::Own {
            object: format!("{} {name}", K::kind(&())),
            source,
        }),
    }
}

/// Whether a live Namespace belongs to the Store `name` with `uid`: our label, and the Store's
/// uid in its annotation or in an ownerReference (namespaces made before the annotation existed).
/// A name alone is not ownership: a retained namespace outlives its Store.
pub fn belongs_to(ns: &ObjectMeta, name: &str, uid: &str) -> bool {
    let by_annotation = ns
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::STORE_UID_ANNOTATION))
        .is_some_and(|v| v == uid);
    let by_owner = ns.owner_references.iter().flatten().any(|r| r.uid == uid);
    let labelled = ns
        .labels
        .as_ref()
        .and_then(|l| l.get(keys::STORE))
        .is_some_and(|v| v == name);
    labelled && !uid.is_empty() && (by_annotation || by_owner)
}

/// What applying the children found.
#[derive(Debug, Default)]
pub struct Live {
    /// The database StatefulSet as applied.
    pub database: Option<StatefulSet>,
    /// The storefront Deployment as applied.
    pub storefront: Option<Deployment>,
    /// The first rejection by the apiserver (the other children were still applied).
    pub rejected: Option<String>,
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

/// Applies every child except the setup Job, in order. Only the Namespace (ownership) and the
/// Secrets (create-only) are read first.
pub async fn apply_children(
    ctx: &Context,
    name: &str,
    uid: &str,
    objects: &StoreObjects,
) -> Result<Result<Live, Refusal>, ApplyError> {
    let mut live = Live::default();
    // Whether the generated Secrets were issued before (marked on the Namespace): from then on
    // the database and the shop hold their values, and a missing one is lost, not regenerated.
    let mut issued = false;
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
        issued = ns
            .annotations()
            .contains_key(names::CREDENTIALS_ISSUED_ANNOTATION);
    }
    let namespace = issued_namespace(&objects.namespace, issued);
    let mut lost = Vec::new();
    for child in objects.children() {
        let result = match child {
            Child::Namespace(_) => ssa(ctx, &namespace).await.map(drop),
            Child::ResourceQuota(o) => ssa(ctx, o).await.map(drop),
            Child::LimitRange(o) => ssa(ctx, o).await.map(drop),
            Child::NetworkPolicy(o) => ssa(ctx, o).await.map(drop),
            Child::Service(o) => ssa(ctx, o).await.map(drop),
            Child::StatefulSet(o) => ssa(ctx, o).await.map(|s| live.database = Some(s)),
            Child::PersistentVolumeClaim(o) => ssa(ctx, o).await.map(drop),
            Child::Deployment(o) => ssa(ctx, o).await.map(|d| live.storefront = Some(d)),
            Child::Ingress(o) => ssa(ctx, o).await.map(drop),
            Child::ConfigMap(o) => ssa(ctx, o).await.map(drop),
            // The setup step creates the Job behind its gates.
            Child::Job(_) => Ok(()),
            Child::GeneratedSecret(t) => {
                match get_metadata::<Secret>(ctx, &t.metadata).await? {
                    Some(existing) => {
                        align_owners::<Secret>(ctx, &existing.metadata, &t.metadata).await
                    }
                    None if issued => {
                        lost.push(t.metadata.name.clone().unwrap_or_default());
                        Ok(())
                    }
                    // Fresh values from the CSPRNG; never logged, never overwritten.
                    None => create_once(ctx, &t.materialize(&mut Csprng))
                        .await
                        .map(drop),
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if is_rejection(e.kube()) => {
                if live.rejected.is_none() {
                    live.rejected = Some(format!("Kubernetes rejected {}", rejection(&e)));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !lost.is_empty() {
        return Ok(Err(Refusal::CredentialsLost(lost)));
    }
    // Every generated Secret exists now: mark them issued (once in a store's life).
    if !issued && live.rejected.is_none() {
        ssa(ctx, &issued_namespace(&objects.namespace, true)).await?;
    }
    Ok(Ok(live))
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

/// `object: the apiserver's message` (never an object body).
pub fn rejection(error: &ApplyError) -> String {
    let message = match error.kube() {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    };
    let object = match error {
        ApplyError::Read { object, .. }
        | ApplyError::Apply { object, .. }
        | ApplyError::Create { object, .. }
        | ApplyError::Own { object, .. } => object,
    };
    format!("{object}: {message}")
}
