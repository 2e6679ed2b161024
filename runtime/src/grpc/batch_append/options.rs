//! The options of an append (its first chunk), checked in KurrentDB's
//! order: the caller's right to write the stream, a stream named, an
//! expected position, and time left before the deadline. The deadline is
//! either an instant (`deadline_21_10_0`) or a time from now (`deadline`);
//! without one, and never beyond it, the server's write timeout applies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::super::acl::Principal;
use super::super::convert::stream_name;
use super::super::proto::streams::batch_append_req::options::{
    DeadlineOption, ExpectedStreamPosition,
};
use super::super::proto::streams::batch_append_req::Options;
use super::answers::Refusal;
use crate::store::ExpectedRevision;

/// What the options of an append say.
#[derive(Debug, PartialEq, Eq)]
pub struct AppendOptions {
    pub stream: String,
    pub expected: ExpectedRevision,
    /// How long the append may take from now, never zero.
    pub timeout: Duration,
}

/// Checks the options of an append; a refusal names the stream when the
/// options did.
pub fn check(
    options: Options,
    principal: Principal,
    write_timeout: Duration,
    now: SystemTime,
) -> Result<AppendOptions, (Option<String>, Refusal)> {
    let stream = stream_name(options.stream_identifier)
        .map_err(|status| (None, Refusal::BadRequest(status.message().to_owned())))?;
    if principal.check_stream(&stream).is_err() {
        return Err((Some(stream), Refusal::AccessDenied));
    }
    let expected = match options.expected_stream_position {
        Some(ExpectedStreamPosition::StreamPosition(revision)) => ExpectedRevision::Exact(revision),
        Some(ExpectedStreamPosition::NoStream(())) => ExpectedRevision::NoStream,
        Some(ExpectedStreamPosition::Any(())) => ExpectedRevision::Any,
        Some(ExpectedStreamPosition::StreamExists(())) => ExpectedRevision::StreamExists,
        None => {
            return Err((
                Some(stream),
                Refusal::BadRequest("the append's options have no expected stream position".into()),
            ))
        }
    };
    let timeout = requested(options.deadline_option, now)
        .map_or(write_timeout, |requested| requested.min(write_timeout));
    if timeout.is_zero() {
        return Err((Some(stream), Refusal::Timeout));
    }
    Ok(AppendOptions {
        stream,
        expected,
        timeout,
    })
}

