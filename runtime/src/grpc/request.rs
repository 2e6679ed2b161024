//! A `ReadReq` checked and turned into what to do: read a stream, read
//! `$all`, or subscribe to either. Invalid requests fail before the response
//! stream starts.

use tonic::Status;

use super::convert::stream_name;
use super::proto::streams::read_req::options::{
    all_options::AllOption, filter_options, stream_options::RevisionOption, CountOption,
    FilterOption, FilterOptions, ReadDirection, StreamOption,
};
use super::proto::streams::read_req::{options::uuid_option, Options};
use crate::store::{
    AllStart, Direction, Matcher, Pattern, Position, StreamStart, SubscribeFrom, SubscriptionFilter,
};

/// The search window a filtered read uses when the client leaves the choice
/// to the server; checkpoints come every window times the multiplier.
const DEFAULT_WINDOW: u32 = 32;

/// Where a stream subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrom {
    Start,
    End,
    /// After this revision (exclusive).
    After(u64),
}

/// A validated read request.
#[derive(Debug, Clone)]
pub enum ReadPlan {
    Stream {
        stream: String,
        direction: Direction,
        from: StreamStart,
        count: u64,
    },
    All {
        direction: Direction,
        from: AllStart,
        count: u64,
        filter: Option<SubscriptionFilter>,
    },
    SubscribeStream {
        stream: String,
        from: StreamFrom,
    },
    SubscribeAll {
        from: SubscribeFrom,
        filter: Option<SubscriptionFilter>,
    },
}

/// A read request: the plan and how event ids are sent back.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub plan: ReadPlan,
    pub structured_ids: bool,
}

impl ReadRequest {
    pub fn parse(options: Option<Options>) -> Result<ReadRequest, Status> {
        let options = options.ok_or_else(|| Status::invalid_argument("the read has no options"))?;
        let structured_ids = !matches!(
            options
                .uuid_option
                .as_ref()
                .and_then(|u| u.content.as_ref()),
            Some(uuid_option::Content::String(_))
        );
        let direction = match ReadDirection::try_from(options.read_direction) {
            Ok(ReadDirection::Forwards) => Direction::Forwards,
            Ok(ReadDirection::Backwards) => Direction::Backwards,
            Err(_) => return Err(Status::invalid_argument("unknown read direction")),
        };
        let filter = match options.filter_option {
            Some(FilterOption::Filter(filter)) => Some(parse_filter(filter)?),
            Some(FilterOption::NoFilter(_)) | None => None,
        };
        let subscription = matches!(options.count_option, Some(CountOption::Subscription(_)));
        let count = match options.count_option {
            Some(CountOption::Count(count)) => count,
            _ => u64::MAX,
        };
        let plan = match options.stream_option {
            Some(StreamOption::Stream(stream)) => {
                let name = stream_name(stream.stream_identifier)?;
                if filter.is_some() {
                    return Err(Status::invalid_argument(
                        "filters apply to `$all` only, not to stream reads",
                    ));
                }
                if subscription {
                    if name.starts_with("$$") {
                        return Err(Status::invalid_argument(format!(
                            "subscribing to the metadata stream `{name}` is not supported"
                        )));
                    }
                    let from = match stream.revision_option {
                        Some(RevisionOption::Revision(r)) => StreamFrom::After(r),
                        Some(RevisionOption::End(_)) => StreamFrom::End,
                        Some(RevisionOption::Start(_)) | None => StreamFrom::Start,
                    };
                    ReadPlan::SubscribeStream { stream: name, from }
                } else {
                    let from = match stream.revision_option {
                        Some(RevisionOption::Revision(r)) => StreamStart::Revision(r),
                        Some(RevisionOption::End(_)) => StreamStart::End,
                        Some(RevisionOption::Start(_)) | None => StreamStart::Start,
                    };
                    ReadPlan::Stream {
                        stream: name,
                        direction,
                        from,
                        count,
                    }
                }
            }
            Some(StreamOption::All(all)) => {
                if subscription {
                    let from = match all.all_option {
                        Some(AllOption::Position(p)) => SubscribeFrom::After(Position::new(
                            p.commit_position,
                            p.prepare_position,
                        )),
                        Some(AllOption::End(_)) => SubscribeFrom::End,
                        Some(AllOption::Start(_)) | None => SubscribeFrom::Start,
                    };
                    ReadPlan::SubscribeAll { from, filter }
                } else {
                    let from = match all.all_option {
                        Some(AllOption::Position(p)) => {
                            AllStart::Position(Position::new(p.commit_position, p.prepare_position))
                        }
                        Some(AllOption::End(_)) => AllStart::End,
                        Some(AllOption::Start(_)) | None => AllStart::Start,
                    };
                    ReadPlan::All {
                        direction,
                        from,
                        count,
                        filter,
                    }
                }
            }
            None => {
                return Err(Status::invalid_argument(
                    "the read names neither a stream nor `$all`",
                ))
            }
        };
        if subscription && direction == Direction::Backwards {
            return Err(Status::invalid_argument("subscriptions read forwards only"));
        }
        Ok(ReadRequest {
            plan,
            structured_ids,
        })
    }
}

