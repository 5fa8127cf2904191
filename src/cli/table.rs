//! A small aligned-table writer for the listing commands, and the `key: value` block of the
//! `show` commands. Pure: text in, text out.
//!
//! Cells are single-line and free of control characters (a description or a name from the
//! store could otherwise move the cursor or colour the terminal), empty cells show as `-`,
//! columns are separated by two spaces, and no line has trailing spaces.

/// Rows under a header, rendered with aligned columns.
#[derive(Debug)]
pub(crate) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub(crate) fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells.into_iter().take(self.headers.len()).map(|c| clean(&c)).collect();
        cells.resize(self.headers.len(), "-".to_owned());
        self.rows.push(cells);
    }

    /// The header line and every row, each ending with a newline.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - width(cell)));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned, for one object.
pub(crate) fn details(pairs: &[(&str, String)]) -> String {
    let key_width = pairs.iter().map(|(k, _)| width(k) + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        out.push_str(&label);
        out.extend(std::iter::repeat_n(' ', key_width - width(&label) + 1));
        out.push_str(&clean(value));
        out.push('\n');
    }
    out
}

/// A cell's text: control characters (newlines, escape sequences) become spaces; empty is `-`.
fn clean(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Display width, counted in characters (names are mostly ASCII; no wide-character crate).
fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_to_the_widest_cell_without_trailing_spaces() {
        let mut table = Table::new(&["ID", "NAME", "EMAIL"]);
        table.row(vec!["1".into(), "alice".into(), "alice@example.org".into()]);
        table.row(vec!["12".into(), "bo".into(), "".into()]);
        assert_eq!(
            table.render(),
            "ID  NAME   EMAIL\n\
             1   alice  alice@example.org\n\
             12  bo     -\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(Table::new(&["ID", "NAME"]).render(), "ID  NAME\n");
    }

    #[test]
    fn missing_cells_are_dashes_and_extra_cells_are_dropped() {
        let mut table = Table::new(&["A", "B"]);
        table.row(vec!["x".into()]);
        table.row(vec!["y".into(), "z".into(), "ignored".into()]);
        assert_eq!(table.render(), "A  B\nx  -\ny  z\n");
    }

    #[test]
    fn control_characters_cannot_break_lines_or_reach_the_terminal() {
        let mut table = Table::new(&["NAME", "DESCRIPTION"]);
        table.row(vec!["web".into(), "two\nlines \u{1b}[31mred".into()]);
        let text = table.render();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.ends_with("web   two lines  [31mred\n"), "{text:?}");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut table = Table::new(&["NAME", "X"]);
        table.row(vec!["zoë".into(), "1".into()]);
        table.row(vec!["abcd".into(), "2".into()]);
        assert_eq!(table.render(), "NAME  X\nzoë   1\nabcd  2\n");
    }

    #[test]
    fn details_align_values_after_their_keys() {
        let text = details(&[("name", "devs".into()), ("description", "".into()), ("id", "3".into())]);
        assert_eq!(text, "name:        devs\ndescription: -\nid:          3\n");
    }
}
