//! Avro object container files (Flink's `avro` format of the `filesystem`
//! connector): a header (magic, the writer schema and codec, a sync marker),
//! then blocks of records, each block compressed with the codec (`null` or
//! `snappy`, Flink's default) and followed by the sync marker.

use std::collections::HashMap;
use std::io::{Read, Write};

use super::binary::{put_bytes, put_long, Reader};
use super::schema::Schema;

/// The four bytes every container file starts with.
const MAGIC: &[u8; 4] = b"Obj\x01";
/// Records are written in blocks of about this many bytes.
pub const BLOCK_BYTES: usize = 64 << 10;

type Result<T> = std::result::Result<T, String>;

/// How a file's blocks are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Not at all.
    Null,
    /// Snappy, each block followed by the CRC-32 of its uncompressed bytes.
    Snappy,
}

impl Codec {
    /// The codec named `name` (`avro.codec`).
    pub fn named(name: &str) -> Result<Codec> {
        match name {
            "null" => Ok(Codec::Null),
            "snappy" => Ok(Codec::Snappy),
            other => Err(format!(
                "'{other}' is not a codec eddy reads and writes (null, snappy)"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Snappy => "snappy",
        }
    }

    fn compress(self, block: &[u8]) -> Result<Vec<u8>> {
        match self {
            Codec::Null => Ok(block.to_vec()),
            Codec::Snappy => {
                let mut out = snap::raw::Encoder::new()
                    .compress_vec(block)
                    .map_err(|e| e.to_string())?;
                out.extend_from_slice(&crc32fast::hash(block).to_be_bytes());
                Ok(out)
            }
        }
    }

    fn decompress(self, block: &[u8]) -> Result<Vec<u8>> {
        match self {
            Codec::Null => Ok(block.to_vec()),
            Codec::Snappy => {
                if block.len() < 4 {
                    return Err("a snappy block without its checksum".into());
                }
                let (data, crc) = block.split_at(block.len() - 4);
                let out = snap::raw::Decoder::new()
                    .decompress_vec(data)
                    .map_err(|e| format!("a snappy block that does not decompress: {e}"))?;
                if crc32fast::hash(&out).to_be_bytes() != crc {
                    return Err("a snappy block whose checksum does not match".into());
                }
                Ok(out)
            }
        }
    }
}

/// Writes a container file: its header at once, then records in blocks.
pub struct ContainerWriter<W: Write> {
    out: W,
    codec: Codec,
    sync: [u8; 16],
    block: Vec<u8>,
    count: i64,
    /// Bytes written to `out` so far.
    written: u64,
}

impl<W: Write> ContainerWriter<W> {
    /// Starts a file of records of `schema` on `out`.
    pub fn new(mut out: W, schema: &Schema, codec: Codec) -> std::io::Result<Self> {
        let mut header = MAGIC.to_vec();
        let schema = schema.to_json().to_string();
        put_long(2, &mut header);
        put_bytes(b"avro.schema", &mut header);
        put_bytes(schema.as_bytes(), &mut header);
        put_bytes(b"avro.codec", &mut header);
        put_bytes(codec.name().as_bytes(), &mut header);
        put_long(0, &mut header);
        // The marker only has to differ from the data around it; a hash of the
        // schema, the time and the process is plenty.
        let seed = format!(
            "{schema}{:?}{}",
            std::time::SystemTime::now(),
            std::process::id()
        );
        let mut sync = [0u8; 16];
        for (i, chunk) in sync.chunks_mut(4).enumerate() {
            let hash = crc32fast::hash(format!("{i}{seed}").as_bytes());
            chunk.copy_from_slice(&hash.to_le_bytes());
        }
        header.extend_from_slice(&sync);
        out.write_all(&header)?;
        Ok(ContainerWriter {
            out,
            codec,
            sync,
            block: Vec::with_capacity(BLOCK_BYTES),
            count: 0,
            written: header.len() as u64,
        })
    }

    /// The block being filled, to append one encoded record to; call
    /// [`ContainerWriter::record_added`] after.
    pub fn block(&mut self) -> &mut Vec<u8> {
        &mut self.block
    }

    /// Counts the record just appended; writes the block when it is full.
    pub fn record_added(&mut self) -> std::io::Result<()> {
        self.count += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> std::io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let data = self
            .codec
            .compress(&self.block)
            .map_err(std::io::Error::other)?;
        let mut head = Vec::with_capacity(20);
        put_long(self.count, &mut head);
        put_long(data.len() as i64, &mut head);
        self.out.write_all(&head)?;
        self.out.write_all(&data)?;
        self.out.write_all(&self.sync)?;
        self.written += (head.len() + data.len() + self.sync.len()) as u64;
        self.block.clear();
        self.count = 0;
        Ok(())
    }

    /// The file's size so far, counting the block being filled uncompressed.
    pub fn size(&self) -> u64 {
        self.written + self.block.len() as u64
    }

    /// Writes the last block and returns the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.flush_block()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a whole container file: its writer schema, and each block's records
/// (as the bytes of the block, decompressed, and how many records it holds).
pub struct ContainerFile {
    /// The schema the records were written with.
    pub schema: Schema,
    /// The blocks: (records, bytes).
    pub blocks: Vec<(i64, Vec<u8>)>,
}

impl ContainerFile {
    /// Parses `input` (a whole file).
    pub fn read(mut input: impl Read) -> Result<ContainerFile> {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading: {e}"))?;
        if bytes.len() < 4 || &bytes[..4] != MAGIC {
            return Err("not an Avro container file (no 'Obj' magic)".into());
        }
        let mut reader = Reader::new(&bytes[4..]);
        let mut meta: HashMap<String, Vec<u8>> = HashMap::new();
        loop {
            let count = reader.block_count()?;
            if count == 0 {
                break;
            }
            for _ in 0..count {
                let key = String::from_utf8_lossy(reader.sized()?).into_owned();
                let value = reader.sized()?.to_vec();
                meta.insert(key, value);
            }
        }
        let schema_text = meta
            .get("avro.schema")
            .ok_or("an Avro file header without 'avro.schema'")?;
        let schema = Schema::parse(&String::from_utf8_lossy(schema_text))?;
        let codec = match meta.get("avro.codec") {
            None => Codec::Null,
            Some(name) => Codec::named(&String::from_utf8_lossy(name))?,
        };
        let sync = reader.take(16)?.to_vec();
        let mut blocks = Vec::new();
        while !reader.at_end() {
            let count = reader.long()?;
            if count < 0 {
                return Err(format!("a block of {count} records"));
            }
            let data = reader.sized()?;
            let data = codec.decompress(data)?;
            if reader.take(16)? != sync.as_slice() {
                return Err(format!(
                    "block {} does not end with the file's sync marker",
                    blocks.len() + 1
                ));
            }
            blocks.push((count, data));
        }
        Ok(ContainerFile { schema, blocks })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::connectors::avro::binary::{from_json, to_json_records};

    #[test]
    fn files_round_trip_and_damage_is_found() {
        let schema = Schema::parse(
            r#"{"type":"record","name":"r","fields":[{"name":"id","type":"long"},{"name":"s","type":["null","string"]}]}"#,
        )
        .unwrap();
        for codec in [Codec::Null, Codec::Snappy] {
            let mut writer = ContainerWriter::new(Vec::new(), &schema, codec).unwrap();
            for i in 0..10_000 {
                from_json(
                    &schema,
                    &format!(r#"{{"id":{i},"s":"row {i}"}}"#),
                    writer.block(),
                )
                .unwrap();
                writer.record_added().unwrap();
            }
            let bytes = writer.finish().unwrap();
            let file = ContainerFile::read(&bytes[..]).unwrap();
            assert_eq!(file.schema, schema);
            assert!(file.blocks.len() > 1, "{codec:?}");
            let mut rows = Vec::new();
            for (count, data) in &file.blocks {
                rows.extend(to_json_records(&file.schema, data, *count).unwrap());
            }
            assert_eq!(rows.len(), 10_000);
            assert_eq!(rows[9999], r#"{"id":9999,"s":"row 9999"}"#);

            // A damaged sync marker; with snappy, damaged data too.
            let mut places = vec![bytes.len() - 5];
            if codec == Codec::Snappy {
                places.push(bytes.len() - 30);
            }
            for at in places {
                let mut damaged = bytes.clone();
                damaged[at] ^= 0xff;
                assert!(ContainerFile::read(&damaged[..]).is_err(), "{codec:?} {at}");
            }
        }
        assert!(ContainerFile::read(&b"PAR1"[..]).is_err());
    }
}
