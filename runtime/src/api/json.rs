use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body parsed strictly: malformed JSON, wrong types and unknown
/// fields are 400s that name the place (`sink.url`) and what was expected.
pub struct StrictJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        parse(&bytes).map(StrictJson)
    }
}

/// Reads a whole JSON body within the router's size limit; a body of
/// another declared type is a 415.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if let Err(refused) = super::access::content_type::require_json(req.headers()) {
        // Read the body (within the size limit) before answering, so the
        // client, still sending, gets the answer rather than a reset.
        let _ = Bytes::from_request(req, state).await;
        return Err(refused);
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "payload-too-large",
                "the request body is larger than this node accepts (see `--max-body-bytes`)",
            )
        } else {
            ApiError::new(status, "invalid-body", rejection.body_text())
        }
    })
}

/// Parses `bytes` as `T`, explaining failures.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid-json",
            "the request body is empty; send a JSON document",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(describe)?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_request("invalid-json", format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::bad_request("invalid-json", format!("malformed JSON: {inner}"));
    }
    let message = strip_position(&inner.to_string());
    if path == "." || path.is_empty() {
        ApiError::bad_request("invalid-body", message)
    } else {
        ApiError::bad_request("invalid-body", format!("at `{path}`: {message}"))
    }
}

/// serde_json appends " at line 1 column 42" to data errors; the path says
/// more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
