//! The tests, by tier.

pub mod apiserver;
pub mod scale;
pub mod workloads;

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use storefleet_types::names::labels as keys;

use crate::harness::Test;
use crate::settings::Tier;

/// Every test, in the order they run.
pub fn all() -> Vec<Test> {
    vec![
        Test {
            name: "admission_rejects_invalid_stores",
            tier: Tier::ControlPlane,
            run: apiserver::admission_rejects_invalid_stores,
        },
        Test {
            name: "children_are_accepted",
            tier: Tier::ControlPlane,
            run: apiserver::children_are_accepted,
        },
        Test {
            name: "status_and_printer_columns",
            tier: Tier::ControlPlane,
            run: apiserver::status_and_printer_columns,
        },
        Test {
            name: "deleted_child_is_recreated",
            tier: Tier::ControlPlane,
            run: apiserver::deleted_child_is_recreated,
        },
        Test {
            name: "delete_removes_namespace_then_store",
            tier: Tier::ControlPlane,
            run: apiserver::delete_removes_namespace_then_store,
        },
        Test {
            name: "retain_keeps_the_namespace",
            tier: Tier::ControlPlane,
            run: apiserver::retain_keeps_the_namespace,
        },
        Test {
            name: "restart_converges_without_duplicates",
            tier: Tier::ControlPlane,
            run: apiserver::restart_converges_without_duplicates,
        },
        Test {
            name: "store_sells_through_the_ingress",
            tier: Tier::Workloads,
            run: workloads::store_sells_through_the_ingress,
        },
        Test {
            name: "medusa_store_serves_through_the_ingress",
            tier: Tier::Workloads,
            run: workloads::medusa_store_serves_through_the_ingress,
        },
        Test {
            name: "scale_report",
            tier: Tier::Scale,
            run: scale::scale_report,
        },
    ]
}

/// How many `K` objects of `store` are in `namespace`.
pub async fn count<K>(client: &Client, namespace: &str, store: &str) -> Result<usize, String>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list_metadata(&ListParams::default().labels(&format!("{}={store}", keys::STORE)))
        .await
        .map_err(|e| format!("list {}: {e}", K::kind(&())))?;
    Ok(list.items.len())
}
