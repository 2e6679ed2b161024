//! The sink settings as the API reads them: tags, unknown fields, errors, secrets.

#![allow(clippy::unwrap_used)]

use connectors::sinks::http::{HttpAuth, HttpMethod, HttpSink, HttpSinkConfig};
use connectors::sinks::{SinkConfig, SinkContext, REDACTED};
use serde_json::{json, Value};

fn sink_config(json: Value) -> Result<SinkConfig, String> {
    serde_json::from_value(json).map_err(|e| e.to_string())
}

fn config_error(json: Value) -> connectors::sinks::ConfigError {
    let text = json.to_string();
    let config = sink_config(json).unwrap();
    config
        .validate()
        .err()
        .unwrap_or_else(|| panic!("{text} validated"))
}

#[test]
fn settings_are_tagged_by_type() {
    let console = sink_config(json!({"type": "console", "format": "json"})).unwrap();
    assert!(matches!(console, SinkConfig::Console(_)));
    assert_eq!(console.validate(), Ok(()));

    let http = sink_config(json!({
        "type": "http",
        "url": "https://example.com/hook",
        "method": "PUT",
        "headers": {"x-source": "orders"},
        "auth": {"type": "bearer", "token": "t"},
        "timeoutMs": 5000,
        "batch": {"maxEvents": 10},
        "cloudEvents": true,
        "retry": {"initialBackoffMs": 5, "maxAttempts": 4},
    }))
    .unwrap();
    assert_eq!(http.validate(), Ok(()));
    let SinkConfig::Http(http) = http else {
        panic!("not http")
    };
    assert_eq!(http.method, HttpMethod::Put);
    assert_eq!(http.batch.as_ref().unwrap().max_bytes, 1024 * 1024);
    assert_eq!(http.batch.as_ref().unwrap().linger_ms, 50);
    assert_eq!(http.retry.max_backoff_ms, 30_000);
    assert_eq!(http.retry.max_attempts, Some(4));

    let plain = sink_config(json!({"type": "http", "url": "http://h/x"})).unwrap();
    let SinkConfig::Http(plain) = plain else {
        panic!("not http")
    };
    assert_eq!(plain, HttpSinkConfig::new("http://h/x"));
    assert_eq!(plain.timeout_ms, 10_000);
    assert!(!plain.cloud_events && plain.batch.is_none());

    // Round trip.
    let text = serde_json::to_value(SinkConfig::Http(http.clone())).unwrap();
    assert_eq!(text["type"], "http");
    assert_eq!(sink_config(text).unwrap(), SinkConfig::Http(http));
}

#[test]
fn unknown_fields_are_named() {
    let error =
        sink_config(json!({"type": "http", "url": "http://h/x", "timeout": 5})).unwrap_err();
    assert!(error.contains("unknown field `timeout`"), "{error}");
    let error = sink_config(json!({"type": "console", "colour": true})).unwrap_err();
    assert!(error.contains("unknown field `colour`"), "{error}");
    let error = sink_config(json!({"type": "http", "url": "http://h/x", "batch": {"size": 1}}))
        .unwrap_err();
    assert!(error.contains("unknown field `size`"), "{error}");
    let error = sink_config(json!({
        "type": "http", "url": "http://h/x",
        "auth": {"type": "bearer", "token": "t", "scheme": "x"},
    }))
    .unwrap_err();
    assert!(error.contains("unknown field `scheme`"), "{error}");
    let error = sink_config(json!({"type": "kafka"})).unwrap_err();
    assert!(error.contains("unknown variant `kafka`"), "{error}");
    let error = sink_config(json!({"type": "http"})).unwrap_err();
    assert!(error.contains("missing field `url`"), "{error}");
}

