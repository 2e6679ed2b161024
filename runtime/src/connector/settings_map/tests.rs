use serde_json::json;

use super::*;
use crate::connector::{ConnectorDefinition, MatcherConfig, StartFrom};
use crate::sinks::http::HttpAuth;
use crate::sinks::SinkConfig;

fn settings(value: serde_json::Value) -> Settings {
    let serde_json::Value::Object(object) = value else {
        panic!("an object")
    };
    from_json("settings", object).expect("a settings map")
}

fn read(value: serde_json::Value) -> ConnectorDefinition {
    let definition = to_definition(&settings(value)).expect("a definition");
    validate(&definition).expect("valid");
    definition
}

fn refused(value: serde_json::Value) -> crate::sinks::ConfigError {
    to_definition(&settings(value))
        .and_then(|d| validate(&d).map(|()| d))
        .expect_err("refused")
}

fn native(value: serde_json::Value) -> ConnectorDefinition {
    serde_json::from_value(value).expect("a native definition")
}

#[test]
fn kurrentdb_http_sink_quickstart_reads_as_a_per_event_http_sink() {
    let definition = read(json!({
        "instanceTypeName": "http-sink",
        "url": "https://api.example.com/{schema-subject}?s={stream}",
        "subscription:filter:scope": "stream",
        "subscription:filter:filterType": "streamId",
        "subscription:filter:expression": "example-stream"
    }));
    let SinkConfig::Http(http) = &definition.sink else {
        panic!("an HTTP sink: {definition:?}")
    };
    assert_eq!(http.url, "https://api.example.com/{eventType}?s={stream}");
    assert!(http.batch.is_none(), "one request per event, as KurrentDB");
    let streams = definition
        .filter
        .compile()
        .expect("compiles")
        .store
        .stream
        .expect("streams");
    assert!(streams.matches("example-stream"));
    assert!(!streams.matches("example-stream-2"), "a stream id is exact");
    assert_eq!(
        definition.start,
        StartFrom::End,
        "KurrentDB starts at the latest"
    );
}

#[test]
fn keys_and_choices_match_in_any_case() {
    let definition = read(json!({
        "InstanceTypeName": "Serilog-Sink",
        "Subscription:Filter:Scope": "Record",
        "Subscription:Filter:Expression": "^Order",
        "Subscription:InitialPosition": "Earliest",
        "includeRecordData": false
    }));
    assert_eq!(
        definition.filter.event_types,
        Some(MatcherConfig::Regex("^Order".into()))
    );
    assert_eq!(definition.start, StartFrom::Start);
    let SinkConfig::Console(console) = &definition.sink else {
        panic!("the console sink")
    };
    assert!(!console.include_data);
}

#[test]
fn prefixes_are_comma_separated_and_scopes_say_what_they_match() {
    let definition = read(json!({
        "instanceTypeName": "serilog-sink",
        "subscription:filter:scope": "stream",
        "subscription:filter:filterType": "prefix",
        "subscription:filter:expression": "orders-,invoices-"
    }));
    assert_eq!(
        definition.filter.streams,
        Some(MatcherConfig::Prefixes(vec![
            "orders-".into(),
            "invoices-".into()
        ]))
    );
    assert!(!definition.filter.include_system_events);
}

#[test]
fn without_an_expression_a_scope_keeps_system_events_too() {
    let everything =
        read(json!({ "instanceTypeName": "serilog-sink", "subscription:filter:scope": "stream" }));
    assert!(everything.filter.include_system_events);
    let user_events = read(json!({ "instanceTypeName": "serilog-sink" }));
    assert!(!user_events.filter.include_system_events);
}

