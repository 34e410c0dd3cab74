//! Gateway API routing on the real control plane, with the Gateway API v1.6.1 CRDs installed
//! (`STOREFLEET_GATEWAY_API_CRDS`). There is no Gateway controller here: the test writes the
//! HTTPRoute's status as one would (`Accepted` for its parent).

use crate::common;

use common::{Env, condition, eventually, is_true};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use storefleet_operator::config::{GatewayConfig, OperatorConfig};
use storefleet_operator::gateway_api::HTTPRoute;
use storefleet_types::names::child;
use storefleet_types::{GatewaySpec, Phase, Store};

const NS: &str = "store-alice";

fn config() -> OperatorConfig {
    let mut config = OperatorConfig::default();
    config.setup.backoff_limit = 0;
    config.gateway = Some(GatewayConfig::new(
        "gateways",
        "shops",
        "envoy-gateway-system",
    ));
    config
}

/// What a Gateway controller writes on a route it looked at.
async fn gateway_says(env: &Env, accepted: bool, generation: i64) {
    let (status, reason, message) = if accepted {
        ("True", "Accepted", "Route is accepted")
    } else {
        (
            "False",
            "NotAllowedByListeners",
            "No listener allows routes from this namespace",
        )
    };
    let patch = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "status": {"parents": [{
            "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "gateways", "name": "shops"},
            "controllerName": "gateway.example.com/controller",
            "conditions": [{
                "type": "Accepted", "status": status, "reason": reason, "message": message,
                "observedGeneration": generation, "lastTransitionTime": "2026-12-01T00:00:00Z"
            }]
        }]}
    });
    Api::<HTTPRoute>::namespaced(env.admin.clone(), NS)
        .patch_status(
            child::STOREFRONT,
            &PatchParams::apply("gateway.example.com").force(),
            &Patch::Apply(&patch),
        )
        .await
        .expect("write the route's status");
}

