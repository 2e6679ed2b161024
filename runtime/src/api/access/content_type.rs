//! Bodies must say what they are. A web page can send a cross-site request
//! without asking the server first only with a `text/plain` or form content
//! type; requiring `application/json` for JSON bodies and a WebAssembly or
//! binary type for module uploads keeps such requests from doing anything.

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use axum::http::{HeaderMap, StatusCode};

use crate::api::ApiError;

/// The media types a module upload may declare.
pub const MODULE_TYPES: [&str; 2] = ["application/wasm", "application/octet-stream"];

/// The media type of a `Content-Type` value, lowercased, without
/// parameters such as `; charset=utf-8`.
fn essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether `value` is `application/json` (parameters allowed).
pub fn is_json(value: &str) -> bool {
    essence(value) == "application/json"
}

/// Whether `value` is a type a module upload may have.
pub fn is_module(value: &str) -> bool {
    MODULE_TYPES.contains(&essence(value).as_str())
}

fn declared(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?"))
}

/// Whether the request says it has no body.
fn has_no_body(headers: &HeaderMap) -> bool {
    match headers.get(CONTENT_LENGTH) {
        Some(length) => length.as_bytes() == b"0",
        None => !headers.contains_key(TRANSFER_ENCODING),
    }
}

/// A request whose body is parsed as JSON: `application/json` unless it
/// has no body at all.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match declared(headers) {
        Some(value) if is_json(value) => Ok(()),
        _ if has_no_body(headers) => Ok(()),
        found => Err(unsupported(
            "send JSON bodies with `Content-Type: application/json`",
            found,
        )),
    }
}

/// A module upload: `application/wasm` or `application/octet-stream`.
pub fn require_module(headers: &HeaderMap) -> Result<(), ApiError> {
    match declared(headers) {
        Some(value) if is_module(value) => Ok(()),
        found => Err(unsupported(
            "send the module's bytes with `Content-Type: application/wasm` (or `application/octet-stream`), e.g. `curl -XPUT --data-binary @redact.wasm -H 'content-type: application/wasm' ...`",
            found,
        )),
    }
}

fn unsupported(what: &str, found: Option<&str>) -> ApiError {
    let found = match found {
        Some(value) => format!("got `{value}`"),
        None => "got no `Content-Type`".to_owned(),
    };
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!("{what}; {found}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn json_types_with_parameters_and_any_case_match() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("Application/JSON ;charset=UTF-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("multipart/form-data; boundary=x"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json(""));
    }

    #[test]
    fn module_types_match() {
        assert!(is_module("application/wasm"));
        assert!(is_module("application/octet-stream"));
        assert!(!is_module("text/plain"));
        assert!(!is_module("application/x-www-form-urlencoded"));
    }

    #[test]
    fn json_bodies_need_the_header_but_empty_requests_do_not() {
        assert!(require_json(&headers(&[
            ("content-type", "application/json"),
            ("content-length", "2")
        ]))
        .is_ok());
        assert!(require_json(&headers(&[])).is_ok());
        assert!(require_json(&headers(&[
            ("content-length", "0"),
            ("content-type", "text/plain")
        ]))
        .is_ok());
        let error = require_json(&headers(&[
            ("content-type", "text/plain"),
            ("content-length", "2"),
        ]))
        .unwrap_err();
        assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(error.code, "unsupported-media-type");
        assert!(
            error.message.contains("got `text/plain`"),
            "{}",
            error.message
        );
        assert!(require_json(&headers(&[("transfer-encoding", "chunked")])).is_err());
    }

    #[test]
    fn module_uploads_need_a_binary_type() {
        assert!(require_module(&headers(&[("content-type", "application/wasm")])).is_ok());
        let error = require_module(&headers(&[(
            "content-type",
            "application/x-www-form-urlencoded",
        )]))
        .unwrap_err();
        assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(require_module(&headers(&[]))
            .unwrap_err()
            .message
            .contains("got no `Content-Type`"));
    }
}
