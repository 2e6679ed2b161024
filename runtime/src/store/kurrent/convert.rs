//! Mappings between the store's types and the client's, and the filter
//! options of our own `$all` subscription request.

use chrono::{DateTime, Utc};
use kurrentdb::{EventData, ResolvedEvent, StreamPosition, StreamState};
use serde_json::value::RawValue;

use super::protocol::streams::read_req::options::filter_options::{Expression, Filter, Window};
use super::protocol::streams::read_req::options::FilterOptions;
use crate::store::{
    AppendResult, ContentType, ExpectedRevision, Matcher, NewEvent, Position, RecordedEvent,
    StoreError, StreamMetadata, SubscriptionFilter,
};

/// The event type of stream metadata events in `$$<stream>`.
pub(super) const METADATA_EVENT_TYPE: &str = "$metadata";

/// The metadata stream of `stream`.
pub(super) fn metadata_stream(stream: &str) -> String {
    format!("$${stream}")
}

pub(super) fn stream_state(expected: ExpectedRevision) -> StreamState {
    match expected {
        ExpectedRevision::Any => StreamState::Any,
        ExpectedRevision::NoStream => StreamState::NoStream,
        ExpectedRevision::StreamExists => StreamState::StreamExists,
        ExpectedRevision::Exact(revision) => StreamState::StreamRevision(revision),
    }
}

pub(super) fn position(p: kurrentdb::Position) -> Position {
    Position::new(p.commit, p.prepare)
}

pub(super) fn client_position(p: Position) -> kurrentdb::Position {
    kurrentdb::Position {
        commit: p.commit,
        prepare: p.prepare,
    }
}

/// Where a subscription (re)starts: after `last`, or at the start.
pub(super) fn subscription_start(last: Option<Position>) -> StreamPosition<kurrentdb::Position> {
    match last {
        Some(p) => StreamPosition::Position(client_position(p)),
        None => StreamPosition::Start,
    }
}

/// An event to append. The id goes along, so the server can recognise a
/// retried append. JSON payloads must be valid JSON (the client re-encodes
/// them; whitespace around the value is not kept).
pub(super) fn event_data(index: usize, event: NewEvent) -> Result<EventData, StoreError> {
    let NewEvent {
        id,
        event_type,
        content_type,
        data,
        metadata,
    } = event;
    let data = match content_type {
        ContentType::Binary => EventData::binary(&event_type, data),
        ContentType::Json => {
            let invalid = |why: String| {
                StoreError::InvalidRequest(format!(
                    "event {index} of the batch is marked JSON but its data is not valid JSON: \
                     {why}"
                ))
            };
            let text = String::from_utf8(data.into()).map_err(|e| invalid(e.to_string()))?;
            let raw = RawValue::from_string(text).map_err(|e| invalid(e.to_string()))?;
            EventData::json(&event_type, &raw).map_err(|e| invalid(e.to_string()))?
        }
    };
    Ok(data.id(id).metadata(metadata))
}

/// The result of an append of `batch_len` events. The client reports an
/// empty append to a stream without events as revision 0 at position 0;
/// the store's convention for that is `u64::MAX` (KurrentDB's -1).
pub(super) fn append_result(result: &kurrentdb::WriteResult, batch_len: usize) -> AppendResult {
    let position = position(result.position);
    let next_expected_revision =
        if batch_len == 0 && result.next_expected_version == 0 && position == Position::START {
            u64::MAX
        } else {
            result.next_expected_version
        };
    AppendResult {
        next_expected_revision,
        position,
    }
}

/// A recorded event of a read or subscription (`None` for a link whose
/// event is gone). Takes the event, so its type moves and its payloads stay
/// the buffers the protocol message was decoded into (no copy).
pub(super) fn recorded_event(resolved: ResolvedEvent) -> Option<RecordedEvent> {
    let event = resolved.event.or(resolved.link)?;
    let created = event
        .metadata
        .get("created")
        .and_then(|ticks| created(ticks))
        .unwrap_or(event.created);
    Some(RecordedEvent {
        id: event.id,
        stream: event.stream_id().to_owned(),
        revision: event.revision,
        position: position(event.position),
        content_type: if event.is_json {
            ContentType::Json
        } else {
            ContentType::Binary
        },
        created,
        event_type: event.event_type,
        data: event.data,
        metadata: event.custom_metadata,
    })
}

