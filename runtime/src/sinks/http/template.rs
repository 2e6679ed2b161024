//! URL templates: `{stream}`, `{eventType}` and `{category}` in the sink's
//! URL, filled per event.
//!
//! Each value is percent-encoded as a path segment (everything but
//! `A-Z a-z 0-9 - . _ ~` is encoded, `/` included), so a value always stays
//! one segment or one query value and can never change the host. A segment
//! of only dots (`.`, `..`, or their encoded forms `%2e`) would be removed
//! with the one before it by every URL parser and most servers, moving the
//! request to another path: a value that makes one (a stream named `..-1`
//! fills `{category}` with `..`) cannot be sent, and the event is refused
//! with the reason.

use std::fmt::Write as _;

use crate::store::RecordedEvent;

/// The names a template may use, as written in the URL.
pub const TEMPLATE_NAMES: [&str; 3] = ["{stream}", "{eventType}", "{category}"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Stream,
    EventType,
    Category,
}

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    parts: Vec<Part>,
}

impl UrlTemplate {
    /// Splits `url` into literal text and templates. Fails on an unknown
    /// template or a stray brace, with a message for the user.
    pub fn parse(url: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = url;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err("has a `}` without a matching `{`".into());
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err("has a `{` without a matching `}`".into());
            };
            let name = &rest[open..open + close + 1];
            parts.push(match name {
                "{stream}" => Part::Stream,
                "{eventType}" => Part::EventType,
                "{category}" => Part::Category,
                other => {
                    return Err(format!(
                        "has an unknown template `{other}`; the templates are {}",
                        TEMPLATE_NAMES.map(|n| format!("`{n}`")).join(", ")
                    ))
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// Whether the URL has templates (else it is the same for every event).
    pub fn has_templates(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Literal(_)))
    }

    /// The URL for `event`; an error when the event's values would make a
    /// dot segment of the path (see the module docs).
    pub fn render(&self, event: &RecordedEvent) -> Result<String, String> {
        let url = self.render_parts(|part| match part {
            Part::Stream => &event.stream,
            Part::EventType => &event.event_type,
            Part::Category => event.category(),
            Part::Literal(text) => text,
        });
        match dot_segment(&url) {
            Some(segment) => Err(format!(
                "the URL `{url}` for this event has the path segment `{segment}`, which would \
                 move the request to another path; events of stream `{}` cannot be sent to \
                 this URL template",
                event.stream
            )),
            None => Ok(url),
        }
    }

    /// The URL with every template replaced by `value` (for validation).
    pub fn render_with(&self, value: &str) -> String {
        self.render_parts(|part| match part {
            Part::Literal(text) => text,
            _ => value,
        })
    }

    fn render_parts<'a>(&'a self, value: impl Fn(&'a Part) -> &'a str) -> String {
        let mut url = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => url.push_str(text),
                other => url.push_str(&encode_segment(value(other))),
            }
        }
        url
    }
}

/// The first segment of `url`'s path that URL parsers remove (`.`, `..`
/// and their percent-encoded forms), if any.
pub fn dot_segment(url: &str) -> Option<&str> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path_start = rest.find('/')?;
    let path = &rest[path_start..];
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    path.split('/').find(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        !segment.is_empty() && decoded.bytes().all(|b| b == b'.') && decoded.len() <= 2
    })
}

/// `value` percent-encoded so that it is one path segment.
pub fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::{ContentType, Position};

    fn event(stream: &str, event_type: &str) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::nil(),
            stream: stream.into(),
            revision: 0,
            position: Position::START,
            event_type: event_type.into(),
            content_type: ContentType::Json,
            created: Utc::now(),
            data: Default::default(),
            metadata: Default::default(),
        }
    }

    #[test]
    fn renders_each_template() {
        let t = UrlTemplate::parse("https://h/{category}/{stream}?type={eventType}").unwrap();
        assert!(t.has_templates());
        assert_eq!(
            t.render(&event("orders-42", "OrderPlaced")).unwrap(),
            "https://h/orders/orders-42?type=OrderPlaced"
        );
        assert_eq!(t.render_with("x"), "https://h/x/x?type=x");
    }

    #[test]
    fn values_are_encoded_as_one_segment() {
        let t = UrlTemplate::parse("http://h/s/{stream}").unwrap();
        assert_eq!(
            t.render(&event("a/b?c#d é%", "T")).unwrap(),
            "http://h/s/a%2Fb%3Fc%23d%20%C3%A9%25"
        );
        assert_eq!(encode_segment("Az09-._~"), "Az09-._~");
    }

    #[test]
    fn plain_urls_have_no_templates() {
        let t = UrlTemplate::parse("http://h/x?a=1").unwrap();
        assert!(!t.has_templates());
        assert_eq!(t.render(&event("s", "T")).unwrap(), "http://h/x?a=1");
    }

    #[test]
    fn values_that_make_dot_segments_are_refused() {
        let t = UrlTemplate::parse("https://h/hooks/{category}/x?s={stream}").unwrap();
        for stream in ["..-1", ".-1"] {
            let error = t.render(&event(stream, "T")).unwrap_err();
            assert!(error.contains("cannot be sent"), "{error}");
        }
        // Dots that are part of a segment, or in the query, are harmless.
        assert!(t.render(&event("...-1", "T")).is_ok());
        assert!(t.render(&event("a..-1", "T")).is_ok());
        let query = UrlTemplate::parse("https://h/hooks?s={stream}").unwrap();
        assert!(query.render(&event("..", "T")).is_ok());
        for url in [
            "http://h/a/%2e%2E/b",
            "http://h/a/./b",
            "http://h/..",
            "https://h/a/.%2e",
        ] {
            assert!(dot_segment(url).is_some(), "{url}");
        }
        for url in [
            "http://h/a/.../b",
            "http://h/",
            "http://h",
            "http://h/a?x=/../",
        ] {
            assert_eq!(dot_segment(url), None, "{url}");
        }
    }

    #[test]
    fn bad_templates_are_explained() {
        assert!(UrlTemplate::parse("http://h/{streamId}")
            .unwrap_err()
            .contains("unknown template `{streamId}`"));
        assert!(UrlTemplate::parse("http://h/{stream")
            .unwrap_err()
            .contains("`{`"));
        assert!(UrlTemplate::parse("http://h/stream}")
            .unwrap_err()
            .contains("`}`"));
    }
}