#[test]
fn json_path_filters_query_kurrentdb_records() {
    use crate::connector::Verdict;
    use crate::store::{ContentType, Position, RecordedEvent};

    let definition = read(json!({
        "instanceTypeName": "serilog-sink",
        "subscription:filter:scope": "record",
        "subscription:filter:filterType": "jsonPath",
        "subscription:filter:expression": "$[?($.value.vehicle.year==2018)]"
    }));
    let query = definition
        .filter
        .compile()
        .expect("compiles")
        .json_path
        .expect("a query");
    let record = |year: u32, content_type: ContentType| RecordedEvent {
        id: uuid::Uuid::new_v4(),
        stream: "VehicleRegistration-1".into(),
        revision: 1,
        position: Position::new(9, 9),
        event_type: "VehicleRegistered".into(),
        content_type,
        created: chrono::Utc::now(),
        data: serde_json::to_vec(&json!({ "vehicle": { "year": year } }))
            .unwrap()
            .into(),
        metadata: br#"{"tenant": "eu"}"#.to_vec().into(),
    };
    assert_eq!(
        query.evaluate_event(&record(2018, ContentType::Json)),
        Verdict::Passes
    );
    assert_eq!(
        query.evaluate_event(&record(2019, ContentType::Json)),
        Verdict::Fails
    );
    assert_eq!(
        query.evaluate_event(&record(2018, ContentType::Binary)),
        Verdict::Fails,
        "KurrentDB queries JSON records only"
    );
    for (expression, passes) in [
        ("$.schemaInfo[?@ == 'VehicleRegistered']", true),
        ("$[?(@.streamId == 'VehicleRegistration-1')]", true),
        ("$.headers.tenant", true),
        ("$.headers.region", false),
    ] {
        let definition = read(json!({
            "instanceTypeName": "serilog-sink",
            "subscription:filter:filterType": "jsonPath",
            "subscription:filter:expression": expression
        }));
        let query = definition
            .filter
            .compile()
            .expect("compiles")
            .json_path
            .expect("a query");
        let verdict = query.evaluate_event(&record(2018, ContentType::Json));
        assert_eq!(
            verdict == Verdict::Passes,
            passes,
            "{expression}: {verdict:?}"
        );
    }
    let error = refused(json!({
        "instanceTypeName": "serilog-sink",
        "subscription:filter:scope": "stream",
        "subscription:filter:filterType": "jsonPath",
        "subscription:filter:expression": "$.value"
    }));
    assert_eq!(error.field, "subscription:filter:scope");
}

#[test]
fn authentication_and_headers_map_to_the_http_sink() {
    let definition = read(json!({
        "instanceTypeName": "http-sink",
        "url": "https://api.example.com/hook",
        "method": "put",
        "defaultHeaders": "X-Source:kurrentdb, Accept : application/json",
        "authentication:method": "Basic",
        "authentication:basic:username": "ops",
        "authentication:basic:password": "s3cret"
    }));
    let SinkConfig::Http(http) = &definition.sink else {
        panic!("an HTTP sink")
    };
    assert_eq!(format!("{:?}", http.method), "Put");
    assert_eq!(http.headers["X-Source"].value(), "kurrentdb");
    assert_eq!(http.headers["Accept"].value(), "application/json");
    assert_eq!(
        http.auth,
        Some(HttpAuth::Basic {
            username: "ops".into(),
            password: "s3cret".into()
        })
    );
}

#[test]
fn kurrentdb_machinery_keys_are_accepted_with_no_effect() {
    let plain = read(json!({ "instanceTypeName": "serilog-sink" }));
    let with_machinery = read(json!({
        "instanceTypeName": "serilog-sink",
        "logging:enabled": "false",
        "resilience:enabled": "true",
        "resilience:firstDelayBound:delayMs": "5000",
        "autocommit:enabled": "true"
    }));
    assert_eq!(plain, with_machinery);
}

#[test]
fn what_cannot_run_here_is_refused_with_what_to_use() {
    let cases = [
        (
            json!({ "url": "https://x.example" }),
            "instanceTypeName",
            "is required",
        ),
        (
            json!({ "instanceTypeName": "kafka-sink" }),
            "instanceTypeName",
            "custom sink component",
        ),
        (
            json!({ "instanceTypeName": "http-sink" }),
            "url",
            "is required",
        ),
        (
            json!({ "instanceTypeName": "http-sink", "url": "https://x.example", "urll": "x" }),
            "urll",
            "its settings are",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "transformer:enabled": "true", "transformer:function": "ZnVuY3Rpb24=" }),
            "transformer:enabled",
            "WebAssembly",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "configuration": "e30=" }),
            "configuration",
            "http-sink",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "subscription:filter:expression": "orders" }),
            "subscription:filter:scope",
            "`stream`",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "subscription:filter:scope": "stream", "subscription:filter:expression": "(" }),
            "subscription:filter:expression",
            "regular expression",
        ),
        (
            json!({ "instanceTypeName": "http-sink", "url": "https://x.example", "authentication:method": "Bearer" }),
            "authentication:bearer:token",
            "is required",
        ),
        (
            json!({ "instanceTypeName": "http-sink", "url": "https://x.example", "authentication:bearer:token": "t" }),
            "authentication:bearer:token",
            "no effect",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "autocommit:interval": "soon" }),
            "autocommit:interval",
            "whole number",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "subscription:initialPosition": "yesterday" }),
            "subscription:initialPosition",
            "`earliest`",
        ),
        (
            json!({ "instanceTypeName": "serilog-sink", "url": "x", "URL": "y" }),
            "url",
            "twice",
        ),
    ];
    for (value, field, says) in cases {
        let error = refused(value.clone());
        assert!(
            error.field.eq_ignore_ascii_case(field) && error.message.contains(says),
            "{value}: {error:?}"
        );
    }
    let error = from_json(
        "settings",
        json!({"url": {"a": 1}}).as_object().cloned().unwrap(),
    )
    .expect_err("an object value");
    assert_eq!(error.field, "settings.url");
}

