//! Where the rows of a batch were read from, so that an expression failing at
//! run time names its input row's file and line.
//!
//! A file source [`remember`]s each batch it emits with the file and line of
//! every row, in the thread that runs the source's task. Operators chained to the
//! source process that batch in the same thread, before the source reads the next
//! one; an operator whose expression fails asks for a row's [`location`], which is
//! known when the batch it evaluated holds the very arrays of the remembered batch
//! (the same batch, or some of its columns). Anything else (a batch that crossed a
//! channel and was rebuilt, a join's output) has no known origin, and the error
//! says none.
//!
//! A source of splits (Kafka partitions) also says which splits it reads
//! ([`own_splits`]), and a row's origin names its split: the table's watermark
//! assigner, chained to the source, tracks event time per split with them
//! ([`splits_of`]).

use std::cell::RefCell;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};

/// The file and line of each row of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowOrigins {
    /// `(first row, file)`: the rows from `first row` on were read from `file`.
    files: Vec<(usize, Arc<str>)>,
    /// The line of each row.
    lines: Vec<u64>,
}

impl RowOrigins {
    /// Origins for about `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        RowOrigins {
            files: Vec::new(),
            lines: Vec::with_capacity(rows),
        }
    }

    /// The next row was read from line `line` of `path`.
    pub fn push(&mut self, path: &Arc<str>, line: u64) {
        if self.files.last().is_none_or(|(_, p)| !Arc::ptr_eq(p, path)) {
            self.files.push((self.lines.len(), path.clone()));
        }
        self.lines.push(line);
    }

    /// The file and line of row `row`.
    pub fn origin(&self, row: usize) -> Option<(&Arc<str>, u64)> {
        let line = self.lines.get(row)?;
        let file = self.files.partition_point(|(first, _)| *first <= row);
        let (_, path) = self.files.get(file.checked_sub(1)?)?;
        Some((path, *line))
    }

    /// `file:line` of row `row`.
    pub fn location(&self, row: usize) -> Option<String> {
        let line = self.lines.get(row)?;
        let file = self.files.partition_point(|(first, _)| *first <= row);
        let (_, path) = self.files.get(file.checked_sub(1)?)?;
        Some(format!("{path}:{line}"))
    }
}

/// The batch a source of this thread emitted last, its origins, and the slice of it
/// an operator chained to the source passed on last, with its first row.
struct Remembered {
    batch: RecordBatch,
    origins: RowOrigins,
    slice: Option<(RecordBatch, usize)>,
}

thread_local! {
    static LAST: RefCell<Option<Remembered>> = const { RefCell::new(None) };
    static SPLITS: RefCell<Option<Vec<Arc<str>>>> = const { RefCell::new(None) };
}

