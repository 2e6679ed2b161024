//! Follows the streams that say what should run where: `$connectors` (the
//! index), `$connectors/{id}` (lifecycles), `$connectors/{id}/owner`
//! (ownership) and `$connectors-members` (heartbeats), through one
//! subscription to `$all` filtered on the server, from where the member's
//! view was loaded. A failed subscription is taken up again from the last
//! event it delivered, after a pause.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::store::{
    EventStore, Matcher, Pattern, RecordedEvent, SubscribeFrom, SubscriptionFilter,
    SubscriptionMessage,
};

/// The streams followed (checkpoints and dead letters are not).
const COORDINATION_STREAMS: &str = r"^\$connectors(-members|/[^/]+(/owner)?)?$";

fn filter() -> SubscriptionFilter {
    let pattern = Pattern::new(COORDINATION_STREAMS).unwrap_or_else(|e| {
        unreachable!("the coordination streams' pattern is valid: {e}");
    });
    SubscriptionFilter {
        stream: Some(Matcher::Regex(pattern)),
        include_system_events: true,
        ..SubscriptionFilter::default()
    }
}

/// Sends every coordination event after `from` to `events`, until
/// `cancel`, resubscribing after failures.
pub async fn follow(
    store: Arc<dyn EventStore>,
    mut from: SubscribeFrom,
    events: mpsc::Sender<RecordedEvent>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let subscribed = tokio::select! {
            _ = cancel.cancelled() => return,
            subscribed = store.subscribe_all(from, filter()) => subscribed,
        };
        match subscribed {
            Ok(mut subscription) => loop {
                let message = tokio::select! {
                    _ = cancel.cancelled() => return,
                    message = subscription.next() => message,
                };
                match message {
                    Some(Ok(SubscriptionMessage::Event(event))) => {
                        backoff.reset();
                        from = SubscribeFrom::After(event.position);
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(SubscriptionMessage::Checkpoint(position))) => {
                        from = SubscribeFrom::After(position);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "lost the subscription to the connectors' streams; resubscribing");
                        break;
                    }
                    None => {
                        tracing::warn!(
                            "the subscription to the connectors' streams ended; resubscribing"
                        );
                        break;
                    }
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to the connectors' streams; trying again");
            }
        }
        if !backoff.sleep_or_cancel(&cancel).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_takes_the_coordination_streams_only() {
        let filter = filter();
        let stream = filter.stream.expect("a stream filter");
        for followed in [
            "$connectors",
            "$connectors/orders",
            "$connectors/orders/owner",
            "$connectors-members",
        ] {
            assert!(stream.matches(followed), "{followed}");
        }
        for ignored in [
            "$connectors/orders/checkpoints",
            "$connectors/orders/dead-letters",
            "$$$connectors/orders",
            "orders",
        ] {
            assert!(!stream.matches(ignored), "{ignored}");
        }
    }
}
