//! Volumes grow the Kubernetes way, and never shrink.
//!
//! A larger plan or `spec.storage` size changes the data claims' requests. A bound claim may
//! grow in place when its StorageClass allows expansion; a StatefulSet's `volumeClaimTemplates`
//! cannot change at all, so the StatefulSet is deleted with `propagationPolicy: Orphan` (its
//! pod keeps running and keeps its claim) and applied again with the new template, which adopts
//! the pod. A claim larger than asked is never shrunk: the store is refused instead.
//!
//! What is read costs requests only when a claim's size differs from the one recorded in
//! `status.volumeSizes` (a new store, a plan change, a store from before this record).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::{Api, ResourceExt};
use kube_quantity::ParsedQuantity;
use storefleet_types::names;

use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::memory::ChildKey;
use crate::controller::requests::{ApplyError, get, status_code};
use crate::desired::{DataClaim, requested_storage};

/// The metadata naming `name` in `namespace` (what [`get`] reads).
fn object_meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..ObjectMeta::default()
    }
}

/// Why a store's volumes cannot be made the size its spec asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresizable {
    /// A claim is larger than asked (message names it and both sizes).
    Shrink(String),
    /// A claim cannot grow (its StorageClass does not allow expansion, or it is not bound).
    ExpansionUnsupported(String),
}

/// What the step did.
#[derive(Debug, Default, PartialEq)]
pub struct Grown {
    /// The sizes to record: every claim that has its size (and template) now.
    pub sizes: BTreeMap<String, String>,
    /// StatefulSets deleted with their pods orphaned, to be applied again with the new claim
    /// templates (by the next pass, once the deletion is through).
    pub orphaned: Vec<ChildKey>,
}

impl Grown {
    /// Claims about to be made: each will have its size.
    pub fn made(claims: &[DataClaim]) -> Self {
        Self {
            sizes: claims
                .iter()
                .map(|c| (c.name.clone(), c.size.0.clone()))
                .collect(),
            orphaned: Vec::new(),
        }
    }
}

/// What to do with one claim, from what exists (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// It has the size (or does not exist yet and will be made with it).
    Fine,
    /// Grow the claim to the size.
    Grow,
    /// Larger than asked.
    Shrink { current: String },
}

/// Compares a claim's current request with the size asked.
pub fn plan(current: Option<&Quantity>, wanted: &Quantity) -> Plan {
    let parse = |q: &Quantity| ParsedQuantity::try_from(q).ok();
    match (current.and_then(parse), parse(wanted)) {
        (Some(c), Some(w)) if c < w => Plan::Grow,
        (Some(c), Some(w)) if c > w => Plan::Shrink {
            current: current.map(|q| q.0.clone()).unwrap_or_default(),
        },
        _ => Plan::Fine,
    }
}

/// Brings every data claim of the store (in `namespace`) to its size: grows claims, re-creates
/// StatefulSets whose claim template is stale (pods orphaned), refuses a shrink.
pub async fn grow(
    ctx: &Context,
    namespace: &str,
    claims: &[DataClaim],
    recorded: &BTreeMap<String, String>,
) -> Result<Result<Grown, Unresizable>, ApplyError> {
    let mut grown = Grown::default();
    for claim in claims {
        if recorded.get(&claim.name) == Some(&claim.size.0) {
            grown.sizes.insert(claim.name.clone(), claim.size.0.clone());
            continue;
        }
        let pvc = get::<PersistentVolumeClaim>(ctx, &object_meta(namespace, &claim.name)).await?;
        if let Some(pvc) = &pvc {
            match plan(requested_storage(pvc), &claim.size) {
                Plan::Fine => {}
                Plan::Shrink { current } => {
                    return Ok(Err(Unresizable::Shrink(format!(
                        "volume claim {namespace}/{} is {current} and the spec (or its plan) asks for {}: volumes never shrink; keep the size (spec.storage) or create a new store",
                        claim.name, claim.size.0
                    ))));
                }
                Plan::Grow => {
                    if let Some(refusal) = expandable(ctx, pvc).await? {
                        return Ok(Err(refusal));
                    }
                    // A StatefulSet's claim is not ours to apply whole: only its size changes.
                    // Our own claims grow with their next apply.
                    if claim.template.is_some() {
                        resize(ctx, namespace, &claim.name, &claim.size).await?;
                    }
                }
            }
        }
        if let Some((statefulset, template)) = &claim.template
            && let Some(key) =
                stale_template(ctx, namespace, statefulset, template, &claim.size).await?
        {
            grown.orphaned.push(key);
            continue;
        }
        grown.sizes.insert(claim.name.clone(), claim.size.0.clone());
    }
    Ok(Ok(grown))
}

