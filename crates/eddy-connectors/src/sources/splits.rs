//! Splits of text files: byte ranges read by different subtasks, so that one
//! large file does not bind a job to one reader.
//!
//! A file is cut every `source.file.split-size` bytes ([`DEFAULT_SPLIT_SIZE`]
//! by default); a line belongs to the split its first byte is in. The
//! splits of all files, in file order, are dealt to the subtasks in turn
//! (subtask `i` of `p` reads splits `i`, `i + p`, `i + 2p`, ...; for files of
//! one split each, file `i` as before files were split). The subtasks so move
//! through a file side by side: a file written in time order keeps their
//! watermarks close, and with them the state held for windows that one
//! subtask's data would close and another's has not reached yet. A subtask
//! counts the lines of the splits it skips, to number its own lines.
//!
//! A split's checkpointed position is keyed by the file's path for a file of
//! one split (as positions were before files were split) and by `path#k`
//! for split `k` of a larger one. A position saved for a whole file (by an
//! earlier version, keyed by its path) is spread over the file's splits: the
//! splits before its offset are done, the one holding it resumes there.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How many bytes of a file one split covers.
pub const DEFAULT_SPLIT_SIZE: u64 = 16 << 20;

/// The offset of a finished split.
pub(crate) const DONE: u64 = u64::MAX;

/// One split of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// The file.
    pub path: PathBuf,
    /// The key of its position.
    pub key: String,
    /// Its first byte.
    pub start: u64,
    /// The byte after its last: lines starting here or later are not its
    /// own. `u64::MAX` for the last split of a file (it reads to the end).
    pub end: u64,
}

/// Where a split's reading stands: the byte offset after the last line read
/// and that line's number (0 before the first line of the file).
pub(crate) type Position = (u64, u64);

/// The splits of `files` (path and size), in order.
pub(crate) fn plan(files: &[(PathBuf, u64)], split_size: u64) -> Vec<Split> {
    let split_size = split_size.max(1);
    let mut splits = Vec::new();
    for (path, size) in files {
        let key = path.to_string_lossy().to_string();
        let n = size.div_ceil(split_size).max(1);
        for k in 0..n {
            splits.push(Split {
                path: path.clone(),
                key: if n == 1 {
                    key.clone()
                } else {
                    format!("{key}#{k}")
                },
                start: k * split_size,
                end: if k + 1 == n {
                    u64::MAX
                } else {
                    (k + 1) * split_size
                },
            });
        }
    }
    splits
}

/// The splits subtask `subtask` of `parallelism` reads: every
/// `parallelism`-th, from its own index.
pub(crate) fn assigned(splits: Vec<Split>, subtask: usize, parallelism: usize) -> Vec<Split> {
    let p = parallelism.max(1);
    splits
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % p == subtask)
        .map(|(_, split)| split)
        .collect()
}

/// The restored position of `split`, from the positions of every subtask of
/// the checkpointed run: its own, or its part of a whole file's.
pub(crate) fn restored_position(
    split: &Split,
    restored: &BTreeMap<String, Position>,
) -> Option<Position> {
    if let Some(position) = restored.get(&split.key) {
        return Some(*position);
    }
    let file = split.path.to_string_lossy();
    if split.key == file.as_ref() {
        return None;
    }
    let (offset, line) = *restored.get(file.as_ref())?;
    if offset == DONE || offset >= split.end {
        Some((DONE, line))
    } else if offset >= split.start {
        Some((offset, line))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(PathBuf, u64)> {
        vec![("a".into(), 25), ("b".into(), 0), ("c".into(), 10)]
    }

    #[test]
    fn the_default_is_the_options_default() {
        let option = eddy_core::config::options::FILE_SPLIT_SIZE;
        assert_eq!(option.default.parse::<u64>().ok(), Some(DEFAULT_SPLIT_SIZE));
    }

    #[test]
    fn files_are_cut_into_splits_keyed_by_path_and_index() {
        let splits = plan(&files(), 10);
        let keys: Vec<&str> = splits.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["a#0", "a#1", "a#2", "b", "c"]);
        assert_eq!((splits[1].start, splits[1].end), (10, 20));
        assert_eq!((splits[2].start, splits[2].end), (20, u64::MAX));
        assert_eq!((splits[4].start, splits[4].end), (0, u64::MAX));
    }

    #[test]
    fn subtasks_take_every_pth_split() {
        let splits = plan(&files(), 10);
        let run = |i, p| -> Vec<String> {
            assigned(splits.clone(), i, p)
                .into_iter()
                .map(|s| s.key)
                .collect()
        };
        assert_eq!(run(0, 2), ["a#0", "a#2", "c"]);
        assert_eq!(run(1, 2), ["a#1", "b"]);
        let mut all: Vec<String> = (0..7).flat_map(|i| run(i, 7)).collect();
        all.sort();
        assert_eq!(all, ["a#0", "a#1", "a#2", "b", "c"]);
    }

    #[test]
    fn a_whole_file_position_is_spread_over_its_splits() {
        let splits = plan(&files(), 10);
        let restored = BTreeMap::from([("a".to_string(), (14, 3)), ("c".to_string(), (DONE, 2))]);
        let positions: Vec<Option<Position>> = splits
            .iter()
            .map(|s| restored_position(s, &restored))
            .collect();
        assert_eq!(
            positions,
            [Some((DONE, 3)), Some((14, 3)), None, None, Some((DONE, 2))]
        );
        let own = BTreeMap::from([("a#2".to_string(), (22, 5))]);
        assert_eq!(restored_position(&splits[2], &own), Some((22, 5)));
        assert_eq!(restored_position(&splits[0], &own), None);
    }
}
