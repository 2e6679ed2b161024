//! The printed table: one row per target, with what was measured, the
//! target and whether this run met it.

/// What a row found.
pub enum Outcome {
    /// Measured; `met` says whether the target was reached.
    Measured { value: String, met: bool },
    /// Not measured in this run, and why (never a made-up number).
    NotAvailable(String),
}

pub struct Row {
    pub what: &'static str,
    pub target: &'static str,
    pub outcome: Outcome,
}

impl Row {
    pub fn measured(what: &'static str, target: &'static str, value: String, met: bool) -> Row {
        Row {
            what,
            target,
            outcome: Outcome::Measured { value, met },
        }
    }

    pub fn not_available(what: &'static str, target: &'static str, why: String) -> Row {
        Row {
            what,
            target,
            outcome: Outcome::NotAvailable(why),
        }
    }
}

/// Prints the rows as a Markdown table.
pub fn print(rows: &[Row]) {
    println!("| what | measured | target | met |");
    println!("|---|---|---|---|");
    for row in rows {
        let (value, met) = match &row.outcome {
            Outcome::Measured { value, met } => (value.clone(), if *met { "yes" } else { "no" }),
            Outcome::NotAvailable(why) => (format!("not available: {why}"), "-"),
        };
        let value = value.replace('|', "\\|").replace('\n', " ");
        println!("| {} | {value} | {} | {met} |", row.what, row.target);
    }
}

/// A rate with thousands separators, e.g. `187,412 events/s`.
pub fn rate(per_second: f64) -> String {
    format!("{} events/s", thousands(per_second.round() as u64))
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A ratio, e.g. `0.82x`.
pub fn ratio(value: f64) -> String {
    format!("{value:.2}x")
}
