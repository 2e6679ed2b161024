//! How much work a JSONPath query may cost, and how that is made sure of.
//!
//! A query is evaluated by building node lists, and RFC 9535 never removes
//! duplicates from them: `$..*..*..*..*..*..*` over 120 nested arrays
//! lists one entry per way of picking six of the 120 levels (billions).
//! The work is bounded in two steps:
//!
//! - at validation, the query's length and its descendant segments (`..`,
//!   counted in filter expressions too) are capped;
//! - before an event is evaluated, its node count `N` and nesting depth `D`
//!   are measured, and [`worst_case_visits`] gives an upper bound on the
//!   node-list entries the query can build for it. The event is evaluated
//!   only when that bound is at most [`MAX_VISITS`] and `D` is at most
//!   [`MAX_DEPTH`]; otherwise it is refused with the reason.
//!
//! Why the bound holds (`m` is the most times one node appears in the node
//! list after a segment; it starts at 1, a list of the root only):
//! - a child segment with `s` selectors gives each child at most `s` entries
//!   per entry of its parent (a name, index, slice, wildcard or filter
//!   selects a child at most once): `m <- m * s`, and the segment's work is
//!   at most the children of the entries, `N * m`;
//! - a descendant segment visits, for each entry, the entry and every node
//!   under it: a node is reached once per listed ancestor-or-self, at most
//!   `D + 1` of them, so `m <- m * (D + 1) * s` (only `m * s` while the list
//!   is still one node, which each node has only once under it);
//! - a filter selector runs its expression once per candidate: a relative
//!   query `@...` on a candidate costs at most (candidate's subtree size) x
//!   its own bound per node, and the subtrees of all nodes add up to at most
//!   `N * (D + 1)`; an absolute query `$...` costs up to `N` x its bound per
//!   candidate.
//!
//! Summing the segments gives `N * W(query)` with `W` computed below; the
//! node lists (8 bytes an entry) and the time are both linear in it.

use super::shape::QueryShape;

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;
/// The most descendant segments (`..`) in a query, filters included.
pub const MAX_DESCENDANT_SEGMENTS: usize = 3;
/// The deepest event data a query is evaluated on (arrays and objects
/// nested in each other).
pub const MAX_DEPTH: usize = 64;
/// The most node-list entries one evaluation may build (at most about
/// 40 MiB of node references and well under a second).
pub const MAX_VISITS: f64 = 5_000_000.0;

/// An upper bound on the node-list entries `query` builds on a document of
/// `nodes` nodes nested `depth` levels deep (see the module comment).
pub fn worst_case_visits(query: &QueryShape, nodes: usize, depth: usize) -> f64 {
    let nodes = nodes as f64;
    nodes * per_node(query, nodes, depth as f64 + 1.0)
}

/// `W(query)`: the bound per node of the input subtree.
fn per_node(query: &QueryShape, document_nodes: f64, levels: f64) -> f64 {
    let mut multiplicity = 1.0_f64;
    let mut single = true;
    let mut work = 0.0;
    for segment in &query.segments {
        let selectors = f64::from(segment.selectors.max(1));
        if segment.descendant && !single {
            multiplicity *= levels;
        }
        multiplicity *= selectors;
        single &= !segment.descendant && segment.singular;
        let filters: f64 = segment
            .filter_queries
            .iter()
            .map(|f| {
                let inner = per_node(&f.query, document_nodes, levels);
                if f.absolute {
                    document_nodes * inner
                } else {
                    levels * inner
                }
            })
            .sum();
        work += multiplicity * (1.0 + filters);
    }
    work.max(1.0)
}

/// The node count and nesting depth of `value` (a scalar is one node at
/// depth 0).
pub fn measure(value: &serde_json::Value) -> (usize, usize) {
    let mut nodes = 0;
    let mut deepest = 0;
    let mut pending = vec![(value, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        nodes += 1;
        deepest = deepest.max(depth);
        match value {
            serde_json::Value::Array(items) => {
                pending.extend(items.iter().map(|v| (v, depth + 1)));
            }
            serde_json::Value::Object(members) => {
                pending.extend(members.values().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
    }
    (nodes, deepest)
}

/// How deep `[` and `{` nest in `bytes`, outside JSON strings; tells data
/// too deep to parse from data that is not JSON.
pub fn bracket_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn visits(query: &str, value: &serde_json::Value) -> f64 {
        let (nodes, depth) = measure(value);
        worst_case_visits(&QueryShape::of(query), nodes, depth)
    }

    fn nested_arrays(levels: usize) -> serde_json::Value {
        (0..levels).fold(json!(1), |inner, _| json!([inner, 0]))
    }

    #[test]
    fn measure_counts_nodes_and_levels() {
        assert_eq!(measure(&json!(1)), (1, 0));
        assert_eq!(measure(&json!({ "a": [1, 2], "b": {} })), (5, 2));
        assert_eq!(measure(&nested_arrays(3)), (7, 3));
    }

    #[test]
    fn the_bound_is_above_what_serde_json_path_builds() {
        let value = nested_arrays(12);
        for query in [
            "$..*",
            "$..*..*",
            "$..*..*..*",
            "$[*][*]..*",
            "$..[0,1,0]",
            "$..*[?@..*]",
            "$..*[?$..*]",
            "$[?@[0][?@..*]]",
        ] {
            let built = serde_json_path::JsonPath::parse(query)
                .expect(query)
                .query(&value)
                .len() as f64;
            assert!(
                visits(query, &value) >= built,
                "{query}: bound {} < {built}",
                visits(query, &value)
            );
        }
    }

    #[test]
    fn hostile_shapes_are_over_the_budget_and_plain_ones_far_below() {
        let wide: Vec<u32> = (0..2000).collect();
        let deep_and_wide = json!({ "deep": nested_arrays(60), "wide": wide });
        assert!(visits("$..*..*..*", &deep_and_wide) > MAX_VISITS);
        let wide: serde_json::Value = (0..10_000).map(|i| json!({ "sku": i })).collect();
        assert!(visits("$[?@.sku == 1]", &wide) < MAX_VISITS / 10.0);
        assert!(visits("$..sku", &wide) < MAX_VISITS / 10.0);
    }

    #[test]
    fn bracket_depth_ignores_strings() {
        assert_eq!(bracket_depth(b"[[{\"a\": \"[[[[\\\"[[\"}]]"), 3);
        assert_eq!(bracket_depth(b"not json"), 0);
    }
}
