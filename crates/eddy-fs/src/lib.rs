//! # eddy-fs
//!
//! Where eddy keeps files that outlive a process: checkpoints, savepoints, run
//! records and the filesystem connector's input and output. A location is a
//! [`Path`]: a local path (or `file://` URL), or an object store URL such as
//! `s3://bucket/prefix/chk-3/_metadata`. Every operation here is blocking and
//! works the same on both, so callers keep one code path:
//!
//! ```text
//!  eddy_fs::write_atomic("s3://ck/job/chk-3/_metadata", bytes)
//!     │ Location::of: scheme://bucket/key, or a local path
//!     ├─ local: std::fs (fsync, then rename for atomic writes)
//!     └─ remote: the bucket's object_store client (configured by `s3.*` keys or
//!        the AWS environment), driven on eddy-fs's own runtime thread, the
//!        caller blocking until the request is done
//! ```
//!
//! Object stores have no directories: a "directory" is a key prefix, it exists
//! when an object lies under it, [`create_dir_all`] does nothing and a whole
//! object written with one request is already atomic.
//!
//! Configuration follows Flink's keys ([`configure`]): `s3.endpoint`,
//! `s3.access-key`, `s3.secret-key`, `s3.path.style.access`, `s3.region`; what is
//! not set comes from the usual `AWS_*` environment variables.

mod local;
mod location;
pub mod multipart;
mod reader;
mod remote;
mod s3;
pub mod testing;

use std::io;
use std::ops::Range;
use std::path::Path;

pub use location::{Location, Object};
pub use reader::{open, Reader, RemoteReader};
pub use s3::{configure, S3_KEYS};

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name within its directory.
    pub name: String,
    /// Whether it is a directory (a key prefix, in an object store).
    pub is_dir: bool,
    /// The file's size in bytes (0 for a directory).
    pub size: u64,
}

/// Whether `path` names a location in an object store (`scheme://...` other than
/// `file://`), including one of a scheme eddy has no store for: every operation
/// on such a path fails saying so.
pub fn is_remote(path: &Path) -> bool {
    !matches!(Location::of(path), Ok(Location::Local(_)))
}

/// Reads the whole file at `path`.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    match Location::of(path)? {
        Location::Local(p) => std::fs::read(p),
        Location::Remote(object) => remote::read(&object, None),
    }
}

/// Reads the bytes `range` of the file at `path` (fewer at its end).
pub fn read_range(path: &Path, range: Range<u64>) -> io::Result<Vec<u8>> {
    match Location::of(path)? {
        Location::Local(p) => local::read_range(&p, range),
        Location::Remote(object) => remote::read(&object, Some(range)),
    }
}

/// The size of the file at `path`.
pub fn len(path: &Path) -> io::Result<u64> {
    match Location::of(path)? {
        Location::Local(p) => std::fs::metadata(p).map(|m| m.len()),
        Location::Remote(object) => remote::len(&object),
    }
}

/// Writes `bytes` as the whole file at `path`, durably: a local file is synced
/// before this returns. A reader may see a partly written local file meanwhile;
/// see [`write_atomic`].
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match Location::of(path)? {
        Location::Local(p) => local::write_synced(&p, bytes),
        Location::Remote(object) => remote::write(&object, bytes.to_vec()),
    }
}

/// Writes `bytes` as the whole file at `path` so that it appears whole or not at
/// all: locally through a temporary name, sync and rename (and a sync of the
/// directory); in an object store with one request.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match Location::of(path)? {
        Location::Local(p) => local::write_atomic(&p, bytes),
        Location::Remote(object) => remote::write(&object, bytes.to_vec()),
    }
}

/// Creates the directory `path` and its parents (nothing to do in an object store).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    match Location::of(path)? {
        Location::Local(p) => std::fs::create_dir_all(p),
        Location::Remote(_) => Ok(()),
    }
}

/// The entries of the directory `path`, sorted by name. A missing local
/// directory is an error of kind `NotFound`; in an object store, where
/// directories do not exist apart from their objects, a prefix with nothing
/// under it lists as empty.
pub fn list(path: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = match Location::of(path)? {
        Location::Local(p) => local::list(&p)?,
        Location::Remote(object) => remote::list(&object)?,
    };
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Whether a file or a (non-empty, in an object store) directory exists at `path`.
pub fn exists(path: &Path) -> bool {
    match Location::of(path) {
        Ok(Location::Local(p)) => p.exists(),
        Ok(Location::Remote(object)) => remote::exists(&object),
        Err(_) => false,
    }
}

/// Whether `path` is a directory (a prefix with objects under it, in an object
/// store).
pub fn is_dir(path: &Path) -> bool {
    match Location::of(path) {
        Ok(Location::Local(p)) => p.is_dir(),
        Ok(Location::Remote(object)) => remote::is_dir(&object),
        Err(_) => false,
    }
}

/// Removes the file at `path`.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match Location::of(path)? {
        Location::Local(p) => std::fs::remove_file(p),
        Location::Remote(object) => remote::remove(&object),
    }
}

/// Removes the directory `path` and everything in it.
pub fn remove_dir_all(path: &Path) -> io::Result<()> {
    match Location::of(path)? {
        Location::Local(p) => std::fs::remove_dir_all(p),
        Location::Remote(object) => remote::remove_all(&object),
    }
}

/// Renames the file `from` to `to` (both in the same file system): atomic for
/// local files; a copy then a delete in an object store.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    match (Location::of(from)?, Location::of(to)?) {
        (Location::Local(a), Location::Local(b)) => std::fs::rename(a, b),
        (Location::Remote(a), Location::Remote(b)) => remote::rename(&a, &b),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot rename {} to {}: different file systems",
                from.display(),
                to.display()
            ),
        )),
    }
}
