//! Masking secrets that ride in URLs: the userinfo (`user:password@`) and
//! every query-string value (`?sig=...`, `?code=...`) become `******`
//! wherever a URL is shown (errors, connector status, dead-letter reasons,
//! logs); a component's log lines also have its own secrets replaced
//! ([`redact_in`]). A token in a URL's path (Slack-style hooks) looks like any other
//! path segment and cannot be detected.

use super::REDACTED;

/// `url` with its userinfo and query values masked.
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let mut masked = String::with_capacity(url.len());
    masked.push_str(head);
    match authority.rfind('@') {
        Some(at) => {
            masked.push_str(REDACTED);
            masked.push_str(&authority[at..]);
        }
        None => masked.push_str(authority),
    }
    let (before_fragment, fragment) = match rest.find('#') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            masked.push_str(path);
            masked.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, value)) if !value.is_empty() => format!("{name}={REDACTED}"),
                    Some(_) => pair.to_owned(),
                    None if pair.is_empty() => String::new(),
                    None => REDACTED.to_owned(),
                })
                .collect();
            masked.push_str(&pairs.join("&"));
        }
        None => masked.push_str(before_fragment),
    }
    masked.push_str(fragment);
    masked
}

/// `text` with every `http://` and `https://` URL in it masked
/// ([`mask_url`]). A URL ends at white space, a quote, a backtick or
/// angle brackets; punctuation right after it (`:`, `,`, `.`, `;`, `)`)
/// stays outside.
pub fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(candidate.len());
        let token = &candidate[..end];
        let trimmed = token.trim_end_matches([':', ',', '.', ';', ')', ']']);
        out.push_str(&mask_url(trimmed));
        out.push_str(&token[trimmed.len()..]);
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

/// Secrets shorter than this are not looked for in text: they would hide
/// ordinary words and numbers (a secret `1` would turn `HTTP 401` into
/// `HTTP 40******`), and are too short to protect anything anyway.
pub const MIN_SEARCHED_SECRET: usize = 4;

/// `text` with its URLs masked ([`mask_urls`]) and every one of `secrets`
/// (values known to be secret, e.g. a component's) of at least
/// [`MIN_SEARCHED_SECRET`] characters replaced by `******`.
pub fn redact_in(text: &str, secrets: &[String]) -> String {
    let mut text = mask_urls(text);
    for secret in secrets
        .iter()
        .filter(|s| s.chars().count() >= MIN_SEARCHED_SECRET)
    {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), REDACTED);
        }
    }
    text
}

fn find_url_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_too_short_to_tell_from_text_are_not_hidden() {
        let secrets = vec!["1".to_owned(), "s3cr3t".to_owned()];
        assert_eq!(
            redact_in("HTTP 401: bad key s3cr3t", &secrets),
            "HTTP 401: bad key ******"
        );
    }

    #[test]
    fn userinfo_and_query_values_are_masked() {
        assert_eq!(
            mask_url("https://user:pw@hooks.example.com:8443/a/b?sig=abc&code=x1&flag&empty=#frag"),
            "https://******@hooks.example.com:8443/a/b?sig=******&code=******&******&empty=#frag"
        );
        assert_eq!(mask_url("http://h/x"), "http://h/x");
        assert_eq!(mask_url("not a url ?a=b"), "not a url ?a=b");
    }

    #[test]
    fn urls_inside_messages_are_masked_and_the_rest_kept() {
        let message =
            "HTTP 500 from POST https://h.example/hook?sig=SECRET: oops (see http://u:p@x/y).";
        let masked = mask_urls(message);
        assert_eq!(
            masked,
            "HTTP 500 from POST https://h.example/hook?sig=******: oops (see http://******@x/y)."
        );
        assert!(!masked.contains("SECRET"));
        assert_eq!(mask_urls("no url here"), "no url here");
        assert_eq!(
            redact_in(
                "key=s3cret at https://h/?a=b",
                &["s3cret".into(), String::new()]
            ),
            "key=****** at https://h/?a=******"
        );
        assert_eq!(
            mask_urls("`HTTPS://h/?token=t1` and https://h/?k=v"),
            "`HTTPS://h/?token=******` and https://h/?k=******"
        );
    }
}
