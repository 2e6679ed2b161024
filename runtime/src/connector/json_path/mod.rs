//! The JSONPath part of the built-in filter: a query (RFC 9535) used as a
//! predicate on event data, with bounded work.
//!
//! [`JsonPathFilter::parse`] refuses queries that are too long or have too
//! many descendant segments; [`JsonPathFilter::evaluate`] measures each
//! event first and refuses the ones the query could not evaluate within
//! [`MAX_VISITS`] node-list entries (see [`bounds`] for why that bound
//! holds). A refused event is a [`Verdict::Refused`], never a silent drop:
//! the pipeline dead-letters it (or faults, per `onFailure`) and `/preview`
//! shows it.

mod bounds;
mod shape;

use std::sync::Arc;

use serde_json_path::JsonPath;

pub use bounds::{MAX_DEPTH, MAX_DESCENDANT_SEGMENTS, MAX_QUERY_BYTES, MAX_VISITS};
use shape::QueryShape;

use crate::sinks::ConfigError;

/// The setting every error here names.
pub const FIELD: &str = "filter.jsonPath";
const EXAMPLES: &str = "e.g. `$[?(@.total > 100)]` or `$.customer.vip`";

/// A JSONPath query used as a predicate on event data. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JsonPathFilter {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    path: JsonPath,
    shape: QueryShape,
    /// `$[?...]` queries test the root object itself, as most JSONPath
    /// dialects users know do, so they run against `[data]`.
    wrap_root: bool,
}

/// What the filter says about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The query selects at least one node.
    Passes,
    /// The query selects nothing, or the data is not JSON.
    Fails,
    /// The event is too big or too deep for this query to be evaluated
    /// within bounds; the reason says which.
    Refused(String),
}

impl JsonPathFilter {
    /// Parses and bounds `query`.
    pub fn parse(query: &str) -> Result<Self, ConfigError> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(ConfigError::new(
                FIELD,
                format!(
                    "is {} bytes long; the most is {MAX_QUERY_BYTES}, {EXAMPLES}",
                    query.len()
                ),
            ));
        }
        let path = JsonPath::parse(query).map_err(|e| {
            ConfigError::new(
                FIELD,
                format!("is not a valid JSONPath query ({e}); {EXAMPLES}"),
            )
        })?;
        let shape = QueryShape::of(query);
        let descendants = shape.descendant_segments();
        if descendants > MAX_DESCENDANT_SEGMENTS {
            return Err(ConfigError::new(
                FIELD,
                format!(
                    "has {descendants} descendant segments (`..`); the most is \
                     {MAX_DESCENDANT_SEGMENTS}, e.g. `$..items[?@.sku == 'A1']`"
                ),
            ));
        }
        // A query already over budget on a small event (16 nodes, 4 levels)
        // would refuse every real one: too many selectors per bracket, or
        // filters nested in filters.
        if bounds::worst_case_visits(&shape, 16, 4) > MAX_VISITS {
            return Err(ConfigError::new(
                FIELD,
                format!(
                    "could select too many nodes even on a small event (unions \
                     of many selectors, or filters nested in filters); the most \
                     is {MAX_VISITS} node visits, {EXAMPLES}"
                ),
            ));
        }
        let wrap_root = query.trim_start().starts_with("$[?");
        Ok(Self {
            inner: Arc::new(Compiled {
                path,
                shape,
                wrap_root,
            }),
        })
    }

    /// Evaluates the query on JSON `data` if that fits the bounds. CPU-bound:
    /// call it off the async threads, once per batch.
    pub fn evaluate(&self, data: &[u8]) -> Verdict {
        let value = match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(value) => value,
            Err(_) => {
                let depth = bounds::bracket_depth(data);
                if depth > MAX_DEPTH {
                    return Verdict::Refused(too_deep(depth));
                }
                return Verdict::Fails;
            }
        };
        let inner = &self.inner;
        let value = if inner.wrap_root && !value.is_array() {
            serde_json::Value::Array(vec![value])
        } else {
            value
        };
        let (nodes, depth) = bounds::measure(&value);
        if depth > MAX_DEPTH {
            return Verdict::Refused(too_deep(depth));
        }
        let visits = bounds::worst_case_visits(&inner.shape, nodes, depth);
        if visits > MAX_VISITS {
            return Verdict::Refused(format!(
                "the event data ({nodes} JSON nodes, {depth} levels deep) is too big \
                 for this {FIELD} query: it could build up to {visits:.0} node-list \
                 entries, the most is {MAX_VISITS}; use fewer descendant segments \
                 (`..`) or wildcards"
            ));
        }
        if inner.path.query(&value).is_empty() {
            Verdict::Fails
        } else {
            Verdict::Passes
        }
    }
}

fn too_deep(depth: usize) -> String {
    format!(
        "the event data is nested {depth} levels deep; {FIELD} evaluates data \
         nested at most {MAX_DEPTH} levels"
    )
}

#[cfg(test)]
mod tests;
