//! Every endpoint and error of the API, against the in-memory backend.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use storefleet_api::backend::memory::{MemoryBackend, TEST_PASSWORD};
use storefleet_api::tokens::{Role, TokenEntry, Tokens};
use storefleet_api::{AppState, ROUTES, Settings, app, probes};
use storefleet_types::Phase;
use tower::ServiceExt;

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789ab";
const OPS: &str = "ops-admin-token-0123456";

fn tokens() -> Tokens {
    let entry = |token: &str, user: &str, role| TokenEntry {
        token: token.into(),
        user: user.into(),
        role,
    };
    Tokens::from_entries(vec![
        entry(ALICE, "alice@example.com", Role::Tenant),
        entry(BOB, "bob@example.com", Role::Tenant),
        entry(OPS, "ops", Role::Admin),
    ])
}

struct Api {
    backend: MemoryBackend,
    router: axum::Router,
    /// The probe listener's router (same state).
    probes: axum::Router,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    fn new() -> Self {
        Self::with(Settings {
            creations_per_minute: 100,
            ..Settings::default()
        })
    }

    fn with(settings: Settings) -> Self {
        let backend = MemoryBackend::new();
        let state = AppState::new(backend.clone(), tokens(), settings);
        let router = app(state.clone());
        let probes = probes(state);
        Self {
            backend,
            router,
            probes,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        self.call_from(method, path, token, body, "10.0.0.1:5000")
            .await
    }

    async fn call_from(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        peer: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let mut req = req
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let peer: SocketAddr = peer.parse().expect("addr");
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = match path {
            "/readyz" | "/metrics" => &self.probes,
            _ => &self.router,
        };
        let res = router.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).to_string()));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn create(&self, token: &str, name: &str) -> Reply {
        self.call(
            "POST",
            "/api/v1/stores",
            Some(token),
            Some(json!({"name": name}).to_string()),
        )
        .await
    }
}

