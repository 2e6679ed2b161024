//! `connectors serve --config FILE` (and `demo`; env `CONNECTORS_CONFIG`):
//! node settings from a TOML file.
//!
//! The file's keys are the long options of `serve`, without the leading
//! `--` (`listen = "127.0.0.1:2119"`, `api-tokens-file = "..."`), flat, no
//! tables: the names come from the options' own definitions
//! ([`ServeArgs`]), so there is no second list to drift. A switch takes a
//! boolean (`no-connectors = true`), an option that can be repeated an array
//! (`grpc-user = ["a:b"]`), any other option a string or an integer.
//!
//! The file's values become the options' defaults before the command line
//! is parsed again, so the precedence is: flags, then environment
//! variables, then the file, then the built-in defaults. Options that go
//! together (`--tls-cert` and `--tls-key`) may come from different sources
//! and are checked over all of them ([`NodeSettingsFile::check_ties`]).
//!
//! Errors name the file, the line and the key, and never echo a value of an
//! option whose environment value is hidden (a token, a connection string
//! with its password).

use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::builder::Resettable;
use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command};
use toml_edit::{Item, Value};

use super::serve::ServeArgs;

/// The option that names the file (itself not a setting of the file).
pub const CONFIG_OPTION: &str = "config";

/// Why a settings file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the settings file {path}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not valid TOML: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{path}:{line}: unknown setting `{key}` (the settings are the long options of `connectors serve`, such as `listen`)"
    )]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
    },
    #[error("{path}:{line}: `{key}` must be {expected}")]
    WrongType {
        path: PathBuf,
        line: usize,
        key: String,
        expected: &'static str,
    },
    #[error("{path}: these settings need {missing} too (in the file, the environment or on the command line)")]
    Ties { path: PathBuf, missing: String },
    #[error("{path}:{line}: `{key}`: {reason}")]
    InvalidValue {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
}

/// One setting of the file: the option's id and the values it defaults to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    id: String,
    values: Vec<String>,
}

/// The settings of a file, checked against the options of `serve`.
#[derive(Debug, Clone, Default)]
pub struct NodeSettingsFile {
    path: PathBuf,
    settings: Vec<Setting>,
}

/// The options a file may set: those of `serve`, less `--config` itself.
fn serve_options() -> Command {
    ServeArgs::augment_args(Command::new("serve"))
}

/// The key of an option in the file: its long name.
fn key_of(arg: &Arg) -> Option<&str> {
    arg.get_long().filter(|long| *long != CONFIG_OPTION)
}