/// None when `pvc` may grow; otherwise why not, naming the StorageClass.
async fn expandable(
    ctx: &Context,
    pvc: &PersistentVolumeClaim,
) -> Result<Option<Unresizable>, ApplyError> {
    let name = pvc.name_any();
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if !bound {
        return Ok(Some(Unresizable::ExpansionUnsupported(format!(
            "volume claim {name} is not bound yet, and only a bound claim can grow; it grows once bound"
        ))));
    }
    let Some(class) = pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone()) else {
        return Ok(Some(Unresizable::ExpansionUnsupported(format!(
            "volume claim {name} has no StorageClass, so it cannot grow"
        ))));
    };
    ctx.metrics.api_request("get");
    let classes: Api<StorageClass> = Api::all(ctx.client.clone());
    let allows = classes
        .get_opt(&class)
        .await
        .map_err(|source| ApplyError::Read {
            object: format!("StorageClass {class}"),
            source,
        })?
        .and_then(|c| c.allow_volume_expansion)
        .unwrap_or(false);
    Ok((!allows).then(|| {
        Unresizable::ExpansionUnsupported(format!(
            "StorageClass {class} does not allow volume expansion (allowVolumeExpansion), so volume claim {name} cannot grow; ask an admin to allow it, or keep the size"
        ))
    }))
}

/// Sets the storage request of the claim `name` (a merge patch of that one field).
async fn resize(
    ctx: &Context,
    namespace: &str,
    name: &str,
    size: &Quantity,
) -> Result<(), ApplyError> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    ctx.metrics.api_request("patch");
    let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": size}}}});
    let params = PatchParams {
        field_manager: Some(names::FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    tracing::info!(claim = name, size = %size.0, "growing a volume claim");
    pvcs.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|source| ApplyError::Apply {
            object: format!("PersistentVolumeClaim {name}"),
            source,
        })
}

/// When the StatefulSet exists with a claim template of another size: deletes it, orphaning its
/// pod and claims, and returns its key (its next apply re-creates it with the template).
async fn stale_template(
    ctx: &Context,
    namespace: &str,
    name: &str,
    template: &str,
    size: &Quantity,
) -> Result<Option<ChildKey>, ApplyError> {
    let Some(sts) = get::<StatefulSet>(ctx, &object_meta(namespace, name)).await? else {
        return Ok(None);
    };
    let key = key_of::<StatefulSet>(&sts.metadata);
    if sts.metadata.deletion_timestamp.is_some() {
        // Still being deleted (by an earlier pass): the next apply re-creates it.
        return Ok(Some(key));
    }
    let current = sts
        .spec
        .volume_claim_templates
        .iter()
        .flatten()
        .find(|t| t.metadata.name.as_deref() == Some(template))
        .and_then(requested_storage);
    if plan(current, size) == Plan::Fine && current.is_some() {
        return Ok(None);
    }
    tracing::info!(
        namespace,
        statefulset = name,
        size = %size.0,
        "re-creating a StatefulSet for its new volume size (its pod keeps running)"
    );
    ctx.metrics.api_request("delete");
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), namespace);
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        preconditions: Some(Preconditions {
            uid: sts.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(Some(key)),
        Err(e) if matches!(status_code(&e), Some(404 | 409)) => Ok(Some(key)),
        Err(source) => Err(ApplyError::Delete {
            object: format!("StatefulSet {namespace}/{name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.into())
    }

    #[test]
    fn claims_grow_never_shrink_and_units_do_not_matter() {
        assert_eq!(plan(Some(&q("2Gi")), &q("10Gi")), Plan::Grow);
        assert_eq!(plan(Some(&q("2Gi")), &q("2048Mi")), Plan::Fine);
        assert_eq!(
            plan(Some(&q("10Gi")), &q("2Gi")),
            Plan::Shrink {
                current: "10Gi".into()
            }
        );
        assert_eq!(plan(None, &q("2Gi")), Plan::Fine, "made with the size");
    }
}
