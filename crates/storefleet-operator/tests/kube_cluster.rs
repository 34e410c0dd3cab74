//! The real `KubeCluster`, talking HTTP to a recording stand-in for the apiserver: the requests
//! it sends (verbs, paths, field manager, patch types, preconditions) and how it reads the
//! answers (404, 409, 422, 500).

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector;
use serde_json::{Value, json};
use storefleet_operator::controller::cluster::{
    Cluster, ClusterError, Created, Deleted, Kind, ObjRef,
};
use storefleet_operator::controller::kube_cluster::KubeCluster;
use storefleet_operator::metrics::Metrics;
use storefleet_types::{Phase, Store, StoreStatus};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    content_type: String,
    body: Value,
}

type Responder = Arc<dyn Fn(&Seen) -> (StatusCode, Value) + Send + Sync>;

fn cluster(
    respond: impl Fn(&Seen) -> (StatusCode, Value) + Send + Sync + 'static,
) -> (KubeCluster, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let respond: Responder = Arc::new(respond);
    let service = tower::service_fn(move |req: Request<Body>| {
        let log = log.clone();
        let respond = respond.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.expect("request body");
            let seen = Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let (status, answer) = respond(&seen);
            log.lock().expect("log").push(seen);
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(status)
                    .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                    .expect("response"),
            )
        }
    });
    let client = Client::new(service, "default");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "storefleet-operator".into(),
            instance: None,
        },
    );
    let (reader, _writer) = reflector::store::<Store>();
    (
        KubeCluster::new(client, recorder, reader, Arc::new(Metrics::default())),
        seen,
    )
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message, "metadata": {}})
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "storefront", "namespace": "store-alice"}, "spec": {"selector": {}, "template": {}}})
}

#[tokio::test]
async fn apply_is_server_side_apply_with_our_field_manager() {
    let (c, seen) = cluster(|s| (StatusCode::OK, s.body.clone()));
    let target = ObjRef::namespaced(Kind::Deployment, "store-alice", "storefront");
    c.apply(&target, &deployment()).await.expect("applied");
    let req = seen.lock().expect("log")[0].clone();
    assert_eq!(req.method, "PATCH");
    assert!(
        req.uri
            .starts_with("/apis/apps/v1/namespaces/store-alice/deployments/storefront?"),
        "{}",
        req.uri
    );
    assert!(
        req.uri.contains("fieldManager=storefleet-operator") && req.uri.contains("force=true"),
        "{}",
        req.uri
    );
    assert_eq!(req.content_type, "application/apply-patch+yaml");
    assert_eq!(req.body["metadata"]["name"], "storefront");
}

#[tokio::test]
async fn get_reads_and_404_is_none() {
    let (c, seen) = cluster(|s| {
        if s.uri.contains("missing") {
            (StatusCode::NOT_FOUND, status(404, "NotFound", "not found"))
        } else {
            (StatusCode::OK, deployment())
        }
    });
    let found = c
        .get(&ObjRef::namespaced(
            Kind::Deployment,
            "store-alice",
            "storefront",
        ))
        .await
        .expect("get");
    assert_eq!(found.expect("present")["metadata"]["name"], "storefront");
    let missing = c
        .get(&ObjRef::cluster(Kind::Namespace, "missing"))
        .await
        .expect("get");
    assert!(missing.is_none());
    assert_eq!(
        seen.lock().expect("log")[1].uri,
        "/api/v1/namespaces/missing"
    );
}

#[tokio::test]
async fn create_never_overwrites() {
    let (c, seen) = cluster(|_| {
        (
            StatusCode::CONFLICT,
            status(
                409,
                "AlreadyExists",
                "secrets \"admin-credentials\" already exists",
            ),
        )
    });
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "admin-credentials", "namespace": "store-alice"}, "stringData": {"password": "x"}});
    let target = ObjRef::namespaced(Kind::Secret, "store-alice", "admin-credentials");
    assert_eq!(
        c.create(&target, &secret).await.expect("create"),
        Created::AlreadyExists
    );
    let req = seen.lock().expect("log")[0].clone();
    assert_eq!(req.method, "POST");
    assert!(
        req.uri
            .starts_with("/api/v1/namespaces/store-alice/secrets?"),
        "{}",
        req.uri
    );
    assert!(req.uri.contains("fieldManager=storefleet-operator"));
    assert_eq!(
        seen.lock().expect("log").len(),
        1,
        "no second request that could overwrite"
    );
}

