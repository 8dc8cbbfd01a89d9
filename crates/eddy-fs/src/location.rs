//! Parsing a [`Path`] into a local path or an object in a bucket.

use std::io;
use std::path::{Path, PathBuf};

/// Where a path points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A local path (`file://` removed).
    Local(PathBuf),
    /// An object (or prefix) in an object store.
    Remote(Object),
}

/// An object, or a key prefix, in a bucket of an object store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The URL scheme (`s3`).
    pub scheme: String,
    /// The bucket.
    pub bucket: String,
    /// The key, without leading or trailing `/` (empty for the bucket's root).
    pub key: String,
}

impl Location {
    /// Parses `path`. A URL with a scheme this build has no store for is an error
    /// naming the schemes it has.
    pub fn of(path: &Path) -> io::Result<Location> {
        let text = path.to_string_lossy();
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Location::Local(path.to_path_buf()));
        };
        if scheme == "file" {
            return Ok(Location::Local(PathBuf::from(rest)));
        }
        if !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        {
            return Ok(Location::Local(path.to_path_buf()));
        }
        if !matches!(scheme, "s3" | "s3a") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("no file system for scheme '{scheme}://' (eddy has file:// and s3://)"),
            ));
        }
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no bucket in the URL",
            ));
        }
        let key = key
            .split('/')
            .filter(|part| !part.is_empty() && *part != ".")
            .collect::<Vec<_>>()
            .join("/");
        Ok(Location::Remote(Object {
            scheme: "s3".into(),
            bucket: bucket.into(),
            key,
        }))
    }
}

impl Object {
    /// The URL of the object.
    pub fn url(&self) -> String {
        format!("{}://{}/{}", self.scheme, self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(bucket: &str, key: &str) -> Location {
        Location::Remote(Object {
            scheme: "s3".into(),
            bucket: bucket.into(),
            key: key.into(),
        })
    }

    #[test]
    fn parses_local_and_remote_paths() {
        let of = |p: &str| Location::of(Path::new(p)).unwrap();
        assert_eq!(of("/tmp/ck"), Location::Local("/tmp/ck".into()));
        assert_eq!(of("ck/chk-1"), Location::Local("ck/chk-1".into()));
        assert_eq!(of("file:///tmp/ck"), Location::Local("/tmp/ck".into()));
        assert_eq!(of("s3://b/ck/chk-1/"), remote("b", "ck/chk-1"));
        assert_eq!(of("s3a://b//x"), remote("b", "x"));
        assert_eq!(of("s3://b"), remote("b", ""));
        // Path::join keeps the URL intact.
        assert_eq!(
            Location::of(&Path::new("s3://b/ck").join("chk-2").join("_metadata")).unwrap(),
            remote("b", "ck/chk-2/_metadata")
        );
        let err = Location::of(Path::new("hdfs://nn/x")).unwrap_err();
        assert!(
            err.to_string()
                .contains("no file system for scheme 'hdfs://'"),
            "{err}"
        );
        assert!(Location::of(Path::new("s3:///x")).is_err());
    }
}
