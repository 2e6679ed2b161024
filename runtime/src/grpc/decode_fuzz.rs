//! Fuzz-style checks of request decoding: random bytes, and valid `Read`
//! and `Append` messages with random bytes changed or cut off, are decoded
//! as the server decodes them and run through its request checks. Nothing
//! may panic; whatever decodes is either accepted or refused with a status.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::Message;

use super::append::{new_event, proposed_bytes};
use super::convert::{stream_name, Expected};
use super::proto::streams::read_req::options::{
    filter_options, stream_options::RevisionOption, CountOption, FilterOption, FilterOptions,
    ReadDirection, StreamOption, StreamOptions, UuidOption,
};
use super::proto::streams::read_req::{options::uuid_option, Options};
use super::proto::streams::{append_req, AppendReq, ReadReq};
use super::proto::{Empty, StreamIdentifier};
use super::request::ReadRequest;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    })
}

fn valid_read() -> Vec<u8> {
    ReadReq {
        options: Some(Options {
            stream_option: Some(StreamOption::Stream(StreamOptions {
                stream_identifier: Some(StreamIdentifier {
                    stream_name: b"orders-1".to_vec(),
                }),
                revision_option: Some(RevisionOption::Revision(7)),
            })),
            read_direction: ReadDirection::Backwards as i32,
            resolve_links: false,
            count_option: Some(CountOption::Count(100)),
            filter_option: Some(FilterOption::Filter(FilterOptions {
                filter: Some(filter_options::Filter::EventType(
                    filter_options::Expression {
                        regex: "^Order.*".into(),
                        prefix: vec!["Or".into()],
                    },
                )),
                window: Some(filter_options::Window::Max(32)),
                checkpoint_interval_multiplier: 2,
            })),
            uuid_option: Some(UuidOption {
                content: Some(uuid_option::Content::Structured(Empty {})),
            }),
            control_option: None,
        }),
    }
    .encode_to_vec()
}

fn valid_appends() -> Vec<Vec<u8>> {
    let options = AppendReq {
        content: Some(append_req::Content::Options(append_req::Options {
            stream_identifier: Some(StreamIdentifier {
                stream_name: b"orders-1".to_vec(),
            }),
            expected_stream_revision: Some(append_req::options::ExpectedStreamRevision::Any(
                Empty {},
            )),
        })),
    };
    let metadata = HashMap::from([
        ("type".to_owned(), "OrderPlaced".to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ]);
    let proposed = AppendReq {
        content: Some(append_req::Content::ProposedMessage(
            append_req::ProposedMessage {
                id: Some(super::convert::uuid_to_proto(uuid::Uuid::nil(), false)),
                metadata,
                custom_metadata: b"{}".to_vec(),
                data: b"{\"total\": 1}".to_vec(),
            },
        )),
    };
    vec![options.encode_to_vec(), proposed.encode_to_vec()]
}

/// `bytes` with some bytes replaced, then maybe cut short.
fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    (
        proptest::collection::vec((0..len, any::<u8>()), 1..6),
        0..=len,
    )
        .prop_map(move |(changes, keep)| {
            let mut bytes = valid.clone();
            for (at, byte) in changes {
                bytes[at] = byte;
            }
            bytes.truncate(keep.max(1));
            bytes
        })
}

fn check_read(bytes: &[u8]) {
    if let Ok(request) = ReadReq::decode(bytes) {
        let _ = ReadRequest::parse(request.options);
    }
}

fn check_append(bytes: &[u8]) {
    let Ok(request) = AppendReq::decode(bytes) else {
        return;
    };
    match request.content {
        Some(append_req::Content::Options(options)) => {
            let _ = stream_name(options.stream_identifier);
            let Expected(_) = options.expected_stream_revision.into();
        }
        Some(append_req::Content::ProposedMessage(proposed)) => {
            let counted = proposed_bytes(&proposed);
            let own = proposed.data.len() + proposed.custom_metadata.len();
            assert!(counted >= own, "every field counts towards the limit");
            let _ = new_event(proposed);
        }
        None => {}
    }
}

#[test]
fn random_bytes_decoded_as_requests_never_panic() {
    runner()
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |bytes| {
            check_read(&bytes);
            check_append(&bytes);
            Ok(())
        })
        .expect("no panic");
}

#[test]
fn mutated_read_requests_are_accepted_or_refused_never_panic() {
    runner()
        .run(&mutated(valid_read()), |bytes| {
            check_read(&bytes);
            Ok(())
        })
        .expect("no panic");
}

#[test]
fn mutated_append_messages_are_accepted_or_refused_never_panic() {
    for valid in valid_appends() {
        runner()
            .run(&mutated(valid), |bytes| {
                check_append(&bytes);
                Ok(())
            })
            .expect("no panic");
    }
}
