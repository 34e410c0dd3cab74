//! storefleet-api: the thin API pod and the dashboard. Tenants create, watch, retry and delete
//! their own stores; the Store CRs are the only state.
//!
//! ```text
//!  browser ──► /  (embedded dashboard: index.html, app.js, style.css)
//!          ──► /api/v1/...  ── auth (tokens.rs) ── isolation (owner) ── rate limit (limit.rs)
//!                                     │
//!                                     ▼
//!                              Backend trait (backend/)
//!                  KubeBackend: Store watch cache + writes │ MemoryBackend: tests, bench
//! ```

pub mod backend;
pub mod demo;
pub mod error;
pub mod limit;
pub mod metrics;
pub mod tokens;
pub mod view;

mod handlers;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Path, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use storefleet_types::{Phase, Store};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use backend::{Backend, Change};
use error::ApiError;
use limit::{RateLimiter, retry_after_secs};
use metrics::ApiMetrics;
use tokens::{Caller, Role, Tokens};
use view::{CreateStore, StoreView};

/// The OpenAPI description, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");
const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Tunables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Store creations per minute, per token and per client IP.
    pub creations_per_minute: u32,
    /// Stores one tenant may own.
    pub max_stores_per_owner: usize,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Stores created through the API get `tls: {}` (the operator's default ClusterIssuer), so
    /// that the admin password is never typed over plain HTTP. On when the operator has one.
    pub default_tls: bool,
    /// Open `/api/v1/watch` streams one user may hold.
    pub max_watches_per_user: usize,
    /// Open `/api/v1/watch` streams in this replica.
    pub max_watches: usize,
    /// A watch stream ends after this long (the dashboard reconnects).
    pub watch_lifetime: Duration,
    /// How often an open watch re-checks its token (a revoked token's stream ends).
    pub watch_token_recheck: Duration,
    /// Serving `storefleet-api --demo` (in-memory stores): the dashboard says so.
    pub demo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            creations_per_minute: 5,
            max_stores_per_owner: 5,
            body_limit: 16 * 1024,
            trust_forwarded_for: false,
            default_tls: false,
            max_watches_per_user: 4,
            max_watches: 512,
            watch_lifetime: Duration::from_secs(30 * 60),
            watch_token_recheck: Duration::from_secs(30),
            demo: false,
        }
    }
}

/// Shared state of the handlers.
pub struct AppState<B> {
    /// Kubernetes.
    pub backend: Arc<B>,
    /// Bearer tokens.
    pub tokens: Tokens,
    /// Creation rate limits.
    pub limiter: Arc<RateLimiter>,
    /// Metrics.
    pub metrics: Arc<ApiMetrics>,
    /// Tunables.
    pub settings: Arc<Settings>,
    /// Serializes the check-then-create of store creations (per-owner cap, host) in this replica.
    pub creating: Arc<tokio::sync::Mutex<()>>,
    /// Open watch streams per user.
    pub watches: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

/// One open watch stream, counted until dropped.
struct WatchSlot {
    watches: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    user: String,
}

impl WatchSlot {
    /// A slot for `user`, unless the user or the replica is at its limit.
    fn acquire<B>(state: &AppState<B>, user: &str) -> Option<Self> {
        let mut open = state
            .watches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total: usize = open.values().sum();
        let mine = open.get(user).copied().unwrap_or(0);
        if total >= state.settings.max_watches || mine >= state.settings.max_watches_per_user {
            return None;
        }
        open.insert(user.to_string(), mine + 1);
        Some(Self {
            watches: state.watches.clone(),
            user: user.to_string(),
        })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self
            .watches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

impl<B> Clone for AppState<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            tokens: self.tokens.clone(),
            limiter: self.limiter.clone(),
            metrics: self.metrics.clone(),
            settings: self.settings.clone(),
            creating: self.creating.clone(),
            watches: self.watches.clone(),
        }
    }
}

impl<B> std::fmt::Debug for AppState<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> AppState<B> {
    /// State over `backend` with `tokens` and `settings`.
    pub fn new(backend: B, tokens: Tokens, settings: Settings) -> Self {
        Self {
            backend: Arc::new(backend),
            tokens,
            limiter: Arc::new(RateLimiter::new(settings.creations_per_minute)),
            metrics: Arc::new(ApiMetrics::default()),
            settings: Arc::new(settings),
            creating: Arc::default(),
            watches: Arc::default(),
        }
    }
}

/// The API's paths, by name.
pub mod routes {
    /// List (GET) and create (POST) stores.
    pub const STORES: &str = "/api/v1/stores";
    /// One store: GET, DELETE.
    pub const STORE: &str = "/api/v1/stores/{name}";
    /// Retry a failed store: POST.
    pub const RETRY: &str = "/api/v1/stores/{name}/retry";
    /// A backup of a store now: POST.
    pub const BACKUPS: &str = "/api/v1/stores/{name}/backups";
    /// Hibernate a store (`spec.hibernate: true`): POST.
    pub const HIBERNATE: &str = "/api/v1/stores/{name}/hibernate";
    /// Wake a hibernated store (`spec.hibernate: false`): POST.
    pub const WAKE: &str = "/api/v1/stores/{name}/wake";
    /// A store's events: GET.
    pub const EVENTS: &str = "/api/v1/stores/{name}/events";
    /// Server-sent events of the caller's stores.
    pub const WATCH: &str = "/api/v1/watch";
    /// Who the token stands for: GET.
    pub const ME: &str = "/api/v1/me";
    /// Liveness.
    pub const HEALTHZ: &str = "/healthz";
    /// Readiness.
    pub const READYZ: &str = "/readyz";
    /// Prometheus metrics.
    pub const METRICS: &str = "/metrics";
    /// The OpenAPI document.
    pub const OPENAPI: &str = "/openapi.json";
}