fn code(r: &Reply) -> &str {
    r.body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401_and_every_response_has_a_request_id() {
    let api = Api::new();
    for token in [None, Some("not-a-token"), Some("")] {
        let r = api.call("GET", "/api/v1/stores", token, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&r), "unauthorized");
        assert!(r.headers.get("x-request-id").is_some_and(|v| !v.is_empty()));
    }
    let r = api.call("GET", "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("x-request-id").is_some());
}

#[tokio::test]
async fn create_then_get_and_list() {
    let api = Api::new();
    let r = api
        .call(
            "POST",
            "/api/v1/stores",
            Some(ALICE),
            Some(json!({"name": "shop-a", "plan": "medium", "displayName": "Alice's"}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["name"], "shop-a");
    assert_eq!(r.body["owner"], "alice@example.com", "owner is the caller");
    assert_eq!(r.body["plan"], "medium");
    assert_eq!(r.body["engine"], "woocommerce");
    assert_eq!(r.body["phase"], "Pending");
    let r = api
        .call("GET", "/api/v1/stores/shop-a", Some(ALICE), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["displayName"], "Alice's");
    let r = api.call("GET", "/api/v1/stores", Some(ALICE), None).await;
    assert_eq!(r.body["stores"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn tenants_are_isolated_and_admins_see_all() {
    let api = Api::new();
    assert_eq!(
        api.create(ALICE, "shop-a").await.status,
        StatusCode::CREATED
    );
    assert_eq!(api.create(BOB, "shop-b").await.status, StatusCode::CREATED);
    let names = |r: &Reply| -> Vec<String> {
        r.body["stores"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(
        names(&api.call("GET", "/api/v1/stores", Some(ALICE), None).await),
        ["shop-a"]
    );
    assert_eq!(
        names(&api.call("GET", "/api/v1/stores", Some(BOB), None).await),
        ["shop-b"]
    );
    assert_eq!(
        names(&api.call("GET", "/api/v1/stores", Some(OPS), None).await),
        ["shop-a", "shop-b"]
    );
    for (method, path) in [
        ("GET", "/api/v1/stores/shop-a"),
        ("DELETE", "/api/v1/stores/shop-a"),
        ("POST", "/api/v1/stores/shop-a/retry"),
        ("POST", "/api/v1/stores/shop-a/backups"),
        ("GET", "/api/v1/stores/shop-a/events"),
    ] {
        let r = api.call(method, path, Some(BOB), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        let missing = api
            .call(
                method,
                &path.replace("shop-a", "no-such-store"),
                Some(BOB),
                None,
            )
            .await;
        assert_eq!(missing.status, r.status, "{method} {path}");
        assert_eq!(
            missing.body,
            r.body
                .to_string()
                .replace("shop-a", "no-such-store")
                .parse::<Value>()
                .expect("json"),
            "{method}: same answer as a missing store"
        );
    }
    assert_eq!(
        api.call("GET", "/api/v1/stores/shop-a", Some(OPS), None)
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        api.backend.list_names().contains(&"shop-a".to_string()),
        "bob's delete did nothing"
    );
}

trait Names {
    fn list_names(&self) -> Vec<String>;
}

impl Names for MemoryBackend {
    fn list_names(&self) -> Vec<String> {
        use storefleet_api::backend::Backend;
        futures::executor::block_on(self.list())
            .expect("list")
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect()
    }
}

#[tokio::test]
async fn invalid_input_is_422_with_the_field() {
    let api = Api::new();
    for (body, field) in [
        (json!({"name": "Bad_Name"}), Some("name")),
        (json!({"name": "a".repeat(41)}), Some("name")),
        (
            json!({"name": "ok", "domain": "Not A Host"}),
            Some("domain"),
        ),
        (
            json!({"name": "ok", "displayName": ""}),
            Some("displayName"),
        ),
        (json!({"name": "ok", "plan": "huge"}), None),
        (json!({"name": "ok", "owner": "mallory"}), None),
        (json!({"plan": "small"}), None),
    ] {
        let r = api
            .call(
                "POST",
                "/api/v1/stores",
                Some(ALICE),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(code(&r), "invalid");
        assert_eq!(r.body["error"]["field"].as_str(), field, "{body}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let r = api
        .call(
            "POST",
            "/api/v1/stores",
            Some(ALICE),
            Some("{not json".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The apiserver's own rejection is a 422 too.
    api.backend
        .reject_next("spec.domain: Invalid value: must be a host name");
    let r = api.create(ALICE, "rejected").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("must be a host name")
    );
}

#[tokio::test]
async fn taken_names_are_409() {
    let api = Api::new();
    assert_eq!(api.create(ALICE, "shop").await.status, StatusCode::CREATED);
    let r = api.create(BOB, "shop").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "conflict");
}

#[tokio::test]
async fn large_bodies_are_413() {
    let api = Api::new();
    let big = json!({"name": "x", "displayName": "y".repeat(20_000)}).to_string();
    let r = api
        .call("POST", "/api/v1/stores", Some(ALICE), Some(big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&r), "payload_too_large");
}

#[tokio::test]
async fn creation_is_rate_limited_per_token_and_per_ip() {
    let api = Api::with(Settings {
        creations_per_minute: 5,
        max_stores_per_owner: 100,
        ..Settings::default()
    });
    for i in 0..5 {
        assert_eq!(
            api.create(ALICE, &format!("s{i}")).await.status,
            StatusCode::CREATED
        );
    }
    let r = api.create(ALICE, "s5").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&r), "rate_limited");
    let retry: u64 = r
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=12).contains(&retry), "{retry}");
    // Another tenant from the same IP is limited too; from another IP it is not.
    assert_eq!(
        api.create(BOB, "b1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let other_ip = api
        .call_from(
            "POST",
            "/api/v1/stores",
            Some(BOB),
            Some(json!({"name": "b1"}).to_string()),
            "10.9.9.9:1",
        )
        .await;
    assert_eq!(other_ip.status, StatusCode::CREATED);
    let metrics = api.call("GET", "/metrics", None, None).await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap_or_default()
            .contains("storefleet_api_rate_limited_total 2"),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn the_per_owner_cap_is_403() {
    let api = Api::with(Settings {
        creations_per_minute: 100,
        max_stores_per_owner: 2,
        ..Settings::default()
    });
    assert_eq!(api.create(ALICE, "a1").await.status, StatusCode::CREATED);
    assert_eq!(api.create(ALICE, "a2").await.status, StatusCode::CREATED);
    let r = api.create(ALICE, "a3").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&r), "store_limit");
    assert_eq!(
        api.create(BOB, "b1").await.status,
        StatusCode::CREATED,
        "per owner"
    );
    assert_eq!(api.create(OPS, "o1").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn credentials_only_when_ready_and_only_for_one_store() {
    let api = Api::new();
    api.create(ALICE, "shop").await;
    api.backend
        .set_phase("shop", Phase::Provisioning, "Waiting for database");
    let r = api
        .call("GET", "/api/v1/stores/shop", Some(ALICE), None)
        .await;
    assert!(r.body.get("credentials").is_none());
    api.backend
        .set_phase("shop", Phase::Ready, "Store is ready");
    let r = api
        .call("GET", "/api/v1/stores/shop", Some(ALICE), None)
        .await;
    assert_eq!(r.body["credentials"]["username"], "storeadmin");
    assert_eq!(r.body["credentials"]["password"], TEST_PASSWORD);
    assert_eq!(r.body["url"], "http://shop.shop.local");
    let list = api.call("GET", "/api/v1/stores", Some(ALICE), None).await;
    assert!(
        !list.body.to_string().contains(TEST_PASSWORD),
        "never in the list"
    );
}

#[tokio::test]
async fn delete_is_202_and_repeating_it_is_harmless() {
    let api = Api::new();
    api.create(ALICE, "shop").await;
    for _ in 0..2 {
        let r = api
            .call("DELETE", "/api/v1/stores/shop", Some(ALICE), None)
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    let r = api
        .call("GET", "/api/v1/stores/shop", Some(ALICE), None)
        .await;
    assert_eq!(r.body["phase"], "Deleting");
    api.backend.finish_deletion("shop");
    assert_eq!(
        api.call("DELETE", "/api/v1/stores/shop", Some(ALICE), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn retry_only_a_failed_store() {
    let api = Api::new();
    api.create(ALICE, "shop").await;
    let r = api
        .call("POST", "/api/v1/stores/shop/retry", Some(ALICE), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("only a Failed store")
    );
    api.backend.set_phase("shop", Phase::Failed, "Setup failed");
    let r = api
        .call("POST", "/api/v1/stores/shop/retry", Some(ALICE), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    use storefleet_api::backend::Backend;
    let store = api.backend.get("shop").await.expect("get").expect("store");
    assert!(
        store
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("storefleet.io/retry"))
    );
}

#[tokio::test]
async fn a_tenant_hibernates_and_wakes_only_its_own_store() {
    use storefleet_api::backend::Backend;
    let api = Api::new();
    api.create(ALICE, "shop").await;
    api.backend
        .set_phase("shop", Phase::Ready, "Store is ready");
    // Another tenant does not see it.
    let r = api
        .call("POST", "/api/v1/stores/shop/hibernate", Some(BOB), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let hibernate = || api.call("POST", "/api/v1/stores/shop/hibernate", Some(ALICE), None);
    let r = hibernate().await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["hibernate"], json!(true));
    let spec = |store: Option<std::sync::Arc<storefleet_types::Store>>| {
        store.expect("store").spec.hibernate
    };
    assert!(spec(api.backend.get("shop").await.expect("get")));
    // Asking again is no error.
    assert_eq!(hibernate().await.status, StatusCode::ACCEPTED);
    let r = api
        .call("POST", "/api/v1/stores/shop/wake", Some(BOB), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        spec(api.backend.get("shop").await.expect("get")),
        "bob woke nothing"
    );
    let r = api
        .call("POST", "/api/v1/stores/shop/wake", Some(ALICE), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["hibernate"], json!(false));
    assert!(!spec(api.backend.get("shop").await.expect("get")));
}

#[tokio::test]
async fn a_backup_now_only_for_a_ready_store_with_backups_within_the_rate_limit() {
    use storefleet_api::backend::Backend;
    let api = Api::new();
    api.create(ALICE, "shop").await;
    let backup = || api.call("POST", "/api/v1/stores/shop/backups", Some(ALICE), None);
    let message = |r: &Reply| {
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // Ready, but the platform has no backup target (no BackupReady condition).
    api.backend
        .set_phase("shop", Phase::Ready, "Store is ready");
    let r = backup().await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(message(&r).contains("has no backups"), "{}", message(&r));
    // With backups, but not Ready.
    let with_backups = |phase: Phase| {
        let mut status = storefleet_types::StoreStatus {
            phase: Some(phase),
            ..storefleet_types::StoreStatus::default()
        };
        status
            .conditions
            .push(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "BackupReady".into(),
                status: "False".into(),
                reason: "NoBackupYet".into(),
                message: "none yet".into(),
                observed_generation: None,
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::now(),
                ),
            });
        status.backup = Some(storefleet_types::BackupStatus {
            last: Some(storefleet_types::BackupRecord {
                job: "backup-1".into(),
                snapshot: Some("5ba21d3e".into()),
                orders: Some(3),
                ..storefleet_types::BackupRecord::default()
            }),
            ..storefleet_types::BackupStatus::default()
        });
        api.backend.put_status(
            "shop",
            status,
            storefleet_api::backend::EventView {
                type_: "Normal".into(),
                reason: phase.as_str().into(),
                message: String::new(),
                time: None,
            },
        );
    };
    with_backups(Phase::Provisioning);
    let r = backup().await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        message(&r).contains("only a Ready store"),
        "{}",
        message(&r)
    );
    with_backups(Phase::Ready);
    let r = backup().await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["backup"]["last"]["snapshot"], "5ba21d3e");
    let store = api.backend.get("shop").await.expect("get").expect("store");
    let asked = store
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("storefleet.io/backup-now"))
        .cloned()
        .expect("the backup-now annotation");
    assert!(asked.parse::<u64>().is_ok(), "a fresh value: {asked}");
    // Asking again and again runs into the rate limit, with Retry-After.
    let mut limited = None;
    for _ in 0..100 {
        let r = backup().await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let limited = limited.expect("backups are rate limited");
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_clone_is_restored_from_the_callers_own_backups() {
    use storefleet_api::backend::Backend;
    let api = Api::new();
    let body = json!({"name": "shop-staging", "restoreFrom": {"store": "shop"}}).to_string();
    let r = api
        .call("POST", "/api/v1/stores", Some(ALICE), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let store = api
        .backend
        .get("shop-staging")
        .await
        .expect("get")
        .expect("store");
    let from = store.spec.restore_from.clone().expect("restoreFrom");
    assert_eq!(
        (from.store.as_str(), from.snapshot.as_str()),
        ("shop", "latest")
    );
    assert_eq!(
        store.spec.owner, "alice@example.com",
        "the caller's own repository of that store, never another tenant's"
    );
    for (body, field) in [
        (
            json!({"name": "x", "restoreFrom": {"store": "Shop"}}),
            "restoreFrom.store",
        ),
        (
            json!({"name": "x", "restoreFrom": {"store": "shop", "snapshot": "last-night"}}),
            "restoreFrom.snapshot",
        ),
    ] {
        let r = api
            .call(
                "POST",
                "/api/v1/stores",
                Some(ALICE),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], field);
    }
    let r = api
        .call(
            "POST",
            "/api/v1/stores",
            Some(ALICE),
            Some(
                json!({"name": "x", "restoreFrom": {"store": "shop", "owner": "bob"}}).to_string(),
            ),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
}

#[tokio::test]
async fn events_newest_first() {
    let api = Api::new();
    api.create(ALICE, "shop").await;
    api.backend
        .set_phase("shop", Phase::Provisioning, "Provisioning");
    api.backend
        .set_phase("shop", Phase::Ready, "Store is ready");
    let r = api
        .call("GET", "/api/v1/stores/shop/events", Some(ALICE), None)
        .await;
    let reasons: Vec<&str> = r.body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["Ready", "Provisioning"]);
}

#[tokio::test]
async fn health_metrics_openapi_and_dashboard() {
    let api = Api::new();
    // Readiness (an apiserver call per hit) and metrics are not public: only the probe
    // listener, which no Service or route exposes, serves them.
    for path in ["/readyz", "/metrics"] {
        let req = Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let res = api.router.clone().oneshot(req).await.expect("response");
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "{path} on the public port"
        );
    }
    assert_eq!(
        api.call("GET", "/readyz", None, None).await.status,
        StatusCode::OK
    );
    api.call("GET", "/api/v1/stores", Some(ALICE), None).await;
    let m = api.call("GET", "/metrics", None, None).await;
    let text = m.body.as_str().unwrap_or_default().to_string();
    assert!(text.contains("storefleet_api_requests_total{route=\"/api/v1/stores\",method=\"GET\",status=\"200\"} 1"), "{text}");
    assert!(
        text.contains("storefleet_api_request_duration_seconds_count{route=\"/api/v1/stores\"} 1"),
        "{text}"
    );
    let doc = api.call("GET", "/openapi.json", None, None).await.body;
    let documented: Vec<&str> =
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .expect("codes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
    assert_eq!(
        documented,
        storefleet_api::error::CODES,
        "every error code documented"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for route in ROUTES {
        assert!(paths.contains_key(route), "openapi lacks {route}");
    }
    assert_eq!(
        paths.len(),
        ROUTES.len(),
        "openapi lists a route the API does not serve"
    );
    let html = api.call("GET", "/", None, None).await;
    assert!(
        html.body
            .as_str()
            .unwrap_or_default()
            .contains("<title>Storefleet</title>")
    );
    assert_eq!(
        api.call("GET", "/app.js", None, None).await.status,
        StatusCode::OK
    );
    let missing = api.call("GET", "/nope", None, None).await;
    assert_eq!(
        (missing.status, code(&missing)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

/// Reads SSE events from a live server until `want` events arrived.
async fn sse_events(
    addr: SocketAddr,
    token: &str,
    want: usize,
    during: impl std::future::Future<Output = ()>,
) -> Vec<(String, Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req =
        format!("GET /api/v1/watch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut events = Vec::new();
    let mut during = Box::pin(during);
    let mut started = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < want && tokio::time::Instant::now() < deadline {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut chunk))
            .await
            .map_or(0, |r| r.unwrap_or(0));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        events = text
            .split("\n\n")
            .filter_map(|block| {
                let event = block.lines().find_map(|l| l.strip_prefix("event: "))?;
                let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
                Some((
                    event.to_string(),
                    serde_json::from_str(data).unwrap_or(Value::Null),
                ))
            })
            .collect();
        if !started && events.iter().any(|(e, _)| e == "synced") {
            started = true;
            (&mut during).await;
        }
    }
    events
}

#[tokio::test]
async fn sse_delivers_phase_changes_to_the_owner_only() {
    let backend = MemoryBackend::new();
    let router = app(AppState::new(
        backend.clone(),
        tokens(),
        Settings::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .ok();
    });
    use storefleet_api::backend::Backend;
    let store = |name: &str, owner: &str| {
        let spec =
            serde_json::from_value(json!({"engine": "woocommerce", "owner": owner})).expect("spec");
        storefleet_types::Store::new(name, spec)
    };
    backend
        .create(store("shop-a", "alice@example.com"))
        .await
        .expect("create");
    let b = backend.clone();
    let alice = sse_events(addr, ALICE, 4, async move {
        b.set_phase("shop-a", Phase::Ready, "Store is ready");
        b.create(store("shop-b", "bob@example.com"))
            .await
            .expect("create");
        let shop_a = b.get("shop-a").await.ok().flatten().expect("shop-a");
        b.delete(&shop_a).await.expect("delete");
        b.finish_deletion("shop-a");
    })
    .await;
    let kinds: Vec<&str> = alice.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(kinds[..3], ["store", "synced", "store"], "{alice:?}");
    assert_eq!(alice[0].1["phase"], "Pending");
    assert_eq!(alice[2].1["phase"], "Ready");
    assert!(
        alice.iter().all(|(_, d)| d["name"] != "shop-b"),
        "bob's store never reaches alice"
    );
    assert!(
        alice
            .iter()
            .any(|(e, d)| e == "deleted" && d["name"] == "shop-a")
            || alice.len() >= 4,
        "{alice:?}"
    );
    server.abort();
}

#[tokio::test]
async fn a_host_cannot_be_claimed_twice() {
    let api = Api::new();
    let with_domain =
        |name: &str| Some(json!({"name": name, "domain": "shop.example.com"}).to_string());
    let r = api
        .call("POST", "/api/v1/stores", Some(ALICE), with_domain("shop-a"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = api
        .call("POST", "/api/v1/stores", Some(BOB), with_domain("shop-b"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.to_string().contains("shop.example.com"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn concurrent_creations_cannot_exceed_the_per_owner_cap() {
    let api = Api::with(Settings {
        creations_per_minute: 100,
        max_stores_per_owner: 1,
        ..Settings::default()
    });
    let names: Vec<String> = (0..8).map(|i| format!("race-{i}")).collect();
    let replies = futures::future::join_all(names.iter().map(|n| api.create(ALICE, n))).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one creation passes a cap of 1");
}

#[tokio::test]
async fn rate_limits_follow_the_user_not_the_token() {
    // Two tokens of one user (e.g. before and after a rotation) share one budget.
    let entry = |token: &str| TokenEntry {
        token: token.into(),
        user: "alice@example.com".into(),
        role: Role::Tenant,
    };
    let tokens = Tokens::from_entries(vec![entry(ALICE), entry("alice-second-token-0123")]);
    let settings = Settings {
        creations_per_minute: 2,
        max_stores_per_owner: 100,
        ..Settings::default()
    };
    let state = AppState::new(MemoryBackend::new(), tokens, settings);
    let api = Api {
        backend: MemoryBackend::new(),
        router: app(state.clone()),
        probes: probes(state),
    };
    assert_eq!(api.create(ALICE, "one").await.status, StatusCode::CREATED);
    assert_eq!(
        api.create("alice-second-token-0123", "two").await.status,
        StatusCode::CREATED
    );
    let third = api.create("alice-second-token-0123", "three").await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        third.body
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let api = Api::new();
    api.create(ALICE, "shop-a").await;
    for (path, token) in [
        ("/", None),
        ("/app.js", None),
        ("/api/v1/stores/shop-a", Some(ALICE)),
        ("/nope", None),
    ] {
        let r = api.call("GET", path, token, None).await;
        let h = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(
            h("content-security-policy").contains("script-src 'self'"),
            "{path}"
        );
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            h("cache-control"),
            "no-store",
            "{path}: credentials are never cached"
        );
    }
}

#[tokio::test]
async fn only_the_trusted_proxys_forwarded_for_entry_counts() {
    // Behind a trusted proxy, the client can prepend anything; the proxy appends the real peer.
    let api = Api::with(Settings {
        creations_per_minute: 1,
        max_stores_per_owner: 100,
        trust_forwarded_for: true,
        ..Settings::default()
    });
    let create = |token: &'static str, name: &'static str, xff: &'static str| {
        let router = api.router.clone();
        async move {
            let mut req = Request::builder()
                .method("POST")
                .uri("/api/v1/stores")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-forwarded-for", xff)
                .body(Body::from(json!({"name": name}).to_string()))
                .expect("request");
            req.extensions_mut().insert(ConnectInfo(
                "10.0.0.9:1".parse::<SocketAddr>().expect("addr"),
            ));
            router.oneshot(req).await.expect("response").status()
        }
    };
    assert_eq!(
        create(ALICE, "a1", "1.1.1.1, 203.0.113.7").await,
        StatusCode::CREATED
    );
    // Same real client (rightmost), a different spoofed leftmost entry: still rate limited.
    assert_eq!(
        create(BOB, "b1", "2.2.2.2, 203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn stores_created_through_the_api_are_https_when_the_platform_has_an_issuer() {
    let api = Api::with(Settings {
        creations_per_minute: 100,
        default_tls: true,
        ..Settings::default()
    });
    assert_eq!(
        api.create(ALICE, "secure").await.status,
        StatusCode::CREATED
    );
    let get = |backend: &MemoryBackend, name: &str| {
        futures::executor::block_on(storefleet_api::backend::Backend::get(backend, name))
            .expect("get")
            .expect("created")
    };
    let store = get(&api.backend, "secure");
    assert_eq!(store.spec.tls, Some(storefleet_types::TlsSpec::default()));
    let plain = Api::new();
    plain.create(ALICE, "plain").await;
    assert_eq!(get(&plain.backend, "plain").spec.tls, None);
}

/// Opens a watch; returns its status and, when it opened, its body.
async fn open_watch(router: &axum::Router, token: &str) -> (StatusCode, Body) {
    let mut req = Request::builder()
        .uri("/api/v1/watch")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    req.extensions_mut().insert(ConnectInfo(
        "10.0.0.1:5000".parse::<SocketAddr>().expect("addr"),
    ));
    let res = router.clone().oneshot(req).await.expect("response");
    (res.status(), res.into_body())
}

/// Reads the body until it ends (or panics after `within`).
async fn body_ends(body: Body, within: Duration) {
    tokio::time::timeout(within, body.collect())
        .await
        .expect("the stream ended in time")
        .expect("body");
}

#[tokio::test]
async fn watch_streams_are_capped_limited_in_time_and_end_when_the_token_is_revoked() {
    let tokens = tokens();
    let settings = Settings {
        max_watches_per_user: 2,
        max_watches: 3,
        watch_lifetime: Duration::from_secs(60),
        watch_token_recheck: Duration::from_millis(100),
        ..Settings::default()
    };
    let router = app(AppState::new(
        MemoryBackend::new(),
        tokens.clone(),
        settings,
    ));
    let (s1, b1) = open_watch(&router, ALICE).await;
    let (s2, _b2) = open_watch(&router, ALICE).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    let (s3, _) = open_watch(&router, ALICE).await;
    assert_eq!(s3, StatusCode::TOO_MANY_REQUESTS, "per-user cap");
    let (s4, _b4) = open_watch(&router, BOB).await;
    assert_eq!(s4, StatusCode::OK);
    let (s5, _) = open_watch(&router, OPS).await;
    assert_eq!(s5, StatusCode::TOO_MANY_REQUESTS, "replica-wide cap");
    // A closed stream frees its slot.
    drop(b1);
    let (s6, b6) = open_watch(&router, ALICE).await;
    assert_eq!(s6, StatusCode::OK);
    drop(b6);

    // Revoking Bob's token ends his open stream.
    let (s7, bob) = open_watch(&router, BOB).await;
    assert_eq!(s7, StatusCode::OK);
    tokens.replace(vec![TokenEntry {
        token: ALICE.into(),
        user: "alice@example.com".into(),
        role: Role::Tenant,
    }]);
    body_ends(bob, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_watch_stream_ends_at_its_maximum_lifetime() {
    let settings = Settings {
        watch_lifetime: Duration::from_millis(300),
        ..Settings::default()
    };
    let router = app(AppState::new(MemoryBackend::new(), tokens(), settings));
    let (status, body) = open_watch(&router, ALICE).await;
    assert_eq!(status, StatusCode::OK);
    body_ends(body, Duration::from_secs(10)).await;
}

/// HTTP conventions: 415 for a body not declared as JSON, our JSON error on every error status
/// (405 and unknown routes included), messages in our words.
#[tokio::test]
async fn errors_follow_http_conventions_in_our_words() {
    let api = Api::new();
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/stores")
        .header(header::AUTHORIZATION, format!("Bearer {ALICE}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(json!({"name": "a"}).to_string()))
        .expect("request");
    let res = api.router.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("a JSON error body");
    assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");

    let r = api.call("PUT", "/api/v1/stores", Some(ALICE), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code(&r), "method_not_allowed", "{}", r.body);
    let r = api
        .call("GET", "/api/v1/nothing-here", Some(ALICE), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&r), "not_found", "{}", r.body);

    let r = api
        .call("POST", "/api/v1/stores", Some(ALICE), Some("[0]".into()))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.starts_with("the request body is not a valid store"),
        "{message}"
    );
    assert!(!message.contains("Failed to deserialize"), "{message}");
    let r = api
        .call("POST", "/api/v1/stores", Some(ALICE), Some("{".into()))
        .await;
    let message = r.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.starts_with("the request body is not valid JSON"),
        "{message}"
    );
}

/// Only accepted work counts against the creation rate limit: a refused create (a duplicate
/// name, a host another store uses) costs nothing.
#[tokio::test]
async fn refused_creations_do_not_count_against_the_rate_limit() {
    let api = Api::with(Settings {
        creations_per_minute: 2,
        max_stores_per_owner: 100,
        ..Settings::default()
    });
    assert_eq!(api.create(ALICE, "one").await.status, StatusCode::CREATED);
    for _ in 0..5 {
        assert_eq!(api.create(ALICE, "one").await.status, StatusCode::CONFLICT);
    }
    assert_eq!(api.create(ALICE, "two").await.status, StatusCode::CREATED);
    assert_eq!(
        api.create(ALICE, "three").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// `/api/v1/me`: who the token stands for (the dashboard's header) and whether this is the demo.
#[tokio::test]
async fn me_says_who_is_signed_in_and_whether_it_is_the_demo() {
    let api = Api::new();
    let me = api.call("GET", "/api/v1/me", Some(ALICE), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body,
        json!({"user": "alice@example.com", "role": "tenant", "demo": false})
    );
    let ops = api.call("GET", "/api/v1/me", Some(OPS), None).await;
    assert_eq!(ops.body["role"], "admin");
    let anonymous = api.call("GET", "/api/v1/me", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["code"], "unauthorized");

    let demo = Api::with(Settings {
        demo: true,
        ..Settings::default()
    });
    let me = demo.call("GET", "/api/v1/me", Some(BOB), None).await;
    assert_eq!(me.body["demo"], true);
}
