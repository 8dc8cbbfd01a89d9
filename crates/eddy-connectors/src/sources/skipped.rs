//! Malformed input a source skips instead of failing: counted, and reported
//! on stderr with file and line, never dropped silently.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use eddy_runtime::OperatorContext;

/// How many skipped lines a summary names.
const NAMED: usize = 5;

/// The suffix of the job counter of a source's skipped records:
/// `<operator>.numRecordsInErrors` (Flink's source metric).
pub const SKIPPED_COUNTER: &str = "numRecordsInErrors";

/// The malformed lines a source skipped (a format's `ignore-parse-errors`, or
/// lines that are not UTF-8), over all its subtasks.
///
/// Every [`skip`](SkippedLines::skip) adds one to the subtask's metric
/// `numRecordsInErrors` (the job counter `<operator>.numRecordsInErrors` sums
/// the subtasks) and remembers the location of the first few. When the last
/// subtask of the source reaches the end of its input, [`report`](SkippedLines::report)
/// prints one summary for the whole source on stderr, e.g.
///
/// ```text
/// eddy: TableSourceScan(table=[t]) skipped 3 malformed lines (csv.ignore-parse-errors):
///   /data/t.csv:2: expected 2 fields, found 3
///   ...
/// ```
///
/// Make one per source and give each subtask its own handle with
/// [`for_subtask`](SkippedLines::for_subtask); clones of a handle are the same
/// handle, so a reader and the source it wraps count together. Counting before
/// [`open`](SkippedLines::open) keeps the count for the summary and adds it to the
/// metric at `open`.
#[derive(Clone, Debug, Default)]
pub struct SkippedLines {
    summary: Arc<Mutex<Summary>>,
    subtask: Arc<Mutex<Subtask>>,
}

/// What a source's subtasks skipped, for its summary.
#[derive(Debug, Default)]
struct Summary {
    what: String,
    operator: String,
    count: u64,
    first: Vec<String>,
    reported: u64,
    /// The source's parallelism (0 before any subtask opened).
    parallelism: usize,
    /// The subtasks at the end of their input.
    ended: BTreeSet<usize>,
}

/// One subtask's handle: its metric, once opened.
#[derive(Debug, Default)]
struct Subtask {
    index: Option<usize>,
    counter: Option<Arc<AtomicU64>>,
    /// Counted before the metric was bound.
    unbound: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SkippedLines {
    /// A record of skipped lines; `why` says why lines are skipped rather than
    /// failing the job (e.g. the option `csv.ignore-parse-errors`).
    pub fn new(why: impl Into<String>) -> Self {
        SkippedLines {
            summary: Arc::new(Mutex::new(Summary {
                what: why.into(),
                ..Summary::default()
            })),
            subtask: Arc::default(),
        }
    }

    /// A new subtask's handle on the same source's record.
    pub fn for_subtask(&self) -> Self {
        SkippedLines {
            summary: self.summary.clone(),
            subtask: Arc::default(),
        }
    }

    /// Binds the handle to its subtask: the metric, and the operator name for the
    /// summary.
    pub fn open(&self, ctx: &OperatorContext) {
        let counter = ctx.metric(SKIPPED_COUNTER);
        {
            let mut sub = lock(&self.subtask);
            counter.fetch_add(std::mem::take(&mut sub.unbound), Ordering::Relaxed);
            sub.counter = Some(counter);
            sub.index = Some(ctx.subtask);
        }
        let mut s = lock(&self.summary);
        s.operator = ctx.name.clone();
        s.parallelism = ctx.parallelism;
    }

    /// Counts a skipped line at `location` (`file:line`) and why it is malformed.
    pub fn skip(&self, location: &str, reason: &str) {
        {
            let mut sub = lock(&self.subtask);
            match &sub.counter {
                Some(c) => {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                None => sub.unbound += 1,
            }
        }
        let mut s = lock(&self.summary);
        s.count += 1;
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

    /// How many lines the source skipped, over all its subtasks.
    pub fn count(&self) -> u64 {
        lock(&self.summary).count
    }

    /// The summary of the lines skipped since the last one, if any: how many,
    /// and the location and reason of the first few.
    pub fn summary(&self) -> Option<String> {
        let mut s = lock(&self.summary);
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

    /// Called by a subtask at the end of its input: the last subtask of the source
    /// to get there prints the [`summary`](SkippedLines::summary) on stderr, if
    /// there is one.
    pub fn report(&self) {
        if let Some(text) = self.finish() {
            eprintln!("eddy: {text}");
        }
    }

    /// The summary to print when this subtask ends: `None` while other subtasks
    /// of the source are still reading.
    fn finish(&self) -> Option<String> {
        let index = lock(&self.subtask).index;
        {
            let mut s = lock(&self.summary);
            if let Some(index) = index {
                s.ended.insert(index);
            }
            if s.ended.len() < s.parallelism {
                return None;
            }
        }
        self.summary()
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

    #[test]
    fn the_last_subtask_to_end_reports_for_all() {
        let source = SkippedLines::new("json.ignore-parse-errors");
        let (a, b) = (source.for_subtask(), source.for_subtask());
        lock(&a.subtask).index = Some(0);
        lock(&b.subtask).index = Some(1);
        lock(&source.summary).parallelism = 2;
        a.skip("a.json:1", "bad");
        b.skip("b.json:4", "bad");
        b.skip("b.json:9", "bad");
        assert_eq!(a.finish(), None, "subtask 1 is still reading");
        let text = b.finish().unwrap_or_default();
        assert!(
            text.starts_with("a source skipped 3 malformed lines"),
            "{text}"
        );
        assert!(
            text.contains("a.json:1") && text.contains("b.json:9"),
            "{text}"
        );
        assert_eq!(lock(&a.subtask).unbound + lock(&b.subtask).unbound, 3);
    }
}