/// Every route the public API serves (the OpenAPI document lists the same). Readiness and
/// metrics are on the probe listener only ([`probes`]).
pub const ROUTES: [&str; 11] = [
    routes::STORES,
    routes::STORE,
    routes::RETRY,
    routes::BACKUPS,
    routes::HIBERNATE,
    routes::WAKE,
    routes::EVENTS,
    routes::WATCH,
    routes::ME,
    routes::HEALTHZ,
    routes::OPENAPI,
];

/// The probe listener's routes: `/healthz`, `/readyz` (one apiserver call per hit) and
/// `/metrics`. It is a separate port that no Service, Ingress or HTTPRoute exposes: kubelet
/// probes and Prometheus reach the pod directly, the public cannot.
pub fn probes<B: Backend>(state: AppState<B>) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(|| async { "ok\n" }))
        .route(routes::READYZ, get(handlers::readyz::<B>))
        .route(routes::METRICS, get(handlers::metrics_text::<B>))
        .with_state(state)
}

/// The whole HTTP application.
pub fn app<B: Backend>(state: AppState<B>) -> Router {
    let body_limit = state.settings.body_limit;
    Router::new()
        .route(
            routes::STORES,
            get(handlers::list_stores::<B>).post(handlers::create_store::<B>),
        )
        .route(
            routes::STORE,
            get(handlers::get_store::<B>).delete(handlers::delete_store::<B>),
        )
        .route(routes::RETRY, post(handlers::retry_store::<B>))
        .route(routes::BACKUPS, post(handlers::backup_store::<B>))
        .route(routes::HIBERNATE, post(handlers::hibernate_store::<B>))
        .route(routes::WAKE, post(handlers::wake_store::<B>))
        .route(routes::EVENTS, get(handlers::store_events::<B>))
        .route(routes::WATCH, get(handlers::watch::<B>))
        .route(routes::ME, get(handlers::whoami::<B>))
        .route(routes::HEALTHZ, get(|| async { "ok\n" }))
        .route(
            routes::OPENAPI,
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route(
            "/",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    INDEX_HTML,
                )
            }),
        )
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
        .route(
            "/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    STYLE_CSS,
                )
            }),
        )
        .fallback(|| async {
            ApiError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: "no such route".into(),
                field: None,
                retry_after: None,
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                code: "method_not_allowed",
                message: "this route does not take that method".into(),
                field: None,
                retry_after: None,
            }
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), observe::<B>))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The dashboard's Content-Security-Policy: only its own script, style and API.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers on every response: no framing, no sniffing, no referrer, a strict CSP, and no
/// caching anywhere (a store's response can carry its admin login).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        headers.insert(
            axum::http::HeaderName::from_static(name),
            axum::http::HeaderValue::from_static(value),
        );
    }
    response
}

/// Metrics and one log line per request, with its request id.
async fn observe<B: Backend>(
    State(state): State<AppState<B>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(&route, &method, status, took);
    tracing::info!(request_id = %request_id, method = %method, route = %route, status, latency_ms = took.as_secs_f64() * 1000.0, "request");
    response
}

impl<B: Backend> FromRequestParts<AppState<B>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<B>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        state
            .tokens
            .authenticate(token)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// JSON body extractor whose rejections are API errors (413 for size, 422 otherwise).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::too_large(0).with_limit_message();
    }
    // Our words, not the library's: what was wrong and where.
    let detail = |text: String, prefix: &str| {
        text.split_once(prefix)
            .map_or(text.clone(), |(_, rest)| rest.trim().to_string())
    };
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::unsupported_media_type(),
        JsonRejection::JsonDataError(e) => ApiError::invalid_body(format!(
            "the request body is not a valid store: {}",
            detail(e.body_text(), "into the target type:")
        )),
        JsonRejection::JsonSyntaxError(e) => ApiError::invalid_body(format!(
            "the request body is not valid JSON: {}",
            detail(e.body_text(), "as JSON:")
        )),
        _ => ApiError::invalid_body("the request body cannot be read"),
    }
}

impl ApiError {
    fn with_limit_message(mut self) -> Self {
        self.message = "request body too large".into();
        self
    }
}

fn client_ip(
    parts_headers: &HeaderMap,
    connect: Option<&ConnectInfo<SocketAddr>>,
    trust_forwarded: bool,
) -> String {
    if trust_forwarded
        && let Some(ip) = parts_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The rightmost entry is the one the trusted proxy added; the ones before it are
            // whatever the client sent.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip.to_string();
    }
    connect.map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}
