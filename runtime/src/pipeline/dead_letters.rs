//! Writing a refused event to `$connectors/{id}/dead-letters` (tagged with
//! the connector's incarnation, see [`crate::connector::DeadLetter`]),
//! within a bounded number of attempts: a letter that cannot be written stops the
//! connector instead of being retried forever while its status says
//! `running`.

use tokio_util::sync::CancellationToken;

use super::backoff::pipeline_backoff;
use super::status::PipelineStatus;
use crate::connector::{ConnectorRepository, ConnectorState, DeadLetter};
use crate::store::StoreError;

/// How writing a dead letter ended.
pub(super) enum DeadLetterWrite {
    Written,
    /// The pipeline was cancelled first; the event is delivered again after
    /// restart.
    Cancelled,
    /// It can never be written, or could not be after
    /// [`DEAD_LETTER_ATTEMPTS`]: the connector must fault with this message
    /// rather than go on as if the event were settled.
    Failed(String),
}

/// How many times an unavailable store is tried before a dead letter fails.
const DEAD_LETTER_ATTEMPTS: u32 = 8;

/// Writes a dead letter. A store that is unavailable is tried again with
/// back-off, a bounded number of times; an error that no retry can mend
/// (the stream is deleted for good, the letter is larger than the store
/// accepts) fails at once.
pub(super) async fn write_dead_letter(
    repository: &ConnectorRepository,
    connector: &ConnectorState,
    letter: DeadLetter<'_>,
    status: &PipelineStatus,
    cancel: &CancellationToken,
) -> DeadLetterWrite {
    // A destination's answer may echo a credential.
    let reason = status.redact(letter.reason);
    let response = letter.response.map(|r| status.redact(r));
    let letter = DeadLetter {
        reason: &reason,
        response: response.as_deref(),
        ..letter
    };
    let mut backoff = pipeline_backoff();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match repository.dead_letter(connector, letter.clone()).await {
            Ok(()) => return DeadLetterWrite::Written,
            Err(e) => e,
        };
        let message = format!(
            "could not write the dead letter of event {} ({}@{}, position {}) to `{}` \
             (attempt {attempts}): {error}",
            letter.event.id,
            letter.event.stream,
            letter.event.revision,
            letter.event.position,
            connector.id.dead_letter_stream(),
        );
        let retryable = matches!(error, StoreError::Unavailable(_));
        if !retryable || attempts >= DEAD_LETTER_ATTEMPTS {
            return DeadLetterWrite::Failed(message);
        }
        status.record_error(message);
        if !backoff.sleep_or_cancel(cancel).await {
            return DeadLetterWrite::Cancelled;
        }
    }
}
