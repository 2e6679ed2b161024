//! The rules every backend applies to an atomic append to several streams
//! before anything is written, so that they refuse the same requests with
//! the same errors.

use std::collections::HashSet;

use super::{check_append, StoreError, StreamAppend};

/// Refuses a multi-stream append no backend accepts: no streams at all, a
/// stream named twice (compared without regard to case, as KurrentDB does:
/// its append sessions refuse `Orders` next to `orders`), or a stream and
/// events [`check_append`] refuses.
pub(crate) fn check_stream_appends(appends: &[StreamAppend]) -> Result<(), StoreError> {
    if appends.is_empty() {
        return Err(StoreError::InvalidRequest(
            "a multi-stream append names no streams".into(),
        ));
    }
    let mut seen = HashSet::with_capacity(appends.len());
    for append in appends {
        check_append(&append.stream, &append.events)?;
        if !seen.insert(append.stream.to_lowercase()) {
            return Err(StoreError::InvalidRequest(format!(
                "stream `{}` appears twice in one multi-stream append; put all its events in \
                 one entry",
                append.stream
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ExpectedRevision, NewEvent};

    fn entry(stream: &str) -> StreamAppend {
        StreamAppend::new(
            stream,
            ExpectedRevision::Any,
            vec![NewEvent::json("Happened", &serde_json::json!({}))],
        )
    }

    #[test]
    fn refuses_empty_duplicate_and_invalid_requests() {
        assert!(matches!(
            check_stream_appends(&[]),
            Err(StoreError::InvalidRequest(m)) if m.contains("names no streams")
        ));
        assert!(matches!(
            check_stream_appends(&[entry("a"), entry("b"), entry("A")]),
            Err(StoreError::InvalidRequest(m)) if m.contains("`A` appears twice")
        ));
        assert!(matches!(
            check_stream_appends(&[entry("a"), entry("$$a")]),
            Err(StoreError::InvalidRequest(m)) if m.contains("metadata stream")
        ));
        assert!(check_stream_appends(&[entry("a"), entry("b")]).is_ok());
    }
}
