//! Fuzz-style tests, bounded to a few hundred cases each so they run in CI:
//! random and half-valid input to the connector definition parser, JSONPath
//! validation and evaluation, the stream API and module upload, through a
//! real in-process node (embedded store, real router). Nothing may panic,
//! and bad input is a 4xx, never a 5xx.
//!
//! Request decoding of the gRPC protocol is fuzzed beside its private types
//! (`runtime/src/grpc/decode_fuzz.rs`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use connectors::connector::json_path::MAX_VISITS;
use connectors::connector::{JsonPathFilter, Verdict};
use connectors::node::{Node, NodeConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tower::ServiceExt;

// ---------------------------------------------------------------- harness

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// A node on a fresh embedded store, and its router.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _node: Node,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let node = runtime
            .block_on(Node::start(NodeConfig {
                store: connectors::node::StoreLocation::Embedded,
                grpc: None,
                data_dir: dir.path().to_owned(),
                listen: "127.0.0.1:0".parse().unwrap(),
                max_body_bytes: 1 << 20,
                member: "fuzz".into(),
                role: None,
                runs_connectors: true,
                heartbeat: connectors::activation::DEFAULT_HEARTBEAT,
                lease: connectors::activation::DEFAULT_LEASE,
                max_module_bytes: NodeConfig::DEFAULT_MAX_MODULE_BYTES,
                destinations: Default::default(),
                secrets: Default::default(),
                access: Default::default(),
            }))
            .unwrap();
        let router = node.router();
        Self {
            runtime,
            router,
            _node: node,
            _dir: dir,
        }
    }

    /// The status of one request; fails the case on a 5xx.
    fn call(&self, method: Method, uri: &str, content_type: &str, body: Vec<u8>) -> u16 {
        let Ok(request) = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("content-type", content_type)
            .body(Body::from(body))
        else {
            return 0; // not a URI a client could send
        };
        let router = self.router.clone();
        let (status, text) = self.runtime.block_on(async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        });
        assert!(status < 500, "{method} {uri}: {status} {text}");
        if status >= 400 {
            let error: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {uri}: {status}, not JSON: {text}"));
            assert!(
                error["code"].is_string() && error["message"].is_string(),
                "{text}"
            );
        }
        status
    }
}

// ---------------------------------------------------------------- inputs

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9$.*@?:/\\[\\] -]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly the keys a definition has, so values reach the deeper checks.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "sink", "filter", "transforms", "start", "checkpoint", "onFailure", "enable",
            "type", "url", "headers", "auth", "token", "batch", "retry", "module", "config",
            "limits", "memoryMib", "timeoutMs", "streams", "eventTypes", "jsonPath",
            "prefixes", "regex", "includeSystemEvents", "everyEvents", "everyMs",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z]{1,10}",
    ]
}

