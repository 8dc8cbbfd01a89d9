//! Malformed input a source skips instead of failing: counted, and reported
//! on stderr with file and line, never dropped silently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use eddy_runtime::OperatorContext;

/// How many skipped lines a summary names.
const NAMED: usize = 5;

/// The suffix of the job counter of a source's skipped records:
/// `<operator>.numRecordsInErrors` (Flink's source metric).
pub const SKIPPED_COUNTER: &str = "numRecordsInErrors";

/// The malformed lines one source subtask skipped (a format's
/// `ignore-parse-errors`, or lines that are not UTF-8).
///
/// Every [`skip`](SkippedLines::skip) adds one to the job counter
/// `<operator>.numRecordsInErrors` (summed over subtasks, in the job's
/// result) and remembers the location of the first few; [`report`](SkippedLines::report)
/// prints one summary on stderr naming them, e.g.
///
/// ```text
/// eddy: TableSourceScan(table=[t]) skipped 3 malformed lines (csv.ignore-parse-errors):
///   /data/t.csv:2: expected 2 fields, found 3
///   ...
/// ```
///
/// Clones share their count, so a reader and the source it wraps report
/// together. Counting before [`open`](SkippedLines::open) keeps the count for
/// the summary only.
#[derive(Clone, Debug, Default)]
pub struct SkippedLines {
    inner: Arc<Mutex<Skipped>>,
}

#[derive(Debug, Default)]
struct Skipped {
    what: String,
    operator: String,
    counter: Option<Arc<AtomicU64>>,
    count: u64,
    first: Vec<String>,
    reported: u64,
}

impl SkippedLines {
    /// A record of skipped lines; `why` says why lines are skipped rather than
    /// failing the job (e.g. the option `csv.ignore-parse-errors`).
    pub fn new(why: impl Into<String>) -> Self {
        SkippedLines {
            inner: Arc::new(Mutex::new(Skipped {
                what: why.into(),
                ..Skipped::default()
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Skipped> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Binds the record to its subtask: the job counter, and the operator name
    /// and subtask for the summary.
    pub fn open(&self, ctx: &OperatorContext) {
        let mut s = self.lock();
        let counter = ctx.metric(SKIPPED_COUNTER);
        counter.fetch_add(s.count, Ordering::Relaxed);
        s.counter = Some(counter);
        s.operator = if ctx.parallelism > 1 {
            format!("{} (subtask {})", ctx.name, ctx.subtask)
        } else {
            ctx.name.clone()
        };
    }

    /// Counts a skipped line at `location` (`file:line`) and why it is malformed.
    pub fn skip(&self, location: &str, reason: &str) {
        let mut s = self.lock();
        s.count += 1;
        if let Some(c) = &s.counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if s.first.len() < NAMED {
            let mut reason = reason.replace('\n', " ");
            if reason.len() > 200 {
                let mut end = 200;
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason.truncate(end);
                reason.push_str("...");
            }
            s.first.push(format!("{location}: {reason}"));
        }
    }

    /// How many lines were skipped.
    pub fn count(&self) -> u64 {
        self.lock().count
    }

    /// The summary of the lines skipped since the last one, if any: how many,
    /// and the location and reason of the first few.
    pub fn summary(&self) -> Option<String> {
        let mut s = self.lock();
        let new = s.count - s.reported;
        if new == 0 {
            return None;
        }
        s.reported = s.count;
        let operator = if s.operator.is_empty() {
            "a source"
        } else {
            &s.operator
        };
        let mut text = format!(
            "{operator} skipped {new} malformed line{} ({}):",
            if new == 1 { "" } else { "s" },
            s.what
        );
        for line in &s.first {
            text.push_str("\n  ");
            text.push_str(line);
        }
        if new > s.first.len() as u64 {
            text.push_str(&format!("\n  and {} more", new - s.first.len() as u64));
        }
        s.first.clear();
        Some(text)
    }

    /// Prints the [`summary`](SkippedLines::summary) on stderr, if there is one.
    pub fn report(&self) {
        if let Some(text) = self.summary() {
            eprintln!("eddy: {text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names_the_first_few() {
        let skipped = SkippedLines::new("csv.ignore-parse-errors");
        assert_eq!(skipped.summary(), None);
        for i in 1..=7 {
            skipped.clone().skip(&format!("f.csv:{i}"), "bad");
        }
        assert_eq!(skipped.count(), 7);
        let text = skipped.summary().unwrap_or_default();
        assert!(text.contains("skipped 7 malformed lines (csv.ignore-parse-errors)"));
        assert!(text.contains("f.csv:1: bad") && text.contains("f.csv:5: bad"));
        assert!(!text.contains("f.csv:6") && text.contains("and 2 more"));
        assert_eq!(skipped.summary(), None);
    }
}
