//! The examples' command-line contract: run the built example binaries on
//! generated input and compare their part files with a reference computed here.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("examples").join(name)
}

/// Every line of every part file in `dir` (names starting with `.` or `_` are not
/// part of the result), sorted.
fn result_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("part file");
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

fn run(name: &str, args: &[&str]) -> std::process::Output {
    let output = Command::new(example(name))
        .args(args)
        .output()
        .expect("example runs");
    assert!(
        output.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `timestamp,key` lines out of order by up to `bound` ms, plus malformed lines.
fn window_input(path: &Path, rows: u64, bound: i64) -> Vec<(i64, String)> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut events = Vec::new();
    let mut text = String::new();
    for i in 0..rows {
        let base = (i * 7) as i64;
        let ts = (base - (next() % bound as u64) as i64).max(0);
        let key = format!("k{}", next() % 50);
        text.push_str(&format!("{ts},{key}\n"));
        events.push((ts, key));
        if i % 10_000 == 5 {
            text.push_str("this line is malformed\n");
        }
    }
    std::fs::write(path, text).expect("write input");
    events
}

#[test]
fn window_count_matches_a_reference_at_every_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    let events = window_input(&input, 50_000, 900);
    for (window, slide) in [(10_000i64, None), (10_000, Some(5_000i64))] {
        let mut expected: BTreeMap<(i64, i64, String), u64> = BTreeMap::new();
        for (ts, key) in &events {
            let step = slide.unwrap_or(window);
            let mut start = ts - ts.rem_euclid(step);
            while start > ts - window {
                *expected
                    .entry((start, start + window, key.clone()))
                    .or_default() += 1;
                start -= step;
            }
        }
        let mut expected: Vec<String> = expected
            .into_iter()
            .map(|((s, e, k), n)| format!("{s},{e},{k},{n}"))
            .collect();
        expected.sort();
        for p in ["1", "4"] {
            let out = dir.path().join(format!("out-{window}-{slide:?}-{p}"));
            let mut args = vec![
                "--input".to_string(),
                input.display().to_string(),
                "--output".into(),
                out.display().to_string(),
                "-p".into(),
                p.into(),
                "--window-ms".into(),
                window.to_string(),
            ];
            if let Some(s) = slide {
                args.extend(["--slide-ms".to_string(), s.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let output = run("window_count", &args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("5 malformed lines skipped"), "{stderr}");
            assert!(
                stderr.contains("events.csv:7: expected 'timestamp_ms,key'"),
                "{stderr}"
            );
            assert_eq!(
                result_lines(&out),
                expected,
                "window {window} slide {slide:?} p {p}"
            );
        }
    }
}

#[test]
fn wordcount_matches_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let input_dir = dir.path().join("in");
    std::fs::create_dir(&input_dir).unwrap();
    std::fs::write(
        input_dir.join("a.txt"),
        "Hello, world! HELLO again.\nnumbers 42 and 42x\n",
    )
    .unwrap();
    std::fs::write(input_dir.join("b.txt"), "world's end: ÉTÉ café\n").unwrap();
    std::fs::write(input_dir.join(".hidden"), "ignored ignored\n").unwrap();
    for p in ["1", "3"] {
        let out = dir.path().join(format!("out-{p}"));
        run(
            "wordcount",
            &[
                "--input",
                input_dir.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "-p",
                p,
            ],
        );
        let expected = [
            "42,1",
            "42x,1",
            "again,1",
            "and,1",
            "caf,1",
            "end,1",
            "hello,2",
            "numbers,1",
            "s,1",
            "t,1",
            "world,2",
        ];
        assert_eq!(result_lines(&out), expected, "p {p}");
    }
}

#[test]
fn examples_reject_bad_arguments_clearly() {
    let output = Command::new(example("window_count"))
        .args(["--input", "x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing required option --output"));
    let output = Command::new(example("wordcount"))
        .args(["--input", "/nope/none", "--output", "/tmp/x", "-p", "zero"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("-p needs a positive integer"));
}
