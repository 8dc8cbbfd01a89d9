//! Which files a file source reads: the one enumeration shared by the
//! DataStream [`TextFileSource`](super::TextFileSource) and the SQL
//! `filesystem` connector.

use std::path::{Path, PathBuf};

use eddy_core::{Error, Result};

/// Whether a file or directory name is hidden from a source, as in Flink: names
/// starting with `.` or `_` (in-progress part files, `_SUCCESS` markers).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// The files under `path`, sorted by path, as every subtask sees them.
///
/// `path` may be a file (read even if its name is hidden) or a directory, which
/// is enumerated recursively as Flink does: every file of it and of its
/// sub-directories, except entries whose name [`is_hidden`]. Symbolic links are
/// followed: a link to a file is read, a link to a directory enumerated. A
/// dangling link fails with an error naming it; so does a link back to a
/// directory being enumerated (a loop), instead of enumerating for ever.
///
/// ```
/// # fn main() -> eddy_core::Result<()> {
/// let dir = tempfile::tempdir().map_err(|e| eddy_core::Error::io("tmp", e))?;
/// let io = |e| eddy_core::Error::io("tmp", e);
/// std::fs::create_dir(dir.path().join("2024")).map_err(io)?;
/// std::fs::write(dir.path().join("2024/a.csv"), "1\n").map_err(io)?;
/// std::fs::write(dir.path().join("b.csv"), "2\n").map_err(io)?;
/// std::fs::write(dir.path().join("_SUCCESS"), "").map_err(io)?;
/// let files = eddy_connectors::sources::list_files(dir.path())?;
/// assert_eq!(files, vec![dir.path().join("2024/a.csv"), dir.path().join("b.csv")]);
/// # Ok(())
/// # }
/// ```
///
/// In an object store (`s3://bucket/prefix`) `path` is an object, or a prefix
/// whose objects are enumerated the same way.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if eddy_fs::is_remote(path) {
        return list_remote(path);
    }
    let meta = metadata(path)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut ancestors = Vec::new();
    walk(path, &mut ancestors, &mut files)?;
    files.sort();
    Ok(files)
}

fn list_remote(path: &Path) -> Result<Vec<PathBuf>> {
    if eddy_fs::len(path).is_ok() {
        return Ok(vec![path.to_path_buf()]);
    }
    let top = eddy_fs::list(path).map_err(|e| Error::io(path, e))?;
    if top.is_empty() {
        let nothing =
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory");
        return Err(Error::io(path, nothing));
    }
    let mut files = Vec::new();
    let mut dirs = vec![(path.to_path_buf(), Some(top))];
    while let Some((dir, listed)) = dirs.pop() {
        let entries = match listed {
            Some(entries) => entries,
            None => eddy_fs::list(&dir).map_err(|e| Error::io(&dir, e))?,
        };
        for entry in entries {
            if is_hidden(&entry.name) {
                continue;
            }
            let child = dir.join(&entry.name);
            if entry.is_dir {
                dirs.push((child, None));
            } else {
                files.push(child);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The metadata of `path`, following symbolic links; a dangling link is an
/// error that says so.
fn metadata(path: &Path) -> Result<std::fs::Metadata> {
    std::fs::metadata(path).map_err(|e| {
        let dangling = e.kind() == std::io::ErrorKind::NotFound
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if dangling {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            Error::io(
                path,
                std::io::Error::new(
                    e.kind(),
                    format!("a symbolic link to {target}, which does not exist"),
                ),
            )
        } else {
            Error::io(path, e)
        }
    })
}

/// Adds the files under directory `dir` to `files`; `ancestors` are the
/// canonical paths of the directories being enumerated, to detect loops.
fn walk(dir: &Path, ancestors: &mut Vec<PathBuf>, files: &mut Vec<PathBuf>) -> Result<()> {
    let canonical = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    if let Some(first) = ancestors.iter().find(|a| **a == canonical) {
        return Err(Error::io(
            dir,
            std::io::Error::other(format!(
                "a symbolic link loop: it leads back to {}, which is being read",
                first.display()
            )),
        ));
    }
    ancestors.push(canonical);
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if is_hidden(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        if metadata(&path)?.is_dir() {
            walk(&path, ancestors, files)?;
        } else {
            files.push(path);
        }
    }
    ancestors.pop();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn recursive_hidden_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join("_temporary/x")).unwrap();
        std::fs::write(root.join("a"), "").unwrap();
        std::fs::write(root.join("sub/b"), "").unwrap();
        std::fs::write(root.join("sub/deeper/c"), "").unwrap();
        std::fs::write(root.join("sub/.d"), "").unwrap();
        std::fs::write(root.join("_temporary/x/e"), "").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), "").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path().join("f"), root.join("link")).unwrap();
        let files = list_files(root).unwrap();
        let mut expected = vec![
            root.join("a"),
            root.join("sub/b"),
            root.join("sub/deeper/c"),
        ];
        #[cfg(unix)]
        expected.insert(1, root.join("link"));
        assert_eq!(files, expected);
    }

    #[cfg(unix)]
    #[test]
    fn dangling_links_and_loops_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::os::unix::fs::symlink(root.join("gone"), root.join("dangling")).unwrap();
        let e = list_files(root).unwrap_err().to_string();
        assert!(
            e.contains("dangling") && e.contains("does not exist"),
            "{e}"
        );
        std::fs::remove_file(root.join("dangling")).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(root, root.join("sub/up")).unwrap();
        let e = list_files(root).unwrap_err().to_string();
        assert!(e.contains("sub/up") && e.contains("loop"), "{e}");
    }
}
