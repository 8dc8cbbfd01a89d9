//! Uploading a local file as one object, in parts when it is large.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use object_store::{ObjectStoreExt, WriteMultipart};

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
