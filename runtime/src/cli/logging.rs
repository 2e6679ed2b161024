//! The logs of a node (`serve`, `demo`): where they go (standard error),
//! in which format (`--log-format text|json`), and which lines
//! (`--log-filter`).
//!
//! The filter is the first of `--log-filter`, `CONNECTORS_LOG`, `RUST_LOG`
//! that is set, in the syntax of `RUST_LOG` (e.g. `info,connectors=debug`);
//! `info` when none is. Text is coloured only when standard error is a
//! terminal (and `NO_COLOR` is unset); JSON never is. A JSON line is one
//! object with `timestamp`, `level`, `target`, `fields` (the message and the
//! event's fields) and `spans`, the spans it happened in with their fields:
//! `connector` (with `member`) for a connector's pipeline, `request`
//! (`method`, `path`, `request_id`) for an API request.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The logging options of a node.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// Format of the log lines on standard error.
    #[arg(long, env = "CONNECTORS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Which log lines to write, e.g. `info,connectors=debug` (the syntax of
    /// `RUST_LOG`, which is read when neither this nor `CONNECTORS_LOG` is
    /// set) [default: info].
    #[arg(long, env = "CONNECTORS_LOG", value_name = "FILTER")]
    pub log_filter: Option<String>,
}

/// A log filter that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid log filter `{filter}` (e.g. `info,connectors=debug`): {reason}")]
pub struct LogFilterError {
    filter: String,
    /// The parser's explanation (kept as text: its own chain of causes
    /// repeats it).
    reason: String,
}

impl LogArgs {
    /// The filter these options choose: `--log-filter` / `CONNECTORS_LOG`,
    /// else `RUST_LOG`, else `info`.
    pub fn filter(&self) -> Result<EnvFilter, LogFilterError> {
        let chosen = chosen_filter(self.log_filter.as_deref(), std::env::var("RUST_LOG").ok());
        EnvFilter::builder()
            .parse(&chosen)
            .map_err(|e| LogFilterError {
                filter: chosen,
                reason: e.to_string(),
            })
    }
}

/// The first filter given and not blank: the option's, then `rust_log`,
/// then `info`.
fn chosen_filter(option: Option<&str>, rust_log: Option<String>) -> String {
    option
        .map(str::to_owned)
        .into_iter()
        .chain(rust_log)
        .find(|f| !f.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned())
}

/// Whether text logs on standard error get colours: only on a terminal,
/// and not when `NO_COLOR` asks for none.
fn colours_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's logger as `args` say.
pub fn init(args: &LogArgs) -> Result<(), LogFilterError> {
    let filter = args.filter()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.with_ansi(colours_on_stderr()).init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_comes_before_rust_log_which_comes_before_info() {
        let rust_log = || Some("warn".to_owned());
        assert_eq!(chosen_filter(Some("debug"), rust_log()), "debug");
        assert_eq!(chosen_filter(None, rust_log()), "warn");
        assert_eq!(chosen_filter(Some(" "), rust_log()), "warn");
        assert_eq!(chosen_filter(None, None), "info");
        assert_eq!(chosen_filter(None, Some(String::new())), "info");
    }

    #[test]
    fn the_option_filter_is_parsed() {
        let args = LogArgs {
            log_format: LogFormat::Json,
            log_filter: Some("warn,connectors=trace".into()),
        };
        let filter = args.filter().expect("valid filter");
        assert_eq!(
            filter.max_level_hint(),
            Some(tracing_subscriber::filter::LevelFilter::TRACE)
        );
    }

    #[test]
    fn a_bad_filter_names_itself() {
        let args = LogArgs {
            log_format: LogFormat::Text,
            log_filter: Some("connectors=loud".into()),
        };
        let error = args.filter().expect_err("invalid filter");
        assert!(
            error
                .to_string()
                .starts_with("invalid log filter `connectors=loud`"),
            "{error}"
        );
    }
}
