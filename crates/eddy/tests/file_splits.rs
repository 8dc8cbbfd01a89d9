//! Text files read in splits: every line exactly once, with its own line
//! number, at every split size and parallelism.

#![allow(clippy::unwrap_used)]

use eddy::connectors::TextFileSource;
use eddy::prelude::*;

/// Lines of every length from 0 to 40 bytes, CRLF endings here and there, a
/// byte order mark first, and no line ending after the last.
fn write_file(path: &std::path::Path) -> Vec<(u64, String)> {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    let mut lines = Vec::new();
    for i in 0..2_000u64 {
        let text: String = (0..(i * 7919) % 41)
            .map(|k| (b'a' + (k % 26) as u8) as char)
            .collect();
        bytes.extend_from_slice(text.as_bytes());
        if i + 1 < 2_000 {
            bytes.extend_from_slice(if i % 5 == 0 { b"\r\n" } else { b"\n" });
        }
        lines.push((i + 1, text));
    }
    std::fs::write(path, bytes).unwrap();
    lines
}

#[test]
fn every_line_once_with_its_number_at_every_split_size_and_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.txt");
    let expected = write_file(&path);
    for split_size in [1, 2, 7, 64, 1_000, 1 << 30] {
        for p in [1, 3] {
            let env = StreamExecutionEnvironment::new();
            env.set_parallelism(p);
            let file = path.clone();
            let out = env
                .add_source("Files", Some(p), move |_| {
                    TextFileSource::new(file.clone()).with_split_size(split_size)
                })
                .unwrap()
                .map(|line: TextLine| (line.line_number, line.text))
                .collect_vec();
            env.execute("splits").unwrap();
            let mut got = out.take();
            got.sort();
            assert_eq!(got.len(), expected.len(), "split size {split_size}, p {p}");
            assert!(got == expected, "split size {split_size}, p {p}");
        }
    }
}

#[test]
fn the_split_size_comes_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.txt");
    let expected = write_file(&path);
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(3);
    env.configure("source.file.split-size", "100");
    let out = env
        .read_text_lines(&path)
        .map(|line: TextLine| (line.line_number, line.text))
        .collect_vec();
    env.execute("configured splits").unwrap();
    let mut got = out.take();
    got.sort();
    assert!(got == expected);
}
