//! Our own decoder of the answers to a `$all` subscription (`ReadResp`), in
//! the store's terms, and the codec that sends the request with it.
//!
//! Events are nearly every message of a subscription, so they are read
//! straight from the bytes that arrived, without building the generated
//! message first: the whole message is taken as one [`Bytes`] (no copy),
//! the event's data and metadata become slices of it (no copy), its
//! protocol metadata (`type`, `content-type`, `created`) is read in place
//! rather than into a map of owned strings, and its id is the two numbers
//! of the structured form the request asks for (a string id, from a server
//! that ignores the ask, is parsed). Other messages (confirmation,
//! checkpoints, caught up) go through the generated types.
//!
//! What the official client would make of an event is kept: `event` before
//! `link`, a missing `type` is an empty type, only `application/json` is
//! JSON, a missing or unreadable `created` is the Unix epoch. An event
//! without an id, or bytes that are not protobuf, are [`Malformed`].

use std::ops::Range;

use bytes::{Buf, Bytes};
use chrono::{DateTime, Utc};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;
use uuid::Uuid;

use super::convert::created;
use super::protocol::streams::read_resp::{self, Content};
use super::protocol::streams::{ReadReq, ReadResp};
use crate::store::{ContentType, Position, RecordedEvent};

/// One message of a subscription, in the store's terms.
#[derive(Debug)]
pub(super) enum Received {
    /// The server confirmed the subscription (its id).
    Confirmed(String),
    Event(RecordedEvent),
    Checkpoint(Position),
    CaughtUp,
    /// Nothing to pass on (a link whose event is gone, positions and
    /// other answers a subscription does not use).
    Nothing,
}

/// A message the server should not have sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server sent a message that cannot be read: {0}")]
pub(super) struct Malformed(&'static str);

const TRUNCATED: Malformed = Malformed("it ends in the middle of a field");

/// `Streams.Read` with our decoder: requests are encoded as generated,
/// answers decoded by [`received`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ReadCodec;

impl Codec for ReadCodec {
    type Encode = ReadReq;
    type Decode = Result<Received, Malformed>;
    type Encoder = RequestEncoder;
    type Decoder = AnswerDecoder;

    fn encoder(&mut self) -> RequestEncoder {
        RequestEncoder
    }

    fn decoder(&mut self) -> AnswerDecoder {
        AnswerDecoder
    }
}

#[derive(Debug)]
pub(super) struct RequestEncoder;

impl Encoder for RequestEncoder {
    type Item = ReadReq;
    type Error = Status;

    fn encode(&mut self, item: ReadReq, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the read request: {e}")))
    }
}

#[derive(Debug)]
pub(super) struct AnswerDecoder;

impl Decoder for AnswerDecoder {
    type Item = Result<Received, Malformed>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        // The message's bytes, shared with the buffer they arrived in.
        let message = src.copy_to_bytes(src.remaining());
        Ok(Some(received(&message)))
    }
}

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A `ReadResp` of a `$all` subscription.
pub(super) fn received(message: &Bytes) -> Result<Received, Malformed> {
    // `content` is a oneof: the last of its fields counts.
    let mut reader = Reader::new(message);
    let mut last = None;
    while let Some((field, wire_type)) = reader.key()? {
        if field == 1 && wire_type == LEN {
            last = Some(Some(reader.len_delimited()?));
        } else {
            reader.skip(wire_type)?;
            if (2..=9).contains(&field) {
                last = Some(None);
            }
        }
    }
    match last {
        Some(Some(read_event)) => match event_of(message, read_event)? {
            Some(event) => Ok(Received::Event(event)),
            None => Ok(Received::Nothing),
        },
        _ => other(message.clone()),
    }
}

/// A message other than an event, through the generated types.
fn other(message: Bytes) -> Result<Received, Malformed> {
    let message = ReadResp::decode(message).map_err(|_| Malformed("it is not a ReadResp"))?;
    Ok(match message.content {
        Some(Content::Confirmation(confirmation)) => {
            Received::Confirmed(confirmation.subscription_id)
        }
        Some(Content::Checkpoint(read_resp::Checkpoint {
            commit_position,
            prepare_position,
            ..
        })) => Received::Checkpoint(Position::new(commit_position, prepare_position)),
        Some(Content::CaughtUp(_)) => Received::CaughtUp,
        // Events are read by `received`; the rest is not for subscriptions.
        _ => Received::Nothing,
    })
}

