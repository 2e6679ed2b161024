//! Basic authentication of `Streams` calls. Without users the node is open
//! (and every caller is treated as the admin). With an admin user
//! (`--grpc-credentials`) and possibly ordinary users (`--grpc-user`),
//! every call must carry one of them in the `authorization` header, as the
//! official clients send them; the caller is attached to the request as a
//! [`Principal`] for the stream rules of [`super::acl`].

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::{Request, Status};

use super::acl::Principal;

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

    /// A fixed-length digest of `user:password`.
    fn digest(&self) -> [u8; 32] {
        digest_pair(&self.username, &self.password)
    }
}

fn digest_pair(user: &str, password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(user.as_bytes());
    hasher.update(b":");
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"******")
            .finish()
    }
}

/// A tonic interceptor that checks the caller's credentials and attaches
/// who it is.
#[derive(Clone)]
pub struct Authenticate {
    /// Digests of `user:password` with whether the user is the admin.
    users: std::sync::Arc<Vec<([u8; 32], bool)>>,
}

impl Authenticate {
    pub fn new(admin: Option<&Credentials>, users: &[Credentials]) -> Self {
        let mut entries: Vec<([u8; 32], bool)> = admin.iter().map(|c| (c.digest(), true)).collect();
        entries.extend(users.iter().map(|c| (c.digest(), false)));
        Self {
            users: std::sync::Arc::new(entries),
        }
    }

    /// Who sent `header`, comparing with every user in constant time.
    fn principal(&self, header: &[u8]) -> Option<Principal> {
        let encoded = header
            .strip_prefix(b"Basic ")
            .or_else(|| header.strip_prefix(b"basic "))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim_ascii())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        let presented = digest_pair(user, password);
        let mut found: Option<bool> = None;
        for (expected, admin) in self.users.iter() {
            if bool::from(expected.ct_eq(&presented)) {
                found = Some(found.unwrap_or(false) || *admin);
            }
        }
        found.map(|admin| {
            if admin {
                Principal::Admin
            } else {
                Principal::User
            }
        })
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if self.users.is_empty() {
            request.extensions_mut().insert(Principal::Admin);
            return Ok(request);
        }
        let principal = match request.metadata().get("authorization") {
            Some(given) => self
                .principal(given.as_bytes())
                .ok_or_else(|| Status::unauthenticated("Bad username or password."))?,
            None => {
                return Err(Status::unauthenticated(
                    "This node requires credentials (basic authentication, e.g. `kurrentdb://user:password@host:port`).",
                ))
            }
        };
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor;

    use super::*;

    fn call(auth: &mut Authenticate, header: Option<&str>) -> Result<Principal, Status> {
        let mut request = Request::new(());
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().unwrap());
        }
        auth.call(request)
            .map(|r| *r.extensions().get::<Principal>().unwrap())
    }

    fn basic(pair: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    #[test]
    fn checks_basic_credentials_and_tells_admin_from_users() {
        let admin = Credentials::parse("admin:changeit").unwrap();
        let users = [Credentials::parse("ops:ops-password").unwrap()];
        let mut auth = Authenticate::new(Some(&admin), &users);
        assert_eq!(
            call(&mut auth, Some(&basic("admin:changeit"))).unwrap(),
            Principal::Admin
        );
        assert_eq!(
            call(&mut auth, Some(&basic("ops:ops-password"))).unwrap(),
            Principal::User
        );
        assert!(call(&mut auth, Some(&basic("admin:wrong"))).is_err());
        assert!(call(&mut auth, Some(&basic("ops:changeit"))).is_err());
        assert!(call(&mut auth, Some("Bearer x")).is_err());
        assert!(call(&mut auth, None).is_err());
    }

    #[test]
    fn without_users_everyone_is_admin() {
        let mut open = Authenticate::new(None, &[]);
        assert_eq!(call(&mut open, None).unwrap(), Principal::Admin);
    }

    #[test]
    fn parse_requires_both_parts() {
        assert!(Credentials::parse("admin").is_err());
        assert!(Credentials::parse(":x").is_err());
        assert!(!format!("{:?}", Credentials::parse("a:secret").unwrap()).contains("secret"));
    }
}
