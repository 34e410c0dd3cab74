//! API requests one store costs on a real control plane (`KUBEBUILDER_ASSETS`), counted from
//! the apiserver's audit log while the operator runs as the chart's ServiceAccount: requests and
//! writes from creation to Ready, and requests, writes and changed resourceVersions of one
//! no-op reconcile of a Ready store (after an operator restart, which reconciles every store).
//!
//! `cargo bench -p storefleet-operator --bench controller_writes`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use storefleet_envtest::audit::Request;
use storefleet_operator::config::OperatorConfig;
use storefleet_types::{Phase, Store};

fn is_write(r: &Request) -> bool {
    matches!(r.verb.as_str(), "create" | "update" | "patch" | "delete")
}

/// Requests about one store (its namespace, its children, the Store itself, lists in its
/// namespace); the cluster-wide startup lists and watches are not per store.
fn about<'a>(requests: &'a [Request], store: &str) -> Vec<&'a Request> {
    let ns = format!("store-{store}");
    requests
        .iter()
        .filter(|r| r.verb != "watch")
        .filter(|r| r.verb != "list" || r.namespace.as_deref() == Some(ns.as_str()))
        .filter(|r| {
            r.namespace.as_deref() == Some(ns.as_str())
                || r.name.as_deref() == Some(store)
                || r.name.as_deref() == Some(ns.as_str())
        })
        .collect()
}

fn print_by_verb(requests: &[&Request]) {
    let mut by_verb = std::collections::BTreeMap::<String, usize>::new();
    for r in requests {
        *by_verb
            .entry(format!("{} {}", r.verb, r.resource))
            .or_default() += 1;
    }
    for (k, n) in by_verb {
        println!("    {n:>3}  {k}");
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let Some(mut env) = common::Env::start("controller_writes", OperatorConfig::default()).await
        else {
            return;
        };
        let children = {
            let validated = storefleet_operator::validate::validate(&Store::test(), &env.config)
                .expect("valid");
            storefleet_operator::desired::build(&validated).children().len()
        };
        env.create(Store::test()).await;
        env.wait_phase("alice", Phase::Ready).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let to_ready = env.operator_requests();
        let store_requests = about(&to_ready, "alice");
        let writes = store_requests.iter().filter(|r| is_write(r)).count();

        let versions = env.versions("alice").await;
        env.stop_operator().await;
        let mark = env.operator_requests().len();
        env.start_operator();
        // Every store's first pass after a restart reads its namespace.
        common::eventually("a reconcile after the restart", || async {
            env.operator_requests()[mark..]
                .iter()
                .any(|r| r.resource == "namespaces" && r.verb == "get")
                .then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = env.operator_requests();
        let noop = about(&after[mark..], "alice");
        let noop_writes = noop.iter().filter(|r| is_write(r)).count();
        let changed = env
            .versions("alice")
            .await
            .iter()
            .filter(|(k, v)| versions.get(*k) != Some(*v))
            .count();

        println!("controller_writes: one store, {children} children, real control plane");
        println!("  creation to Ready: {} requests ({writes} writes), {:.2} per child", store_requests.len(), store_requests.len() as f64 / children as f64);
        print_by_verb(&store_requests);
        println!("  no-op reconcile:   {} requests ({noop_writes} writes, {changed} resourceVersions changed)", noop.len());
        print_by_verb(&noop);
    });
}
