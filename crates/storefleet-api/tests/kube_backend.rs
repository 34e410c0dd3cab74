//! The API's Kubernetes backend on a real kube-apiserver (`KUBEBUILDER_ASSETS`), as the chart's
//! API ServiceAccount with the chart's RBAC: create, list (watch cache), get, watch, retry,
//! delete, owner isolation, events and credentials through the HTTP handlers; admission errors
//! from the real CRD; and the permissions it used equal the RBAC table the chart is tested
//! against. The test plays the operator (status, Secret, Event) with an admin client.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Event, ObjectReference, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{CustomResourceExt, ResourceExt};
use serde_json::{Value, json};
use storefleet_api::backend::kube::{
    EVENTS_NAMESPACE, KubeBackend, RBAC, RBAC_IN_EVENTS_NAMESPACE, RBAC_IN_STORE_NAMESPACES,
};
use storefleet_api::backend::{Backend, Change};
use storefleet_api::tokens::{Role, TokenEntry, Tokens};
use storefleet_api::{AppState, Settings, app};
use storefleet_envtest::{ControlPlane, chart};
use storefleet_types::Store;
use storefleet_types::names::{self, child};
use tower::ServiceExt;

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789ab";
const NAMESPACE: &str = "storefleet-system";
const API_SA: &str = "storefleet-api";

fn tokens() -> Tokens {
    let entry = |token: &str, user: &str| TokenEntry {
        token: token.into(),
        user: user.into(),
        role: Role::Tenant,
    };
    Tokens::from_entries(vec![
        entry(ALICE, "alice@example.com"),
        entry(BOB, "bob@example.com"),
    ])
}

