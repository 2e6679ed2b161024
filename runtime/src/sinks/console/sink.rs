//! The running console sink.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::config::{ConsoleFormat, ConsoleSinkConfig};
use crate::sinks::envelope::{is_json, minify_json_into, write_envelope};
use crate::sinks::{BatchLimits, DeliveryOutcome, Sink, SinkContext, SinkError};
use crate::store::{ContentType, RecordedEvent};

/// Where the lines go.
enum Output {
    Stdout,
    /// Another writer (tests, embedding).
    Writer(Arc<Mutex<Box<dyn Write + Send>>>),
}

/// Prints events to standard output (see the [module docs](super)).
pub struct ConsoleSink {
    config: ConsoleSinkConfig,
    ctx: SinkContext,
    output: Output,
}

impl ConsoleSink {
    pub fn new(config: ConsoleSinkConfig, ctx: SinkContext) -> Self {
        Self {
            config,
            ctx,
            output: Output::Stdout,
        }
    }

    /// A console sink that writes to `writer` instead of standard output.
    pub fn with_writer(
        config: ConsoleSinkConfig,
        ctx: SinkContext,
        writer: impl Write + Send + 'static,
    ) -> Self {
        Self {
            config,
            ctx,
            output: Output::Writer(Arc::new(Mutex::new(Box::new(writer)))),
        }
    }
}

#[async_trait]
impl Sink for ConsoleSink {
    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: 500,
            max_bytes: 1024 * 1024,
            linger: Duration::from_millis(5),
        }
    }

    async fn deliver(
        &mut self,
        batch: &[RecordedEvent],
    ) -> Result<Vec<DeliveryOutcome>, SinkError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let text = format_batch(&self.config, batch);
        let connector = self.ctx.connector_id.clone();
        let fail = move |what: &'static str, source: std::io::Error| SinkError::Output {
            connector,
            what,
            source,
        };
        // Writing to a pipe can block: keep it off the async workers.
        let written = match &self.output {
            Output::Stdout => {
                tokio::task::spawn_blocking(move || {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(&text)?;
                    stdout.flush()
                })
                .await
            }
            Output::Writer(writer) => {
                let writer = Arc::clone(writer);
                tokio::task::spawn_blocking(move || {
                    let mut writer = writer
                        .lock()
                        .map_err(|_| std::io::Error::other("the writer's lock is poisoned"))?;
                    writer.write_all(&text)?;
                    writer.flush()
                })
                .await
            }
        };
        match written {
            Ok(Ok(())) => Ok(vec![DeliveryOutcome::Delivered; batch.len()]),
            Ok(Err(error)) => Err(fail(
                match self.output {
                    Output::Stdout => "writing to standard output",
                    Output::Writer(_) => "writing the output",
                },
                error,
            )),
            Err(join) => Err(fail(
                "the output task",
                std::io::Error::other(join.to_string()),
            )),
        }
    }
}

/// The lines the console sink prints for `batch`, each ending with `\n`.
pub fn format_batch(config: &ConsoleSinkConfig, batch: &[RecordedEvent]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.iter().map(|e| e.data.len() + 96).sum());
    for event in batch {
        match config.format {
            ConsoleFormat::Text => write_text_line(event, config.include_data, &mut out),
            ConsoleFormat::Json => write_envelope(event, &mut out),
        }
        out.push(b'\n');
    }
    out
}

/// `#1234 orders-42@7 OrderPlaced {"total":12}`, without the data when
/// `include_data` is off.
fn write_text_line(event: &RecordedEvent, include_data: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("#{} ", event.position.commit).as_bytes());
    write_escaped(&event.stream, out);
    out.extend_from_slice(format!("@{} ", event.revision).as_bytes());
    write_escaped(&event.event_type, out);
    if !include_data {
        return;
    }
    out.push(b' ');
    if event.content_type == ContentType::Json && is_json(&event.data) {
        minify_json_into(&event.data, out);
    } else {
        out.extend_from_slice(format!("<{} bytes>", event.data.len()).as_bytes());
    }
}

/// Names with control characters (a newline) must not break the line.
fn write_escaped(name: &str, out: &mut Vec<u8>) {
    if name.chars().any(char::is_control) {
        for c in name.chars() {
            if c.is_control() {
                out.extend_from_slice(c.escape_default().to_string().as_bytes());
            } else {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    } else {
        out.extend_from_slice(name.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::sinks::envelope::envelope;
    use crate::store::Position;

    fn event(revision: u64, content_type: ContentType, data: &[u8]) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::from_u128(u128::from(revision) + 1),
            stream: "orders-42".into(),
            revision,
            position: Position::new(1234 + revision, 1234 + revision),
            event_type: "OrderPlaced".into(),
            content_type,
            created: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            data: data.to_vec().into(),
            metadata: Default::default(),
        }
    }

    /// A writer whose output the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_lines() {
        let mut weird = event(9, ContentType::Json, b"{oops");
        weird.stream = "a\nb".into();
        let batch = [
            event(7, ContentType::Json, b"{ \"total\": 12 }"),
            event(8, ContentType::Binary, &[1, 2, 3]),
            weird,
        ];
        let text = String::from_utf8(format_batch(&ConsoleSinkConfig::default(), &batch)).unwrap();
        assert_eq!(
            text,
            "#1241 orders-42@7 OrderPlaced {\"total\":12}\n\
             #1242 orders-42@8 OrderPlaced <3 bytes>\n\
             #1243 a\\nb@9 OrderPlaced <5 bytes>\n"
        );
        let names_only = ConsoleSinkConfig {
            include_data: false,
            ..ConsoleSinkConfig::default()
        };
        let text = String::from_utf8(format_batch(&names_only, &batch[..2])).unwrap();
        assert_eq!(
            text,
            "#1241 orders-42@7 OrderPlaced\n#1242 orders-42@8 OrderPlaced\n"
        );
    }

    #[test]
    fn json_lines() {
        let batch = [
            event(1, ContentType::Json, b"{\n\"a\": 1\n}"),
            event(2, ContentType::Binary, b"x"),
        ];
        let json = ConsoleSinkConfig {
            format: ConsoleFormat::Json,
            ..ConsoleSinkConfig::default()
        };
        let text = String::from_utf8(format_batch(&json, &batch)).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, [envelope(&batch[0]), envelope(&batch[1])]);
    }

    #[tokio::test]
    async fn delivers_every_event_of_a_batch() {
        let out = Shared::default();
        let config = ConsoleSinkConfig::default();
        let mut sink = ConsoleSink::with_writer(config, SinkContext::detached("c1"), out.clone());
        let batch = [
            event(1, ContentType::Json, b"1"),
            event(2, ContentType::Json, b"2"),
        ];
        let outcomes = sink.deliver(&batch).await.unwrap();
        assert_eq!(outcomes, vec![DeliveryOutcome::Delivered; 2]);
        assert_eq!(
            out.0
                .lock()
                .unwrap()
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            2
        );
        assert_eq!(sink.deliver(&[]).await.unwrap(), vec![]);
        assert_eq!(sink.batch_limits().max_events, 500);
    }

    #[tokio::test]
    async fn a_closed_pipe_is_a_sink_error() {
        let config = ConsoleSinkConfig::default();
        let mut sink = ConsoleSink::with_writer(config, SinkContext::detached("c1"), Broken);
        let error = sink
            .deliver(&[event(1, ContentType::Json, b"1")])
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, SinkError::Output { .. }), "{error}");
        assert!(message.contains("connector `c1`"), "{error}");
        assert!(message.to_lowercase().contains("broken pipe"), "{error}");
    }
}