/// The 1-based line of a byte offset in `text`.
fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
    let offset = span.map(|s| s.start).unwrap_or(0).min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl NodeSettingsFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the contents of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigFileError> {
        let document = toml_edit::Document::parse(text).map_err(|e| ConfigFileError::Syntax {
            path: path.to_owned(),
            line: line_of(text, e.span()),
            // The parser's message alone: its full display quotes the line,
            // which may hold a secret.
            message: e.message().trim_end().to_owned(),
        })?;
        let options = serve_options();
        let mut settings = Vec::new();
        for (key, item) in document.as_table().iter() {
            let line = line_of(
                text,
                document
                    .as_table()
                    .key(key)
                    .and_then(|k| k.span())
                    .or_else(|| item.span()),
            );
            let arg = options
                .get_arguments()
                .find(|arg| key_of(arg) == Some(key))
                .ok_or_else(|| ConfigFileError::UnknownKey {
                    path: path.to_owned(),
                    line,
                    key: key.to_owned(),
                })?;
            let wrong_type = |expected| ConfigFileError::WrongType {
                path: path.to_owned(),
                line,
                key: key.to_owned(),
                expected,
            };
            let values = match (arg.get_action(), item) {
                (ArgAction::SetTrue, Item::Value(Value::Boolean(b))) => vec![b.value().to_string()],
                (ArgAction::SetTrue, _) => return Err(wrong_type("a boolean (true or false)")),
                (ArgAction::Append, Item::Value(Value::Array(array))) => array
                    .iter()
                    .map(|v| scalar(v).ok_or_else(|| wrong_type("an array of strings")))
                    .collect::<Result<_, _>>()?,
                (ArgAction::Append, Item::Value(v)) => {
                    vec![scalar(v).ok_or_else(|| wrong_type("a string or an array of strings"))?]
                }
                (_, Item::Value(v)) => {
                    vec![scalar(v).ok_or_else(|| wrong_type("a string or an integer"))?]
                }
                _ => return Err(wrong_type("a value, not a table")),
            };
            for value in &values {
                check_value(arg, value).map_err(|reason| ConfigFileError::InvalidValue {
                    path: path.to_owned(),
                    line,
                    key: key.to_owned(),
                    reason,
                })?;
            }
            settings.push(Setting {
                id: arg.get_id().to_string(),
                values,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            settings,
        })
    }

    /// `command` (`serve` or `demo`) with the file's values as the
    /// defaults of its options: flags and environment variables still win.
    /// The options' ties are left out, as clap would not see a value of the
    /// file: [`Self::check_ties`] checks them afterwards, over every source.
    pub fn apply_as_defaults(&self, mut command: Command) -> Command {
        for arg in serve_options().get_arguments() {
            command = command.mut_arg(arg.get_id().clone(), |arg| arg.requires(Resettable::Reset));
        }
        for setting in &self.settings {
            // clap keeps defaults as `'static` strings; a process reads one
            // settings file, once.
            let values: Vec<&'static str> = setting
                .values
                .iter()
                .map(|v| &*Box::leak(v.clone().into_boxed_str()))
                .collect();
            command = command.mut_arg(setting.id.as_str(), |arg| arg.default_values(values));
        }
        command
    }

    /// Checks the options' ties (`--tls-cert` requires `--tls-key`, ...)
    /// across the file, the environment and the flags: clap checks them for
    /// flags and environment variables only, not for defaults, which is what
    /// the file's values are. `matches` are those of `serve` or `demo`.
    pub fn check_ties(&self, matches: &ArgMatches) -> Result<(), ConfigFileError> {
        let options = serve_options();
        let mut given = Vec::new();
        for arg in options.get_arguments() {
            let (Some(long), id) = (key_of(arg), arg.get_id().as_str()) else {
                continue;
            };
            let set = match matches.value_source(id) {
                Some(ValueSource::CommandLine | ValueSource::EnvVariable) => true,
                Some(ValueSource::DefaultValue) => self.settings.iter().any(|s| s.id == id),
                _ => false,
            };
            if !set {
                continue;
            }
            if matches!(arg.get_action(), ArgAction::SetTrue) {
                if matches.get_flag(id) {
                    given.push(format!("--{long}"));
                }
            } else if let Some(values) = matches.get_raw(id) {
                given.extend(values.map(|v| format!("--{long}={}", v.to_string_lossy())));
            }
        }
        let without_env = options
            .get_arguments()
            .map(|arg| arg.get_id().clone())
            .collect::<Vec<_>>()
            .into_iter()
            .fold(options, |command, id| {
                command.mut_arg(id, |arg| arg.env(Resettable::Reset))
            });
        without_env
            .no_binary_name(true)
            .try_get_matches_from(given)
            .map(|_| ())
            .map_err(|error| ConfigFileError::Ties {
                path: self.path.clone(),
                missing: match error.get(ContextKind::InvalidArg) {
                    Some(ContextValue::Strings(args)) => args.join(", "),
                    Some(ContextValue::String(arg)) => arg.clone(),
                    _ => error.kind().to_string(),
                },
            })
    }
}

/// A string or an integer as the text an option takes.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.value().clone()),
        Value::Integer(i) => Some(i.value().to_string()),
        _ => None,
    }
}

/// Whether `value` is one `arg` accepts; why not otherwise, without the
/// value when it may be secret.
fn check_value(arg: &Arg, value: &str) -> Result<(), String> {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return Ok(());
    }
    // The option alone, as clap would parse it on the command line, without
    // its environment variable and its ties to other options.
    let Some(long) = arg.get_long() else {
        return Ok(());
    };
    let alone = arg
        .clone()
        .env(Resettable::Reset)
        .requires(Resettable::Reset)
        .conflicts_with(Resettable::Reset)
        .group(Resettable::Reset);
    let parsed = Command::new("check")
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from([format!("--{long}={value}")]);
    match parsed {
        Ok(_) => Ok(()),
        Err(_) if arg.is_hide_env_values_set() => {
            Err("invalid value (not shown: it may be secret)".to_owned())
        }
        Err(error) => {
            let possible: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|p| p.get_name().to_owned())
                .collect();
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            if possible.is_empty() {
                Err(format!("invalid value `{value}`{cause}"))
            } else {
                Err(format!(
                    "invalid value `{value}` (one of: {})",
                    possible.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
#[path = "config_file_tests.rs"]
mod tests;