/// The time the client gives the append from `now`; `None` when it sets
/// no deadline (or one too far away to count).
fn requested(deadline: Option<DeadlineOption>, now: SystemTime) -> Option<Duration> {
    match deadline? {
        DeadlineOption::Deadline(duration) => {
            if duration.seconds < 0 || (duration.seconds == 0 && duration.nanos <= 0) {
                return Some(Duration::ZERO);
            }
            let nanos = u32::try_from(duration.nanos.clamp(0, 999_999_999)).unwrap_or(0);
            Some(Duration::new(duration.seconds.unsigned_abs(), nanos))
        }
        DeadlineOption::Deadline21100(instant) => {
            if instant.seconds < 0 {
                return Some(Duration::ZERO);
            }
            let nanos = u32::try_from(instant.nanos.clamp(0, 999_999_999)).unwrap_or(0);
            let at =
                UNIX_EPOCH.checked_add(Duration::new(instant.seconds.unsigned_abs(), nanos))?;
            Some(at.duration_since(now).unwrap_or(Duration::ZERO))
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_types::{Duration as ProtoDuration, Timestamp};

    use super::*;
    use crate::grpc::convert::stream_identifier;

    const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

    fn options(deadline: Option<DeadlineOption>) -> Options {
        Options {
            stream_identifier: Some(stream_identifier("orders")),
            expected_stream_position: Some(ExpectedStreamPosition::StreamPosition(4)),
            deadline_option: deadline,
        }
    }

    fn timeout_of(deadline: Option<DeadlineOption>) -> Result<Duration, Refusal> {
        check(
            options(deadline),
            Principal::Admin,
            WRITE_TIMEOUT,
            SystemTime::now(),
        )
        .map(|o| o.timeout)
        .map_err(|(_, refusal)| refusal)
    }

    fn duration(seconds: i64, nanos: i32) -> Option<DeadlineOption> {
        Some(DeadlineOption::Deadline(ProtoDuration { seconds, nanos }))
    }

    #[test]
    fn a_duration_is_capped_by_the_write_timeout() {
        assert_eq!(
            timeout_of(duration(0, 500_000_000)),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(timeout_of(duration(60, 0)), Ok(WRITE_TIMEOUT));
        // What the Python client sends without a timeout.
        assert_eq!(timeout_of(duration(315_576_000_000, 0)), Ok(WRITE_TIMEOUT));
        assert_eq!(timeout_of(None), Ok(WRITE_TIMEOUT));
    }

    #[test]
    fn a_deadline_in_the_past_or_no_time_at_all_is_a_timeout() {
        assert_eq!(timeout_of(duration(0, 0)), Err(Refusal::Timeout));
        assert_eq!(timeout_of(duration(-5, 0)), Err(Refusal::Timeout));
        let past = Timestamp {
            seconds: 1_000,
            nanos: 0,
        };
        assert_eq!(
            timeout_of(Some(DeadlineOption::Deadline21100(past))),
            Err(Refusal::Timeout)
        );
    }

    #[test]
    fn an_instant_counts_from_now() {
        let now = SystemTime::now();
        let in_a_second = now + Duration::from_secs(1);
        let since_epoch = in_a_second
            .duration_since(UNIX_EPOCH)
            .expect("after the epoch");
        let instant = Timestamp {
            seconds: i64::try_from(since_epoch.as_secs()).expect("seconds"),
            nanos: i32::try_from(since_epoch.subsec_nanos()).expect("nanos"),
        };
        let checked = check(
            options(Some(DeadlineOption::Deadline21100(instant))),
            Principal::Admin,
            WRITE_TIMEOUT,
            now,
        )
        .expect("options");
        assert_eq!(checked.timeout, Duration::from_secs(1));
        // Far in the future: the write timeout.
        let far = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(
            timeout_of(Some(DeadlineOption::Deadline21100(far))),
            Ok(WRITE_TIMEOUT)
        );
    }

    #[test]
    fn options_name_a_stream_the_caller_may_write_and_an_expected_position() {
        let mut no_stream = options(None);
        no_stream.stream_identifier = None;
        let (stream, refusal) = check(
            no_stream,
            Principal::Admin,
            WRITE_TIMEOUT,
            SystemTime::now(),
        )
        .expect_err("no stream");
        assert_eq!(stream, None);
        assert!(matches!(refusal, Refusal::BadRequest(_)));

        let mut system = options(None);
        system.stream_identifier = Some(stream_identifier("$connectors/x"));
        let (stream, refusal) =
            check(system, Principal::User, WRITE_TIMEOUT, SystemTime::now()).expect_err("denied");
        assert_eq!(stream.as_deref(), Some("$connectors/x"));
        assert_eq!(refusal, Refusal::AccessDenied);

        let mut no_expected = options(None);
        no_expected.expected_stream_position = None;
        let (_, refusal) = check(
            no_expected,
            Principal::Admin,
            WRITE_TIMEOUT,
            SystemTime::now(),
        )
        .expect_err("no expected position");
        assert!(
            matches!(refusal, Refusal::BadRequest(m) if m.contains("expected stream position"))
        );

        let checked = check(
            options(None),
            Principal::User,
            WRITE_TIMEOUT,
            SystemTime::now(),
        )
        .expect("ok");
        assert_eq!(checked.stream, "orders");
        assert_eq!(checked.expected, ExpectedRevision::Exact(4));
    }
}
