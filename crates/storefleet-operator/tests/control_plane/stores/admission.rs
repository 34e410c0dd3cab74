//! What a store may be: an invalid spec, the CRD's own rules, the store caps, a host of its own.

use super::*;

#[tokio::test]
async fn an_invalid_spec_is_stalled_with_no_children() {
    let env = env_or_skip!(start, config());
    // Admission cannot know the operator's base domain: this host is refused by the operator.
    env.create(
        Store::test()
            .with_name("bob")
            .with_domain("shop.other.example"),
    )
    .await;
    let store = env.wait_phase("bob", Phase::Failed).await;
    let status = store.status.clone().unwrap_or_default();
    assert!(is_true(&status, "Stalled"));
    let object = serde_json::to_value(&store).unwrap_or_default();
    let (health, message) = common::argocd::health(&object);
    assert_eq!(health, "Degraded");
    assert!(
        message.starts_with("spec.domain: \"shop.other.example\" is not allowed for this store"),
        "{message}"
    );
    assert!(!store.finalizers().iter().any(|f| f == names::FINALIZER));
    assert!(env.namespace("store-bob").await.is_none());
    // Deleting it is immediate (no finalizer).
    env.delete("bob").await;
    env.wait_gone("bob").await;
}

#[tokio::test]
async fn the_crd_rejects_bad_stores_at_admission() {
    let env = env_or_skip!(prepare, config());
    let create = |value: serde_json::Value| {
        let api = env.stores();
        async move {
            let store: Store = serde_json::from_value(value).expect("store json");
            api.create(&PostParams::default(), &store).await
        }
    };
    let base = json!({"apiVersion": names::API_VERSION, "kind": "Store", "metadata": {"name": "ok"},
                      "spec": {"engine": "woocommerce", "owner": "a@example.com"}});
    let mut too_long = base.clone();
    too_long["metadata"]["name"] = json!("a".repeat(41));
    let mut both_tls = base.clone();
    both_tls["spec"]["tls"] = json!({"clusterIssuer": "x", "secretName": "y"});
    let mut bad_domain = base.clone();
    bad_domain["spec"]["domain"] = json!("not a host");
    let mut medusa_theme = base.clone();
    medusa_theme["spec"]["engine"] = json!("medusa");
    medusa_theme["spec"]["setup"] = json!({"theme": "storefront"});
    let mut woo_redis = base.clone();
    woo_redis["spec"]["versions"] = json!({"redis": "7.4.5"});
    for (what, bad) in [
        ("name over 40", too_long),
        ("two TLS sources", both_tls),
        ("bad domain", bad_domain),
        ("a WooCommerce theme on a Medusa store", medusa_theme),
        ("a Medusa version on a WooCommerce store", woo_redis),
    ] {
        let err = create(bad).await.expect_err(what);
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 422),
            "{what}: {err}"
        );
    }
    create(base.clone())
        .await
        .expect("a good store is accepted");
    // engine is immutable (CEL transition rule)
    let err = env
        .stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"engine": "medusa"}})),
        )
        .await
        .expect_err("engine change");
    assert!(err.to_string().contains("immutable"), "{err}");
    // A database's major version cannot change (the real apiserver's CEL, regex library).
    env.stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"versions": {"mariadb": "11.4"}}})),
        )
        .await
        .expect("pin mariadb 11.4");
    env.stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"versions": {"mariadb": "11.8"}}})),
        )
        .await
        .expect("a minor update");
    let err = env
        .stores()
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"versions": {"mariadb": "12.0"}}})),
        )
        .await
        .expect_err("major change");
    assert!(
        err.to_string().contains("the major version cannot change"),
        "{err}"
    );
    // Volumes only grow: the class is fixed, a size once set stays set and never shrinks, and
    // the plan never goes down (the real apiserver's CEL with its quantity library).
    let refused = |name: &'static str, patch: serde_json::Value, needle: &'static str| {
        let stores = env.stores();
        async move {
            let err = stores
                .patch(name, &PatchParams::default(), &Patch::Merge(patch.clone()))
                .await
                .expect_err("refused");
            assert!(err.to_string().contains(needle), "{patch}: {err}");
        }
    };
    refused(
        "ok",
        json!({"spec": {"storage": {"storageClassName": "fast"}}}),
        "spec.storage.storageClassName is immutable",
    )
    .await;
    let mut with_storage = base.clone();
    with_storage["metadata"]["name"] = json!("st");
    with_storage["spec"]["storage"] = json!({"databaseSize": "2Gi"});
    create(with_storage)
        .await
        .expect("storage may be set at creation");
    refused(
        "st",
        json!({"spec": {"storage": {"databaseSize": "1Gi"}}}),
        "spec.storage.databaseSize can only grow",
    )
    .await;
    refused(
        "st",
        json!({"spec": {"storage": null}}),
        "spec.storage.databaseSize can only grow",
    )
    .await;
    env.stores()
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"storage": {"databaseSize": "3Gi"}, "plan": "medium"}})),
        )
        .await
        .expect("volumes and plans grow");
    refused(
        "st",
        json!({"spec": {"plan": "small"}}),
        "spec.plan: medium cannot become small",
    )
    .await;
    env.stores()
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"plan": "large"}})),
        )
        .await
        .expect("other fields stay mutable");
}

