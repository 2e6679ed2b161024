//! API tokens and their roles: parsed from `--api-token`, the
//! `CONNECTORS_API_TOKEN` variable and `--api-tokens-file`, kept as sha256
//! digests and compared in constant time.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};

/// The shortest token accepted: shorter ones are guessable.
pub const MIN_TOKEN_CHARS: usize = 16;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every request.
    Admin,
    /// `GET` and `HEAD` requests only.
    Read,
    /// `GET` and `HEAD` of `/metrics` only: for a Prometheus scraper, which
    /// then cannot read connector definitions.
    Metrics,
}

/// The path a `metrics` token may read.
pub const METRICS_PATH: &str = "/metrics";

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Read => "read",
            Role::Metrics => "metrics",
        }
    }

    /// Whether this role may send a request with `method` to `path`.
    pub fn allows(self, method: &http::Method, path: &str) -> bool {
        let reads = method == http::Method::GET || method == http::Method::HEAD;
        match self {
            Role::Admin => true,
            Role::Read => reads,
            Role::Metrics => reads && path == METRICS_PATH,
        }
    }

    /// What the role may do, for the refusal of what it may not.
    pub fn scope(self) -> &'static str {
        match self {
            Role::Admin => "everything",
            Role::Read => "only read (GET, HEAD)",
            Role::Metrics => "only read `/metrics`",
        }
    }

    /// Its rank: the best role of a token given several wins.
    fn level(self) -> u8 {
        match self {
            Role::Admin => 3,
            Role::Read => 2,
            Role::Metrics => 1,
        }
    }
}

/// A token that cannot be used, with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("an API token must have at least {MIN_TOKEN_CHARS} characters and no spaces (e.g. the output of `openssl rand -hex 32`)")]
    TooWeak,
    #[error("unknown role `{0}`: write `admin:<token>`, `read:<token>` or `metrics:<token>` (a bare token is an admin token)")]
    UnknownRole(String),
    #[error("{path}, line {line}: {source}")]
    InFile {
        path: String,
        line: usize,
        source: Box<TokenError>,
    },
    #[error("cannot read the API tokens file {path}: {reason}")]
    Unreadable { path: String, reason: String },
}

/// The configured tokens. Empty means the API needs no token.
#[derive(Clone, Default)]
pub struct ApiTokens {
    entries: Vec<([u8; 32], Role)>,
}

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens, not even their digests.
        f.debug_struct("ApiTokens")
            .field("count", &self.entries.len())
            .finish()
    }
}

impl ApiTokens {
    /// Adds `token` with `role`.
    pub fn add(&mut self, token: &str, role: Role) -> Result<(), TokenError> {
        if token.chars().count() < MIN_TOKEN_CHARS || token.chars().any(char::is_whitespace) {
            return Err(TokenError::TooWeak);
        }
        self.entries.push((digest(token.as_bytes()), role));
        Ok(())
    }

    /// Adds the tokens of a tokens file's text: one per line,
    /// `admin:<token>`, `read:<token>`, `metrics:<token>` or a bare (admin)
    /// token; blank lines
    /// and lines starting with `#` are skipped.
    pub fn add_lines(&mut self, text: &str, path: &str) -> Result<(), TokenError> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (token, role) = parse_line(line).map_err(|source| TokenError::InFile {
                path: path.to_owned(),
                line: index + 1,
                source: Box::new(source),
            })?;
            self.add(token, role).map_err(|source| TokenError::InFile {
                path: path.to_owned(),
                line: index + 1,
                source: Box::new(source),
            })?;
        }
        Ok(())
    }

    /// Reads a tokens file (see [`ApiTokens::add_lines`]).
    pub fn add_file(&mut self, path: &Path) -> Result<(), TokenError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TokenError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        self.add_lines(&text, &shown)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The role of `presented`, if it is one of the tokens. Every token is
    /// compared, each as a fixed-length digest in constant time, so neither
    /// the time taken nor its length tells how close a guess was.
    pub fn role_of(&self, presented: &str) -> Option<Role> {
        let presented = digest(presented.as_bytes());
        // 0: no match, else the best matching role's level.
        let mut found = 0u8;
        for (expected, role) in &self.entries {
            let level = role.level();
            let matches = expected.ct_eq(&presented);
            let better = matches & level.ct_gt(&found);
            found = u8::conditional_select(&found, &level, better);
        }
        [Role::Admin, Role::Read, Role::Metrics]
            .into_iter()
            .find(|role| role.level() == found)
    }
}