#[test]
fn bad_settings_name_the_field_with_an_example() {
    for url in [
        "not a url",
        "ftp://example.com/x",
        "/relative/path",
        "https://",
        "mailto:a@example.com",
    ] {
        let error = config_error(json!({"type": "http", "url": url}));
        assert_eq!(error.field, "sink.url", "{url}");
        assert!(
            error.message.contains("e.g. `https://example.com/hook`"),
            "{error}"
        );
    }
    let error = config_error(json!({"type": "http", "url": "https://u:p@example.com/x"}));
    assert!(error.message.contains("credentials"), "{error}");
    let error = config_error(json!({"type": "http", "url": "https://{stream}.example.com/x"}));
    assert!(error.message.contains("path and query"), "{error}");
    let error = config_error(json!({"type": "http", "url": "https://example.com/{streamName}"}));
    assert!(
        error.message.contains("unknown template `{streamName}`"),
        "{error}"
    );

    let error = config_error(json!({
        "type": "http", "url": "https://example.com/{stream}", "batch": {},
    }));
    assert_eq!(error.field, "sink.url");
    assert!(error.message.contains("batch mode"), "{error}");

    let zero_events = json!({"type": "http", "url": "http://h/x", "batch": {"maxEvents": 0}});
    assert_eq!(config_error(zero_events).field, "sink.batch.maxEvents");
    let zero_bytes = json!({"type": "http", "url": "http://h/x", "batch": {"maxBytes": 0}});
    assert_eq!(config_error(zero_bytes).field, "sink.batch.maxBytes");
    let zero_timeout = json!({"type": "http", "url": "http://h/x", "timeoutMs": 0});
    assert_eq!(config_error(zero_timeout).field, "sink.timeoutMs");
    let bad_retry = json!({"type": "http", "url": "http://h/x", "retry": {"maxAttempts": 0}});
    assert_eq!(config_error(bad_retry).field, "sink.retry.maxAttempts");
    let bad_header = json!({"type": "http", "url": "http://h/x", "headers": {"bad name": "x"}});
    assert_eq!(config_error(bad_header).field, "sink.headers.bad name");
    let bad_value = json!({"type": "http", "url": "http://h/x", "headers": {"x-a": "a\nb"}});
    assert_eq!(config_error(bad_value).field, "sink.headers.x-a");
    let reserved = json!({"type": "http", "url": "http://h/x", "headers": {"Content-Type": "x"}});
    assert_eq!(config_error(reserved).field, "sink.headers.Content-Type");
    let username = json!({
        "type": "http", "url": "http://h/x",
        "auth": {"type": "basic", "username": "a:b", "password": "p"},
    });
    assert_eq!(config_error(username).field, "sink.auth.username");

    // The sink refuses to build from settings that do not validate.
    let mut bad = HttpSinkConfig::new("nope");
    bad.timeout_ms = 1;
    let error = HttpSink::new(bad, SinkContext::detached("c"))
        .err()
        .unwrap();
    assert_eq!(error.field, "sink.url");
    assert_eq!(error.to_string(), format!("`sink.url` {}", error.message));
}

#[test]
fn secrets_are_redacted_and_kept() {
    let stored = sink_config(json!({
        "type": "http",
        "url": "https://example.com/hook",
        "headers": {"x-api-key": "k-1", "x-source": "orders"},
        "auth": {"type": "basic", "username": "ingest", "password": "s3cret"},
    }))
    .unwrap();

    let shown = stored.redacted();
    let text = serde_json::to_string(&shown).unwrap();
    assert!(!text.contains("s3cret") && !text.contains("k-1"), "{text}");
    let shown_json = serde_json::to_value(&shown).unwrap();
    assert_eq!(shown_json["auth"]["password"], REDACTED);
    assert_eq!(shown_json["auth"]["username"], "ingest");
    assert_eq!(shown_json["headers"]["x-api-key"], REDACTED);
    assert_eq!(shown_json["headers"]["x-source"], "orders");
    assert!(!format!("{stored:?}").contains("s3cret"));

    // A redacted secret sent back cannot be used on its own...
    assert_eq!(
        shown.validate().unwrap_err().field,
        "sink.headers.x-api-key"
    );
    // ...but is restored from the stored settings.
    let mut updated = shown.clone();
    updated.keep_secrets_from(&stored).unwrap();
    assert_eq!(updated, stored);
    assert_eq!(updated.validate(), Ok(()));

    // A new secret replaces the old one.
    let mut changed = sink_config(json!({
        "type": "http", "url": "https://example.com/hook",
        "auth": {"type": "basic", "username": "ingest", "password": "new"},
    }))
    .unwrap();
    changed.keep_secrets_from(&stored).unwrap();
    let SinkConfig::Http(changed) = changed else {
        panic!("not http")
    };
    assert_eq!(
        changed.auth,
        Some(HttpAuth::Basic {
            username: "ingest".into(),
            password: "new".into()
        })
    );

    // Bearer tokens too.
    let bearer = sink_config(json!({
        "type": "http", "url": "https://example.com/hook",
        "auth": {"type": "bearer", "token": "tok"},
    }))
    .unwrap();
    let mut back = bearer.redacted();
    assert_eq!(
        serde_json::to_value(&back).unwrap()["auth"]["token"],
        REDACTED
    );
    assert_eq!(back.validate().unwrap_err().field, "sink.auth.token");
    back.keep_secrets_from(&bearer).unwrap();
    assert_eq!(back, bearer);
}