/// Parses the `created` metadata entry: .NET ticks (100 ns) since the Unix
/// epoch. (The client's own `created` drops the sub-second part.)
pub(super) fn created(ticks: &str) -> Option<DateTime<Utc>> {
    let ticks: i64 = ticks.trim().parse().ok()?;
    const TICKS_PER_SECOND: i64 = 10_000_000;
    let seconds = ticks.div_euclid(TICKS_PER_SECOND);
    let nanos = u32::try_from(ticks.rem_euclid(TICKS_PER_SECOND) * 100).ok()?;
    DateTime::from_timestamp(seconds, nanos)
}

/// Stream metadata as the JSON body of a `$metadata` event.
pub(super) fn metadata_event(metadata: &StreamMetadata) -> Result<EventData, StoreError> {
    EventData::json(METADATA_EVENT_TYPE, metadata)
        .map(|data| data.id(uuid::Uuid::new_v4()))
        .map_err(|e| StoreError::InvalidRequest(format!("metadata is not serializable: {e}")))
}

/// Stream metadata from the body of a `$metadata` event.
pub(super) fn parse_metadata(stream: &str, data: &[u8]) -> Result<StreamMetadata, StoreError> {
    serde_json::from_slice(data).map_err(|e| {
        StoreError::Unavailable(format!(
            "the metadata of stream `{stream}` is not valid stream metadata: {e}"
        ))
    })
}

/// What the server filters on for a subscription with `filter`: the server
/// filters on one of stream name or event type, so it takes the stream
/// matcher if there is one, else the event type matcher, else (when system
/// events are excluded) a regex that excludes `$` types. Whatever it does
/// not cover is checked on the client with [`SubscriptionFilter::matches`].
/// `None`: no server-side filter (and so no checkpoints from the server).
#[derive(Debug, Clone, Copy)]
pub(super) struct ServerFilter<'a> {
    on: FilterOn<'a>,
    /// Events the server considers between two checkpoints.
    window: u32,
}

#[derive(Debug, Clone, Copy)]
enum FilterOn<'a> {
    StreamName(&'a Matcher),
    EventType(&'a Matcher),
    NoSystemEvents,
}

/// The regex of the official client's `exclude_system_events`.
const NO_SYSTEM_EVENTS: &str = "^[^\\$].*";

pub(super) fn server_filter(filter: &SubscriptionFilter) -> Option<ServerFilter<'_>> {
    let expressible = |m: &&Matcher| match m {
        Matcher::Prefixes(prefixes) => !prefixes.is_empty(),
        Matcher::Regex(_) => true,
    };
    let on = if let Some(stream) = filter.stream.as_ref().filter(expressible) {
        FilterOn::StreamName(stream)
    } else if let Some(event_type) = filter.event_type.as_ref().filter(expressible) {
        FilterOn::EventType(event_type)
    } else if !filter.include_system_events {
        FilterOn::NoSystemEvents
    } else {
        return None;
    };
    Some(ServerFilter {
        on,
        window: filter.checkpoint_interval.max(1),
    })
}

impl ServerFilter<'_> {
    /// The filter as the official client takes it.
    pub(super) fn for_client(&self) -> kurrentdb::SubscriptionFilter {
        let base = match self.on {
            FilterOn::StreamName(matcher) => {
                with_matcher(kurrentdb::SubscriptionFilter::on_stream_name(), matcher)
            }
            FilterOn::EventType(matcher) => {
                with_matcher(kurrentdb::SubscriptionFilter::on_event_type(), matcher)
            }
            FilterOn::NoSystemEvents => {
                kurrentdb::SubscriptionFilter::on_event_type().exclude_system_events()
            }
        };
        base.max(self.window)
    }

    /// The filter as `Streams.Read` takes it, exactly as the official client
    /// sends it (a window of `max` events, multiplier 1).
    pub(super) fn options(&self) -> FilterOptions {
        let expression = |matcher: &Matcher| match matcher {
            Matcher::Prefixes(prefixes) => Expression {
                regex: String::new(),
                prefix: prefixes.clone(),
            },
            Matcher::Regex(regex) => Expression {
                regex: regex.as_str().to_owned(),
                prefix: Vec::new(),
            },
        };
        let filter = match self.on {
            FilterOn::StreamName(matcher) => Filter::StreamIdentifier(expression(matcher)),
            FilterOn::EventType(matcher) => Filter::EventType(expression(matcher)),
            FilterOn::NoSystemEvents => Filter::EventType(Expression {
                regex: NO_SYSTEM_EVENTS.to_owned(),
                prefix: Vec::new(),
            }),
        };
        FilterOptions {
            filter: Some(filter),
            window: Some(Window::Max(self.window)),
            checkpoint_interval_multiplier: 1,
        }
    }
}

