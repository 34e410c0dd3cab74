//! Who may do what: the operator writes only in store namespaces, the API reads one store's login,
//! the apply layer's calls on a real apiserver.

use super::*;

/// The apply layer's calls, each against the real apiserver, as the chart's ServiceAccount.
#[tokio::test]
async fn apply_layer_calls_behave_on_a_real_apiserver() {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use storefleet_operator::controller::context::{Context, SystemClock};
    use storefleet_operator::controller::events::{Events, Reporter};
    use storefleet_operator::controller::requests::{
        self, ApplyError, create_once, get_metadata, is_rejection, ssa,
    };
    let env = env_or_skip!(prepare, config());
    let client = env.operator_client.clone();
    let (reader, _writer) = kube::runtime::reflector::store();
    let events = Events::new(
        client.clone(),
        Reporter {
            controller: names::FIELD_MANAGER.into(),
            instance: names::FIELD_MANAGER.into(),
        },
    );
    let ctx = Context::new(
        client,
        events,
        reader,
        config(),
        std::sync::Arc::new(SystemClock),
        Default::default(),
    );
    let ns = "store-calls";
    let labels = std::collections::BTreeMap::from([
        (
            keys::MANAGED_BY.to_string(),
            keys::MANAGED_BY_VALUE.to_string(),
        ),
        (keys::STORE.to_string(), "calls".to_string()),
    ]);
    let meta = |name: &str, namespace: Option<&str>| ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(String::from),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    // A store's namespace, as the chart's admission policy knows one (it may be active already).
    let mut namespace = Namespace {
        metadata: meta(ns, None),
        ..Namespace::default()
    };
    namespace.metadata.annotations = Some(std::collections::BTreeMap::from([(
        names::STORE_UID_ANNOTATION.to_string(),
        "00000000-0000-0000-0000-00000000ca11".to_string(),
    )]));
    assert!(
        get_metadata::<Namespace>(&ctx, &namespace.metadata)
            .await
            .expect("get")
            .is_none(),
        "absent is None"
    );
    let applied = ssa(&ctx, &namespace).await.expect("apply creates");
    let rv = applied.resource_version();
    assert!(
        applied
            .managed_fields()
            .iter()
            .any(|f| f.manager.as_deref() == Some(names::FIELD_MANAGER))
    );
    let again = ssa(&ctx, &namespace).await.expect("apply again");
    assert_eq!(again.resource_version(), rv, "a no-op apply writes nothing");

    // Secrets are created, never applied, and read back as metadata only.
    let secret = |value: &str| Secret {
        metadata: meta("c", Some(ns)),
        string_data: Some(std::collections::BTreeMap::from([(
            "k".to_string(),
            value.to_string(),
        )])),
        ..Secret::default()
    };
    assert!(
        create_once(&ctx, &secret("1"))
            .await
            .expect("create")
            .is_some()
    );
    assert!(
        create_once(&ctx, &secret("2"))
            .await
            .expect("exists")
            .is_none(),
        "an existing Secret is left alone"
    );
    let stored: Secret = Api::namespaced(env.admin.clone(), ns)
        .get("c")
        .await
        .expect("admin reads the secret");
    assert_eq!(
        stored.data.and_then(|d| d.get("k").cloned()).map(|v| v.0),
        Some(b"1".to_vec()),
        "create never overwrites"
    );
    let live = get_metadata::<Secret>(&ctx, &secret("1").metadata)
        .await
        .expect("get")
        .expect("exists");
    let as_json = serde_json::to_value(&live).expect("json");
    assert!(as_json.get("data").is_none(), "metadata only: {as_json}");

    // ownerReferences are guarded by resourceVersion: a stale read is a conflict.
    let mut stale = live.metadata.clone();
    stale.resource_version = Some("1".into());
    let err = requests::set_owner_references::<Secret>(&ctx, &stale, vec![])
        .await
        .expect_err("stale");
    assert_eq!(requests::status_code(err.kube()), Some(409), "{err:?}");
    requests::set_owner_references::<Secret>(&ctx, &live.metadata, vec![])
        .await
        .expect("fresh");

    // A rejection by validation is one, with the apiserver's reason and no object body.
    let mut bad = Service {
        metadata: meta("bad", Some(ns)),
        ..Service::default()
    };
    bad.spec = Some(k8s_openapi::api::core::v1::ServiceSpec {
        ports: Some(vec![k8s_openapi::api::core::v1::ServicePort {
            port: 70000,
            ..Default::default()
        }]),
        ..Default::default()
    });
    let err = ssa(&ctx, &bad).await.expect_err("invalid");
    assert!(is_rejection(err.kube()), "{err:?}");
    assert!(
        matches!(&err, ApplyError::Apply { object, .. } if object == "Service store-calls/bad")
    );
    assert!(requests::rejection(&err).contains("port"), "{err:?}");

    // Events, as the chart's ServiceAccount: the same event again is one more in its series,
    // another note is another Event, and a series whose Event is gone starts a new one.
    let regarding = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(names::API_VERSION.into()),
        kind: Some(names::KIND.into()),
        name: Some("calls".into()),
        uid: Some("uid-calls".into()),
        ..Default::default()
    };
    let event = |note: &str| kube::runtime::events::Event {
        type_: kube::runtime::events::EventType::Normal,
        reason: "Ready".into(),
        note: Some(note.into()),
        action: "Provision".into(),
        secondary: None,
    };
    let events_api =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.admin.clone(), "default");
    let listed = || async {
        let mut all: Vec<(String, i32)> = events_api
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("calls"))
            .map(|e| (e.note.unwrap_or_default(), e.series.map_or(1, |s| s.count)))
            .collect();
        all.sort();
        all
    };
    for _ in 0..3 {
        ctx.events
            .publish(&event("serving"), &regarding)
            .await
            .expect("publish");
    }
    ctx.events
        .publish(&event("other"), &regarding)
        .await
        .expect("publish");
    assert_eq!(
        listed().await,
        [("other".to_string(), 1), ("serving".to_string(), 3)]
    );
    events_api
        .delete_collection(&Default::default(), &Default::default())
        .await
        .expect("delete events");
    ctx.events
        .publish(&event("serving"), &regarding)
        .await
        .expect("publish again");
    assert_eq!(listed().await, [("serving".to_string(), 1)], "a new Event");
}

