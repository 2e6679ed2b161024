use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::connector::{CommandError, InvalidConnectorId, SecretFieldError};
use crate::modules::ModuleError;
use crate::secrets::SecretsError;
use crate::sinks::ConfigError;
use crate::store::{CurrentRevision, StoreError};

/// An error as clients see it: a status, a stable code and a message a person
/// can act on. Internal details stay in the log.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra machine-readable fields.
    pub details: Option<serde_json::Value>,
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable code, e.g. `not-found`, `invalid-setting`.
    code: &'a str,
    /// What went wrong and what to do about it, for a person.
    message: &'a str,
    /// Extra machine-readable fields, for some codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed inside the node; see its log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            details: self.details.as_ref(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        Self::bad_request("invalid-setting", e.to_string())
    }
}

impl From<InvalidConnectorId> for ApiError {
    fn from(e: InvalidConnectorId) -> Self {
        Self::bad_request("invalid-id", e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::WrongExpectedRevision { current, .. } => {
                let current = match current {
                    CurrentRevision::NoStream => serde_json::Value::Null,
                    CurrentRevision::Current(r) => (*r).into(),
                };
                Self {
                    details: Some(serde_json::json!({ "currentRevision": current })),
                    ..Self::new(
                        StatusCode::CONFLICT,
                        "wrong-expected-revision",
                        e.to_string(),
                    )
                }
            }
            StoreError::StreamNotFound(_) => Self::not_found(e.to_string()),
            StoreError::StreamDeleted(_) => {
                Self::new(StatusCode::GONE, "stream-deleted", e.to_string())
            }
            StoreError::InvalidRequest(_) => Self::bad_request("invalid-request", e.to_string()),
            StoreError::Unsupported(_) => {
                Self::new(StatusCode::NOT_IMPLEMENTED, "unsupported", e.to_string())
            }
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the event store is unavailable; retry later",
                )
            }
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::NotFound(_) => Self::not_found(e.to_string()),
            CommandError::AlreadyExists(_) => {
                Self::new(StatusCode::CONFLICT, "already-exists", e.to_string())
            }
            CommandError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            CommandError::Corrupt { .. } => Self::internal(&e),
            CommandError::Secret {
                error:
                    SecretFieldError {
                        reason: SecretsError::NoKeyToSeal,
                        ..
                    },
                ..
            } => Self::bad_request("no-secrets-key", e.to_string()),
            CommandError::Secret { .. } => {
                tracing::error!(error = %e, "a connector's secret cannot be opened");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "secret-unreadable",
                    e.to_string(),
                )
            }
            CommandError::Store(e) => e.into(),
        }
    }
}

impl From<ModuleError> for ApiError {
    fn from(e: ModuleError) -> Self {
        match e {
            ModuleError::InvalidName(_) => Self::bad_request("invalid-name", e.to_string()),
            ModuleError::TooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                e.to_string(),
            ),
            ModuleError::Invalid(crate::wasm::WasmError::Cache { .. }) => Self::internal(&e),
            ModuleError::Invalid(_) => Self::bad_request("invalid-module", e.to_string()),
            ModuleError::NotFound(_)
            | ModuleError::VersionNotFound { .. }
            | ModuleError::ContentNotFound(_) => Self::not_found(e.to_string()),
            ModuleError::InUse { ref connectors, .. } => Self {
                details: Some(serde_json::json!({ "connectors": connectors })),
                ..Self::new(StatusCode::CONFLICT, "module-in-use", e.to_string())
            },
            ModuleError::Corrupt { .. } | ModuleError::Connectors(_) | ModuleError::Internal(_) => {
                Self::internal(&e)
            }
            ModuleError::Store(e) => e.into(),
        }
    }
}
