//! Optional basic authentication: when the node has credentials, every
//! Streams call must carry them in the `authorization` header, as the
//! official clients send them.

use base64::Engine;
use tonic::{Request, Status};

/// A user name and password the node accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// Parses `user:password`.
    pub fn parse(value: &str) -> Result<Credentials, String> {
        match value.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Credentials {
                username: user.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err("credentials must look like `user:password`, e.g. `admin:changeit`".into()),
        }
    }

    fn header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"******")
            .finish()
    }
}

/// A tonic interceptor that lets a call through when no credentials are
/// configured or when it carries the configured ones.
#[derive(Clone)]
pub struct Authenticate {
    expected: Option<String>,
}

impl Authenticate {
    pub fn new(credentials: Option<&Credentials>) -> Self {
        Self {
            expected: credentials.map(Credentials::header),
        }
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        match request.metadata().get("authorization") {
            Some(given) if given.as_bytes() == expected.as_bytes() => Ok(request),
            Some(_) => Err(Status::unauthenticated("Bad username or password.")),
            None => Err(Status::unauthenticated(
                "This node requires credentials (basic authentication).",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor;

    use super::*;

    fn call(auth: &mut Authenticate, header: Option<&str>) -> Result<(), Status> {
        let mut request = Request::new(());
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().unwrap());
        }
        auth.call(request).map(|_| ())
    }

    #[test]
    fn checks_basic_credentials() {
        let credentials = Credentials::parse("admin:changeit").unwrap();
        let mut auth = Authenticate::new(Some(&credentials));
        assert!(call(&mut auth, Some("Basic YWRtaW46Y2hhbmdlaXQ=")).is_ok());
        assert!(call(&mut auth, Some("Basic YWRtaW46d3Jvbmc=")).is_err());
        assert!(call(&mut auth, None).is_err());
        let mut open = Authenticate::new(None);
        assert!(call(&mut open, None).is_ok());
    }

    #[test]
    fn parse_requires_both_parts() {
        assert!(Credentials::parse("admin").is_err());
        assert!(Credentials::parse(":x").is_err());
        assert!(!format!("{:?}", Credentials::parse("a:secret").unwrap()).contains("secret"));
    }
}