/// The chart's ValidatingAdmissionPolicy keeps the operator's ServiceAccount in store namespaces:
/// with the same RBAC that lets it write Deployments anywhere, a Deployment in `kube-system`, a
/// change to a namespace that is not a store's and a namespace without a store uid are refused;
/// in a store's namespace (the store here) everything is accepted.
#[tokio::test]
async fn the_operator_may_write_only_in_store_namespaces() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;

    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "intruder"},
        "spec": {
            "selector": {"matchLabels": {"app": "intruder"}},
            "template": {
                "metadata": {"labels": {"app": "intruder"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .expect("deployment");
    let as_operator = |ns: &str| Api::<Deployment>::namespaced(env.operator_client.clone(), ns);
    let refusal = |e: kube::Error| match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => (0, other.to_string()),
    };
    // RBAC alone would allow it (a ClusterRole): the policy is what refuses.
    let message = common::eventually("a Deployment in kube-system refused", || async {
        match as_operator("kube-system")
            .create(&PostParams::default(), &deployment)
            .await
        {
            Ok(_) => panic!("the operator created a Deployment in kube-system"),
            Err(e) => {
                let (code, message) = refusal(e);
                (code == 403 && message.contains("namespaces of Stores")).then_some(message)
            }
        }
    })
    .await;
    assert!(message.contains("kube-system is not one"), "{message}");

    // Not a store's namespace: no change, no delete, no namespace without a store uid.
    let namespaces = Api::<Namespace>::all(env.operator_client.clone());
    let label = json!({"metadata": {"labels": {"storefleet.io/store": "alice"}}});
    let err = namespaces
        .patch("default", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect_err("the default namespace is not ours");
    assert_eq!(refusal(err).0, 403);
    let err = namespaces
        .delete("kube-public", &DeleteParams::default())
        .await
        .expect_err("kube-public is not ours");
    assert_eq!(refusal(err).0, 403);
    let unowned: Namespace = serde_json::from_value(json!({
        "metadata": {"name": "store-mallory", "labels": {"app.kubernetes.io/managed-by": "storefleet"}}
    }))
    .expect("namespace");
    let (code, message) = refusal(
        namespaces
            .create(&PostParams::default(), &unowned)
            .await
            .expect_err("no store uid"),
    );
    assert_eq!(code, 403, "{message}");
    assert!(message.contains("store-mallory is not one"), "{message}");

    // Nobody but the operator marks a namespace as a store's (Gateways select on the label):
    // not even a cluster admin, neither on a new namespace nor on an existing one.
    let admin_namespaces = Api::<Namespace>::all(env.admin.clone());
    let marked: Namespace = serde_json::from_value(json!({
        "metadata": {"name": "marked", "labels": {"storefleet.io/store": "alice"}}
    }))
    .expect("namespace");
    // (dry runs go through admission; the policy may take a moment to be in force)
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let message = common::eventually("a namespace marked by an admin refused", || async {
        let e = admin_namespaces.create(&dry_run, &marked).await.err()?;
        let (code, message) = refusal(e);
        (code == 403).then_some(message)
    })
    .await;
    assert!(message.contains("storefleet.io/store"), "{message}");
    for (ns, labels) in [
        ("default", json!({"storefleet.io/store": "alice"})),
        (NS, json!({"storefleet.io/store": null})),
    ] {
        let patch = json!({"metadata": {"labels": labels}});
        let err = admin_namespaces
            .patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect_err("the label is the operator's");
        assert_eq!(refusal(err).0, 403, "{ns}");
    }
    // Other labels of a store's namespace stay the admin's to change.
    let patch = json!({"metadata": {"labels": {"team": "shops"}}});
    admin_namespaces
        .patch(NS, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("another label");

    // In the store's namespace the same Deployment is accepted (dry run: nothing to clean up).
    as_operator(NS)
        .create(&dry_run, &deployment)
        .await
        .expect("the store's namespace is the operator's");
}

/// The API reads a store's admin login through the operator's grant in that store's namespace
/// only: as the API's ServiceAccount (the chart's RBAC, which grants no Secret cluster-wide),
/// the store's `admin-credentials` is readable, a Secret of that name elsewhere is not, nor any
/// other Secret of the store.
#[tokio::test]
async fn the_api_reads_a_stores_admin_login_in_that_namespace_only() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let mut config = config();
    config.api_service_account = Some(storefleet_operator::config::ServiceAccountRef {
        namespace: common::RELEASE_NAMESPACE.into(),
        name: "storefleet-api".into(),
    });
    let env = env_or_skip!(start, config);
    // The chart's API ServiceAccount and its (cluster-wide) RBAC.
    let api_rbac = storefleet_envtest::chart::access_objects(
        "storefleet",
        common::RELEASE_NAMESPACE,
        &[],
        "storefleet-api",
    )
    .expect("helm template");
    env.cp.apply(&api_rbac).await.expect("API RBAC");
    common::eventually("the API's ServiceAccount", || async {
        Api::<ServiceAccount>::namespaced(env.admin.clone(), common::RELEASE_NAMESPACE)
            .get_opt("storefleet-api")
            .await
            .ok()?
    })
    .await;
    let (_, api) = env
        .cp
        .service_account(common::RELEASE_NAMESPACE, "storefleet-api")
        .await
        .expect("API token");
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;

    let in_store: Api<Secret> = Api::namespaced(api.clone(), NS);
    let login = common::eventually("the API reads the store's login", || async {
        in_store.get(child::ADMIN_SECRET).await.ok()
    })
    .await;
    assert!(login.data.is_some_and(|d| d.contains_key("password")));
    let forbidden = |r: Result<Secret, kube::Error>| match r {
        Err(kube::Error::Api(s)) => s.code == 403,
        _ => false,
    };
    assert!(
        forbidden(in_store.get(child::DATABASE_SECRET).await),
        "no other Secret of the store"
    );
    // A Secret of the same name in a namespace that is no store's.
    let elsewhere: Secret = serde_json::from_value(json!({
        "metadata": {"name": child::ADMIN_SECRET, "namespace": "default"},
        "stringData": {"password": "not-yours"}
    }))
    .expect("secret");
    Api::<Secret>::namespaced(env.admin.clone(), "default")
        .create(&PostParams::default(), &elsewhere)
        .await
        .expect("secret");
    assert!(
        forbidden(
            Api::<Secret>::namespaced(api, "default")
                .get(child::ADMIN_SECRET)
                .await
        ),
        "admin-credentials outside store namespaces"
    );
}
