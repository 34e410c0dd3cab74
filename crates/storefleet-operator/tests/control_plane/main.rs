//! The control-plane tier: a real kube-apiserver, kube-controller-manager and etcd (crate
//! `storefleet-envtest`, `KUBEBUILDER_ASSETS`), the operator running with the chart's RBAC and a
//! kubelet stand-in that makes pods ready. Stores from creation to deletion (`stores/`: lifecycle,
//! admission, ownership, data, exposure, access), a Medusa
//! store (`medusa_store`), Gateway API routing (`gateway`), the operator binary as a process
//! (`process`) and the Helm chart (`chart`). Without the assets each test prints one `skipped:`
//! line.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod chart;
mod gateway;
mod medusa_store;
mod process;
mod stores;

#[tokio::test]
async fn this_test_names_the_test_it_is_expanded_in() {
    assert_eq!(this_test!(), "this_test_names_the_test_it_is_expanded_in");
    let nested = async { this_test!() }.await;
    assert_eq!(nested, "this_test_names_the_test_it_is_expanded_in");
}