/// A server-side filter: by stream name or by event type, prefixes or a
/// regular expression (matched anywhere, as the server does). System events
/// are not excluded here: clients exclude them with an event-type regex.
fn parse_filter(options: FilterOptions) -> Result<SubscriptionFilter, Status> {
    let (by_stream, expression) = match options.filter {
        Some(filter_options::Filter::StreamIdentifier(e)) => (true, e),
        Some(filter_options::Filter::EventType(e)) => (false, e),
        None => {
            return Err(Status::invalid_argument(
                "a filter needs a stream-name or an event-type expression",
            ))
        }
    };
    let matcher = if !expression.regex.is_empty() {
        let regex = Pattern::new(&expression.regex).map_err(|e| {
            Status::invalid_argument(format!(
                "the filter's regular expression `{}` is invalid: {e}",
                expression.regex
            ))
        })?;
        Matcher::Regex(regex)
    } else if !expression.prefix.is_empty() {
        Matcher::Prefixes(expression.prefix)
    } else {
        return Err(Status::invalid_argument(
            "a filter expression needs a regex or at least one prefix",
        ));
    };
    let window = match options.window {
        Some(filter_options::Window::Max(max)) => max.max(1),
        Some(filter_options::Window::Count(_)) | None => DEFAULT_WINDOW,
    };
    let multiplier = options.checkpoint_interval_multiplier.max(1);
    let (stream, event_type) = if by_stream {
        (Some(matcher), None)
    } else {
        (None, Some(matcher))
    };
    Ok(SubscriptionFilter {
        stream,
        event_type,
        include_system_events: true,
        checkpoint_interval: window.saturating_mul(multiplier),
    })
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::grpc::proto::streams::read_req::options::{
        AllOptions, StreamOptions, SubscriptionOptions, UuidOption,
    };
    use crate::grpc::proto::{Empty, StreamIdentifier};

    fn subscribe_all(filter: Option<FilterOptions>) -> Options {
        Options {
            stream_option: Some(StreamOption::All(AllOptions {
                all_option: Some(AllOption::Start(Empty {})),
            })),
            read_direction: ReadDirection::Forwards as i32,
            resolve_links: false,
            count_option: Some(CountOption::Subscription(SubscriptionOptions {})),
            filter_option: Some(match filter {
                Some(filter) => FilterOption::Filter(filter),
                None => FilterOption::NoFilter(Empty {}),
            }),
            uuid_option: Some(UuidOption {
                content: Some(uuid_option::Content::String(Empty {})),
            }),
            control_option: None,
        }
    }

    fn event_types(regex: &str, window: Option<filter_options::Window>) -> FilterOptions {
        FilterOptions {
            filter: Some(filter_options::Filter::EventType(
                filter_options::Expression {
                    regex: regex.to_owned(),
                    prefix: Vec::new(),
                },
            )),
            window,
            checkpoint_interval_multiplier: 2,
        }
    }

    #[test]
    fn filtered_subscription_to_all() {
        let request = ReadRequest::parse(Some(subscribe_all(Some(event_types(
            "^Order",
            Some(filter_options::Window::Max(10)),
        )))))
        .unwrap();
        assert!(!request.structured_ids, "the client asked for string ids");
        let ReadPlan::SubscribeAll { from, filter } = request.plan else {
            panic!("{:?}", request.plan)
        };
        assert_eq!(from, SubscribeFrom::Start);
        let filter = filter.expect("a filter");
        assert_eq!(filter.checkpoint_interval, 20, "window x multiplier");
        assert!(filter.stream.is_none());
        assert!(filter.event_type.is_some_and(|m| m.matches("OrderPlaced")));
    }

    #[test]
    fn server_chosen_window() {
        let request = ReadRequest::parse(Some(subscribe_all(Some(event_types(
            "x",
            Some(filter_options::Window::Count(Empty {})),
        )))))
        .unwrap();
        let ReadPlan::SubscribeAll { filter, .. } = request.plan else {
            panic!("{:?}", request.plan)
        };
        assert_eq!(filter.unwrap().checkpoint_interval, DEFAULT_WINDOW * 2);
    }

    #[test]
    fn invalid_regex_is_refused_with_the_reason() {
        let status =
            ReadRequest::parse(Some(subscribe_all(Some(event_types("(", None))))).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("regular expression `(`"),
            "{status:?}"
        );
    }

    #[test]
    fn the_python_clients_default_filter_is_accepted() {
        let default_exclude = r"^(?!(\$.+$|PersistentConfig\d+$|Result$))";
        let request = ReadRequest::parse(Some(subscribe_all(Some(event_types(
            default_exclude,
            None,
        )))))
        .unwrap();
        let ReadPlan::SubscribeAll { filter, .. } = request.plan else {
            panic!("{:?}", request.plan)
        };
        let filter = filter.unwrap();
        let event_type = filter.event_type.as_ref().unwrap();
        assert!(event_type.matches("OrderPlaced"));
        assert!(!event_type.matches("$metadata"));
    }

    #[test]
    fn stream_read_with_count() {
        let options = Options {
            stream_option: Some(StreamOption::Stream(StreamOptions {
                stream_identifier: Some(StreamIdentifier {
                    stream_name: b"orders-1".to_vec(),
                }),
                revision_option: Some(RevisionOption::Revision(5)),
            })),
            read_direction: ReadDirection::Backwards as i32,
            count_option: Some(CountOption::Count(3)),
            ..subscribe_all(None)
        };
        let request = ReadRequest::parse(Some(options.clone())).unwrap();
        match request.plan {
            ReadPlan::Stream {
                stream,
                direction,
                from,
                count,
            } => {
                assert_eq!(stream, "orders-1");
                assert_eq!(direction, Direction::Backwards);
                assert_eq!(from, StreamStart::Revision(5));
                assert_eq!(count, 3);
            }
            other => panic!("{other:?}"),
        }
        let backwards_subscription = Options {
            count_option: Some(CountOption::Subscription(SubscriptionOptions {})),
            ..options
        };
        let status = ReadRequest::parse(Some(backwards_subscription)).unwrap_err();
        assert!(status.message().contains("forwards only"), "{status:?}");
    }
}