/// Splits a file line into its token and role.
fn parse_line(line: &str) -> Result<(&str, Role), TokenError> {
    match line.split_once(':') {
        None => Ok((line, Role::Admin)),
        Some(("admin", token)) => Ok((token.trim(), Role::Admin)),
        Some(("read", token)) => Ok((token.trim(), Role::Read)),
        Some(("metrics", token)) => Ok((token.trim(), Role::Metrics)),
        Some((role, _)) => Err(TokenError::UnknownRole(role.to_owned())),
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "admin-token-0123456789";
    const READER: &str = "read-token-0123456789";

    #[test]
    fn file_lines_give_roles_and_skip_comments() {
        let mut tokens = ApiTokens::default();
        let text =
            format!("# operators\n\nadmin:{ADMIN}\n  read:{READER}  \nbare-token-0123456789\n");
        tokens.add_lines(&text, "tokens").unwrap();
        assert_eq!(tokens.role_of(ADMIN), Some(Role::Admin));
        assert_eq!(tokens.role_of(READER), Some(Role::Read));
        assert_eq!(tokens.role_of("bare-token-0123456789"), Some(Role::Admin));
        assert_eq!(tokens.role_of("admin-token-012345678"), None);
        assert_eq!(tokens.role_of(""), None);
    }

    #[test]
    fn file_errors_name_the_line() {
        let mut tokens = ApiTokens::default();
        let error = tokens
            .add_lines("# x\nwriter:abcdefghijklmnopqrstu\n", "t.txt")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.txt, line 2: unknown role `writer`: write `admin:<token>`, `read:<token>` or `metrics:<token>` (a bare token is an admin token)"
        );
        let error = tokens.add_lines("read:short\n", "t.txt").unwrap_err();
        assert!(error
            .to_string()
            .starts_with("t.txt, line 1: an API token must have at least 16"));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        let mut tokens = ApiTokens::default();
        assert_eq!(tokens.add("short", Role::Admin), Err(TokenError::TooWeak));
        assert_eq!(
            tokens.add("has a space in the middle", Role::Admin),
            Err(TokenError::TooWeak)
        );
        assert!(tokens.is_empty());
    }

    #[test]
    fn the_same_token_with_two_roles_is_admin() {
        let mut tokens = ApiTokens::default();
        tokens.add(ADMIN, Role::Read).unwrap();
        tokens.add(ADMIN, Role::Admin).unwrap();
        assert_eq!(tokens.role_of(ADMIN), Some(Role::Admin));
    }

    #[test]
    fn read_role_allows_only_get_and_head() {
        assert!(Role::Read.allows(&http::Method::GET, "/connectors"));
        assert!(Role::Read.allows(&http::Method::HEAD, "/connectors"));
        assert!(!Role::Read.allows(&http::Method::POST, "/connectors/a"));
        assert!(!Role::Read.allows(&http::Method::DELETE, "/connectors/a"));
        assert!(!Role::Read.allows(&http::Method::OPTIONS, "/connectors"));
        assert!(Role::Admin.allows(&http::Method::PUT, "/connectors/a"));
    }

    #[test]
    fn metrics_role_reads_only_the_metrics() {
        assert!(Role::Metrics.allows(&http::Method::GET, "/metrics"));
        assert!(Role::Metrics.allows(&http::Method::HEAD, "/metrics"));
        assert!(!Role::Metrics.allows(&http::Method::GET, "/connectors"));
        assert!(!Role::Metrics.allows(&http::Method::GET, "/metrics/other"));
        assert!(!Role::Metrics.allows(&http::Method::POST, "/metrics"));
        let mut tokens = ApiTokens::default();
        tokens
            .add_lines(&format!("metrics:{READER}\nread:{READER}\n"), "t")
            .unwrap();
        assert_eq!(
            tokens.role_of(READER),
            Some(Role::Read),
            "the best role wins"
        );
        let mut scraper = ApiTokens::default();
        scraper
            .add_lines(&format!("metrics:{ADMIN}\n"), "t")
            .unwrap();
        assert_eq!(scraper.role_of(ADMIN), Some(Role::Metrics));
    }

    #[test]
    fn debug_shows_no_token() {
        let mut tokens = ApiTokens::default();
        tokens.add(ADMIN, Role::Admin).unwrap();
        assert!(!format!("{tokens:?}").contains("admin-token"));
    }
}
