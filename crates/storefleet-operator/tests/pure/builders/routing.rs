//! The way in: Ingress host, class and TLS, the ACME solver, Gateway API routing.

use super::*;

#[test]
fn a_cluster_issuer_lets_the_acme_solver_be_reached() {
    let plain = objects(&Store::test());
    assert!(
        plain
            .policies()
            .all(|p| p.metadata.name.as_deref() != Some(child::NETPOL_ACME_SOLVER))
    );
    let issued = objects(&Store::test().with_cluster_issuer("letsencrypt"));
    let solver = issued
        .policies()
        .find(|p| p.metadata.name.as_deref() == Some(child::NETPOL_ACME_SOLVER))
        .expect("solver policy")
        .spec
        .clone()
        .expect("spec");
    let solver_pod = BTreeMap::from([(
        "acme.cert-manager.io/http01-solver".to_string(),
        "true".to_string(),
    )]);
    assert!(selects(
        solver.pod_selector.as_ref().expect("selector"),
        &solver_pod
    ));
    for (_, t) in pods(&issued) {
        assert!(
            !selects(
                solver.pod_selector.as_ref().expect("selector"),
                &pod_labels(&t)
            ),
            "only the solver"
        );
    }
    let rule = &solver.ingress.expect("rules")[0];
    assert_eq!(
        rule.ports.as_ref().expect("ports")[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8089))
    );
    let from = rule.from.as_ref().expect("from")[0]
        .namespace_selector
        .clone()
        .expect("namespaces");
    assert_eq!(
        from.match_labels.expect("labels")["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    let tls_secret = objects(&Store::test().with_tls_secret("cert"));
    assert_eq!(
        tls_secret.policies().count(),
        8,
        "no solver without cert-manager"
    );
}

#[test]
fn ingress_host_class_and_tls() {
    let plain = ingress_of(&objects(&Store::test()));
    let spec = plain.spec.clone().expect("spec");
    assert_eq!(
        spec.ingress_class_name, None,
        "no class assumed: the cluster's default IngressClass"
    );
    assert_eq!(
        spec.rules.expect("rules")[0].host.as_deref(),
        Some("alice.shop.local")
    );
    assert!(spec.tls.is_none());
    assert!(plain.metadata.annotations.is_none());

    let issued = ingress_of(&objects(
        &Store::test()
            .with_domain("shop.example.com")
            .with_cluster_issuer("letsencrypt"),
    ));
    let tls = issued.spec.clone().and_then(|s| s.tls).expect("tls");
    assert_eq!(tls[0].hosts, Some(vec!["shop.example.com".to_string()]));
    assert_eq!(tls[0].secret_name.as_deref(), Some("storefront-tls"));
    assert_eq!(
        issued.metadata.annotations.expect("annotations")["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );

    let own = ingress_of(&objects(
        &Store::test()
            .with_tls_secret("my-cert")
            .with_ingress(IngressSpec {
                class_name: Some("traefik".into()),
                annotations: BTreeMap::from([("a/b".to_string(), "c".to_string())]),
            }),
    ));
    let spec = own.spec.clone().expect("spec");
    assert_eq!(spec.ingress_class_name.as_deref(), Some("traefik"));
    assert_eq!(
        spec.tls.expect("tls")[0].secret_name.as_deref(),
        Some("my-cert")
    );
    let annotations = own.metadata.annotations.expect("annotations");
    assert_eq!(annotations["a/b"], "c");
    assert!(!annotations.contains_key("cert-manager.io/cluster-issuer"));
}

/// Behind a Gateway: one HTTPRoute (no Ingress) for the store's host to the storefront Service,
/// attached to the configured Gateway and listener; the storefront admits only the Gateway's
/// data plane.
#[test]
fn gateway_routing_builds_an_http_route_and_admits_the_data_plane() {
    let store = Store::test()
        .with_gateway(GatewaySpec::default())
        .with_tls(storefleet_types::TlsSpec::default());
    let o = desired::build(&validate(&store, &gateway_config()).expect("valid"));
    let kinds: Vec<_> = o
        .children()
        .iter()
        .filter(|c| matches!(c, Child::Ingress(_) | Child::HttpRoute(_)))
        .map(|c| matches!(c, Child::HttpRoute(_)))
        .collect();
    assert_eq!(kinds, [true], "exactly one route, an HTTPRoute");
    let RouteObject::HttpRoute(route) = &o.route else {
        panic!("an HTTPRoute");
    };
    assert_eq!(route.metadata.namespace.as_deref(), Some("store-alice"));
    assert_eq!(
        route.metadata.labels.as_ref().expect("labels")["storefleet.io/store"],
        "alice"
    );
    assert!(route.metadata.owner_references.is_some());
    let json = serde_json::to_value(route).expect("json");
    assert_eq!(json["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(json["kind"], "HTTPRoute");
    assert_eq!(
        json["spec"]["parentRefs"],
        serde_json::json!([{"namespace": "gateways", "name": "shops", "sectionName": "https"}])
    );
    assert_eq!(
        json["spec"]["hostnames"],
        serde_json::json!(["alice.shop.local"])
    );
    assert_eq!(
        json["spec"]["rules"][0]["backendRefs"],
        serde_json::json!([{"name": child::STOREFRONT, "port": 80}])
    );
    // The Service the route names exists and serves that port.
    let port = woo(&o)
        .storefront
        .service
        .spec
        .as_ref()
        .expect("spec")
        .ports
        .as_ref()
        .expect("ports")[0]
        .port;
    assert_eq!(port, 80);

    let access = o
        .policies()
        .find(|p| p.metadata.name.as_deref() == Some(child::NETPOL_INGRESS))
        .expect("storefront access policy");
    let from = serde_json::to_value(access).expect("json")["spec"]["ingress"][0]["from"].clone();
    assert_eq!(
        from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "envoy-gateway-system"
    );
    assert!(
        !o.policies()
            .any(|p| p.metadata.name.as_deref() == Some(child::NETPOL_ACME_SOLVER)),
        "no HTTP-01 solver behind a Gateway"
    );
}
