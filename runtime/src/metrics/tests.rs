use std::time::Duration;

use super::*;

fn rendered(metrics: &Metrics, snapshot: &Snapshot) -> String {
    metrics.render(snapshot).expect("renders")
}

fn line_of<'a>(text: &'a str, start: &str) -> Option<&'a str> {
    text.lines().find(|line| line.starts_with(start))
}

#[test]
fn counters_count_per_connector_under_conventional_names() {
    let metrics = Metrics::new();
    let orders = metrics.connector("orders");
    orders.read.inc_by(5);
    orders.delivered.inc_by(4);
    orders.dead_lettered.inc();
    metrics.connector("audit").read.inc_by(2);
    let text = rendered(&metrics, &Snapshot::default());
    assert!(text.contains("# HELP connectors_events_read Events read"));
    assert!(text.contains("# TYPE connectors_events_read counter"));
    assert!(text.contains("connectors_events_read_total{connector=\"orders\"} 5\n"));
    assert!(text.contains("connectors_events_read_total{connector=\"audit\"} 2\n"));
    assert!(text.contains("connectors_events_delivered_total{connector=\"orders\"} 4\n"));
    assert!(text.contains("connectors_events_dead_lettered_total{connector=\"orders\"} 1\n"));
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn a_pipeline_started_again_goes_on_counting_the_same_series() {
    let metrics = Metrics::new();
    metrics.connector("orders").delivered.inc_by(3);
    metrics.connector("orders").delivered.inc_by(2);
    let text = rendered(&metrics, &Snapshot::default());
    assert!(text.contains("connectors_events_delivered_total{connector=\"orders\"} 5\n"));
}

#[test]
fn sink_requests_by_outcome_and_class_with_their_latency() {
    let metrics = Metrics::new();
    let sink = metrics.connector("orders").sink;
    let took = Duration::from_millis(3);
    sink.record(
        RequestOutcome::Delivered,
        RequestClass::of_status(204),
        took,
    );
    sink.record(
        RequestOutcome::Delivered,
        RequestClass::of_status(200),
        took,
    );
    sink.record(RequestOutcome::Refused, RequestClass::of_status(422), took);
    sink.record(RequestOutcome::Failed, RequestClass::TransportError, took);
    sink.record(RequestOutcome::Refused, RequestClass::of_status(302), took);
    let text = rendered(&metrics, &Snapshot::default());
    let series = |outcome: &str, class: &str| {
        format!(
            "connectors_sink_requests_total{{connector=\"orders\",outcome=\"{outcome}\",class=\"{class}\"}}"
        )
    };
    assert!(text.contains(&format!("{} 2\n", series("delivered", "2xx"))));
    assert!(text.contains(&format!("{} 1\n", series("refused", "4xx"))));
    assert!(text.contains(&format!("{} 1\n", series("failed", "transport_error"))));
    assert!(text.contains(&format!("{} 1\n", series("refused", "3xx"))));
    assert!(
        !text.contains(&series("failed", "5xx")),
        "no series before a request"
    );
    assert!(text.contains("# UNIT connectors_sink_request_duration_seconds seconds"));
    assert!(
        text.contains("connectors_sink_request_duration_seconds_count{connector=\"orders\"} 5\n")
    );
}

#[test]
fn stage_timers_and_checkpoints_are_histograms() {
    let metrics = Metrics::new();
    let orders = metrics.connector("orders");
    let timer = orders.stage_timer("transforms[0] (redact)");
    timer.observe_since(std::time::Instant::now());
    timer.observe_since(std::time::Instant::now());
    orders.checkpoint_seconds.observe(0.002);
    let text = rendered(&metrics, &Snapshot::default());
    assert!(text.contains(
        "connectors_transform_duration_seconds_count{connector=\"orders\",stage=\"transforms[0] (redact)\"} 2\n"
    ));
    assert!(text.contains("connectors_checkpoint_duration_seconds_count{connector=\"orders\"} 1\n"));
    assert!(text.contains(
        "connectors_checkpoint_duration_seconds_bucket{le=\"+Inf\",connector=\"orders\"} 1\n"
    ));
}

#[test]
fn a_removed_connector_leaves_no_series() {
    let metrics = Metrics::new();
    let orders = metrics.connector("orders");
    orders.delivered.inc();
    orders
        .stage_timer("transforms[0] (x)")
        .observe_since(std::time::Instant::now());
    orders.sink.record(
        RequestOutcome::Delivered,
        RequestClass::Success,
        Duration::ZERO,
    );
    metrics.connector("audit").delivered.inc();
    metrics.remove_connector("orders");
    let text = rendered(&metrics, &Snapshot::default());
    assert!(!text.contains("orders"), "{text}");
    let text = rendered(&metrics, &Snapshot::default());
    assert!(
        !text.contains("connectors_sink_request_duration_seconds_count{connector=\"audit\"}"),
        "no request histogram for a sink that made no requests"
    );
    assert!(text.contains("connectors_events_delivered_total{connector=\"audit\"} 1\n"));
}

#[test]
fn lag_and_members_are_set_at_each_scrape() {
    let metrics = Metrics::new();
    let snapshot = Snapshot {
        connectors: vec![
            ConnectorProgress {
                connector: "orders".into(),
                positions_behind: Some(0),
                caught_up: true,
            },
            ConnectorProgress {
                connector: "audit".into(),
                positions_behind: None,
                caught_up: false,
            },
        ],
        members: vec![("a".into(), true, 2), ("b".into(), false, 0)],
    };
    let text = rendered(&metrics, &snapshot);
    assert!(text.contains("connectors_caught_up{connector=\"orders\"} 1\n"));
    assert!(text.contains("connectors_caught_up{connector=\"audit\"} 0\n"));
    assert!(text.contains("connectors_lag_positions{connector=\"orders\"} 0\n"));
    assert!(!text.contains("connectors_lag_positions{connector=\"audit\"}"));
    assert!(text.contains("connectors_cluster_members{status=\"alive\"} 1\n"));
    assert!(text.contains("connectors_cluster_members{status=\"dead\"} 1\n"));
    assert!(text.contains("connectors_member_connectors{member=\"a\"} 2\n"));
    // A connector that stopped running here is gone at the next scrape.
    let text = rendered(&metrics, &Snapshot::default());
    assert!(line_of(&text, "connectors_caught_up{").is_none());
    assert!(line_of(&text, "connectors_member_connectors{").is_none());
}

#[test]
fn build_info_and_store_latency() {
    let metrics = Metrics::new();
    metrics
        .store_timer(StoreOperation::Append)
        .observe_since(std::time::Instant::now());
    let text = rendered(&metrics, &Snapshot::default());
    let build = format!(
        "connectors_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        line_of(&text, "connectors_build_info"),
        Some(build.as_str())
    );
    assert!(text
        .contains("connectors_store_operation_duration_seconds_count{operation=\"append\"} 1\n"));
}

#[test]
fn detached_handles_show_nowhere() {
    let metrics = Metrics::new();
    let detached = ConnectorMetrics::detached("orders");
    detached.delivered.inc();
    SinkMetrics::detached().record(
        RequestOutcome::Delivered,
        RequestClass::Success,
        Duration::ZERO,
    );
    assert!(!rendered(&metrics, &Snapshot::default()).contains("orders"));
}