/// The splits this thread's source reads now (`None`: it has none), said
/// before each batch it emits.
pub fn own_splits(splits: Option<Vec<String>>) {
    SPLITS.with(|current| {
        let mut current = current.borrow_mut();
        let same = match (current.as_ref(), splits.as_ref()) {
            (Some(a), Some(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| **x == **y),
            (None, None) => true,
            _ => false,
        };
        if !same {
            *current = splits.map(|s| s.into_iter().map(Arc::from).collect());
        }
    })
}

/// The splits of this thread's source, if it has splits.
pub fn owned_splits() -> Option<Vec<Arc<str>>> {
    SPLITS.with(|current| current.borrow().clone())
}

/// Where the rows of `batch` came from, as runs: `(first row, split)`, each
/// split holding the rows up to the next run, if `batch` holds rows of the
/// batch this thread's source emitted last (or of the slice of it passed on
/// last), row for row: some of its columns, beside computed ones.
pub fn split_runs(batch: &RecordBatch) -> Option<Vec<(usize, Arc<str>)>> {
    LAST.with(|last| {
        let last = last.borrow();
        let last = last.as_ref()?;
        let offset = if shares_rows(batch, &last.batch) {
            0
        } else {
            match &last.slice {
                Some((slice, offset)) if shares_rows(batch, slice) => *offset,
                _ => return None,
            }
        };
        let end = offset + batch.num_rows();
        let files = &last.origins.files;
        // The run holding the first row, then every run starting before the end.
        let first = files
            .partition_point(|(start, _)| *start <= offset)
            .checked_sub(1)?;
        Some(
            files[first..]
                .iter()
                .take_while(|(start, _)| *start < end)
                .map(|(start, path)| (start.saturating_sub(offset), path.clone()))
                .collect(),
        )
    })
}

/// Whether `batch` has the rows of `source`: as many, and at least one of its
/// columns.
fn shares_rows(batch: &RecordBatch, source: &RecordBatch) -> bool {
    batch.num_rows() == source.num_rows()
        && batch.columns().iter().any(|column| {
            source
                .columns()
                .iter()
                .any(|c| Arc::ptr_eq(c, column) || c.to_data().ptr_eq(&column.to_data()))
        })
}

/// Remembers `origins` as those of `batch`, the batch this thread's source emits
/// now (in place of the one before).
pub fn remember(batch: &RecordBatch, origins: RowOrigins) {
    LAST.with(|last| {
        *last.borrow_mut() = Some(Remembered {
            batch: batch.clone(),
            origins,
            slice: None,
        })
    });
}

/// Whether `batch` is (some of the columns of) `source`.
fn same_rows(batch: &RecordBatch, source: &RecordBatch) -> bool {
    batch.num_rows() == source.num_rows()
        && batch.num_columns() > 0
        && batch.columns().iter().all(|column| {
            source
                .columns()
                .iter()
                .any(|c| Arc::ptr_eq(c, column) || c.to_data().ptr_eq(&column.to_data()))
        })
}

/// `file:line` of row `row` of `batch`, if `batch` is (some of the columns of) the
/// batch a source of this thread emitted last, or of the slice of it passed on last.
pub fn location(batch: &RecordBatch, row: usize) -> Option<String> {
    LAST.with(|last| {
        let last = last.borrow();
        let last = last.as_ref()?;
        if same_rows(batch, &last.batch) {
            return last.origins.location(row);
        }
        match &last.slice {
            Some((slice, offset)) if same_rows(batch, slice) => last.origins.location(offset + row),
            _ => None,
        }
    })
}

/// An operator chained to the source passes on `slice`, rows `offset..` of
/// `whole`: if `whole` is the remembered batch, the slice's rows are located too
/// (the watermark assigner splits batches where a watermark goes between).
pub fn forward_slice(whole: &RecordBatch, slice: &RecordBatch, offset: usize) {
    LAST.with(|last| {
        if let Some(last) = last.borrow_mut().as_mut() {
            if same_rows(whole, &last.batch) {
                last.slice = Some((slice.clone(), offset));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array};

    #[test]
    fn rows_map_to_their_file_and_line() {
        let (a, b): (Arc<str>, Arc<str>) = ("a.csv".into(), "b.csv".into());
        let mut origins = RowOrigins::default();
        origins.push(&a, 1);
        origins.push(&a, 3);
        origins.push(&b, 2);
        assert_eq!(origins.location(1).as_deref(), Some("a.csv:3"));
        assert_eq!(origins.location(2).as_deref(), Some("b.csv:2"));
        assert_eq!(origins.location(3), None);
    }

    #[test]
    fn split_runs_follow_the_batch_and_its_slices() {
        let column: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4]));
        let batch = RecordBatch::try_from_iter([("x", column)]).unwrap();
        let (p0, p1): (Arc<str>, Arc<str>) = ("kafka://t/0".into(), "kafka://t/1".into());
        let mut origins = RowOrigins::default();
        origins.push(&p0, 10);
        origins.push(&p0, 11);
        origins.push(&p1, 5);
        origins.push(&p0, 12);
        remember(&batch, origins);
        assert_eq!(
            split_runs(&batch),
            Some(vec![(0, p0.clone()), (2, p1.clone()), (3, p0.clone())])
        );
        let slice = batch.slice(1, 2);
        forward_slice(&batch, &slice, 1);
        assert_eq!(split_runs(&slice), Some(vec![(0, p0), (1, p1)]));
    }

    #[test]
    fn only_the_remembered_batch_has_origins() {
        let column: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let batch = RecordBatch::try_from_iter([("x", column.clone()), ("y", column)]).unwrap();
        let path: Arc<str> = "in.csv".into();
        let mut origins = RowOrigins::default();
        origins.push(&path, 7);
        origins.push(&path, 9);
        remember(&batch, origins);
        assert_eq!(location(&batch, 1).as_deref(), Some("in.csv:9"));
        let narrowed = batch.project(&[1]).unwrap();
        assert_eq!(location(&narrowed, 0).as_deref(), Some("in.csv:7"));
        let other =
            RecordBatch::try_from_iter([("x", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)])
                .unwrap();
        assert_eq!(location(&other, 0), None);
        assert_eq!(
            location(&batch.slice(0, 1), 0),
            None,
            "a slice is another batch"
        );
    }
}
