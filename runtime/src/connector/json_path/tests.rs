use serde_json::json;

use super::*;

fn verdict(query: &str, data: &serde_json::Value) -> Verdict {
    JsonPathFilter::parse(query)
        .expect("query")
        .evaluate(&serde_json::to_vec(data).expect("data"))
}

fn matches(query: &str, data: serde_json::Value) -> bool {
    verdict(query, &data) == Verdict::Passes
}

/// `[[[...[1]...]]]`, `levels` arrays deep.
fn nested_arrays(levels: usize) -> serde_json::Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

#[test]
fn json_path_filters_test_the_data() {
    assert!(matches("$[?(@.total > 100)]", json!({ "total": 120 })));
    assert!(!matches("$[?(@.total > 100)]", json!({ "total": 50 })));
    assert!(!matches(
        "$[?(@.total > 100)]",
        json!({ "nested": { "total": 500 } })
    ));
    assert!(matches(
        "$.customer.vip",
        json!({ "customer": { "vip": true } })
    ));
    assert!(!matches("$.customer.vip", json!({ "customer": {} })));
    assert!(matches(
        "$.items[?@.sku == 'A1']",
        json!({ "items": [{ "sku": "B2" }, { "sku": "A1" }] })
    ));
    assert!(
        matches("$[?@ > 2]", json!([1, 2, 3])),
        "arrays are filtered element-wise"
    );
    assert_eq!(
        JsonPathFilter::parse("$.x")
            .expect("query")
            .evaluate(b"not json"),
        Verdict::Fails
    );
}

#[test]
fn hostile_queries_are_refused_naming_the_bound_and_an_example() {
    let too_many_descendants = JsonPathFilter::parse("$..*..*..*..*..*..*").expect_err("6 `..`");
    assert_eq!(too_many_descendants.field, "filter.jsonPath");
    assert!(
        too_many_descendants
            .message
            .contains("has 6 descendant segments (`..`); the most is 3"),
        "{too_many_descendants}"
    );
    assert!(too_many_descendants.message.contains("e.g."));

    let hidden_in_a_filter = JsonPathFilter::parse("$..a[?@..b && count($..c..d) > 0]");
    assert!(hidden_in_a_filter.is_err(), "`..` inside filters count");
    assert!(
        JsonPathFilter::parse("$..a[?@.name == '..x..y..z..']").is_ok(),
        "`..` inside string literals does not count"
    );

    let long = format!("$.a{}", ".b".repeat(MAX_QUERY_BYTES));
    let too_long = JsonPathFilter::parse(&long).expect_err("too long");
    assert!(too_long.message.contains("the most is 1024"), "{too_long}");

    let union = format!("${}", "[0,0,0,0,0,0,0,0,0,0]".repeat(12));
    let explosive = JsonPathFilter::parse(&union).expect_err("10^12 entries");
    assert_eq!(explosive.field, "filter.jsonPath");
    assert!(explosive.message.contains("e.g."), "{explosive}");

    let invalid = JsonPathFilter::parse("$[").expect_err("invalid");
    assert!(invalid.message.contains("not a valid JSONPath query"));
}

#[test]
fn events_too_deep_or_too_big_for_the_query_are_refused_not_dropped() {
    // The hostile pair, with the query cut to the descendant bound.
    let deep = nested_arrays(120);
    match verdict("$..*..*..*", &deep) {
        Verdict::Refused(reason) => assert!(reason.contains("120 levels deep"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Deeper than serde_json parses (128): still a refusal, not "not JSON".
    let text = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    assert!(matches!(
        JsonPathFilter::parse("$..x")
            .expect("query")
            .evaluate(text.as_bytes()),
        Verdict::Refused(_)
    ));
    // Within the depth bound, but too many entries for three `..`.
    let wide: Vec<u32> = (0..2000).collect();
    match verdict(
        "$..*..*..*",
        &json!({ "deep": nested_arrays(60), "wide": wide }),
    ) {
        Verdict::Refused(reason) => assert!(reason.contains("node-list entries"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same query on a plain event is evaluated.
    assert!(matches("$..*..*..*", json!({ "a": { "b": { "c": 1 } } })));
}
