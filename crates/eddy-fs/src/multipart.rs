//! Uploading a local file as one object: at once ([`upload`], in parts when it
//! is large), or in two phases ([`upload_pending`], then [`complete`]): the
//! parts are uploaded but the object appears only when the upload is
//! completed, which may be done again after a crash (the two-phase commit of
//! the file sink in an object store).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use object_store::multipart::{MultipartStore, PartId};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use crate::location::{Location, Object};
use crate::remote::{block, key};
use crate::s3;

/// The size of an upload's parts (S3 wants at least 5 MiB but for the last).
const PART_SIZE: usize = 8 << 20;

/// Copies the local file `from` to `to` (local or in an object store), whole: an
/// object appears only when the upload completes.
pub fn upload(from: &Path, to: &Path) -> io::Result<()> {
    let object = match Location::of(to)? {
        Location::Local(target) => {
            std::fs::copy(from, &target)?;
            return File::open(&target)?.sync_all();
        }
        Location::Remote(object) => object,
    };
    let mut file = File::open(from)?;
    let size = file.metadata()?.len();
    if size as usize <= PART_SIZE {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes)?;
        return crate::remote::write(&object, bytes);
    }
    upload_in_parts(file, &object)
}

fn upload_in_parts(mut file: File, object: &Object) -> io::Result<()> {
    let store = s3::store(&object.bucket)?;
    let key = key(object);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let reader = std::thread::spawn(move || -> io::Result<()> {
        loop {
            let mut chunk = Vec::with_capacity(PART_SIZE);
            (&mut file).take(PART_SIZE as u64).read_to_end(&mut chunk)?;
            if chunk.is_empty() || tx.send(chunk).is_err() {
                return Ok(());
            }
        }
    });
    let rx = std::sync::Mutex::new(rx);
    let uploaded = block(
        async move {
            let upload = store.put_multipart(&key).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            loop {
                let chunk = rx.lock().map(|rx| rx.recv().ok()).unwrap_or(None);
                let Some(chunk) = chunk else { break };
                writer.wait_for_capacity(2).await?;
                writer.write(&chunk);
            }
            writer.finish().await?;
            Ok(())
        },
        object,
    );
    let read = reader
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the upload's reader panicked")));
    read?;
    uploaded
}

/// A multipart upload whose parts are all uploaded, not completed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    /// The store's id of the upload.
    pub upload_id: String,
    /// The store's id of each part, in order.
    pub parts: Vec<String>,
}

/// Uploads the local file `from` as the parts of a multipart upload of `to` (in
/// an object store), without completing it: nothing appears at `to` until
/// [`complete`].
pub fn upload_pending(from: &Path, to: &Path) -> io::Result<PendingUpload> {
    let object = remote_object(to)?;
    let store = s3::store(&object.bucket)?;
    let key = key(&object);
    let mut file = File::open(from)?;
    let upload_id = {
        let (store, key) = (store.clone(), key.clone());
        block(async move { store.create_multipart(&key).await }, &object)?
    };
    let mut parts = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(PART_SIZE);
        (&mut file).take(PART_SIZE as u64).read_to_end(&mut chunk)?;
        // An empty file is one empty part; otherwise no empty last part.
        if chunk.is_empty() && !parts.is_empty() {
            break;
        }
        let last = chunk.len() < PART_SIZE;
        let (store, key, id, index) = (store.clone(), key.clone(), upload_id.clone(), parts.len());
        let part = block(
            async move {
                store
                    .put_part(&key, &id, index, PutPayload::from(chunk))
                    .await
            },
            &object,
        )?;
        parts.push(part.content_id);
        if last {
            break;
        }
    }
    Ok(PendingUpload { upload_id, parts })
}

/// Completes `upload` of `to`: the object appears whole. Completing an upload
/// that was completed before (a retry after a crash) finds the object and
/// succeeds.
pub fn complete(to: &Path, upload: &PendingUpload) -> io::Result<()> {
    let object = remote_object(to)?;
    let store = s3::store(&object.bucket)?;
    let key = key(&object);
    let (id, parts) = (
        upload.upload_id.clone(),
        upload
            .parts
            .iter()
            .map(|content_id| PartId {
                content_id: content_id.clone(),
            })
            .collect(),
    );
    match block(
        async move { store.complete_multipart(&key, &id, parts).await },
        &object,
    ) {
        Ok(_) => Ok(()),
        Err(_) if crate::remote::len(&object).is_ok() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Abandons `upload` of `to` (its parts are deleted).
pub fn abort(to: &Path, upload: &PendingUpload) -> io::Result<()> {
    let object = remote_object(to)?;
    let store = s3::store(&object.bucket)?;
    let (key, id) = (key(&object), upload.upload_id.clone());
    block(
        async move { store.abort_multipart(&key, &id).await },
        &object,
    )
}

fn remote_object(path: &Path) -> io::Result<Object> {
    match Location::of(path)? {
        Location::Remote(object) => Ok(object),
        Location::Local(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{}: multipart uploads are for object stores",
                path.display()
            ),
        )),
    }
}
