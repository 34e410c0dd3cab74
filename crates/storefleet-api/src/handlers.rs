//! The API's request handlers: stores (list, create, get, delete, retry, backup, events), the
//! watch stream, readiness and metrics. Routing, state, authentication and middleware are in
//! `lib.rs`.

use super::*;
use storefleet_types::{condition, names};

/// The store if the caller may see it; 404 otherwise (other tenants' stores are not revealed).
pub(crate) async fn visible<B: Backend>(
    state: &AppState<B>,
    caller: &Caller,
    name: &str,
) -> Result<Arc<Store>, ApiError> {
    match state.backend.get(name).await? {
        Some(store) if caller.may_see(&store.spec.owner) => Ok(store),
        _ => Err(ApiError::not_found(name)),
    }
}

/// Who the token stands for, and whether this is the demo: the dashboard's header.
pub(crate) async fn whoami<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let role = match caller.role {
        Role::Tenant => "tenant",
        Role::Admin => "admin",
    };
    Ok(axum::Json(serde_json::json!({
        "user": caller.user,
        "role": role,
        "demo": state.settings.demo,
    }))
    .into_response())
}

pub(crate) async fn list_stores<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let mut stores: Vec<StoreView> = state
        .backend
        .list()
        .await?
        .iter()
        .filter(|s| caller.may_see(&s.spec.owner))
        .map(|s| StoreView::of(s))
        .collect();
    stores.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(axum::Json(serde_json::json!({ "stores": stores })).into_response())
}

pub(crate) async fn create_store<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(request): ApiJson<CreateStore>,
) -> Result<Response, ApiError> {
    let store = request.into_store(&caller.user, state.settings.default_tls)?;
    // Rate limits first (keyed by the user, so a tokens-file reload never moves one user's
    // budget to another), then the checks and the create under one lock, so two concurrent
    // requests cannot both pass the per-owner cap or both claim a host. The budget is taken
    // only when the store was created: a refused request (409, 422, cap) costs nothing.
    let ip = client_ip(
        &headers,
        connect.as_ref().map(|e| &e.0),
        state.settings.trust_forwarded_for,
    );
    let keys = [format!("user:{}", caller.user), format!("ip:{ip}")];
    let _creating = state.creating.lock().await;
    if let Err(wait) = state.limiter.has_room(&keys, Instant::now()) {
        state.metrics.rate_limited();
        return Err(ApiError::rate_limited(retry_after_secs(wait)));
    }
    let existing = state.backend.list().await?;
    if caller.role == Role::Tenant {
        let owned = existing
            .iter()
            .filter(|s| s.spec.owner == caller.user)
            .count();
        if owned >= state.settings.max_stores_per_owner {
            return Err(ApiError::store_limit(state.settings.max_stores_per_owner));
        }
    }
    if let Some(domain) = &store.spec.domain
        && existing
            .iter()
            .any(|s| s.spec.domain.as_ref() == Some(domain))
    {
        return Err(ApiError::conflict(format!(
            "host {domain} is already used by another store"
        )));
    }
    let created = state.backend.create(store).await?;
    // Under the lock that checked for room, so this cannot be refused.
    let _ = state.limiter.check(&keys, Instant::now());
    tracing::info!(store = created.metadata.name.as_deref().unwrap_or_default(), owner = %caller.user, "store created");
    Ok((StatusCode::CREATED, axum::Json(StoreView::of(&created))).into_response())
}

pub(crate) async fn get_store<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let store = visible(&state, &caller, &name).await?;
    let mut view = StoreView::of(&store);
    if view.phase == Phase::Ready {
        view.credentials = state.backend.credentials(&store).await?;
    }
    Ok(axum::Json(view).into_response())
}

pub(crate) async fn delete_store<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let store = visible(&state, &caller, &name).await?;
    state.backend.delete(&store).await?;
    tracing::info!(store = %name, by = %caller.user, "store deletion requested");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"name": name, "deleting": true})),
    )
        .into_response())
}

pub(crate) async fn retry_store<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let store = visible(&state, &caller, &name).await?;
    let phase = StoreView::of(&store).phase;
    if phase != Phase::Failed {
        return Err(ApiError::conflict(format!(
            "store {name} is {}, only a Failed store can be retried",
            phase.as_str()
        )));
    }
    let updated = state
        .backend
        .annotate(&name, names::RETRY_ANNOTATION, &token())
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(StoreView::of(&updated))).into_response())
}

/// A fresh annotation value: the time in milliseconds.
fn token() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().to_string())
        .unwrap_or_default()
}

