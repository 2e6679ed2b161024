//! Cross-site requests from browsers. A page on another site can make a
//! browser send a `POST` without a body or with a `text/plain` body and no
//! preflight; browsers mark such requests with `Sec-Fetch-Site` and
//! `Origin`, so requests that change something and come from another origin
//! are refused (the rule of Go's `http.CrossOriginProtection`). Clients
//! that are not browsers send neither header and are not affected.

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method};

/// Whether a request may go on: safe methods always; others unless a
/// browser says they come from another origin.
pub fn same_origin_or_not_a_browser(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host.to_ascii_lowercase());
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    matches!((origin_host, host), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(method: Method, pairs: &[(&'static str, &'static str)]) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        same_origin_or_not_a_browser(&method, &headers)
    }

    #[test]
    fn cross_site_posts_are_refused() {
        assert!(!allowed(Method::POST, &[("sec-fetch-site", "cross-site")]));
        assert!(!allowed(Method::POST, &[("sec-fetch-site", "same-site")]));
        assert!(!allowed(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("host", "localhost:2119")
            ]
        ));
        assert!(!allowed(
            Method::DELETE,
            &[("origin", "null"), ("host", "localhost:2119")]
        ));
    }

    #[test]
    fn same_origin_tools_and_reads_pass() {
        assert!(allowed(Method::POST, &[]));
        assert!(allowed(Method::POST, &[("sec-fetch-site", "same-origin")]));
        assert!(allowed(Method::POST, &[("sec-fetch-site", "none")]));
        assert!(allowed(
            Method::PUT,
            &[
                ("origin", "http://localhost:2119"),
                ("host", "localhost:2119")
            ]
        ));
        assert!(allowed(Method::GET, &[("sec-fetch-site", "cross-site")]));
    }
}
