//! JSON request bodies: read within the size limit, parsed strictly, and
//! explained when they fail. Bytes that are not JSON are `invalid-json`
//! ("malformed JSON" with line and column); valid JSON of the wrong shape is
//! `invalid-body`, with the full path of the field at fault
//! (`sink.batch.maxEvents`) and what is valid there. A body that parses is
//! read once; only a failing one is parsed again to explain itself.

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

/// Parses `bytes` as `T`, explaining failures: bytes that are not JSON are
/// `invalid-json` ("malformed JSON" with the line and column); JSON of the
/// wrong shape is `invalid-body`, at the path of the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid-json",
            "the request body is empty; send a JSON document",
        ));
    }
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => explain_failure(bytes),
    }
}

/// The slow path, taken only for a body that failed: is it JSON at all?
/// If so, parse it again with every object's `type` first, so tagged
/// settings (`sink`, `sink.auth`) report errors at their own path (see
/// [`crate::strict_de`]).
fn explain_failure<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let document: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid-json", format!("malformed JSON: {e}")))?;
    let mut reordered = Vec::with_capacity(bytes.len());
    write_type_first(&document, &mut reordered);
    let mut deserializer = serde_json::Deserializer::from_slice(&reordered);
    serde_path_to_error::deserialize(&mut deserializer).map_err(describe)
}

/// Writes `value` as JSON with `type` as the first key of every object.
fn write_type_first(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_type_first(item, out);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            let tag = fields.get_key_value("type");
            let rest = fields.iter().filter(|(key, _)| key.as_str() != "type");
            for (i, (key, field)) in tag.into_iter().chain(rest).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_type_first(field, out);
            }
            out.push(b'}');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &serde_json::Value, out: &mut Vec<u8>) {
    // Writing a JSON value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// A data error of a document that is valid JSON.
fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let message = in_json_words(&strip_position(&error.into_inner().to_string()));
    if path == "." || path.is_empty() {
        ApiError::bad_request("invalid-body", message)
    } else {
        ApiError::bad_request("invalid-body", format!("at `{path}`: {message}"))
    }
}

/// serde says "map", "sequence" and "u64"; JSON users say "object",
/// "array" and "number".
fn in_json_words(message: &str) -> String {
    let mut message = message.to_owned();
    for integer in ["u8", "u16", "u32", "u64", "usize"] {
        message = message.replace(
            &format!("expected {integer}"),
            "expected a whole number such as `10`",
        );
    }
    message
        .replace("invalid type: map,", "invalid type: object,")
        .replace("invalid type: sequence,", "invalid type: array,")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected an object")
}

/// serde_json appends " at line 1 column 42" to data errors; the path says
/// more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::connector::ConnectorDefinition;

    fn error_of(body: serde_json::Value) -> (&'static str, String) {
        let bytes = serde_json::to_vec(&body).expect("json");
        let error = parse::<ConnectorDefinition>(&bytes).expect_err("an error");
        (error.code, error.message)
    }

    #[test]
    fn errors_inside_the_sink_name_their_field_and_its_siblings() {
        let (code, message) =
            error_of(json!({ "sink": { "url": "http://x", "type": "http", "uri": 1 } }));
        assert_eq!(code, "invalid-body");
        assert!(
            message
                .starts_with("at `sink.uri`: unknown field `uri`, expected one of `url`, `method`"),
            "{message}"
        );

        let (_, message) = error_of(
            json!({ "sink": { "batch": { "maxEvent": 1 }, "type": "http", "url": "http://x" } }),
        );
        assert!(
            message.starts_with(
                "at `sink.batch.maxEvent`: unknown field `maxEvent`, expected one of `maxEvents`"
            ),
            "{message}"
        );

        let (_, message) = error_of(
            json!({ "sink": { "auth": { "tokn": "x", "type": "bearer" }, "type": "http", "url": "http://x" } }),
        );
        assert_eq!(
            message,
            "at `sink.auth.tokn`: unknown field `tokn`, expected `token`"
        );
    }

    #[test]
    fn valid_json_of_the_wrong_shape_is_not_malformed() {
        let (code, message) = error_of(
            json!({ "sink": { "type": "console" }, "filter": { "streams": ["orders-"] } }),
        );
        assert_eq!(code, "invalid-body");
        assert!(message.starts_with("at `filter.streams`: got an array; expected an object with `prefixes` or `regex`, e.g."), "{message}");

        let error = parse::<ConnectorDefinition>(b"{\"sink\": {\"type\": \"console\"},}")
            .expect_err("malformed");
        assert_eq!(error.code, "invalid-json");
        assert!(
            error.message.starts_with("malformed JSON: ")
                && error.message.contains("line 1 column"),
            "{}",
            error.message
        );
    }

    #[test]
    fn objects_are_rewritten_with_type_first() {
        let mut out = Vec::new();
        write_type_first(
            &json!({ "a": [1, { "z": "\"", "type": "t" }], "type": null }),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"type":null,"a":[1,{"type":"t","z":"\""}]}"#
        );
    }
}