/// The event of a `ReadEvent` (its `event`, else its `link`); `None` when
/// it has neither.
fn event_of(message: &Bytes, read_event: Range<usize>) -> Result<Option<RecordedEvent>, Malformed> {
    let mut reader = Reader::within(message, read_event);
    let (mut event, mut link) = (None, None);
    while let Some((field, wire_type)) = reader.key()? {
        match (field, wire_type) {
            (1, LEN) => event = Some(reader.len_delimited()?),
            (2, LEN) => link = Some(reader.len_delimited()?),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    event
        .or(link)
        .map(|recorded| recorded_event(message, recorded))
        .transpose()
}

/// A `RecordedEvent`, its payloads slices of `message`.
fn recorded_event(message: &Bytes, range: Range<usize>) -> Result<RecordedEvent, Malformed> {
    let mut reader = Reader::within(message, range);
    let mut id = None;
    let mut stream = None;
    let (mut revision, mut prepare, mut commit) = (0, 0, 0);
    let mut event_type = String::new();
    let mut content_type = ContentType::Binary;
    let mut created_at = DateTime::<Utc>::UNIX_EPOCH;
    let mut data = Bytes::new();
    let mut metadata = Bytes::new();
    while let Some((field, wire_type)) = reader.key()? {
        match (field, wire_type) {
            (1, LEN) => id = uuid(message, reader.len_delimited()?)?,
            (2, LEN) => stream = Some(stream_name(message, reader.len_delimited()?)?),
            (3, VARINT) => revision = reader.varint()?,
            (4, VARINT) => prepare = reader.varint()?,
            (5, VARINT) => commit = reader.varint()?,
            (6, LEN) => {
                let (key, value) = entry(message, reader.len_delimited()?)?;
                match key {
                    b"type" => event_type = String::from_utf8_lossy(value).into_owned(),
                    b"content-type" => {
                        content_type = if value == b"application/json" {
                            ContentType::Json
                        } else {
                            ContentType::Binary
                        };
                    }
                    b"created" => {
                        created_at = std::str::from_utf8(value)
                            .ok()
                            .and_then(created)
                            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                    }
                    _ => {}
                }
            }
            (7, LEN) => metadata = message.slice(reader.len_delimited()?),
            (8, LEN) => data = message.slice(reader.len_delimited()?),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok(RecordedEvent {
        id: id.ok_or(Malformed("an event has no id"))?,
        stream: stream.ok_or(Malformed("an event has no stream"))?,
        revision,
        position: Position::new(commit, prepare),
        event_type,
        content_type,
        created: created_at,
        data,
        metadata,
    })
}

/// A `UUID`: structured (two 64-bit halves) or a string.
fn uuid(message: &[u8], range: Range<usize>) -> Result<Option<Uuid>, Malformed> {
    let mut reader = Reader::within(message, range);
    let mut id = None;
    while let Some((field, wire_type)) = reader.key()? {
        match (field, wire_type) {
            (1, LEN) => {
                let mut halves = Reader::within(message, reader.len_delimited()?);
                let (mut most, mut least) = (0, 0);
                while let Some((field, wire_type)) = halves.key()? {
                    match (field, wire_type) {
                        (1, VARINT) => most = halves.varint()?,
                        (2, VARINT) => least = halves.varint()?,
                        (_, wire_type) => halves.skip(wire_type)?,
                    }
                }
                id = Some(Uuid::from_u64_pair(most, least));
            }
            (2, LEN) => {
                let text = &message[reader.len_delimited()?];
                id = std::str::from_utf8(text)
                    .ok()
                    .and_then(|text| Uuid::parse_str(text).ok());
            }
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok(id)
}

/// The name in a `StreamIdentifier` (field 3).
fn stream_name(message: &[u8], range: Range<usize>) -> Result<String, Malformed> {
    let mut reader = Reader::within(message, range);
    let mut name: &[u8] = &[];
    while let Some((field, wire_type)) = reader.key()? {
        match (field, wire_type) {
            (3, LEN) => name = &message[reader.len_delimited()?],
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// The key and value of a metadata entry (a map entry on the wire).
fn entry(message: &[u8], range: Range<usize>) -> Result<(&[u8], &[u8]), Malformed> {
    let mut reader = Reader::within(message, range);
    let (mut key, mut value): (&[u8], &[u8]) = (&[], &[]);
    while let Some((field, wire_type)) = reader.key()? {
        match (field, wire_type) {
            (1, LEN) => key = &message[reader.len_delimited()?],
            (2, LEN) => value = &message[reader.len_delimited()?],
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    Ok((key, value))
}

/// Reads protobuf fields from a range of a message, by position.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            at: 0,
            end: bytes.len(),
        }
    }

    /// A reader of `range` of `bytes` (a range a reader returned, so
    /// within `bytes`).
    fn within(bytes: &'a [u8], range: Range<usize>) -> Self {
        Reader {
            bytes,
            at: range.start,
            end: range.end.min(bytes.len()),
        }
    }

    /// The next field's number and wire type; `None` at the end.
    fn key(&mut self) -> Result<Option<(u64, u8)>, Malformed> {
        if self.at >= self.end {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire_type = u8::try_from(key & 7).unwrap_or(u8::MAX);
        Ok(Some((key >> 3, wire_type)))
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            if self.at >= self.end {
                return Err(TRUNCATED);
            }
            let byte = self.bytes[self.at];
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Malformed("a number is longer than ten bytes"))
    }

    /// The range of a length-delimited field's content.
    fn len_delimited(&mut self) -> Result<Range<usize>, Malformed> {
        let len = usize::try_from(self.varint()?).map_err(|_| TRUNCATED)?;
        self.take(len)
    }

    fn take(&mut self, len: usize) -> Result<Range<usize>, Malformed> {
        let start = self.at;
        let end = start.checked_add(len).filter(|end| *end <= self.end);
        let end = end.ok_or(TRUNCATED)?;
        self.at = end;
        Ok(start..end)
    }

    /// Skips a field of `wire_type` whose key was read.
    fn skip(&mut self, wire_type: u8) -> Result<(), Malformed> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => Err(Malformed("a field has an unknown wire type")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::event_store::client::uuid::{Structured, Value as UuidValue};
    use super::super::protocol::event_store::client::{StreamIdentifier, Uuid as ProtoUuid};
    use super::super::protocol::streams::read_resp::read_event::recorded_event::MetadataEntry;
    use super::super::protocol::streams::read_resp::read_event::RecordedEvent as ProtoEvent;
    use super::super::protocol::streams::read_resp::ReadEvent;
    use super::*;

    fn entry(key: &'static str, value: &str) -> MetadataEntry {
        MetadataEntry {
            key: Bytes::from_static(key.as_bytes()),
            value: Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    fn proto_event(id: Option<UuidValue>, metadata: Vec<MetadataEntry>) -> ProtoEvent {
        ProtoEvent {
            id: id.map(|value| ProtoUuid { value: Some(value) }),
            stream_identifier: Some(StreamIdentifier {
                stream_name: b"orders-1".to_vec(),
            }),
            stream_revision: 4,
            prepare_position: 11,
            commit_position: 10,
            metadata,
            custom_metadata: Bytes::from_static(b"{\"m\":1}"),
            data: Bytes::from_static(b"{\"d\":2}"),
        }
    }

    fn wire(content: Content) -> Bytes {
        Bytes::from(
            ReadResp {
                content: Some(content),
            }
            .encode_to_vec(),
        )
    }

    fn event_message(event: ProtoEvent) -> Bytes {
        wire(Content::Event(ReadEvent {
            event: Some(event),
            link: None,
            position: Some(read_resp::read_event::Position::CommitPosition(10)),
        }))
    }

    fn structured(id: Uuid) -> UuidValue {
        let (most, least) = id.as_u64_pair();
        UuidValue::Structured(Structured {
            most_significant_bits: most as i64,
            least_significant_bits: least as i64,
        })
    }

    #[test]
    fn an_event_reads_as_the_official_client_reads_it() {
        let id = Uuid::from_u64_pair(u64::MAX - 5, 42);
        let ticks = "17000000001234567";
        let message = event_message(proto_event(
            Some(structured(id)),
            vec![
                entry("type", "OrderPlaced"),
                entry("content-type", "application/json"),
                entry("created", ticks),
            ],
        ));
        let Ok(Received::Event(event)) = received(&message) else {
            panic!("an event")
        };
        assert_eq!(event.id, id);
        assert_eq!(event.stream, "orders-1");
        assert_eq!(event.revision, 4);
        assert_eq!(event.position, Position::new(10, 11));
        assert_eq!(event.event_type, "OrderPlaced");
        assert_eq!(event.content_type, ContentType::Json);
        assert_eq!(Some(event.created), created(ticks));
        assert_eq!(&event.data[..], b"{\"d\":2}");
        assert_eq!(&event.metadata[..], b"{\"m\":1}");
        assert!(
            message.as_ptr_range().contains(&event.data.as_ptr()),
            "the data is not copied out of the message"
        );

        let by_string = event_message(proto_event(
            Some(UuidValue::String(id.hyphenated().to_string())),
            vec![entry("content-type", "application/octet-stream")],
        ));
        let Ok(Received::Event(event)) = received(&by_string) else {
            panic!("an event")
        };
        assert_eq!(event.id, id);
        assert_eq!(event.event_type, "");
        assert_eq!(event.content_type, ContentType::Binary);
        assert_eq!(event.created, DateTime::<Utc>::UNIX_EPOCH);
    }

    /// What a server sends as a map reads the same, and our list of
    /// entries is a map for the official clients.
    #[test]
    fn metadata_entries_are_a_map_on_the_wire() {
        #[derive(Clone, PartialEq, prost::Message)]
        struct WithMap {
            #[prost(map = "string, string", tag = "6")]
            metadata: std::collections::HashMap<String, String>,
        }
        let map = WithMap {
            metadata: [("type", "T"), ("content-type", "application/json")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let event = ProtoEvent::decode(map.encode_to_vec().as_slice()).expect("decode");
        let back = WithMap::decode(event.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(back, map);
        let id = Uuid::new_v4();
        let mut with_map = proto_event(Some(structured(id)), Vec::new()).encode_to_vec();
        with_map.extend(map.encode_to_vec());
        let message = wire(Content::Event(ReadEvent {
            event: Some(ProtoEvent::decode(with_map.as_slice()).expect("decode")),
            link: None,
            position: None,
        }));
        let Ok(Received::Event(event)) = received(&message) else {
            panic!("an event")
        };
        assert_eq!(event.event_type, "T");
        assert_eq!(event.content_type, ContentType::Json);
    }

    #[test]
    fn a_link_stands_in_for_a_missing_event_and_unknown_fields_are_skipped() {
        let id = Uuid::new_v4();
        let link = wire(Content::Event(ReadEvent {
            event: None,
            link: Some(proto_event(Some(structured(id)), vec![entry("x", "y")])),
            position: None,
        }));
        let mut with_unknown = link.to_vec();
        // Field 15, fixed64; field 16, varint.
        with_unknown.extend([0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0x01, 0x05]);
        let Ok(Received::Event(event)) = received(&Bytes::from(with_unknown)) else {
            panic!("an event")
        };
        assert_eq!(event.id, id);
    }

    #[test]
    fn broken_events_are_malformed() {
        assert!(received(&event_message(proto_event(None, Vec::new()))).is_err());
        let message = event_message(proto_event(Some(structured(Uuid::new_v4())), Vec::new()));
        let cut = message.slice(..message.len() - 3);
        assert_eq!(received(&cut).err(), Some(TRUNCATED));
    }

    #[test]
    fn other_messages() {
        let checkpoint = wire(Content::Checkpoint(read_resp::Checkpoint {
            commit_position: 7,
            prepare_position: 8,
            timestamp: None,
        }));
        assert!(matches!(
            received(&checkpoint),
            Ok(Received::Checkpoint(p)) if p == Position::new(7, 8)
        ));
        let caught_up = wire(Content::CaughtUp(read_resp::CaughtUp::default()));
        assert!(matches!(received(&caught_up), Ok(Received::CaughtUp)));
        let confirmed = wire(Content::Confirmation(read_resp::SubscriptionConfirmation {
            subscription_id: "s-1".into(),
        }));
        assert!(matches!(received(&confirmed), Ok(Received::Confirmed(id)) if id == "s-1"));
        let gone = wire(Content::Event(ReadEvent::default()));
        assert!(matches!(received(&gone), Ok(Received::Nothing)));
        assert!(matches!(received(&Bytes::new()), Ok(Received::Nothing)));
    }
}
