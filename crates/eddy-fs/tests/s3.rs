//! Every operation of eddy-fs against a real S3 server (moto), and the same
//! operations on a local directory: both must behave alike.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use eddy_fs::testing::TestS3;

fn exercise(base: &Path) {
    let file = base.join("a").join("one.bin");
    eddy_fs::create_dir_all(&base.join("a")).unwrap();
    eddy_fs::write(&file, b"hello world").unwrap();
    assert_eq!(eddy_fs::read(&file).unwrap(), b"hello world");
    assert_eq!(eddy_fs::read_range(&file, 6..100).unwrap(), b"world");
    assert_eq!(eddy_fs::read_range(&file, 20..30).unwrap(), b"");
    assert_eq!(eddy_fs::len(&file).unwrap(), 11);
    eddy_fs::write_atomic(&base.join("a").join("_metadata"), b"m").unwrap();
    eddy_fs::create_dir_all(&base.join("a").join("sub")).unwrap();
    eddy_fs::write(&base.join("a").join("sub").join("x"), b"x").unwrap();

    let names: Vec<(String, bool)> = eddy_fs::list(&base.join("a"))
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.is_dir))
        .collect();
    assert_eq!(
        names,
        [
            ("_metadata".into(), false),
            ("one.bin".into(), false),
            ("sub".into(), true)
        ]
    );
    assert!(eddy_fs::exists(&file));
    assert!(eddy_fs::is_dir(&base.join("a").join("sub")));
    assert!(!eddy_fs::exists(&base.join("a").join("nothing")));

    let missing = eddy_fs::read(&base.join("missing")).unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound, "{missing}");
    match eddy_fs::list(&base.join("no-dir")) {
        Ok(entries) => assert!(eddy_fs::is_remote(base) && entries.is_empty()),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
    }

    let renamed = base.join("a").join("two.bin");
    eddy_fs::rename(&file, &renamed).unwrap();
    assert!(!eddy_fs::exists(&file));
    assert_eq!(eddy_fs::read(&renamed).unwrap(), b"hello world");

    // A large upload goes in parts.
    let local = tempfile::NamedTempFile::new().unwrap();
    let big: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(local.path(), &big).unwrap();
    let target = base.join("big").join("part-0");
    eddy_fs::create_dir_all(&base.join("big")).unwrap();
    eddy_fs::multipart::upload(local.path(), &target).unwrap();
    assert_eq!(eddy_fs::len(&target).unwrap(), big.len() as u64);
    assert!(eddy_fs::read(&target).unwrap() == big);
    // Read back through the block reader, with seeks across blocks.
    use std::io::{Read, Seek, SeekFrom};
    let mut reader = eddy_fs::open(&target).unwrap();
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert!(all == big);
    reader.seek(SeekFrom::Start(4_194_300)).unwrap();
    let mut eight = [0u8; 8];
    reader.read_exact(&mut eight).unwrap();
    assert_eq!(eight[..], big[4_194_300..4_194_308]);
    assert_eq!(
        reader.seek(SeekFrom::End(-3)).unwrap(),
        big.len() as u64 - 3
    );
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).unwrap();
    assert_eq!(tail[..], big[big.len() - 3..]);

    // A two-phase upload: nothing until completed; completing again is fine.
    if eddy_fs::is_remote(base) {
        let target = base.join("big").join("part-1");
        let pending = eddy_fs::multipart::upload_pending(local.path(), &target).unwrap();
        assert_eq!(pending.parts.len(), 3);
        assert!(!eddy_fs::exists(&target));
        eddy_fs::multipart::complete(&target, &pending).unwrap();
        assert!(eddy_fs::read(&target).unwrap() == big);
        eddy_fs::multipart::complete(&target, &pending).unwrap();
        // An aborted upload leaves nothing.
        let aborted = base.join("big").join("part-2");
        let pending = eddy_fs::multipart::upload_pending(local.path(), &aborted).unwrap();
        eddy_fs::multipart::abort(&aborted, &pending).unwrap();
        assert!(eddy_fs::multipart::complete(&aborted, &pending).is_err());
        assert!(!eddy_fs::exists(&aborted));
    }

    eddy_fs::remove_file(&renamed).unwrap();
    eddy_fs::remove_dir_all(&base.join("a")).unwrap();
    assert!(!eddy_fs::exists(&base.join("a")));
    assert!(eddy_fs::exists(&base.join("big")));
}

#[test]
fn local_and_s3_behave_alike() {
    let dir = tempfile::tempdir().unwrap();
    exercise(dir.path());

    let s3 = TestS3::start().unwrap();
    s3.configure();
    s3.create_bucket("eddy-fs").unwrap();
    exercise(&PathBuf::from("s3://eddy-fs/base"));

    // A missing bucket is an error naming it.
    let err = eddy_fs::write(Path::new("s3://no-such-bucket/x"), b"x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(err.to_string(), "bucket 'no-such-bucket' does not exist");

    // An endpoint nobody listens on: an error naming the object, on one line.
    eddy_fs::configure([("s3.endpoint", "http://127.0.0.1:1")]);
    let err = eddy_fs::write(Path::new("s3://eddy-fs/x"), b"x").unwrap_err();
    assert!(err.to_string().contains("s3://eddy-fs/x"), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
}