/// A store with `spec.gateway: {}` gets an HTTPRoute (and no Ingress) attached to the default
/// Gateway, waits for the Gateway to accept it before it is Ready, says why when it is refused,
/// and moves to an Ingress (the HTTPRoute deleted) when its spec asks for one.
#[tokio::test]
async fn a_store_is_routed_by_its_gateway_and_can_move_to_an_ingress() {
    const TEST: &str = "a_store_is_routed_by_its_gateway_and_can_move_to_an_ingress";
    let Some(crds) = common::gateway_api_crds(TEST) else {
        return;
    };
    let Some(mut env) = Env::prepare(TEST, config()).await else {
        return;
    };
    env.cp.apply(&crds).await.expect("Gateway API CRDs");
    let routes: Api<HTTPRoute> = Api::namespaced(env.admin.clone(), NS);
    let all_routes: Api<HTTPRoute> = Api::all(env.admin.clone());
    eventually("the HTTPRoute CRD is served", || async {
        all_routes.list(&Default::default()).await.ok().map(|_| ())
    })
    .await;
    env.start_operator();

    env.create(Store::test().with_gateway(GatewaySpec::default()))
        .await;
    let route = eventually("the HTTPRoute", || async {
        routes.get_opt(child::STOREFRONT).await.ok().flatten()
    })
    .await;
    assert_eq!(route.spec.hostnames, ["alice.shop.local"]);
    assert_eq!(route.spec.parent_refs[0].name, "shops");
    assert_eq!(
        route.spec.parent_refs[0].namespace.as_deref(),
        Some("gateways")
    );
    assert_eq!(
        route.spec.rules[0].backend_refs[0].name,
        child::STOREFRONT,
        "to the storefront Service"
    );
    assert!(
        env.children::<Ingress>(NS, "alice").await.is_empty(),
        "no Ingress next to the route"
    );
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    let access = policies
        .iter()
        .find(|p| p.name_any() == child::NETPOL_INGRESS)
        .expect("storefront access policy");
    assert!(
        serde_json::to_string(access)
            .unwrap_or_default()
            .contains("envoy-gateway-system"),
        "only the Gateway's data plane reaches the storefront"
    );

    // Set up, but the Gateway has not accepted the route: not Ready, and the status says why.
    let store = env
        .wait_store("alice", "set up, waiting for the Gateway", |s| {
            s.and_then(|s| s.status.as_ref())
                .is_some_and(|st| is_true(st, "SetupComplete"))
        })
        .await
        .expect("the store");
    let status = store.status.clone().unwrap_or_default();
    assert_eq!(status.phase, Some(Phase::Provisioning));
    let accepted = condition(&status, "RouteAccepted").expect("RouteAccepted");
    assert_eq!(accepted.status, "False");
    assert!(
        accepted.message.contains("gateways/shops"),
        "{}",
        accepted.message
    );

    let generation = route.metadata.generation.unwrap_or(1);
    gateway_says(&env, false, generation).await;
    env.wait_store("alice", "the refusal in the status", |s| {
        s.and_then(|s| s.status.as_ref())
            .and_then(|st| condition(st, "RouteAccepted"))
            .is_some_and(|c| c.message.contains("NotAllowedByListeners"))
    })
    .await;

    gateway_says(&env, true, generation).await;
    let store = env.wait_phase("alice", Phase::Ready).await;
    let status = store.status.clone().unwrap_or_default();
    assert!(is_true(&status, "RouteAccepted"));
    assert_eq!(status.url.as_deref(), Some("http://alice.shop.local"));

    // To an Ingress: the route of the other kind goes away, and so does its condition.
    env.patch("alice", json!({"spec": {"gateway": null, "ingress": {}}}))
        .await;
    eventually("the Ingress replaces the HTTPRoute", || async {
        let ingresses = env.children::<Ingress>(NS, "alice").await;
        let route = routes.get_opt(child::STOREFRONT).await.ok().flatten();
        (ingresses.len() == 1 && route.is_none()).then_some(())
    })
    .await;
    env.wait_store("alice", "Ready by Ingress", |s| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|st| {
            st.phase == Some(Phase::Ready)
                && st.observed_generation == Some(2)
                && condition(st, "RouteAccepted").is_none()
        })
    })
    .await;

    // And back: the Ingress is deleted, a new route waits for its Gateway again.
    env.patch("alice", json!({"spec": {"ingress": null, "gateway": {}}}))
        .await;
    eventually("the HTTPRoute replaces the Ingress", || async {
        let ingresses = env.children::<Ingress>(NS, "alice").await;
        let route = routes.get_opt(child::STOREFRONT).await.ok().flatten();
        (ingresses.is_empty() && route.is_some()).then_some(())
    })
    .await;

    env.delete("alice").await;
    env.wait_gone("alice").await;
    env.stop_operator().await;
}

/// A Store that asks for a Gateway the operator does not offer is refused with the list of the
/// offered ones, and creates nothing; `ingress` and `gateway` together are refused at admission.
#[tokio::test]
async fn a_gateway_that_is_not_offered_is_refused() {
    const TEST: &str = "a_gateway_that_is_not_offered_is_refused";
    let Some(crds) = common::gateway_api_crds(TEST) else {
        return;
    };
    let Some(mut env) = Env::prepare(TEST, config()).await else {
        return;
    };
    env.cp.apply(&crds).await.expect("Gateway API CRDs");
    env.start_operator();
    let both = Store::test()
        .with_name("both")
        .with_gateway(GatewaySpec::default())
        .with_ingress(Default::default());
    let refused = env
        .stores()
        .create(&Default::default(), &both)
        .await
        .expect_err("admission refuses ingress and gateway together");
    assert!(
        refused
            .to_string()
            .contains("set ingress or gateway, not both"),
        "{refused}"
    );

    env.create(Store::test().with_gateway(GatewaySpec {
        name: Some("admin".into()),
        namespace: Some("kube-system".into()),
    }))
    .await;
    let store = env.wait_phase("alice", Phase::Failed).await;
    let stalled = condition(&store.status.clone().unwrap_or_default(), "Stalled").expect("Stalled");
    assert!(
        stalled.message.contains("kube-system/admin is not offered")
            && stalled.message.contains("gateways/shops"),
        "{}",
        stalled.message
    );
    assert!(env.namespace(NS).await.is_none(), "nothing was created");
    env.stop_operator().await;
}