#[tokio::test]
async fn delete_is_background_and_404_is_done() {
    let (c, seen) = cluster(|_| {
        (
            StatusCode::NOT_FOUND,
            status(404, "NotFound", "namespaces \"store-alice\" not found"),
        )
    });
    assert_eq!(
        c.delete(&ObjRef::cluster(Kind::Namespace, "store-alice"))
            .await
            .expect("delete"),
        Deleted::NotFound
    );
    let req = seen.lock().expect("log")[0].clone();
    assert_eq!(req.method, "DELETE");
    assert_eq!(req.body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn errors_are_classified() {
    for (code, expect) in [
        (409u16, "Conflict"),
        (422, "Rejected"),
        (403, "Rejected"),
        (429, "Transient"),
        (500, "Transient"),
    ] {
        let (c, _) = cluster(move |_| {
            (
                StatusCode::from_u16(code).expect("code"),
                status(code, "X", "boom"),
            )
        });
        let err = c
            .apply(
                &ObjRef::cluster(Kind::Namespace, "store-alice"),
                &json!({"metadata": {"name": "store-alice"}}),
            )
            .await
            .expect_err("fails");
        let kind = match err {
            ClusterError::Conflict(_) => "Conflict",
            ClusterError::Rejected { .. } => "Rejected",
            ClusterError::Transient { .. } => "Transient",
        };
        assert_eq!(kind, expect, "HTTP {code}");
    }
}

#[tokio::test]
async fn finalizers_and_owner_references_are_guarded_by_resource_version() {
    let (c, seen) = cluster(|_| {
        (
            StatusCode::OK,
            json!({"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "metadata": {"name": "alice"}, "spec": {"engine": "woocommerce", "owner": "a"}}),
        )
    });
    let mut store = Store::test();
    store.metadata.resource_version = Some("42".into());
    store.metadata.finalizers = Some(vec!["other.io/keep".into()]);
    c.add_finalizer(&store).await.expect("add");
    let req = seen.lock().expect("log")[0].clone();
    assert_eq!(req.method, "PATCH");
    assert_eq!(
        req.uri.split('?').next(),
        Some("/apis/storefleet.io/v1alpha1/stores/alice")
    );
    assert_eq!(req.content_type, "application/merge-patch+json");
    assert_eq!(
        req.body,
        json!({"metadata": {"resourceVersion": "42", "finalizers": ["other.io/keep", "storefleet.io/cleanup"]}})
    );

    store.metadata.finalizers = Some(vec!["other.io/keep".into(), "storefleet.io/cleanup".into()]);
    c.remove_finalizer(&store).await.expect("remove");
    assert_eq!(
        seen.lock().expect("log")[1].body["metadata"]["finalizers"],
        json!(["other.io/keep"])
    );

    let current = json!({"metadata": {"name": "store-alice", "resourceVersion": "7", "ownerReferences": [{"uid": "u"}]}});
    c.set_owner_references(
        &ObjRef::cluster(Kind::Namespace, "store-alice"),
        &current,
        &json!([]),
    )
    .await
    .expect("patch");
    assert_eq!(
        seen.lock().expect("log")[2].body,
        json!({"metadata": {"resourceVersion": "7", "ownerReferences": []}})
    );
}

#[tokio::test]
async fn status_is_applied_to_the_status_subresource() {
    let (c, seen) = cluster(|_| {
        (
            StatusCode::OK,
            json!({"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "metadata": {"name": "alice"}, "spec": {"engine": "woocommerce", "owner": "a"}}),
        )
    });
    let status = StoreStatus {
        phase: Some(Phase::Ready),
        observed_generation: Some(3),
        ..StoreStatus::default()
    };
    c.patch_status(&Store::test(), &status)
        .await
        .expect("status");
    let req = seen.lock().expect("log")[0].clone();
    assert_eq!(req.method, "PATCH");
    assert!(
        req.uri
            .starts_with("/apis/storefleet.io/v1alpha1/stores/alice/status?"),
        "{}",
        req.uri
    );
    assert!(req.uri.contains("fieldManager=storefleet-operator") && req.uri.contains("force=true"));
    assert_eq!(req.content_type, "application/apply-patch+yaml");
    assert_eq!(
        req.body,
        json!({"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "status": {"phase": "Ready", "observedGeneration": 3}})
    );
}

#[tokio::test]
async fn cleanup_lists_metadata_only_by_store_label() {
    let (c, seen) = cluster(|_| {
        (
            StatusCode::OK,
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": [
                {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {"name": "admin-credentials", "namespace": "store-alice", "ownerReferences": [{"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "name": "alice", "uid": "u"}]}}
            ]}),
        )
    });
    let items = c.list_labelled(Kind::Secret, "alice").await.expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "admin-credentials");
    assert!(items[0].get("data").is_none());
    let req = seen.lock().expect("log")[0].clone();
    assert!(req.uri.starts_with("/api/v1/secrets?"), "{}", req.uri);
    assert!(
        req.uri
            .contains("labelSelector=storefleet.io%2Fstore%3Dalice"),
        "{}",
        req.uri
    );
}
