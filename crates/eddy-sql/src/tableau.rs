//! Results as Flink's SQL client prints them (tableau): a table with the row
//! kind in an `op` column, whole (`render`) or as the rows arrive (`Tableau`).

use std::io::Write;

use crate::exec::changelog::RowKind;
use crate::session::{Output, ResultEvent, ResultListener};

/// The widest cell printed, in characters: a longer value is cut, ending
/// with `...` (Flink's client cuts at `sql-client.display.max-column-width`).
pub const MAX_CELL_WIDTH: usize = 10_000;

/// A cell's text, cut to [`MAX_CELL_WIDTH`].
fn fit(text: String) -> String {
    match text.char_indices().nth(MAX_CELL_WIDTH) {
        None => text,
        Some(_) => {
            let end = text
                .char_indices()
                .nth(MAX_CELL_WIDTH - 3)
                .map_or(text.len(), |(i, _)| i);
            format!("{}...", &text[..end])
        }
    }
}

/// The cells of one printed row.
fn cells(kind: RowKind, row: &[Option<String>], changelog: bool) -> Vec<String> {
    let mut cells = Vec::with_capacity(row.len() + 1);
    if changelog {
        cells.push(kind.short().to_string());
    }
    cells.extend(
        row.iter()
            .map(|c| fit(c.clone().unwrap_or_else(|| "<NULL>".into()))),
    );
    cells
}

fn header(columns: &[String], changelog: bool) -> Vec<String> {
    let mut header = Vec::with_capacity(columns.len() + 1);
    if changelog {
        header.push("op".to_string());
    }
    header.extend(columns.iter().cloned().map(fit));
    header
}

/// Column widths fitting the header and the rows.
fn widths(header: &[String], body: &[Vec<String>]) -> Vec<usize> {
    (0..header.len())
        .map(|i| {
            body.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

fn rule(widths: &[usize]) -> String {
    widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n"
}

fn line(cells: &[String], widths: &[usize]) -> String {
    cells
        .iter()
        .zip(widths)
        .map(|(c, w)| {
            // Padded by hand: a format width is limited to u16::MAX.
            let pad = w.saturating_sub(c.chars().count());
            format!("| {}{c} ", " ".repeat(pad))
        })
        .collect::<String>()
        + "|\n"
}

fn footer(n: usize) -> String {
    format!("{n} row{} in set\n", if n == 1 { "" } else { "s" })
}

/// Renders a statement's output as Flink's SQL client does (tableau).
pub fn render(output: &Output) -> String {
    match output {
        Output::Info(s) => format!("[INFO] {s}\n"),
        Output::Text(s) => s.clone(),
        Output::Streamed(_) => String::new(),
        Output::Rows {
            columns,
            rows,
            changelog,
        } => {
            if rows.is_empty() && !*changelog {
                return "Empty set\n".into();
            }
            let header = header(columns, *changelog);
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|(kind, row)| cells(*kind, row, *changelog))
                .collect();
            let widths = widths(&header, &body);
            let rule = rule(&widths);
            let mut out = rule.clone() + &line(&header, &widths) + &rule;
            for r in &body {
                out.push_str(&line(r, &widths));
            }
            out + &rule + &footer(body.len())
        }
    }
}

/// Prints a running `SELECT`'s changelog to stdout as it grows: the column
/// widths are fixed by the first rows (a longer value widens its row only).
#[derive(Default)]
pub struct Tableau {
    widths: Option<Vec<usize>>,
}

impl Tableau {
    /// A result listener printing to stdout.
    pub fn listener() -> ResultListener {
        let mut tableau = Tableau::default();
        Box::new(move |event| {
            let text = tableau.print(event);
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        })
    }

    /// The text for one event.
    pub fn print(&mut self, event: ResultEvent<'_>) -> String {
        let mut out = String::new();
        let (columns, rows, end) = match event {
            ResultEvent::Rows { columns, rows } => (columns, rows, None),
            ResultEvent::End { columns, count } => (columns, &[][..], Some(count)),
        };
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|(kind, row)| cells(*kind, row, true))
            .collect();
        if self.widths.is_none() {
            let header = header(columns, true);
            let widths = widths(&header, &body);
            let rule = rule(&widths);
            out = rule.clone() + &line(&header, &widths) + &rule;
            self.widths = Some(widths);
        }
        let widths = self.widths.as_deref().unwrap_or_default();
        for r in &body {
            out.push_str(&line(r, widths));
        }
        if let Some(count) = end {
            out.push_str(&rule(widths));
            out.push_str(&footer(count));
            self.widths = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_cells_are_cut_not_a_panic() {
        let wide = "x".repeat(70_000);
        let output = Output::Rows {
            columns: vec!["v".into()],
            rows: vec![(RowKind::Insert, vec![Some(wide)])],
            changelog: false,
        };
        let text = render(&output);
        let row = text.lines().nth(3).unwrap_or_default();
        assert_eq!(row.chars().count(), MAX_CELL_WIDTH + 4);
        assert!(row.ends_with("x... |"), "{}", &row[row.len() - 10..]);
    }
}
