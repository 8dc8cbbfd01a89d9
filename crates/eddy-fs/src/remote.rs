//! Object store operations, blocking: each request runs on eddy-fs's own tokio
//! runtime and the caller waits for its answer, so they can be called from any
//! thread, inside another runtime or not.

use std::future::Future;
use std::io;
use std::ops::Range;
use std::sync::OnceLock;

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::runtime::Runtime;

use crate::location::Object;
use crate::{s3, Entry};

/// The runtime, built once (never dropped: dropping one inside another
/// runtime's thread would panic).
fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("eddy-fs")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| io::Error::other(format!("starting the object store runtime: {e}")))
}

/// Runs `request` on the runtime and waits for it.
pub(crate) fn block<T: Send + 'static>(
    request: impl Future<Output = object_store::Result<T>> + Send + 'static,
    object: &Object,
) -> io::Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(request.await);
    });
    match rx.recv() {
        Ok(result) => result.map_err(|e| error(object, e)),
        Err(_) => Err(io::Error::other(format!(
            "{}: the request was dropped",
            object.url()
        ))),
    }
}

/// The error of a request about `object`: its kind, and the store's message cut
/// to its first line (the rest is the server's XML answer). The caller names the
/// path, as with local files.
fn error(object: &Object, e: object_store::Error) -> io::Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    let text = e.to_string();
    if kind == io::ErrorKind::NotFound {
        return if text.contains("<Code>NoSuchBucket<") {
            io::Error::new(kind, format!("bucket '{}' does not exist", object.bucket))
        } else {
            io::Error::new(kind, "not found")
        };
    }
    let mut message: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(400)
        .collect();
    if let Some(code) = text
        .split("<Code>")
        .nth(1)
        .and_then(|c| c.split('<').next())
    {
        message = format!("{code}: {message}");
    }
    io::Error::new(kind, format!("{} ({})", message, object.url()))
}

pub(crate) fn key(object: &Object) -> Key {
    Key::from(object.key.as_str())
}

pub(crate) fn read(object: &Object, range: Option<Range<u64>>) -> io::Result<Vec<u8>> {
    let store = s3::store(&object.bucket)?;
    let key = key(object);
    block(
        async move {
            let bytes = match range {
                Some(range) => {
                    let size = store.head(&key).await?.size;
                    let range = range.start.min(size)..range.end.min(size);
                    if range.is_empty() {
                        return Ok(Vec::new());
                    }
                    store.get_range(&key, range).await?
                }
                None => store.get(&key).await?.bytes().await?,
            };
            Ok(bytes.to_vec())
        },
        object,
    )
}

pub(crate) fn len(object: &Object) -> io::Result<u64> {
    let store = s3::store(&object.bucket)?;
    let key = key(object);
    block(async move { Ok(store.head(&key).await?.size) }, object)
}

pub(crate) fn write(object: &Object, bytes: Vec<u8>) -> io::Result<()> {
    let store = s3::store(&object.bucket)?;
    let key = key(object);
    block(
        async move {
            store.put(&key, PutPayload::from(bytes)).await?;
            Ok(())
        },
        object,
    )
}

fn prefix(object: &Object) -> Option<Key> {
    (!object.key.is_empty()).then(|| key(object))
}

pub(crate) fn list(object: &Object) -> io::Result<Vec<Entry>> {
    let store = s3::store(&object.bucket)?;
    let prefix = prefix(object);
    let listing = block(
        async move { store.list_with_delimiter(prefix.as_ref()).await },
        object,
    )?;
    let dirs = listing.common_prefixes.iter().map(|p| Entry {
        name: p.filename().unwrap_or_default().to_string(),
        is_dir: true,
        size: 0,
    });
    let files = listing.objects.iter().map(|o| Entry {
        name: o.location.filename().unwrap_or_default().to_string(),
        is_dir: false,
        size: o.size,
    });
    Ok(dirs.chain(files).collect())
}

pub(crate) fn is_dir(object: &Object) -> bool {
    list(object).is_ok_and(|entries| !entries.is_empty())
}

pub(crate) fn exists(object: &Object) -> bool {
    len(object).is_ok() || is_dir(object)
}

pub(crate) fn remove(object: &Object) -> io::Result<()> {
    let store = s3::store(&object.bucket)?;
    let key = key(object);
    block(async move { store.delete(&key).await }, object)
}

pub(crate) fn remove_all(object: &Object) -> io::Result<()> {
    let store = s3::store(&object.bucket)?;
    let prefix = prefix(object);
    block(
        async move {
            let keys: Vec<Key> = store
                .list(prefix.as_ref())
                .map_ok(|meta| meta.location)
                .try_collect()
                .await?;
            for key in keys {
                store.delete(&key).await?;
            }
            Ok(())
        },
        object,
    )
}

pub(crate) fn rename(from: &Object, to: &Object) -> io::Result<()> {
    if from.bucket != to.bucket {
        let bytes = read(from, None)?;
        write(to, bytes)?;
        return remove(from);
    }
    let store = s3::store(&from.bucket)?;
    let (a, b) = (key(from), key(to));
    block(async move { store.rename(&a, &b).await }, from)
}
