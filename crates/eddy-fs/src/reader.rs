//! Reading a file as a stream with seeks: a local file, or an object fetched in
//! ranged requests of a few MiB as the reader moves through it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::location::{Location, Object};
use crate::remote;

/// How much of an object one request fetches.
const BLOCK: u64 = 4 << 20;

/// A file opened for reading ([`open`]).
pub enum Reader {
    /// A local file.
    Local(File),
    /// An object in an object store.
    Remote(RemoteReader),
}

/// An object read block by block.
pub struct RemoteReader {
    object: Object,
    size: u64,
    /// The reader's position.
    position: u64,
    /// The block held and where it starts.
    block: Vec<u8>,
    block_start: u64,
}

/// Opens the file at `path` for reading.
pub fn open(path: &Path) -> io::Result<Reader> {
    match Location::of(path)? {
        Location::Local(p) => File::open(p).map(Reader::Local),
        Location::Remote(object) => {
            let size = remote::len(&object)?;
            Ok(Reader::Remote(RemoteReader {
                object,
                size,
                position: 0,
                block: Vec::new(),
                block_start: 0,
            }))
        }
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Local(file) => file.read(buf),
            Reader::Remote(remote) => remote.read(buf),
        }
    }
}

impl Seek for Reader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            Reader::Local(file) => file.seek(to),
            Reader::Remote(remote) => remote.seek(to),
        }
    }
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let block_end = self.block_start + self.block.len() as u64;
        if !(self.block_start..block_end).contains(&self.position) {
            let end = (self.position + BLOCK).min(self.size);
            self.block = remote::read(&self.object, Some(self.position..end))?;
            self.block_start = self.position;
            if self.block.is_empty() {
                return Ok(0);
            }
        }
        let from = (self.position - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - from);
        buf[..n].copy_from_slice(&self.block[from..from + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}
