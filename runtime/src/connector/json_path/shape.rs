//! The shape of a JSONPath query, as far as its cost depends on it: its
//! segments (child or descendant), how many selectors each has, and the
//! queries inside filter expressions.
//!
//! It reads a query that `serde_json_path` has already accepted, so it only
//! has to tell the parts apart, never to report syntax errors: string
//! literals are skipped whole (a `..` or `$` inside `'...'` is text), and
//! every `@` or `$` outside one starts a query of its own.

/// A query: `$` or `@` followed by segments.
#[derive(Debug, Default, PartialEq)]
pub(super) struct QueryShape {
    pub segments: Vec<SegmentShape>,
}

/// One segment: `.name`, `[selectors]`, `..name` or `..[selectors]`.
#[derive(Debug, Default, PartialEq)]
pub(super) struct SegmentShape {
    pub descendant: bool,
    /// Selectors in the segment (a union `[0,1,'a']` has three).
    pub selectors: u32,
    /// Selects at most one child of each input node (one name or index).
    pub singular: bool,
    /// The queries of each filter selector's expression.
    pub filter_queries: Vec<FilterQuery>,
}

/// A query inside a filter expression.
#[derive(Debug, PartialEq)]
pub(super) struct FilterQuery {
    /// `$...` (runs on the whole document for every candidate) rather than
    /// `@...` (runs on the candidate).
    pub absolute: bool,
    pub query: QueryShape,
}

impl QueryShape {
    /// The shape of `query`, which must start with `$`.
    pub fn of(query: &str) -> QueryShape {
        let mut reader = Reader {
            chars: query.chars().collect(),
            at: 0,
        };
        reader.skip_blank();
        reader.query()
    }

    /// Descendant segments anywhere in the query, filters included.
    pub fn descendant_segments(&self) -> usize {
        self.segments
            .iter()
            .map(|s| {
                usize::from(s.descendant)
                    + s.filter_queries
                        .iter()
                        .map(|f| f.query.descendant_segments())
                        .sum::<usize>()
            })
            .sum()
    }
}

struct Reader {
    chars: Vec<char>,
    at: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn skip_blank(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// `$` or `@`, then segments for as long as there are any.
    fn query(&mut self) -> QueryShape {
        self.at += 1;
        let mut shape = QueryShape::default();
        loop {
            // Blanks may separate segments, but also end the query.
            let start = self.at;
            self.skip_blank();
            match (self.peek(), self.peek_at(1)) {
                (Some('.'), Some('.')) => {
                    self.at += 2;
                    let mut segment = self.after_dot();
                    segment.descendant = true;
                    shape.segments.push(segment);
                }
                (Some('.'), _) => {
                    self.at += 1;
                    shape.segments.push(self.after_dot());
                }
                (Some('['), _) => shape.segments.push(self.bracket()),
                _ => {
                    self.at = start;
                    return shape;
                }
            }
        }
    }

    /// What follows `.` or `..`: `*`, a name, or (after `..`) brackets.
    fn after_dot(&mut self) -> SegmentShape {
        match self.peek() {
            Some('[') => self.bracket(),
            Some('*') => {
                self.at += 1;
                SegmentShape {
                    selectors: 1,
                    ..SegmentShape::default()
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii())
                {
                    self.at += 1;
                }
                SegmentShape {
                    selectors: 1,
                    singular: true,
                    ..SegmentShape::default()
                }
            }
        }
    }

    /// `[selector, selector, ...]`.
    fn bracket(&mut self) -> SegmentShape {
        self.at += 1;
        let mut segment = SegmentShape::default();
        let mut singular = true;
        loop {
            self.skip_blank();
            match self.peek() {
                None => break,
                Some(']') => {
                    self.at += 1;
                    break;
                }
                Some(',') => self.at += 1,
                Some(quote @ ('\'' | '"')) => {
                    self.string(quote);
                    segment.selectors += 1;
                }
                Some('?') => {
                    self.at += 1;
                    let queries = self.expression();
                    segment.filter_queries.extend(queries);
                    segment.selectors += 1;
                    singular = false;
                }
                Some(_) => {
                    // `*`, an index or a slice: up to the next `,` or `]`.
                    let mut index = true;
                    while let Some(c) = self.peek() {
                        if c == ',' || c == ']' {
                            break;
                        }
                        index &= c.is_ascii_digit() || c == '-' || c.is_whitespace();
                        self.at += 1;
                    }
                    segment.selectors += 1;
                    singular &= index;
                }
            }
        }
        segment.singular = singular && segment.selectors == 1;
        segment
    }

    /// A filter expression, up to the `,` or `]` that ends its selector;
    /// returns the queries in it.
    fn expression(&mut self) -> Vec<FilterQuery> {
        let mut queries = Vec::new();
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                '\'' | '"' => self.string(c),
                '@' | '$' => queries.push(FilterQuery {
                    absolute: c == '$',
                    query: self.query(),
                }),
                '(' => {
                    depth += 1;
                    self.at += 1;
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    self.at += 1;
                }
                ',' | ']' if depth == 0 => break,
                _ => self.at += 1,
            }
        }
        queries
    }

    /// Skips a string literal, escapes included.
    fn string(&mut self, quote: char) {
        self.at += 1;
        while let Some(c) = self.peek() {
            self.at += 1;
            if c == '\\' {
                self.at += 1;
            } else if c == quote {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descendants(query: &str) -> usize {
        QueryShape::of(query).descendant_segments()
    }

    #[test]
    fn descendant_segments_are_counted_everywhere_but_in_strings() {
        assert_eq!(descendants("$.a.b"), 0);
        assert_eq!(descendants("$..a"), 1);
        assert_eq!(descendants("$..*..*..*..*..*..*"), 6);
        assert_eq!(descendants("$..['a']..[0]"), 2);
        assert_eq!(descendants("$[?@..x]"), 1);
        assert_eq!(descendants("$..a[?count(@..b) > 1 && $..c]"), 3);
        assert_eq!(descendants("$[?@.name == '..$..@..']"), 0);
        assert_eq!(descendants("$[?@.name == \"a\\\"..\"]"), 0);
        assert_eq!(descendants("$[?@[?@..a]]"), 1);
    }

    #[test]
    fn segments_know_their_selectors() {
        let shape = QueryShape::of("$.a[0,1,'x'][*][1:3]..b[?@.c > 1]");
        let summary: Vec<(bool, u32, bool, usize)> = shape
            .segments
            .iter()
            .map(|s| {
                (
                    s.descendant,
                    s.selectors,
                    s.singular,
                    s.filter_queries.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (false, 1, true, 0),
                (false, 3, false, 0),
                (false, 1, false, 0),
                (false, 1, false, 0),
                (true, 1, true, 0),
                (false, 1, false, 1),
            ]
        );
    }

    #[test]
    fn filter_queries_are_relative_or_absolute() {
        let shape = QueryShape::of("$[?@.a == $.b && length(@.c) > 2]");
        let absolute: Vec<bool> = shape.segments[0]
            .filter_queries
            .iter()
            .map(|f| f.absolute)
            .collect();
        assert_eq!(absolute, [false, true, false]);
    }
}
