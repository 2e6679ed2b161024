//! What the commands print on standard output: tables for people (the
//! default), or with `--output json` the API's JSON as it answered,
//! pretty-printed, for scripts (`jq`).
//!
//! Messages about what happened (`created ...`) go to standard output in
//! table mode only, so JSON output stays one parseable document.

use std::io::Write;

use comfy_table::{presets, Cell, Table};
use serde_json::Value;

/// How answers are printed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Tables and sentences for people.
    Table,
    /// The API's JSON.
    Json,
}

/// Writes to standard output in the chosen format.
pub struct Printer {
    pub format: OutputFormat,
}

impl Printer {
    pub fn new(format: OutputFormat) -> Self {
        Self { format }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints `value` as JSON (pretty), whatever the format.
    pub fn json(&self, value: &Value) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        self.text(&text)
    }

    /// Prints a line (or lines) of text.
    pub fn text(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")
    }

    /// Prints a line of text in table mode only.
    pub fn say(&self, text: &str) -> std::io::Result<()> {
        if self.is_json() {
            return Ok(());
        }
        self.text(text)
    }

    /// Prints `answer`, a JSON array, as it is in JSON mode, else as a
    /// table with one column per `(header, JSON pointer)` of `columns`.
    pub fn listing(&self, answer: &Value, columns: &[(&str, &str)]) -> std::io::Result<()> {
        if self.is_json() {
            return self.json(answer);
        }
        let rows = answer
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                columns
                    .iter()
                    .map(|(_, pointer)| field(item, pointer))
                    .collect()
            })
            .collect();
        let header: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
        self.table(&header, rows)
    }

    /// Prints `rows` under `header` as a table.
    pub fn table(&self, header: &[&str], rows: Vec<Vec<String>>) -> std::io::Result<()> {
        self.text(&render_table(header, rows))
    }
}

/// A borderless table, columns apart, as `kubectl` prints them.
pub fn render_table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(header.iter().map(Cell::new));
    for row in rows {
        table.add_row(row);
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON value as a table cell: strings without quotes, nothing as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The value at `path` (`/`-separated, as a JSON pointer) as a cell.
pub fn field(value: &Value, path: &str) -> String {
    value.pointer(path).map_or_else(|| "-".to_owned(), cell)
}

/// `text` cut to `max` characters, with `…` when cut: long messages in a
/// table cell.
pub fn shorten(text: &str, max: usize) -> String {
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.chars().count() <= max && first_line.len() == text.len() {
        return text.to_owned();
    }
    let cut: String = first_line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_show_values_without_json_quotes() {
        let value = json!({"a": "x", "b": null, "c": [1, 2], "d": {"e": true}});
        assert_eq!(field(&value, "/a"), "x");
        assert_eq!(field(&value, "/b"), "-");
        assert_eq!(field(&value, "/missing"), "-");
        assert_eq!(field(&value, "/c"), "1,2");
        assert_eq!(field(&value, "/d/e"), "true");
    }

    #[test]
    fn tables_have_a_header_and_aligned_columns() {
        let text = render_table(
            &["ID", "STATE"],
            vec![
                vec!["orders".into(), "running".into()],
                vec!["a".into(), "disabled".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("ID") && lines[0].contains("STATE"));
        let column = |line: &str, word: &str| line.find(word).expect("word in line");
        assert_eq!(column(lines[1], "running"), column(lines[2], "disabled"));
    }

    #[test]
    fn long_messages_are_shortened() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("0123456789abc", 5), "0123…");
        assert_eq!(shorten("one\ntwo", 10), "one…");
    }
}
