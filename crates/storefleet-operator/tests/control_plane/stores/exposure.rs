//! Nothing public before it is ours: no route before setup, none after a refusal.

use super::*;

/// Nothing is public before it is ours: while a new store's setup runs (its storefront is
/// Ready and would serve WordPress's installer), no route and no edge policy exist; they appear
/// once setup succeeded.
#[tokio::test]
async fn no_route_nor_edge_policy_exists_before_setup_completes() {
    use k8s_openapi::api::networking::v1::Ingress;
    let env = env_or_skip!(start, config());
    env.cp.kubelet().jobs(NS, JobPods::Hold);
    env.create(Store::test()).await;
    env.wait_store("alice", "setup running", |s| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            is_true(s, "StorefrontReady")
                && condition(s, "SetupComplete").is_some_and(|c| c.reason == "SetupRunning")
        })
    })
    .await;
    // A few more passes (watch events of the running Job) change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = env.status("alice").await;
    assert!(!is_true(&status, "SetupComplete"), "{status:?}");
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert!(ingresses.is_empty(), "an Ingress exists during setup");
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    let names: Vec<String> = policies.iter().map(|p| p.name_any()).collect();
    assert!(
        names.contains(&child::NETPOL_DEFAULT_DENY.to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&child::NETPOL_INGRESS.to_string()),
        "the edge may reach the storefront during setup: {names:?}"
    );

    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.wait_phase("alice", Phase::Ready).await;
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert_eq!(ingresses.len(), 1, "the route once the shop is ours");
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    assert!(
        policies
            .iter()
            .any(|p| p.name_any() == child::NETPOL_INGRESS),
        "the edge policy once the shop is ours"
    );
}

/// Refusal withdraws: a store that served under a domain its owner may no longer use (the
/// platform removed it from `ownerDomains`) is Stalled and its route and edge policy are
/// removed; the namespace and the data stay.
#[tokio::test]
async fn a_store_refused_after_it_served_loses_its_route() {
    use k8s_openapi::api::networking::v1::Ingress;
    let mut config = config();
    config.owner_domains = [(
        "alice@example.com".to_string(),
        vec!["shop.example.com".to_string()],
    )]
    .into();
    let mut env = env_or_skip!(start, config);
    env.create(Store::test().with_domain("shop.example.com"))
        .await;
    env.wait_phase("alice", Phase::Ready).await;
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert_eq!(ingresses.len(), 1);

    // The platform withdraws the domain from the owner.
    env.stop_operator().await;
    env.config.owner_domains.clear();
    env.start_operator();
    let refused = env.wait_phase("alice", Phase::Failed).await;
    let stalled = refused
        .status
        .and_then(|s| condition(&s, "Stalled"))
        .expect("stalled");
    assert!(
        stalled.message.contains("not allowed"),
        "{}",
        stalled.message
    );
    common::eventually("the route and the edge policy removed", || async {
        let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
        let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
        (ingresses.is_empty()
            && !policies
                .iter()
                .any(|p| p.name_any() == child::NETPOL_INGRESS))
        .then_some(())
    })
    .await;
    assert!(env.namespace(NS).await.is_some(), "the data stays");
}