/// A definition-shaped object: known keys, random values, sometimes a
/// valid sink.
fn definition() -> impl Strategy<Value = Value> {
    (
        proptest::collection::btree_map(key(), json_value(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(members, console)| {
            let mut object: serde_json::Map<String, Value> = members.into_iter().collect();
            if console {
                object.insert("sink".into(), serde_json::json!({ "type": "console" }));
            }
            Value::Object(object)
        })
}

/// JSONPath-like text: valid segments in random order, query tokens in
/// random order (sometimes valid), or any text.
fn query() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "$", "@", ".", "..", "*", "[", "]", "?", "(", ")", ",", "'a'", "\"..\"", "0", "-1", ":",
        "==", "<", "&&", "||", "!", "a", "sku", "length(", "count(", "match(", "value(", " ",
        "1.5", "true", "null",
    ]);
    let segment = prop::sample::select(vec![
        ".a",
        ".sku",
        ".*",
        "..*",
        "..sku",
        "[0]",
        "[-1]",
        "[*]",
        "[0,1,0]",
        "[1:3]",
        "[::-1]",
        "['a']",
        "[?@.sku == 'A1']",
        "[?@..x]",
        "[?count(@.*) > 1]",
        "[?$.a]",
        "[?@[?@.b]]",
        "[?length(@) > 2 || !@.c]",
    ]);
    prop_oneof![
        3 => proptest::collection::vec(segment, 0..8).prop_map(|s| format!("${}", s.concat())),
        2 => proptest::collection::vec(token, 1..24).prop_map(|t| format!("${}", t.concat())),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------- tests

#[test]
fn connector_definitions_of_any_shape_get_an_answer_never_a_5xx() {
    let harness = Harness::start();
    let ids = ["a", "b", "c"];
    let refused = std::sync::atomic::AtomicUsize::new(0);
    runner(300)
        .run(&(definition(), 0..3usize), |(value, id)| {
            let body = serde_json::to_vec(&value).unwrap();
            let status = harness.call(
                Method::POST,
                &format!("/connectors/{}", ids[id]),
                "application/json",
                body,
            );
            if status == 400 {
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    assert!(
        refused.into_inner() > 0,
        "some definitions reach validation"
    );
    runner(200)
        .run(&proptest::collection::vec(any::<u8>(), 0..256), |bytes| {
            harness.call(Method::POST, "/connectors/a", "application/json", bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn json_path_validation_never_panics_and_accepted_queries_stay_in_bounds() {
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    runner(500)
        .run(&(query(), json_value()), |(query, data)| {
            let Ok(filter) = JsonPathFilter::parse(&query) else {
                return Ok(());
            };
            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let verdict = filter.evaluate(&serde_json::to_vec(&data).unwrap());
            if !matches!(verdict, Verdict::Refused(_)) {
                // What the evaluation built is within the budget.
                let path = serde_json_path::JsonPath::parse(&query).unwrap();
                let built = if query.trim_start().starts_with("$[?") && !data.is_array() {
                    path.query(&Value::Array(vec![data.clone()])).len()
                } else {
                    path.query(&data).len()
                };
                prop_assert!((built as f64) <= MAX_VISITS, "{query}: {built} nodes");
            }
            Ok(())
        })
        .unwrap();
    assert!(accepted.into_inner() > 0, "some random queries are valid");
}

#[test]
fn stream_api_answers_random_paths_queries_and_bodies_without_a_5xx() {
    let harness = Harness::start();
    let segment = prop_oneof![
        Just("$all".to_owned()),
        Just("orders-1".to_owned()),
        "[a-zA-Z0-9$%./_-]{0,24}",
    ];
    let query = proptest::collection::vec(
        (
            prop::sample::select(vec!["count", "from", "direction", "expectedRevision", "x"]),
            prop_oneof![
                "[0-9]{1,22}".boxed(),
                Just("-1".to_owned()).boxed(),
                prop::sample::select(vec!["start", "end", "forwards", "backwards", "any"])
                    .prop_map(str::to_owned)
                    .boxed(),
                "[a-z%&=]{0,8}".boxed(),
            ],
        ),
        0..4,
    );
    let body = prop_oneof![
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        json_value().prop_map(|v| {
            let event = serde_json::json!([{ "eventType": "Fuzzed", "data": v }]);
            serde_json::to_vec(&event).unwrap()
        }),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    let statuses = std::sync::Mutex::new(Vec::new());
    runner(400)
        .run(
            &(any::<bool>(), segment, query, body),
            |(post, segment, query, body)| {
                let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let uri = format!("/streams/{segment}?{}", query.join("&"));
                let method = if post { Method::POST } else { Method::GET };
                let status = harness.call(method, &uri, "application/json", body);
                statuses.lock().unwrap().push(status);
                Ok(())
            },
        )
        .unwrap();
    let statuses = statuses.into_inner().unwrap();
    assert!(
        statuses.iter().any(|s| (200..300).contains(s)) && statuses.iter().any(|s| *s >= 400),
        "the inputs reach both answers: {statuses:?}"
    );
}

/// `guest-examples/dist/`, where `guest-examples/build.sh` puts the built
/// components (or `$GUEST_EXAMPLES_DIST`).
fn dist() -> PathBuf {
    match std::env::var_os("GUEST_EXAMPLES_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-examples/dist"),
    }
}

#[test]
fn module_uploads_of_random_or_damaged_bytes_are_refused_never_a_5xx() {
    let harness = Harness::start();
    let component = std::fs::read(dist().join("filter-by-type.wasm"))
        .expect("guest-examples/dist/filter-by-type.wasm; run guest-examples/build.sh");
    let upload = |bytes: Vec<u8>| {
        harness.call(
            Method::PUT,
            "/modules/fuzzed",
            "application/octet-stream",
            bytes,
        )
    };
    runner(150)
        .run(
            &prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                proptest::collection::vec(any::<u8>(), 0..512).prop_map(|mut b| {
                    let mut header = b"\0asm\x0d\0\x01\0".to_vec();
                    header.append(&mut b);
                    header
                }),
            ],
            |bytes| {
                let status = upload(bytes);
                prop_assert!((400..500).contains(&status), "random bytes: {status}");
                Ok(())
            },
        )
        .unwrap();
    let len = component.len();
    runner(24)
        .run(
            &(
                proptest::collection::vec((0..len, any::<u8>()), 0..4),
                prop_oneof![3 => (0..len).prop_map(Some), 1 => Just(None)],
            ),
            |(changes, keep)| {
                let mut bytes = component.clone();
                for (at, byte) in changes {
                    bytes[at] = byte;
                }
                if let Some(keep) = keep {
                    bytes.truncate(keep.max(1));
                }
                // A cut component never validates; a changed byte may
                // still leave a valid one, which is then stored.
                let status = upload(bytes);
                prop_assert!(status < 500, "damaged component: {status}");
                Ok(())
            },
        )
        .unwrap();
}
