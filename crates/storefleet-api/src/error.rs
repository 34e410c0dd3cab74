//! API errors: `{"error": {"code", "message", "field"?}}` with the right status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::backend::BackendError;

/// Every `error.code` the API answers with; the OpenAPI document's `Error` schema lists the
/// same (a test compares them, and the fuzzing run of `make test` checks every response).
pub const CODES: [&str; 11] = [
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "conflict",
    "invalid",
    "payload_too_large",
    "unsupported_media_type",
    "rate_limited",
    "store_limit",
    "too_many_watches",
    "unavailable",
];

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message (shown by the dashboard as is).
    pub message: String,
    /// The request field at fault, for 422.
    pub field: Option<String>,
    /// Seconds to wait, for 429.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 404 (also for other tenants' stores: their existence is not revealed).
    pub fn not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("store {name} not found"),
        )
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422 for a field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
        }
    }

    /// 422 for the whole body.
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 415: the body is not declared as JSON.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        )
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    /// 429.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many stores created; try again in {retry_after} s"),
            )
        }
    }

    /// 403.
    pub fn store_limit(limit: usize) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "store_limit",
            format!("you have reached the limit of {limit} stores; delete one first"),
        )
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        match &e {
            BackendError::AlreadyExists(_) => Self::conflict(e.to_string()),
            BackendError::NotFound(name) => Self::not_found(name),
            BackendError::Invalid(message) => {
                Self::invalid_body(format!("Kubernetes rejected the store: {message}"))
            }
            // The cause (an apiserver error: addresses, RBAC details) goes to the log, under the
            // request's x-request-id; the caller learns only that it may try again.
            BackendError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "Kubernetes is unavailable");
                Self::unavailable("Kubernetes is unavailable; try again later")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        debug_assert!(
            CODES.contains(&self.code),
            "undocumented code {}",
            self.code
        );
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

#[cfg(test)]
mod unavailable_tests {
    use super::*;

    #[test]
    fn a_503_does_not_show_the_apiserver_error() {
        let raw = "error trying to connect: tcp connect error: Connection refused (10.96.0.1:443)";
        let e = ApiError::from(BackendError::Unavailable(raw.into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "unavailable");
        assert!(!e.message.contains("10.96.0.1"), "{}", e.message);
        assert!(e.message.contains("try again"), "{}", e.message);
    }
}