fn with_matcher(
    base: kurrentdb::SubscriptionFilter,
    matcher: &Matcher,
) -> kurrentdb::SubscriptionFilter {
    match matcher {
        Matcher::Prefixes(prefixes) => prefixes
            .iter()
            .fold(base, |filter, prefix| filter.add_prefix(prefix)),
        Matcher::Regex(regex) => base.regex(regex.as_str()),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn created_keeps_sub_second_precision() {
        // 2024-01-02T03:04:05.1234567Z
        let expected = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.1234567Z")
            .expect("parse")
            .with_timezone(&Utc);
        let ticks = expected.timestamp() * 10_000_000 + 1_234_567;
        assert_eq!(created(&ticks.to_string()), Some(expected));
        assert_eq!(created("garbage"), None);
        assert_eq!(
            created("0"),
            DateTime::from_timestamp(0, 0),
            "the epoch itself"
        );
    }

    #[test]
    fn json_data_is_sent_as_is() {
        let event = NewEvent::json("T", &serde_json::json!({ "b": 1, "a": [1.5, "x"] }));
        let expected = event.data.clone();
        let data = event_data(0, event).expect("valid JSON");
        // The client keeps the payload private; its Debug shows it.
        let debug = format!("{data:?}");
        assert!(debug.contains(&format!("{:?}", expected)), "{debug}");
        assert!(debug.contains("application/json"), "{debug}");
    }

    #[test]
    fn invalid_json_is_refused() {
        let mut event = NewEvent::json("T", &1);
        event.data = bytes::Bytes::from_static(b"{not json");
        assert!(matches!(
            event_data(3, event),
            Err(StoreError::InvalidRequest(_))
        ));
    }

    #[test]
    fn server_filter_prefers_the_stream() {
        let filter = SubscriptionFilter {
            stream: Some(Matcher::Prefixes(vec!["a-".into(), "b-".into()])),
            event_type: Some(Matcher::Prefixes(vec!["X".into()])),
            checkpoint_interval: 7,
            ..SubscriptionFilter::default()
        };
        let on_streams = server_filter(&filter).expect("a server filter");
        let debug = format!("{:?}", on_streams.for_client());
        assert!(debug.contains("based_on_stream: true"), "{debug}");
        assert!(debug.contains("max: Some(7)"), "{debug}");
        assert!(debug.contains("\"a-\", \"b-\""), "{debug}");
        let options = on_streams.options();
        assert_eq!(options.window, Some(Window::Max(7)));
        assert_eq!(options.checkpoint_interval_multiplier, 1);
        match options.filter {
            Some(Filter::StreamIdentifier(e)) => assert_eq!(e.prefix, ["a-", "b-"]),
            other => panic!("{other:?}"),
        }

        let types = SubscriptionFilter {
            event_type: Some(Matcher::Prefixes(vec!["X".into()])),
            ..SubscriptionFilter::default()
        };
        let on_types = server_filter(&types).expect("a server filter");
        let debug = format!("{:?}", on_types.for_client());
        assert!(debug.contains("based_on_stream: false"), "{debug}");
        assert!(matches!(
            on_types.options().filter,
            Some(Filter::EventType(_))
        ));

        let system = SubscriptionFilter::default();
        let no_system = server_filter(&system).expect("a server filter");
        let client_debug = format!("{:?}", no_system.for_client());
        assert!(client_debug.contains("regex: Some"), "{client_debug}");
        match no_system.options().filter {
            Some(Filter::EventType(e)) => {
                assert!(
                    client_debug.contains(&format!("{:?}", e.regex)),
                    "{client_debug}"
                );
                assert!(e.prefix.is_empty());
            }
            other => panic!("{other:?}"),
        }

        assert!(server_filter(&SubscriptionFilter::everything()).is_none());
    }
}
