//! `GET /metrics` after a known run: the exact counts of what a connector
//! read, delivered and dead-lettered, its sink requests by class, a
//! histogram's count, caught-up, the cluster and the build; every line in
//! the exposition format; a deleted connector's series gone; a trapping
//! stage's trap counted; and a `read` or scrape-only `metrics` token may
//! scrape.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use crate::support::{event, eventually, free_port, NodeProcess, Receiver};

/// Events appended; one of them the receiver refuses with a 400.
const EVENTS: u64 = 10;

fn numbered(n: u64) -> Value {
    event("Numbered", json!({ "n": n, "card": "4111-1111" }))
}

/// The text of `GET /metrics`, checked to be valid exposition format.
async fn scrape(node: &NodeProcess) -> Samples {
    let response = node
        .client
        .get(node.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("content type")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.expect("metrics text");
    Samples::parse(&text)
}

/// The samples of a scrape, by `name{labels}` as written.
struct Samples {
    values: BTreeMap<String, f64>,
}

impl Samples {
    /// Parses every line; panics on one that is not in the OpenMetrics text
    /// format, on a sample of a family with no `# TYPE` and `# HELP`, and
    /// without the closing `# EOF`.
    fn parse(text: &str) -> Self {
        let mut typed = BTreeMap::new();
        let mut helped = BTreeSet::new();
        let mut values = BTreeMap::new();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
        for line in &lines[..lines.len() - 1] {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (kind, name) = (parts.next(), parts.next().expect("a family name"));
                assert!(valid_name(name), "bad family name in `{line}`");
                let value = parts.next().unwrap_or("");
                match kind {
                    Some("TYPE") => {
                        let known = ["counter", "gauge", "histogram", "info", "unknown"];
                        assert!(known.contains(&value), "unknown type in `{line}`");
                        typed.insert(name.to_owned(), value.to_owned());
                    }
                    Some("HELP") => {
                        assert!(!value.is_empty(), "empty help in `{line}`");
                        helped.insert(name.to_owned());
                    }
                    Some("UNIT") => assert_eq!(value, "seconds", "{line}"),
                    _ => panic!("unknown comment `{line}`"),
                }
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value: `{line}`"));
            let name = series.split('{').next().expect("name");
            assert!(valid_name(name), "bad metric name in `{line}`");
            if let Some(labels) = series.strip_prefix(name) {
                assert!(valid_labels(labels), "bad labels in `{line}`");
            }
            let family = typed
                .keys()
                .filter(|family| name.starts_with(family.as_str()))
                .max_by_key(|family| family.len())
                .unwrap_or_else(|| panic!("no # TYPE before `{line}`"));
            let suffix = &name[family.len()..];
            let allowed: &[&str] = match typed[family].as_str() {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            assert!(
                allowed.contains(&suffix),
                "`{name}` in a {} family",
                typed[family]
            );
            assert!(helped.contains(family), "no # HELP for `{family}`");
            values.insert(series.to_owned(), value);
        }
        Self { values }
    }

    fn get(&self, series: &str) -> Option<f64> {
        self.values.get(series).copied()
    }

    fn value(&self, series: &str) -> f64 {
        self.get(series).unwrap_or_else(|| {
            panic!(
                "no series `{series}` in:\n{}",
                self.values.keys().cloned().collect::<Vec<_>>().join("\n")
            )
        })
    }

    fn mentioning(&self, text: &str) -> Vec<&String> {
        self.values.keys().filter(|k| k.contains(text)).collect()
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `{key="value",...}` with escaped quotes and backslashes in the values.
fn valid_labels(labels: &str) -> bool {
    if labels.is_empty() {
        return true;
    }
    let Some(mut rest) = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')) else {
        return false;
    };
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once("=\"") else {
            return false;
        };
        if !valid_name(key) {
            return false;
        }
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { return false };
        rest = &after[end + 1..];
        if let Some(next) = rest.strip_prefix(',') {
            rest = next;
        } else if !rest.is_empty() {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_known_run_exactly_and_forget_a_deleted_connector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.upload_example("redact").await;
    let receiver = Receiver::start().await;
    let events: Vec<Value> = (1..=EVENTS).map(numbered).collect();
    receiver.reject_id(events[4]["eventId"].as_str().expect("id"));
    node.append("metered-1", &events).await;
    node.create_connector(
        "metered",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["metered-"] } },
            "transforms": [{ "module": "redact", "config": { "remove": ["card"] } }]
        }),
    )
    .await;
    let status = eventually(Duration::from_secs(60), "the run to catch up", || async {
        let status = node.status("metered").await;
        (status["caughtUp"] == true && status["deadLettered"] == 1).then_some(status)
    })
    .await;
    assert_eq!(status["delivered"], EVENTS - 1, "{status}");
    assert_eq!(receiver.count() as u64, EVENTS - 1);

    let samples = scrape(&node).await;
    let of = |name: &str| format!("connectors_{name}{{connector=\"metered\"}}");
    assert_eq!(samples.value(&of("events_read_total")), EVENTS as f64);
    assert_eq!(
        samples.value(&of("events_delivered_total")),
        (EVENTS - 1) as f64
    );
    assert_eq!(samples.value(&of("events_dead_lettered_total")), 1.0);
    assert_eq!(samples.value(&of("events_failed_total")), 1.0);
    assert_eq!(samples.value(&of("events_filtered_out_total")), 0.0);
    assert_eq!(samples.value(&of("sink_retries_total")), 0.0);
    assert_eq!(samples.value(&of("component_traps_total")), 0.0);
    let requests = |outcome: &str, class: &str| {
        format!("connectors_sink_requests_total{{connector=\"metered\",outcome=\"{outcome}\",class=\"{class}\"}}")
    };
    assert_eq!(
        samples.value(&requests("delivered", "2xx")),
        (EVENTS - 1) as f64
    );
    assert_eq!(samples.value(&requests("refused", "4xx")), 1.0);
    assert_eq!(samples.get(&requests("failed", "5xx")), None);
    assert_eq!(samples.get(&requests("failed", "transport_error")), None);
    // One request per event (a per-event sink), each timed once.
    assert_eq!(
        samples.value(&of("sink_request_duration_seconds_count")),
        EVENTS as f64
    );
    assert_eq!(
        samples.value(
            "connectors_sink_request_duration_seconds_bucket{le=\"+Inf\",connector=\"metered\"}"
        ),
        EVENTS as f64
    );
    let transform_calls = samples.value(
        "connectors_transform_duration_seconds_count{connector=\"metered\",stage=\"transforms[0] (redact)\"}",
    );
    assert!(
        (1.0..=EVENTS as f64).contains(&transform_calls),
        "{transform_calls}"
    );
    assert_eq!(samples.value(&of("caught_up")), 1.0);
    assert_eq!(samples.value(&of("lag_positions")), 0.0);
    assert!(
        samples.value("connectors_store_operation_duration_seconds_count{operation=\"append\"}")
            >= 1.0
    );
    assert_eq!(
        samples.value("connectors_cluster_members{status=\"alive\"}"),
        1.0
    );
    assert_eq!(
        samples.value(&format!(
            "connectors_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );

    let (code, body) = node
        .call(reqwest::Method::DELETE, "/connectors/metered", None)
        .await;
    assert!(code == 200 || code == 204, "delete: {code} {body}");
    let left = eventually(Duration::from_secs(30), "the series to go", || async {
        let samples = scrape(&node).await;
        samples
            .mentioning("connector=\"metered\"")
            .is_empty()
            .then_some(samples)
    })
    .await;
    assert!(left
        .values
        .keys()
        .any(|k| k.starts_with("connectors_build_info")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_metrics_tokens_may_scrape_and_no_token_may_not() {
    const ADMIN: &str = "admin-token-for-metrics-0123";
    const READER: &str = "read-token-for-metrics-0123";
    const SCRAPER: &str = "scrape-token-for-metrics-0123";
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tokens");
    std::fs::write(
        &file,
        format!("admin:{ADMIN}\nread:{READER}\nmetrics:{SCRAPER}\n"),
    )
    .expect("tokens file");
    let port = free_port();
    let with_token = |token: &str| {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        headers.insert(AUTHORIZATION, value);
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client")
    };
    let node = NodeProcess::launch(
        &dir.path().join("node"),
        &format!("127.0.0.1:{port}"),
        &["--api-tokens-file".into(), file.display().to_string()],
        format!("http://127.0.0.1:{port}"),
        with_token(ADMIN),
    )
    .await;
    let anonymous = reqwest::Client::new()
        .get(node.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(anonymous.status().as_u16(), 401);
    let reader = with_token(READER)
        .get(node.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(reader.status().as_u16(), 200);
    let text = reader.text().await.expect("text");
    assert!(text.contains("connectors_build_info"), "{text}");

    // A scrape-only token reads the metrics and nothing else.
    let scraper = with_token(SCRAPER);
    let scraped = scraper
        .get(node.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(scraped
        .text()
        .await
        .expect("text")
        .contains("connectors_build_info"));
    for path in ["/connectors", "/members", "/modules"] {
        let refused = scraper.get(node.url(path)).send().await.expect("request");
        assert_eq!(refused.status().as_u16(), 403, "{path}");
        let body: serde_json::Value = refused.json().await.expect("JSON error");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or("")
                .contains("only read `/metrics`"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_stage_counts_its_trap_and_its_faulted_connector_stays_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.upload_example("misbehave").await;
    let receiver = Receiver::start().await;
    node.create_connector(
        "trapping",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["trapping-"] } },
            "transforms": [{ "module": "misbehave", "config": { "mode": "trap" } }]
        }),
    )
    .await;
    node.append("trapping-1", &[event("Poke", json!({ "n": 1 }))])
        .await;
    node.wait_faulted("trapping").await;
    let samples = scrape(&node).await;
    let of = |name: &str| format!("connectors_{name}{{connector=\"trapping\"}}");
    assert_eq!(samples.value(&of("component_traps_total")), 1.0);
    assert_eq!(samples.value(&of("events_read_total")), 1.0);
    assert_eq!(samples.value(&of("events_delivered_total")), 0.0);
    assert_eq!(
        samples.get(&of("sink_request_duration_seconds_count")),
        None
    );
    assert_eq!(receiver.count(), 0);
}
