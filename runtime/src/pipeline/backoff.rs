//! The pipeline's own waits (resubscribing, retrying a stage, writing a dead
//! letter): doubling from [`MIN_BACKOFF`] to [`MAX_BACKOFF`], cut short by
//! cancellation.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The first wait.
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Sleeps for `backoff` (then doubles it, capped); false when cancelled.
pub(super) async fn sleep_or_cancel(backoff: &mut Duration, cancel: &CancellationToken) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}