/// `POST /api/v1/stores/{name}/backups`: a backup now (sets `storefleet.io/backup-now`, which
/// the operator turns into one backup Job). Only a Ready store with backups; a tenant's backups
/// share the budget of the rate limiter under their own key, so they cannot flood the bucket.
pub(crate) async fn backup_store<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let store = visible(&state, &caller, &name).await?;
    let view = StoreView::of(&store);
    let has_backups = store
        .status
        .as_ref()
        .is_some_and(|s| s.condition(condition::BACKUP_READY).is_some());
    if !has_backups {
        return Err(ApiError::conflict(format!(
            "store {name} has no backups: the platform has configured no backup target"
        )));
    }
    if view.phase != Phase::Ready {
        return Err(ApiError::conflict(format!(
            "store {name} is {}, only a Ready store is backed up",
            view.phase.as_str()
        )));
    }
    let keys = [format!("backup:{}", caller.user)];
    if let Err(wait) = state.limiter.check(&keys, Instant::now()) {
        state.metrics.rate_limited();
        return Err(ApiError::rate_limited(retry_after_secs(wait)));
    }
    let value = token();
    let updated = state
        .backend
        .annotate(&name, names::BACKUP_NOW_ANNOTATION, &value)
        .await?;
    tracing::info!(store = %name, by = %caller.user, "backup requested");
    Ok((StatusCode::ACCEPTED, axum::Json(StoreView::of(&updated))).into_response())
}

/// `POST /api/v1/stores/{name}/hibernate`: `spec.hibernate: true` (every workload at zero, the
/// CronJobs suspended; volumes, Secrets and route kept). Asking again is no error.
pub(crate) async fn hibernate_store<B: Backend>(
    state: State<AppState<B>>,
    caller: Caller,
    path: Path<String>,
) -> Result<Response, ApiError> {
    set_hibernate(state, caller, path, true).await
}

/// `POST /api/v1/stores/{name}/wake`: `spec.hibernate: false` (the shop starts again, without a
/// new setup). Waking an awake store is no error.
pub(crate) async fn wake_store<B: Backend>(
    state: State<AppState<B>>,
    caller: Caller,
    path: Path<String>,
) -> Result<Response, ApiError> {
    set_hibernate(state, caller, path, false).await
}

async fn set_hibernate<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    Path(name): Path<String>,
    hibernate: bool,
) -> Result<Response, ApiError> {
    let store = visible(&state, &caller, &name).await?;
    if store.metadata.deletion_timestamp.is_some() {
        return Err(ApiError::conflict(format!("store {name} is being deleted")));
    }
    if store.spec.hibernate == hibernate {
        return Ok((StatusCode::ACCEPTED, axum::Json(StoreView::of(&store))).into_response());
    }
    let updated = state.backend.hibernate(&name, hibernate).await?;
    let what = if hibernate { "hibernate" } else { "wake" };
    tracing::info!(store = %name, by = %caller.user, "{what} requested");
    Ok((StatusCode::ACCEPTED, axum::Json(StoreView::of(&updated))).into_response())
}

pub(crate) async fn store_events<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let store = visible(&state, &caller, &name).await?;
    let events = state.backend.events(&store).await?;
    Ok(axum::Json(serde_json::json!({ "events": events })).into_response())
}

pub(crate) fn sse_store(kind: &'static str, view: &StoreView) -> Event {
    Event::default()
        .event(kind)
        .data(serde_json::to_string(view).unwrap_or_default())
}

/// Server-Sent Events: a snapshot of the caller's stores, then every change, pushed from the
/// backend's watch.
pub(crate) async fn watch<B: Backend>(
    State(state): State<AppState<B>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = WatchSlot::acquire(&state, &caller.user).ok_or_else(|| ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "too_many_watches",
        message: format!(
            "at most {} open watches per user (and {} in all); close another first",
            state.settings.max_watches_per_user, state.settings.max_watches
        ),
        field: None,
        retry_after: Some(5),
    })?;
    // The stream ends at its maximum lifetime, or as soon as its token no longer
    // authenticates the same user (revoked, or rotated away).
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let tokens = state.tokens.clone();
    let (user, role) = (caller.user.clone(), caller.role);
    let recheck = state.settings.watch_token_recheck;
    let revoked = async move {
        loop {
            tokio::time::sleep(recheck).await;
            match tokens.authenticate(&token) {
                Some(c) if c.user == user && c.role == role => {}
                _ => return,
            }
        }
    };
    let lifetime = tokio::time::sleep(state.settings.watch_lifetime);
    let end = futures::future::select(Box::pin(revoked), Box::pin(lifetime));
    let rx = state.backend.subscribe();
    let snapshot: Vec<Event> = state
        .backend
        .list()
        .await?
        .iter()
        .filter(|s| caller.may_see(&s.spec.owner))
        .map(|s| sse_store("store", &StoreView::of(s)))
        .collect();
    let caller = Arc::new(caller);
    let changes = futures::stream::unfold(rx, move |mut rx| {
        let caller = caller.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(Change::Upsert(s)) if caller.may_see(&s.spec.owner) => {
                        return Some((sse_store("store", &StoreView::of(&s)), rx));
                    }
                    Ok(Change::Deleted(s)) if caller.may_see(&s.spec.owner) => {
                        return Some((sse_store("deleted", &StoreView::of(&s)), rx));
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Event::default().event("resync").data("{}"), rx));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    let stream = futures::stream::iter(snapshot)
        .chain(futures::stream::once(async {
            Event::default().event("synced").data("{}")
        }))
        .chain(changes)
        .take_until(end)
        .map(move |event| {
            let _open = &slot;
            Ok(event)
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

pub(crate) async fn readyz<B: Backend>(State(state): State<AppState<B>>) -> Response {
    if state.backend.ready().await {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Kubernetes is not reachable\n",
        )
            .into_response()
    }
}

pub(crate) async fn metrics_text<B: Backend>(State(state): State<AppState<B>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
