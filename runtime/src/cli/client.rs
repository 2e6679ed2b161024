//! A small client of the node's HTTP API: JSON in and out, the token as
//! `Authorization: Bearer`, and errors a person can act on: the API's
//! status and message as it sent them, or "cannot reach the node at URL"
//! with the reason.

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Why a request to the node did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a server URL; give one such as `http://127.0.0.1:2119`")]
    InvalidServer(String),
    #[error("cannot read the token file `{}`: {source}", path.display())]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token file `{}` is empty", .0.display())]
    EmptyTokenFile(PathBuf),
    #[error("cannot read the CA file `{}`: {source}", path.display())]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA file `{}` holds no PEM certificate: {source}", path.display())]
    InvalidCa {
        path: PathBuf,
        source: reqwest::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
    #[error("cannot reach the node at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The API refused the request: its status and its message.
    #[error("{status}: {message}")]
    Api {
        status: StatusCode,
        code: Option<String>,
        message: String,
    },
    #[error("the node's answer to `{method} {path}` is not JSON: {source}")]
    InvalidAnswer {
        method: Method,
        path: String,
        source: serde_json::Error,
    },
}

/// Reads an API token from `path`: its content without surrounding
/// whitespace.
pub fn read_token_file(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClientError::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ClientError::EmptyTokenFile(path.to_owned()));
    }
    Ok(token.to_owned())
}

/// `text` as one segment of a URL path: letters, digits and `-._~` as
/// they are, every other byte percent-encoded.
pub fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A body to send.
pub enum Body {
    None,
    Json(Vec<u8>),
    Wasm(Vec<u8>),
}

/// Talks to one node.
pub struct NodeClient {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
}

impl NodeClient {
    /// A client of the node at `server` (`http://` or `https://`), sending
    /// `token` if any and trusting the CA in `ca_file` besides the system's.
    pub fn new(
        server: &str,
        token: Option<String>,
        ca_file: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let server = server.trim_end_matches('/').to_owned();
        let parsed =
            url::Url::parse(&server).map_err(|_| ClientError::InvalidServer(server.clone()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ClientError::InvalidServer(server));
        }
        let mut builder = reqwest::Client::builder();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|source| ClientError::CaFile {
                path: path.to_owned(),
                source,
            })?;
            let ca =
                reqwest::Certificate::from_pem(&pem).map_err(|source| ClientError::InvalidCa {
                    path: path.to_owned(),
                    source,
                })?;
            builder = builder.add_root_certificate(ca);
        }
        Ok(Self {
            http: builder.build().map_err(ClientError::Build)?,
            server,
            token,
        })
    }

    /// `GET path`, its JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, path, Body::None).await
    }

    /// `method path` with `body`; the JSON answer, `Null` when it has none
    /// (`204 No Content`).
    pub async fn send(&self, method: Method, path: &str, body: Body) -> Result<Value, ClientError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.server));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Body::None => request,
            Body::Json(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
            Body::Wasm(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "application/wasm")
                .body(bytes),
        };
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(refusal(status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|source| ClientError::InvalidAnswer {
            method,
            path: path.to_owned(),
            source,
        })
    }

    fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            server: self.server.clone(),
            reason: root_cause(error),
        }
    }
}

/// The innermost cause of `error`, which names what went wrong
/// ("Connection refused (os error 111)") rather than what was being done.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The API's refusal: its `{"code", "message"}` body, or the text as sent
/// when it is not one (a proxy's page, say).
fn refusal(status: StatusCode, text: &str) -> ClientError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        code: Option<String>,
        message: String,
    }
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => ClientError::Api {
            status,
            code: body.code,
            message: body.message,
        },
        Err(_) => ClientError::Api {
            status,
            code: None,
            message: if text.trim().is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                text.trim().to_owned()
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_refusal_shows_its_status_and_message() {
        let error = refusal(
            StatusCode::NOT_FOUND,
            r#"{"code":"not-found","message":"connector `x` not found"}"#,
        );
        assert_eq!(error.to_string(), "404 Not Found: connector `x` not found");
        let error = refusal(StatusCode::BAD_GATEWAY, "");
        assert_eq!(error.to_string(), "502 Bad Gateway: Bad Gateway");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("orders-to-hook_1.v2"), "orders-to-hook_1.v2");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn a_server_must_be_an_http_url() {
        assert!(NodeClient::new("127.0.0.1:2119", None, None).is_err());
        assert!(NodeClient::new("ftp://host", None, None).is_err());
        assert!(NodeClient::new("https://node.example:2119/", None, None).is_ok());
    }
}
