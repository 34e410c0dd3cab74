//! The typed apiserver calls the steps share: server-side apply under our field manager,
//! create-once, metadata-only reads, guarded ownerReference patches, and how their errors read.

use crate::controller::memory::applied::stamped;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use serde_json::json;
use storefleet_types::names::{self, labels as keys};
use tracing::debug;

use crate::controller::children::ChildKind;
use crate::controller::context::Context;

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
    /// Deleting a child the store no longer consists of failed.
    #[error("cannot delete {object}")]
    Delete {
        /// What was deleted.
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
            | Self::Delete { source, .. }
            | Self::Own { source, .. } => source,
        }
    }

    /// The variant name (the metric label).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Read { .. } => "Read",
            Self::Apply { .. } => "Apply",
            Self::Create { .. } => "Create",
            Self::Delete { .. } => "Delete",
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
            // Stamped with its hash: what a restarted operator trusts (memory/applied.rs).
            &Patch::Apply(stamped(object)),
        )
        .await
        .map_err(|source| ApplyError::Apply {
            object: describe(object),
            source,
        })
}

/// Creates `object` unless it exists (an existing one is never modified). The created object,
/// or None when it existed.
pub async fn create_once<K: ChildKind>(ctx: &Context, object: &K) -> Result<Option<K>, ApplyError> {
    ctx.metrics.api_request("create");
    let params = PostParams {
        field_manager: Some(names::FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api_of::<K>(ctx, object.meta())
        .create(&params, object)
        .await
    {
        Ok(created) => Ok(Some(created)),
        Err(e) if status_code(&e) == Some(409) => Ok(None),
        Err(source) => Err(ApplyError::Create {
            object: describe(object),
            source,
        }),
    }
}

/// Deletes the object of kind `K` in `namespace` named `name` (a child the store no longer
/// consists of: the route of the other kind after a switch); absent is success.
pub async fn delete_child<K: ChildKind>(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<(), ApplyError> {
    ctx.metrics.api_request("delete");
    debug!(kind = %K::kind(&()), namespace, name, "deleting a child the store no longer has");
    match K::api(ctx.client.clone(), namespace)
        .delete(name, &kube::api::DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(source) => Err(ApplyError::Delete {
            object: format!("{} {namespace}/{name}", K::kind(&())),
            source,
        }),
    }
}

/// Reads a child whole (a Job's status, a volume claim's size); None when absent.
pub async fn get<K: ChildKind>(
    ctx: &Context,
    desired: &ObjectMeta,
) -> Result<Option<K>, ApplyError> {
    ctx.metrics.api_request("get");
    let name = desired.name.clone().unwrap_or_default();
    api_of::<K>(ctx, desired)
        .get_opt(&name)
        .await
        .map_err(|source| ApplyError::Read {
            object: format!("{} {name}", K::kind(&())),
            source,
        })
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
        | ApplyError::Delete { object, .. }
        | ApplyError::Own { object, .. } => object,
    };
    format!("{object}: {message}")
}