#[tokio::test]
async fn the_store_cap_holds_new_stores_until_capacity_frees() {
    let mut config = config();
    config.max_stores = 1;
    let env = env_or_skip!(start, config);
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    env.create(Store::test().with_name("bob")).await;
    let bob = env
        .wait_store("bob", "held by the cap", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "StoreLimitReached")
        })
        .await
        .expect("bob");
    assert_eq!(phase(Some(&bob)), Some(Phase::Pending));
    assert!(env.namespace("store-bob").await.is_none());
    env.delete("alice").await;
    env.wait_gone("alice").await;
    env.wait_phase("bob", Phase::Ready).await;
}

/// A host belongs to one Store: the older claim wins, the newer waits and starts when the host
/// is free; a store cannot name another store's host under the base domain at all.
#[tokio::test]
async fn a_host_is_served_by_one_store_only() {
    let mut config = config();
    config.owner_domains = [(
        "alice@example.com".to_string(),
        vec!["shop.example.com".to_string()],
    )]
    .into();
    let env = env_or_skip!(start, config);
    env.create(
        Store::test()
            .with_name("first")
            .with_domain("shop.example.com"),
    )
    .await;
    env.wait_phase("first", Phase::Ready).await;
    env.create(
        Store::test()
            .with_name("second")
            .with_domain("shop.example.com"),
    )
    .await;
    let second = env
        .wait_store("second", "host taken", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "HostTaken")
        })
        .await
        .expect("second");
    assert!(
        second
            .status
            .and_then(|s| s.message)
            .unwrap_or_default()
            .contains("first"),
        "names the holder"
    );
    assert!(
        env.namespace("store-second").await.is_none(),
        "nothing created"
    );

    // Mallory cannot name a store's host under the base domain.
    env.create(
        Store::test()
            .with_name("mallory")
            .with_owner("mallory@example.com")
            .with_domain("first.shop.local"),
    )
    .await;
    let mallory = env.wait_phase("mallory", Phase::Failed).await;
    let stalled = mallory
        .status
        .and_then(|s| condition(&s, "Stalled"))
        .expect("stalled");
    assert!(
        stalled.message.contains("not allowed"),
        "{}",
        stalled.message
    );

    // The host is free again: the waiting store starts by itself.
    env.delete("first").await;
    env.wait_gone("first").await;
    env.wait_phase("second", Phase::Ready).await;
}

/// A host that any other route of the cluster already serves (here an Ingress someone made in
/// another namespace before the store existed, as a squatter would for a future store's host)
/// is not given to the store: `HostTaken`, naming the route, nothing created; once that route
/// is gone the store starts by itself.
#[tokio::test]
async fn a_host_routed_by_a_foreign_route_is_taken() {
    use k8s_openapi::api::networking::v1::Ingress;
    let env = env_or_skip!(start, config());
    env.cp.ensure_namespace("web").await.expect("namespace");
    let squatter: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "landing", "namespace": "web"},
        "spec": {"rules": [{"host": "alice.shop.local", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "landing", "port": {"number": 80}}}
        }]}}]}
    }))
    .expect("ingress");
    let ingresses: Api<Ingress> = Api::namespaced(env.admin.clone(), "web");
    ingresses
        .create(&PostParams::default(), &squatter)
        .await
        .expect("foreign ingress");
    env.create(Store::test()).await;
    let alice = env
        .wait_condition("alice", "Stalled", "host taken", |c| {
            c.reason == "HostTaken"
        })
        .await;
    let message = alice.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains("Ingress web/landing"), "{message}");
    assert!(env.namespace(NS).await.is_none(), "nothing created");

    ingresses
        .delete("landing", &DeleteParams::default())
        .await
        .expect("delete");
    env.wait_phase("alice", Phase::Ready).await;
}

/// The per-owner cap is the operator's, so it holds whoever creates the Stores (any number of
/// API replicas, kubectl, GitOps): an owner's extra store waits; other owners are not affected.
#[tokio::test]
async fn the_per_owner_cap_holds_for_every_door() {
    let mut config = config();
    config.max_stores_per_owner = Some(1);
    let env = env_or_skip!(start, config);
    env.create(Store::test()).await;
    env.create(Store::test().with_name("alice-two")).await;
    env.create(Store::test().with_name("bob").with_owner("bob@example.com"))
        .await;
    env.wait_phase("bob", Phase::Ready).await;
    let mut held = 0;
    for name in ["alice", "alice-two"] {
        let store = env
            .wait_store(name, "admitted or held", |s| {
                s.and_then(|s| s.status.as_ref()).is_some_and(|st| {
                    st.phase == Some(Phase::Ready)
                        || condition(st, "Stalled").is_some_and(|c| c.reason == "StoreLimitReached")
                })
            })
            .await
            .expect("store");
        if store.status.and_then(|s| s.phase) == Some(Phase::Pending) {
            held += 1;
        }
    }
    assert_eq!(held, 1, "exactly one of alice's two stores waits");
}
