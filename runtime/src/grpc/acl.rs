//! Which streams a caller may use, as KurrentDB's default access rules
//! have it: system streams (names starting with `$`: `$connectors/...`,
//! `$modules/...`, `$members`, and `$$` metadata streams of those) and
//! `$all` belong to the admin; ordinary users read and write the others
//! (and their `$$` metadata). Refusals are `PermissionDenied` with the
//! `exception: access-denied` entry the official clients turn into their
//! access-denied error.

use tonic::{Request, Status};

use super::status;

/// Who sent a call, as [`super::auth`] found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The admin user, or anyone on a node without users.
    Admin,
    /// An ordinary user.
    User,
}

impl Principal {
    /// The caller of `request`. A request that did not go through the
    /// authentication interceptor gets the fewest rights.
    pub fn of<T>(request: &Request<T>) -> Principal {
        request
            .extensions()
            .get::<Principal>()
            .copied()
            .unwrap_or(Principal::User)
    }

    /// Refuses a read, write or delete of `stream` the caller may not do.
    pub fn check_stream(self, stream: &str) -> Result<(), Status> {
        if self == Principal::User && is_system_stream(stream) {
            return Err(status::access_denied(stream));
        }
        Ok(())
    }

    /// Refuses a read of, or subscription to, `$all` by an ordinary user.
    pub fn check_all(self) -> Result<(), Status> {
        match self {
            Principal::Admin => Ok(()),
            Principal::User => Err(status::access_denied("$all")),
        }
    }
}

/// Whether `stream` is a system stream: its name starts with `$`, except
/// `$$name`, the metadata of an ordinary stream `name`.
pub fn is_system_stream(stream: &str) -> bool {
    match stream.strip_prefix("$$") {
        Some(target) => target.is_empty() || target.starts_with('$'),
        None => stream.starts_with('$'),
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn dollar_streams_and_their_metadata_are_system_streams() {
        for stream in [
            "$connectors/hook",
            "$modules/x",
            "$members",
            "$all",
            "$$$connectors/hook",
            "$$",
            "$",
        ] {
            assert!(is_system_stream(stream), "{stream}");
        }
        for stream in ["orders-1", "$$orders-1", "a$b"] {
            assert!(!is_system_stream(stream), "{stream}");
        }
    }

    #[test]
    fn users_are_denied_system_streams_and_all_with_the_clients_exception() {
        let denied = Principal::User
            .check_stream("$connectors/hook")
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert_eq!(
            denied
                .metadata()
                .get("exception")
                .and_then(|v| v.to_str().ok()),
            Some("access-denied")
        );
        assert!(Principal::User.check_all().is_err());
        assert!(Principal::User.check_stream("orders-1").is_ok());
        assert!(Principal::Admin.check_stream("$connectors/hook").is_ok());
        assert!(Principal::Admin.check_all().is_ok());
    }
}