#[test]
fn definitions_read_from_settings_render_back_to_equivalent_settings() {
    let written = [
        json!({
            "instanceTypeName": "http-sink",
            "url": "https://api.example.com/{event-type}",
            "method": "PATCH",
            "defaultHeaders": "X-Source:kurrentdb",
            "authentication:method": "Bearer",
            "authentication:bearer:token": "t0ken",
            "subscription:filter:scope": "record",
            "subscription:filter:filterType": "prefix",
            "subscription:filter:expression": "Order,Invoice",
            "subscription:initialPosition": "earliest",
            "autocommit:interval": "5000"
        }),
        json!({ "instanceTypeName": "serilog-sink", "subscription:filter:scope": "stream" }),
        json!({ "instanceTypeName": "serilog-sink", "includeRecordData": "false" }),
        json!({
            "instanceTypeName": "serilog-sink",
            "subscription:filter:scope": "record",
            "subscription:filter:filterType": "jsonPath",
            "subscription:filter:expression": "$[?($.value.vehicle.year==2018)]"
        }),
    ];
    for value in written {
        let definition = read(value.clone());
        let rendered = to_settings(&definition).expect("a settings form");
        assert_eq!(
            to_definition(&rendered).expect("reads back"),
            definition,
            "{rendered:?}"
        );
    }
    let rendered = to_settings(&read(json!({
        "instanceTypeName": "http-sink",
        "url": "https://api.example.com/{schema-subject}"
    })))
    .expect("a settings form");
    assert_eq!(rendered["url"], "https://api.example.com/{event-type}");
    assert_eq!(rendered["subscription:initialPosition"], "latest");
}

#[test]
fn native_definitions_have_a_settings_form_only_when_it_says_everything() {
    let plain = native(json!({
        "sink": { "type": "http", "url": "https://x.example/{stream}" },
        "filter": { "streams": { "prefixes": ["orders-"] } }
    }));
    let rendered = to_settings(&plain).expect("a settings form");
    assert_eq!(rendered["instanceTypeName"], "http-sink");
    assert_eq!(rendered["subscription:filter:expression"], "orders-");
    assert_eq!(rendered["subscription:initialPosition"], "earliest");

    let rich = native(json!({
        "sink": { "type": "http", "url": "https://x.example", "batch": {} },
        "transforms": [{ "module": "redact" }],
        "start": 42,
        "onFailure": "fault"
    }));
    let error = to_settings(&rich).expect_err("no settings form");
    for feature in ["`batch`", "`transforms`", "log position", "`onFailure`"] {
        assert!(error.to_string().contains(feature), "{error}");
    }
    let custom = native(json!({ "sink": { "type": "wasm", "module": "s3" } }));
    assert_eq!(instance_type_name(&custom), "wasm-sink");
    assert!(to_settings(&custom).is_err());
}

#[test]
fn rendered_secrets_are_what_the_definition_holds() {
    let definition = read(json!({
        "instanceTypeName": "http-sink",
        "url": "https://x.example",
        "authentication:method": "Basic",
        "authentication:basic:username": "ops",
        "authentication:basic:password": "s3cret"
    }));
    let shown = to_settings(&definition.redacted()).expect("a settings form");
    assert_eq!(
        shown["authentication:basic:password"],
        crate::sinks::REDACTED
    );
    assert!(!format!("{shown:?}").contains("s3cret"));
}
