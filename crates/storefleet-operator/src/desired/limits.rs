//! ResourceQuota and LimitRange of the store's namespace, from the plan.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use storefleet_types::names::{Component, child};

use super::child_meta;
use crate::config::Compute;
use crate::validate::ValidatedStore;

fn count(n: u32) -> Quantity {
    Quantity(n.to_string())
}

/// Builds the ResourceQuota: CPU, memory, volume and ephemeral storage of the plan, object counts, and no
/// LoadBalancer or NodePort Services (the Ingress is the only way in).
pub fn build_resource_quota(store: &ValidatedStore) -> ResourceQuota {
    let q = store.quota();
    let hard = BTreeMap::from([
        ("requests.cpu".to_string(), q.requests_cpu.clone()),
        ("requests.memory".to_string(), q.requests_memory.clone()),
        ("limits.cpu".to_string(), q.limits_cpu.clone()),
        ("limits.memory".to_string(), q.limits_memory.clone()),
        ("requests.storage".to_string(), q.requests_storage.clone()),
        (
            "requests.ephemeral-storage".to_string(),
            q.requests_ephemeral_storage.clone(),
        ),
        (
            "limits.ephemeral-storage".to_string(),
            q.limits_ephemeral_storage.clone(),
        ),
        (
            "persistentvolumeclaims".to_string(),
            count(q.persistent_volume_claims),
        ),
        ("pods".to_string(), count(q.pods)),
        ("services".to_string(), count(q.services)),
        ("services.loadbalancers".to_string(), count(0)),
        ("services.nodeports".to_string(), count(0)),
    ]);
    ResourceQuota {
        metadata: child_meta(store, child::QUOTA, Component::Isolation),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        status: None,
    }
}

/// A container's (or a limit range's) `cpu`, `memory` and `ephemeral-storage`.
pub fn compute(v: &Compute) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), v.cpu.clone()),
        ("memory".to_string(), v.memory.clone()),
        ("ephemeral-storage".to_string(), v.ephemeral_storage.clone()),
    ])
}

/// Builds the LimitRange: container defaults and maxima, and the largest PVC.
pub fn build_limit_range(store: &ValidatedStore) -> LimitRange {
    let lr = &store.plan.limit_range;
    LimitRange {
        metadata: child_meta(store, child::LIMITS, Component::Isolation),
        spec: Some(LimitRangeSpec {
            limits: vec![
                LimitRangeItem {
                    type_: "Container".into(),
                    max: Some(compute(&lr.container_max)),
                    default: Some(compute(&lr.container_default)),
                    default_request: Some(compute(&lr.container_default_request)),
                    ..LimitRangeItem::default()
                },
                LimitRangeItem {
                    type_: "PersistentVolumeClaim".into(),
                    max: Some(BTreeMap::from([(
                        "storage".to_string(),
                        lr.volume_max.clone(),
                    )])),
                    ..LimitRangeItem::default()
                },
            ],
        }),
    }
}
