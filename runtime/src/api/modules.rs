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
use crate::connector::ConnectorId;
use crate::modules::{ModuleDetail, ModuleSummary, ModuleVersion, Upload};
use crate::pipeline::check_stage_configs;
use crate::wasm::World;

/// Room above the module size limit for the upload route's body limit, so
/// a module just over the limit gets the registry's own explanation.
pub(super) const BODY_HEADROOM: usize = 64 * 1024;

/// One version as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    name: String,
    digest: String,
    size: u64,
    /// `transform` and/or `sink`.
    #[schema(value_type = Vec<String>)]
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
#[derive(Serialize, utoipa::ToSchema)]
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
#[derive(Serialize, utoipa::ToSchema)]
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
/// the latest version of the name. The answer tells how long compiling took
/// (`compileMs`) and which connectors follow the name (`followers`), with
/// when each picks the version up (running connectors keep the version they
/// started with until their next start), warning when the new version
/// refuses a follower's config.
#[utoipa::path(
    put,
    path = "/modules/{name}",
    operation_id = "uploadModule",
    tag = "modules",
    params(("name" = String, Path, description = "The module's name, e.g. `redact-pii`")),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The component's bytes (`application/wasm` or `application/octet-stream`)"),
    responses(
        (status = 201, description = "A new version", body = UploadView),
        (status = 200, description = "These bytes already are the latest version", body = UploadView),
        (status = 400, description = "An invalid name, or not a component", body = super::error::ErrorBody),
        (status = 413, description = "Larger than the node's module limit", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/wasm` nor `application/octet-stream`", body = super::error::ErrorBody),
        (status = 422, description = "A component of no world this node runs", body = super::error::ErrorBody),
    )
)]
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
    Ok((status, Json(upload_view(&state, upload).await?)))
}

/// Why the versions connector `id` would run from its next start refuse
/// its stage configs, if they do (each stage's `init` run once, under its
/// limits).
async fn new_version_refusal(state: &AppState, id: &ConnectorId) -> Option<String> {
    let connector = state.repository.load(id).await.ok().flatten()?;
    check_stage_configs(&state.modules, id.as_str(), &connector.definition)
        .await
        .err()
        .map(|e| format!("it would fault at its next start: {e}"))
}

/// What an upload answers: the version, how long compiling took, and the
/// connectors that follow the name.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadView {
    #[serde(flatten)]
    version: VersionView,
    /// Milliseconds spent compiling; absent when the content was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    compile_ms: Option<u64>,
    /// Connectors naming the module without a pinned digest.
    followers: Vec<FollowerView>,
}

/// A connector that follows the uploaded name.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowerView {
    connector: String,
    enabled: bool,
    /// Its stages that name the module.
    stages: Vec<String>,
    /// The digest its running stages run, if it is running.
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<String>,
    /// When it runs the uploaded version.
    picks_up: String,
    /// Present when the uploaded version's `init` refuses the connector's
    /// stage config: it would fault at its next start.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

async fn upload_view(state: &AppState, upload: Upload) -> Result<UploadView, ApiError> {
    let digest = upload.version.digest.clone();
    let mut followers = Vec::new();
    for follower in state.modules.followers(&upload.version.name).await? {
        // Followers are connectors, named by their ids.
        let Ok(id) = ConnectorId::parse(&follower.connector) else {
            continue;
        };
        let warning = new_version_refusal(state, &id).await;
        followers.push((follower, id, warning));
    }
    let followers = followers
        .into_iter()
        .map(|(follower, id, warning)| {
            let runs = state
                .supervisor
                .running_stages(&id)
                .iter()
                .find(|s| follower.stages.contains(&s.stage))
                .map(|s| s.digest.clone());
            let picks_up = match (&runs, follower.enabled) {
                (_, false) => "when it is enabled".to_owned(),
                (Some(running), true) if *running == digest => "runs it now".to_owned(),
                (Some(running), true) => format!(
                    "at its next start (disable then enable, reset, a PUT that changes it, or a node restart); until then it keeps running {running}"
                ),
                (None, true) => "at its next start (it is not running now)".to_owned(),
            };
            FollowerView {
                connector: follower.connector,
                enabled: follower.enabled,
                stages: follower.stages,
                runs,
                picks_up,
                warning,
            }
        })
        .collect();
    Ok(UploadView {
        version: upload.version.into(),
        compile_ms: upload.compile_ms,
        followers,
    })
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
#[utoipa::path(
    get,
    path = "/modules",
    operation_id = "listModules",
    tag = "modules",
    responses((status = 200, description = "Every module with its latest version", body = Vec<SummaryView>))
)]
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
#[utoipa::path(
    get,
    path = "/modules/{name}",
    operation_id = "getModule",
    tag = "modules",
    params(("name" = String, Path, description = "The module's name, e.g. `redact-pii`")),
    responses(
        (status = 200, description = "The module with every version, newest first", body = DetailView),
        (status = 404, description = "No such module", body = super::error::ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    PathName(name): PathName,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(DetailView::from(state.modules.get(&name).await?)))
}

/// `DELETE /modules/{name}`: forgets every version; refused while a
/// connector uses the module.
#[utoipa::path(
    delete,
    path = "/modules/{name}",
    operation_id = "deleteModule",
    tag = "modules",
    params(("name" = String, Path, description = "The module's name, e.g. `redact-pii`")),
    responses(
        (status = 204, description = "Deleted, every version"),
        (status = 404, description = "No such module", body = super::error::ErrorBody),
        (status = 409, description = "A connector uses the module", body = super::error::ErrorBody),
    )
)]
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
