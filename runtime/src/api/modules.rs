//! `/modules`: upload, list, inspect and delete WebAssembly components.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::ApiError;
use super::path::PathName;
use super::AppState;
use crate::modules::{ModuleDetail, ModuleSummary, ModuleVersion};
use crate::wasm::World;

/// Room above the module size limit for the upload route's body limit, so
/// a module just over the limit gets the registry's own explanation.
pub(super) const BODY_HEADROOM: usize = 64 * 1024;

/// One version as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    name: String,
    digest: String,
    size: u64,
    worlds: Vec<World>,
    uploaded: DateTime<Utc>,
    /// `name@sha256:<hex>`, to pin this version in a connector.
    reference: String,
}

impl From<ModuleVersion> for VersionView {
    fn from(v: ModuleVersion) -> Self {
        Self {
            reference: v.reference(),
            name: v.name,
            digest: v.digest,
            size: v.size,
            worlds: v.worlds,
            uploaded: v.uploaded,
        }
    }
}

/// A module in the list: its latest version and how many it has.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryView {
    #[serde(flatten)]
    latest: VersionView,
    version_count: usize,
}

impl From<ModuleSummary> for SummaryView {
    fn from(s: ModuleSummary) -> Self {
        Self {
            latest: s.latest.into(),
            version_count: s.versions,
        }
    }
}

/// A module with every version, newest first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailView {
    name: String,
    latest: VersionView,
    versions: Vec<VersionView>,
}

impl From<ModuleDetail> for DetailView {
    fn from(d: ModuleDetail) -> Self {
        Self {
            name: d.name,
            latest: d.latest.into(),
            versions: d.versions.into_iter().map(Into::into).collect(),
        }
    }
}

/// `PUT /modules/{name}`: the body is the component's bytes, sent as
/// `application/wasm` or `application/octet-stream`. 201 with the new version; 200 when these bytes already are
/// the latest version of the name.
pub async fn upload(
    State(state): State<AppState>,
    PathName(name): PathName,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    if let Err(refused) = super::access::content_type::require_module(request.headers()) {
        // Read the body (within the upload limit) before answering, so the
        // client, still sending, gets the answer rather than a reset.
        let _ = Bytes::from_request(request, &state).await;
        return Err(refused);
    }
    let max = state.modules.max_bytes();
    let body = Bytes::from_request(request, &state)
        .await
        .map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    status,
                    "payload-too-large",
                    format!("the module is larger than the {max} bytes this node accepts (see `--max-module-bytes`)"),
                )
            } else {
                ApiError::new(status, "invalid-body", rejection.body_text())
            }
        })?;
    if is_multipart_form(&body) {
        return Err(ApiError::bad_request(
            "invalid-module",
            "the body is a multipart form (as `curl -F` sends), not WebAssembly; send the raw \
             bytes, e.g. `curl -XPUT --data-binary @file.wasm -H 'content-type: application/wasm' ...`",
        ));
    }
    let upload = state.modules.put(&name, body).await?;
    let status = if upload.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(VersionView::from(upload.version))))
}

/// Whether `body` looks like `multipart/form-data` (a `--boundary` line,
/// then a `Content-Disposition: form-data` header), whatever the declared
/// content type says.
fn is_multipart_form(body: &[u8]) -> bool {
    if !body.starts_with(b"--") {
        return false;
    }
    let head = &body[..body.len().min(1024)];
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("content-disposition: form-data")
}

/// `GET /modules`: every module with its latest version, by name.
pub async fn list(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let modules: Vec<SummaryView> = state
        .modules
        .list()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(modules))
}

/// `GET /modules/{name}`: the module with every version, newest first.
pub async fn get(
    State(state): State<AppState>,
    PathName(name): PathName,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(DetailView::from(state.modules.get(&name).await?)))
}

/// `DELETE /modules/{name}`: forgets every version; refused while a
/// connector uses the module.
pub async fn delete(
    State(state): State<AppState>,
    PathName(name): PathName,
) -> Result<impl IntoResponse, ApiError> {
    state.modules.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::is_multipart_form;

    #[test]
    fn multipart_forms_are_recognised() {
        let form = b"--------------------------abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wasm\"\r\n\r\n\0asm";
        assert!(is_multipart_form(form));
        assert!(!is_multipart_form(b"\0asm\x0d\0\x01\0"));
        assert!(!is_multipart_form(b"-- not a form"));
    }
}
