//! `/streams`: append to and read streams and the global log (`$all`), in
//! the shape KurrentDB's HTTP API used. A read page is bounded in bytes
//! ([`PAGE_BYTES`]) and says where the next one starts (`nextFrom`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use super::error::ApiError;
use super::json::StrictJson;
use super::path::PathName;
use super::AppState;
use crate::sinks::envelope::envelope;
use crate::store::{
    AllStart, ContentType, Direction, ExpectedRevision, NewEvent, Position, StreamStart,
    MAX_EVENT_TYPE_BYTES,
};

/// The most events one read returns.
const MAX_READ: usize = 4096;
/// The most event bytes one read returns (data, metadata and names); a page
/// of larger events stops early and says where to read on (`nextFrom`).
pub const PAGE_BYTES: usize = 16 * 1024 * 1024;
const DEFAULT_READ: usize = 20;

/// An append's body as one example, for errors.
const APPEND_EXAMPLE: &str =
    r#"[{"eventType": "OrderPlaced", "data": {"orderId": "42", "total": 12}}]"#;

/// One event of an append request. Its type is `eventType`, or `type` as
/// reads show it, so a read event can be sent back as it is.
#[derive(Deserialize)]
#[serde(try_from = "EventFields")]
pub struct EventToAppend {
    /// Generated when absent.
    event_id: Option<Uuid>,
    event_type: String,
    /// Any JSON value.
    data: serde_json::Value,
    /// A JSON object, if any.
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The fields of an event as sent, before its type is settled.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EventFields {
    event_id: Option<Uuid>,
    event_type: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    data: serde_json::Value,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl TryFrom<EventFields> for EventToAppend {
    type Error = String;

    fn try_from(fields: EventFields) -> Result<Self, String> {
        let event_type = match (fields.event_type, fields.type_) {
            (Some(t), None) | (None, Some(t)) => t,
            (Some(_), Some(_)) => {
                return Err(
                    "give the event's type once, as `eventType` or `type`, not both".to_owned(),
                )
            }
            (None, None) => {
                return Err(format!(
                    "missing field `eventType` (or `type`), e.g. `{APPEND_EXAMPLE}`"
                ))
            }
        };
        Ok(Self {
            event_id: fields.event_id,
            event_type,
            data: fields.data,
            metadata: fields.metadata,
        })
    }
}

/// The body of an append: an array of events. A single event object is
/// refused with the array it belongs in.
pub struct EventsToAppend(Vec<EventToAppend>);

impl<'de> Deserialize<'de> for EventsToAppend {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EventsVisitor;
        impl<'de> Visitor<'de> for EventsVisitor {
            type Value = EventsToAppend;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an array of events, e.g. `{APPEND_EXAMPLE}`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventsToAppend, A::Error> {
                let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(event) = seq.next_element()? {
                    events.push(event);
                }
                Ok(EventsToAppend(events))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<EventsToAppend, A::Error> {
                Err(de::Error::custom(format!(
                    "the body is one object; wrap the events in an array, e.g. `{APPEND_EXAMPLE}`"
                )))
            }
        }
        deserializer.deserialize_any(EventsVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppendQuery {
    /// `any`, `no-stream`, `exists` or a revision number.
    expected_revision: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AppendResponse {
    next_expected_revision: u64,
    position: u64,
}

fn query_params<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("invalid-query", e.body_text()))
}

fn parse_expected(value: &str) -> Result<ExpectedRevision, ApiError> {
    match value.trim() {
        "any" | "-2" => Ok(ExpectedRevision::Any),
        "no-stream" | "-1" => Ok(ExpectedRevision::NoStream),
        "exists" | "stream-exists" | "-4" => Ok(ExpectedRevision::StreamExists),
        other => other.parse().map(ExpectedRevision::Exact).map_err(|_| {
            ApiError::bad_request(
                "invalid-expected-revision",
                format!("expected revision `{other}` is not valid; use `any`, `no-stream`, `exists` or a revision number such as `4`"),
            )
        }),
    }
}

fn check_stream_name(stream: &str) -> Result<(), ApiError> {
    if stream.is_empty() || stream.len() > 1024 {
        return Err(ApiError::bad_request(
            "invalid-stream",
            "a stream name must have 1 to 1024 characters, e.g. `orders-42`",
        ));
    }
    if stream.starts_with('$') {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "system-stream",
            format!("`{stream}` is a system stream (it starts with `$`); only the node writes to system streams"),
        ));
    }
    Ok(())
}

/// `POST /streams/{stream}`: a JSON array of events, appended atomically;
/// each names its type as `eventType` or `type`.
/// The expected revision comes from `?expectedRevision=` or the
/// `ES-ExpectedVersion` header.
#[utoipa::path(
    post,
    path = "/streams/{stream}",
    operation_id = "appendToStream",
    tag = "streams",
    params(
        ("stream" = String, Path, description = "The stream, e.g. `orders-42`"),
        ("expectedRevision" = Option<String>, Query, description = "`any`, `no-stream`, `exists` or a revision number (or the `ES-ExpectedVersion` header)"),
    ),
    request_body(
        content = Vec<Object>,
        content_type = "application/json",
        description = "The events: each with `eventType` (or `type`), `data`, and optionally `eventId` and `metadata` (an object)",
        example = json!([{"eventType": "OrderPlaced", "data": {"orderId": "42", "total": 12}}])
    ),
    responses(
        (status = 201, description = "Appended, atomically", body = AppendResponse),
        (status = 400, description = "An invalid stream, body or expected revision", body = super::error::ErrorBody),
        (status = 409, description = "The stream is not at the expected revision", body = super::error::ErrorBody),
        (status = 413, description = "The body is too large", body = super::error::ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = super::error::ErrorBody),
    )
)]
pub async fn append(
    State(state): State<AppState>,
    PathName(stream): PathName,
    query: Result<Query<AppendQuery>, QueryRejection>,
    headers: HeaderMap,
    StrictJson(EventsToAppend(events)): StrictJson<EventsToAppend>,
) -> Result<impl IntoResponse, ApiError> {
    check_stream_name(&stream)?;
    let query = query_params(query)?;
    let header = headers
        .get("es-expectedversion")
        .map(|v| v.to_str().unwrap_or("<not text>").to_owned());
    let expected = match query.expected_revision.or(header) {
        Some(value) => parse_expected(&value)?,
        None => ExpectedRevision::Any,
    };
    if events.is_empty() {
        return Err(ApiError::bad_request(
            "invalid-body",
            "the array of events is empty; send at least one event",
        ));
    }
    let mut new_events = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        if event.event_type.is_empty()
            || event.event_type.starts_with('$')
            || event.event_type.len() > MAX_EVENT_TYPE_BYTES
        {
            return Err(ApiError::bad_request(
                "invalid-body",
                format!("at `[{i}].eventType`: must have 1 to {MAX_EVENT_TYPE_BYTES} bytes and must not start with `$`, e.g. `OrderPlaced`"),
            ));
        }
        new_events.push(NewEvent {
            id: event.event_id.unwrap_or_else(Uuid::new_v4),
            event_type: event.event_type,
            content_type: ContentType::Json,
            data: serde_json::to_vec(&event.data).unwrap_or_default().into(),
            metadata: event
                .metadata
                .map(|m| serde_json::to_vec(&m).unwrap_or_default())
                .unwrap_or_default()
                .into(),
        });
    }
    let result = state.store.append(&stream, expected, new_events).await?;
    Ok((
        StatusCode::CREATED,
        Json(AppendResponse {
            next_expected_revision: result.next_expected_revision,
            position: result.position.commit,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// `forwards` (default) or `backwards`.
    direction: Option<String>,
    /// `start`, `end`, or a revision (a log position for `$all`).
    from: Option<String>,
    /// How many events, at most 4096 (default 20).
    count: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReadResponse {
    /// The events: `id`, `stream`, `revision`, `position`, `type`,
    /// `created`, `data`, `metadata`.
    events: Vec<serde_json::Value>,
    /// Present when the page stopped at [`PAGE_BYTES`] before `count`
    /// events: the `from` of the next page in the same direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_from: Option<u64>,
}

enum From {
    Start,
    End,
    At(u64),
}

fn parse_read(query: &ReadQuery) -> Result<(Direction, From, usize), ApiError> {
    let direction = match query.direction.as_deref() {
        None | Some("forwards") | Some("forward") => Direction::Forwards,
        Some("backwards") | Some("backward") => Direction::Backwards,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-query",
                format!("direction `{other}` is not valid; use `forwards` or `backwards`"),
            ))
        }
    };
    let from = match query.from.as_deref() {
        None if direction == Direction::Forwards => From::Start,
        None => From::End,
        Some("start") => From::Start,
        Some("end") => From::End,
        Some(n) => From::At(n.parse().map_err(|_| {
            ApiError::bad_request(
                "invalid-query",
                format!("from `{n}` is not valid; use `start`, `end` or a number such as `10`"),
            )
        })?),
    };
    let count = query.count.unwrap_or(DEFAULT_READ);
    if count == 0 || count > MAX_READ {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("count must be between 1 and {MAX_READ}, e.g. `100`"),
        ));
    }
    Ok((direction, from, count))
}