async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
    req.extensions_mut().insert(ConnectInfo(peer));
    let res = router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn names_in(body: &Value) -> Vec<String> {
    body["stores"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn the_kube_backend_serves_the_api_on_a_real_apiserver() {
    let Some(cp) = ControlPlane::start("the_kube_backend_serves_the_api_on_a_real_apiserver").await
    else {
        return;
    };
    let admin = cp.admin();
    cp.apply(&[serde_json::to_value(Store::crd()).expect("crd")])
        .await
        .expect("CRD");
    cp.ensure_namespace(NAMESPACE).await.expect("namespace");
    let rbac = chart::access_objects("storefleet", NAMESPACE, &[], API_SA).expect("helm template");
    assert!(
        rbac.len() >= 3,
        "the chart has the API's ServiceAccount and RBAC"
    );
    cp.apply(&rbac).await.expect("RBAC");
    let stores: Api<Store> = Api::all(admin.clone());
    eventually("the Store CRD is served", || async {
        stores.list(&Default::default()).await.is_ok()
    })
    .await;
    let (_, client) = cp.service_account(NAMESPACE, API_SA).await.expect("token");
    let backend = KubeBackend::start(client);
    let mut changes = backend.subscribe();
    eventually("the backend is ready", || async { backend.ready().await }).await;
    let router = app(AppState::new(
        backend.clone(),
        tokens(),
        Settings {
            creations_per_minute: 100,
            ..Settings::default()
        },
    ));

    // Create through the API: the CR is real, owned by the caller.
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores",
        ALICE,
        Some(json!({"name": "shop-a", "displayName": "Alice's"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores",
        BOB,
        Some(json!({"name": "shop-b"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created = stores.get("shop-a").await.expect("CR exists");
    assert_eq!(created.spec.owner, "alice@example.com");
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores",
        BOB,
        Some(json!({"name": "shop-a"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The watch sees it; lists come from the watch cache and are per owner.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let change = tokio::time::timeout(Duration::from_secs(30), changes.recv())
            .await
            .expect("a change")
            .expect("open");
        if matches!(&change, Change::Upsert(s) if s.name_any() == "shop-a") {
            break;
        }
        assert!(Instant::now() < deadline, "no change for shop-a");
    }
    eventually("both stores in the cache", || async {
        backend.list().await.map(|l| l.len() == 2).unwrap_or(false)
    })
    .await;
    let (_, body) = call(&router, "GET", "/api/v1/stores", ALICE, None).await;
    assert_eq!(names_in(&body), ["shop-a"]);
    let (_, body) = call(&router, "GET", "/api/v1/stores", BOB, None).await;
    assert_eq!(names_in(&body), ["shop-b"]);
    for (method, path) in [
        ("GET", "/api/v1/stores/shop-a"),
        ("DELETE", "/api/v1/stores/shop-a"),
        ("GET", "/api/v1/stores/shop-a/events"),
        ("POST", "/api/v1/stores/shop-a/retry"),
    ] {
        let (status, _) = call(&router, method, path, BOB, None).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {path} as another tenant"
        );
    }

    // Play the operator: Ready status, the credentials Secret, an Event.
    let ns = "store-shop-a";
    cp.ensure_namespace(ns).await.expect("store namespace");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(child::ADMIN_SECRET.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            [
                ("username".to_string(), "storeadmin".to_string()),
                ("password".to_string(), "s3cret-value-xyz".to_string()),
            ]
            .into(),
        ),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret");
    // The operator's grant in the store's namespace (desired::access): the API's ServiceAccount
    // may get that Secret there, and no Secret anywhere else.
    let grant = |kind: &str, body: Value| {
        let mut doc = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": child::API_ACCESS, "namespace": ns},
        });
        if let (Some(d), Some(b)) = (doc.as_object_mut(), body.as_object()) {
            d.extend(b.clone());
        }
        doc
    };
    cp.apply(&[
        grant(
            "Role",
            json!({"rules": [{"apiGroups": [""], "resources": ["secrets"],
                "resourceNames": [child::ADMIN_SECRET], "verbs": ["get"]}]}),
        ),
        grant(
            "RoleBinding",
            json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": child::API_ACCESS},
                "subjects": [{"kind": "ServiceAccount", "name": API_SA, "namespace": NAMESPACE}]}),
        ),
    ])
    .await
    .expect("the operator's grant");
    let status = json!({"apiVersion": names::API_VERSION, "kind": "Store", "status": {
        "phase": "Ready", "namespace": ns, "credentialsSecret": child::ADMIN_SECRET, "url": "http://shop-a.shop.local",
        "observedGeneration": created.metadata.generation, "message": "Store is ready",
        "conditions": [{"type": "BackupReady", "status": "True", "reason": "BackupSucceeded",
            "message": "The last backup (job backup-1) finished", "lastTransitionTime": "2026-12-04T03:00:00Z"}],
        "backup": {"last": {"job": "backup-1", "snapshot": "5ba21d3e", "orders": 3}}}});
    stores
        .patch_status(
            "shop-a",
            &PatchParams::apply("test-operator").force(),
            &Patch::Apply(&status),
        )
        .await
        .expect("status");
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some("shop-a.".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(names::API_VERSION.into()),
            kind: Some("Store".into()),
            name: Some("shop-a".into()),
            uid: created.metadata.uid.clone(),
            ..ObjectReference::default()
        },
        reason: Some("Ready".into()),
        message: Some("Store is ready".into()),
        type_: Some("Normal".into()),
        ..Event::default()
    };
    Api::<Event>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &event)
        .await
        .expect("event");
    // An event of an earlier store with the same name (another uid) is not this store's.
    let mut old_event = event.clone();
    old_event.involved_object.uid = Some("00000000-0000-0000-0000-00000000dead".into());
    old_event.message = Some("from a deleted store".into());
    Api::<Event>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &old_event)
        .await
        .expect("event");

    eventually("Ready in the cache", || async {
        let (_, body) = call(&router, "GET", "/api/v1/stores/shop-a", ALICE, None).await;
        body["phase"] == "Ready"
    })
    .await;
    // A backup now, through the chart's RBAC: the annotation on the real Store; the status'
    // backup record shown; another tenant cannot.
    let (status, body) = call(&router, "POST", "/api/v1/stores/shop-a/backups", BOB, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores/shop-a/backups",
        ALICE,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["backup"]["last"]["snapshot"], "5ba21d3e", "{body}");
    let asked = stores.get("shop-a").await.expect("store");
    assert!(
        asked
            .annotations()
            .contains_key(names::BACKUP_NOW_ANNOTATION),
        "{:?}",
        asked.annotations()
    );
    // Hibernate and wake, through the chart's RBAC: spec.hibernate on the real Store (the
    // apiserver's schema takes it); another tenant cannot.
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores/shop-a/hibernate",
        BOB,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores/shop-a/hibernate",
        ALICE,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["hibernate"], true, "{body}");
    assert!(stores.get("shop-a").await.expect("store").spec.hibernate);
    let (status, body) = call(&router, "POST", "/api/v1/stores/shop-a/wake", ALICE, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(!stores.get("shop-a").await.expect("store").spec.hibernate);
    // A namespace that does not carry this store's uid (a retained one of an earlier store of
    // the same name, or a lagging cache's) never yields a login.
    let (_, body) = call(&router, "GET", "/api/v1/stores/shop-a", ALICE, None).await;
    assert!(body["credentials"].is_null(), "{body}");
    let marked = json!({"metadata": {"annotations": {names::STORE_UID_ANNOTATION: "00000000-0000-0000-0000-00000000dead"}}});
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone());
    namespaces
        .patch(ns, &PatchParams::default(), &Patch::Merge(&marked))
        .await
        .expect("annotate namespace");
    let (_, body) = call(&router, "GET", "/api/v1/stores/shop-a", ALICE, None).await;
    assert!(
        body["credentials"].is_null(),
        "another store's namespace: {body}"
    );
    let ours = json!({"metadata": {"annotations": {names::STORE_UID_ANNOTATION: created.metadata.uid.clone()}}});
    namespaces
        .patch(ns, &PatchParams::default(), &Patch::Merge(&ours))
        .await
        .expect("annotate namespace");
    let (_, body) = call(&router, "GET", "/api/v1/stores/shop-a", ALICE, None).await;
    assert_eq!(body["credentials"]["username"], "storeadmin", "{body}");
    let (status, body) = call(&router, "GET", "/api/v1/stores/shop-a/events", ALICE, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("Store is ready"), "{body}");
    assert!(!body.to_string().contains("from a deleted store"), "{body}");

    // Retry of a Failed store: the annotation lands on the CR.
    let failed = json!({"apiVersion": names::API_VERSION, "kind": "Store", "status": {"phase": "Failed", "message": "Setup failed"}});
    stores
        .patch_status(
            "shop-b",
            &PatchParams::apply("test-operator").force(),
            &Patch::Apply(&failed),
        )
        .await
        .expect("status");
    eventually("Failed in the cache", || async {
        let (_, body) = call(&router, "GET", "/api/v1/stores/shop-b", BOB, None).await;
        body["phase"] == "Failed"
    })
    .await;
    let (status, body) = call(&router, "POST", "/api/v1/stores/shop-b/retry", BOB, None).await;
    assert!(status.is_success(), "{status} {body}");
    let annotated = stores.get("shop-b").await.expect("store");
    assert!(
        annotated
            .annotations()
            .contains_key(names::RETRY_ANNOTATION)
    );

    // The real CRD's admission errors reach the caller as 422.
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/stores",
        ALICE,
        Some(json!({"name": "x".repeat(41)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // By uid: a delete decided on a stale view of the name (the store it saw was replaced by
    // a newer one) does not touch the newer store.
    let current = stores.get("shop-a").await.expect("shop-a");
    let mut stale = current.clone();
    stale.metadata.uid = Some("00000000-0000-0000-0000-00000000beef".into());
    let refused = backend.delete(&stale).await;
    assert!(
        matches!(
            refused,
            Err(storefleet_api::backend::BackendError::NotFound(_))
        ),
        "{refused:?}"
    );
    assert!(
        stores.get_opt("shop-a").await.expect("get").is_some(),
        "the newer store stays"
    );

    // Delete: the CR goes (no operator here, so no finalizer holds it).
    let (status, body) = call(&router, "DELETE", "/api/v1/stores/shop-a", ALICE, None).await;
    assert!(status.is_success(), "{status} {body}");
    eventually("shop-a gone", || async {
        stores
            .get_opt("shop-a")
            .await
            .map(|s| s.is_none())
            .unwrap_or(false)
    })
    .await;
    eventually("shop-a gone from the list", || async {
        let (_, body) = call(&router, "GET", "/api/v1/stores", ALICE, None).await;
        names_in(&body).is_empty()
    })
    .await;

    // What it used is what the chart grants (its RBAC table), and nothing was forbidden.
    let user = format!("system:serviceaccount:{NAMESPACE}:{API_SA}");
    let requests: Vec<_> = cp
        .audited()
        .expect("audit")
        .into_iter()
        .filter(|r| r.user == user)
        .collect();
    let forbidden: Vec<_> = requests.iter().filter(|r| r.code == 403).collect();
    assert!(forbidden.is_empty(), "{forbidden:#?}");
    for r in requests.iter().filter(|r| r.resource == "secrets") {
        assert_eq!(
            r.name.as_deref(),
            Some(child::ADMIN_SECRET),
            "only the admin Secret is read"
        );
    }
    let used: BTreeSet<(String, String, String)> = cp.permissions_used(&user).expect("audit");
    let table: BTreeSet<(String, String, String)> = RBAC
        .iter()
        .chain(RBAC_IN_EVENTS_NAMESPACE)
        .chain(RBAC_IN_STORE_NAMESPACES)
        .map(|(g, r, v, _)| (g.to_string(), r.to_string(), v.to_string()))
        .collect();
    // Events are listed in their namespace only, never cluster-wide.
    for r in requests.iter().filter(|r| r.resource == "events") {
        assert_eq!(r.namespace.as_deref(), Some(EVENTS_NAMESPACE), "{r:?}");
    }
    let unused: Vec<_> = table.difference(&used).collect();
    let ungranted: Vec<_> = used.difference(&table).collect();
    assert!(
        ungranted.is_empty(),
        "used but not in the RBAC table: {ungranted:?}"
    );
    assert!(
        unused.is_empty(),
        "in the RBAC table but never used: {unused:?}"
    );
}
