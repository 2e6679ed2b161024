//! The pipeline's own waits (resubscribing, retrying a stage, writing a dead
//! letter): the runtime's [`Backoff`] from [`MIN_BACKOFF`] to
//! [`MAX_BACKOFF`].

use std::time::Duration;

use crate::backoff::Backoff;

/// The first wait.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The back-off of the pipeline's own waits.
pub(super) fn pipeline_backoff() -> Backoff {
    Backoff::new(MIN_BACKOFF, MAX_BACKOFF)
}