/// `GET /streams/{stream}` and `GET /streams/$all`.
#[utoipa::path(
    get,
    path = "/streams/{stream}",
    operation_id = "readStream",
    tag = "streams",
    params(
        ("stream" = String, Path, description = "The stream, e.g. `orders-42`; `$all` reads the whole log"),
        ("direction" = Option<String>, Query, description = "`forwards` (default) or `backwards`"),
        ("from" = Option<String>, Query, description = "`start`, `end`, or a revision (a log position for `$all`)"),
        ("count" = Option<usize>, Query, description = "How many events, at most 4096 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of events", body = ReadResponse),
        (status = 400, description = "An invalid stream or query", body = super::error::ErrorBody),
        (status = 404, description = "No such stream", body = super::error::ErrorBody),
    )
)]
pub async fn read(
    State(state): State<AppState>,
    PathName(stream): PathName,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (direction, from, count) = parse_read(&query_params(query)?)?;
    let all = stream == "$all";
    let page = if all {
        let start = match from {
            From::Start => AllStart::Start,
            From::End => AllStart::End,
            From::At(p) => AllStart::Position(Position::new(p, p)),
        };
        state
            .store
            .read_all_page(direction, start, count, PAGE_BYTES)
            .await?
    } else {
        let start = match from {
            From::Start => StreamStart::Start,
            From::End => StreamStart::End,
            From::At(r) => StreamStart::Revision(r),
        };
        state
            .store
            .read_stream_page(&stream, direction, start, count, PAGE_BYTES)
            .await?
    };
    let next_from = match page.events.last() {
        Some(last) if page.cut_short => {
            let at = if all {
                last.position.commit
            } else {
                last.revision
            };
            match direction {
                Direction::Forwards => at.checked_add(1),
                Direction::Backwards => at.checked_sub(1),
            }
        }
        _ => None,
    };
    Ok(Json(ReadResponse {
        events: page.events.iter().map(envelope).collect(),
        next_from,
    }))
}
