//! The JSONPath part of the built-in filter: a query (RFC 9535) used as a
//! predicate on event data, with bounded work.
//!
//! A query runs on the event's data, or on KurrentDB's record shape
//! ([`record`]: the data under `value`, with the stream, type and metadata
//! beside it), as KurrentDB Connectors' `jsonPath` filters do.
//!
//! [`JsonPathFilter::parse`] refuses queries that are too long or have too
//! many descendant segments; [`JsonPathFilter::evaluate`] measures each
//! event first and refuses the ones the query could not evaluate within
//! [`MAX_VISITS`] node-list entries (see [`bounds`] for why that bound
//! holds). A refused event is a [`Verdict::Refused`], never a silent drop:
//! the pipeline dead-letters it (or faults, per `onFailure`) and `/preview`
//! shows it.

mod bounds;
mod record;
mod shape;

use std::sync::Arc;

use serde_json_path::JsonPath;

pub use bounds::{MAX_DEPTH, MAX_DESCENDANT_SEGMENTS, MAX_QUERY_BYTES, MAX_VISITS};
pub use record::JsonPathTarget;
use shape::QueryShape;

use crate::sinks::ConfigError;
use crate::store::{ContentType, RecordedEvent};

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
    /// `$[?...]` queries on data test the root object itself, as most
    /// JSONPath dialects users know do, so they run against `[data]`.
    /// Queries on the record run as RFC 9535 says, as KurrentDB runs them.
    wrap_root: bool,
    target: JsonPathTarget,
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
    /// Parses and bounds `query`, a query on event data.
    pub fn parse(query: &str) -> Result<Self, ConfigError> {
        Self::parse_on(query, JsonPathTarget::Data)
    }

    /// Parses and bounds `query`, which runs on `target`.
    pub fn parse_on(query: &str, target: JsonPathTarget) -> Result<Self, ConfigError> {
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
        let wrap_root = target == JsonPathTarget::Data && query.trim_start().starts_with("$[?");
        Ok(Self {
            inner: Arc::new(Compiled {
                path,
                shape,
                wrap_root,
                target,
            }),
        })
    }

    /// Evaluates the query on `event` (its data or its record, as the query
    /// says) if that fits the bounds. CPU-bound: call it off the async
    /// threads, once per batch.
    pub fn evaluate_event(&self, event: &RecordedEvent) -> Verdict {
        match self.inner.target {
            JsonPathTarget::Data => self.evaluate(&event.data),
            // KurrentDB queries JSON records only.
            JsonPathTarget::Record if event.content_type != ContentType::Json => Verdict::Fails,
            JsonPathTarget::Record => match parse_data(&event.data) {
                Ok(value) => self.evaluate_value(record::document(event, value)),
                Err(verdict) => verdict,
            },
        }
    }

    /// Evaluates the query on JSON `data` if that fits the bounds. CPU-bound:
    /// call it off the async threads, once per batch.
    pub fn evaluate(&self, data: &[u8]) -> Verdict {
        match parse_data(data) {
            Ok(value) => self.evaluate_value(value),
            Err(verdict) => verdict,
        }
    }

    fn evaluate_value(&self, value: serde_json::Value) -> Verdict {
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

/// The JSON of `data`, or the verdict on data that is not JSON: too deep to
/// be measured, or simply not selected.
fn parse_data(data: &[u8]) -> Result<serde_json::Value, Verdict> {
    serde_json::from_slice::<serde_json::Value>(data).map_err(|_| {
        let depth = bounds::bracket_depth(data);
        if depth > MAX_DEPTH {
            Verdict::Refused(too_deep(depth))
        } else {
            Verdict::Fails
        }
    })
}

fn too_deep(depth: usize) -> String {
    format!(
        "the event data is nested {depth} levels deep; {FIELD} evaluates data \
         nested at most {MAX_DEPTH} levels"
    )
}

#[cfg(test)]
mod tests;
