//! SQL jobs on S3 (a real S3 server, moto, started by the test): a CSV table
//! read from a bucket, results written into a bucket exactly once, checkpoints
//! kept in a bucket; the job killed with SIGKILL twice and resumed with
//! `-s latest` ends with the same output as a failure-free run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eddy_fs::testing::TestS3;

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

fn s3_settings(s3: &TestS3) -> String {
    s3.config()
        .iter()
        .map(|(k, v)| format!("SET '{k}' = '{v}';\n"))
        .collect()
}

/// The lines of the committed (not hidden) files under `dir`, sorted.
fn committed_lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in eddy_fs::list(dir).unwrap() {
        if entry.is_dir || entry.name.starts_with('.') {
            continue;
        }
        let text = String::from_utf8(eddy_fs::read(&dir.join(&entry.name)).unwrap()).unwrap();
        out.extend(text.lines().map(String::from));
    }
    out.sort();
    out
}

fn run(script: &Path, args: &[&str]) -> std::process::Output {
    eddy()
        .args(["sql", "-f"])
        .arg(script)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_sql_job_reads_writes_and_checkpoints_on_s3_and_survives_sigkill() {
    let s3 = TestS3::start().unwrap();
    s3.configure();
    for bucket in ["eddy-in", "eddy-out", "eddy-ck"] {
        s3.create_bucket(bucket).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();

    // Input: two CSV files and a hidden marker, in a "directory" of a bucket.
    let mut lines = Vec::new();
    for i in 0..40_000u32 {
        lines.push(format!("user{},{}", i % 97, i % 13));
    }
    let (first, second) = lines.split_at(25_000);
    eddy_fs::write(
        Path::new("s3://eddy-in/clicks/2024/a.csv"),
        (first.join("\n") + "\n").as_bytes(),
    )
    .unwrap();
    eddy_fs::write(
        Path::new("s3://eddy-in/clicks/b.csv"),
        (second.join("\n") + "\n").as_bytes(),
    )
    .unwrap();
    eddy_fs::write(Path::new("s3://eddy-in/clicks/_SUCCESS"), b"").unwrap();

    // A bounded job: S3 in, S3 out.
    let script = tmp.path().join("bounded.sql");
    std::fs::write(
        &script,
        format!(
            "{}CREATE TABLE clicks (name STRING, n INT) WITH ('connector' = 'filesystem', 'path' = 's3://eddy-in/clicks', 'format' = 'csv');
CREATE TABLE big (name STRING, n INT) WITH ('connector' = 'filesystem', 'path' = 's3://eddy-out/big', 'format' = 'csv');
INSERT INTO big SELECT name, n * 2 FROM clicks WHERE n >= 6;
",
            s3_settings(&s3)
        ),
    )
    .unwrap();
    let out = run(&script, &["-p", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut expected: Vec<String> = lines
        .iter()
        .filter_map(|line| {
            let (name, n) = line.split_once(',').unwrap();
            let n: u32 = n.parse().unwrap();
            (n >= 6).then(|| format!("{name},{}", n * 2))
        })
        .collect();
    expected.sort();
    assert_eq!(committed_lines(Path::new("s3://eddy-out/big")), expected);

    // A streaming job with checkpoints and output on S3.
    let job = |out: &str| {
        format!(
            "{}SET 'execution.checkpointing.interval' = '100 ms';
SET 'execution.checkpointing.dir' = 's3://eddy-ck/{out}';
CREATE TABLE datagen (
    event_type INT,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events.num' = '300000', 'rows-per-second' = '100000');
CREATE TABLE counts (auction BIGINT, window_start TIMESTAMP(3), n BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = 's3://eddy-out/{out}', 'format' = 'json');
INSERT INTO counts SELECT bid.auction, window_start, COUNT(*), SUM(bid.price) FROM TABLE(TUMBLE(TABLE datagen, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) WHERE event_type = 2 GROUP BY bid.auction, window_start, window_end;
",
            s3_settings(&s3)
        )
    };
    let clean = tmp.path().join("clean.sql");
    std::fs::write(&clean, job("clean")).unwrap();
    let out = run(&clean, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let crash = tmp.path().join("crash.sql");
    std::fs::write(&crash, job("crash")).unwrap();
    let mut killed = Vec::new();
    for round in 0..2 {
        let mut command = eddy();
        command.args(["sql", "-f"]).arg(&crash).args(["-p", "2"]);
        if round > 0 {
            command.args(["-s", "latest"]);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        killed.push(child.id());
    }
    // Checkpoints of the killed runs are in the bucket.
    let runs = eddy_fs::list(Path::new("s3://eddy-ck/crash")).unwrap();
    assert!(runs.iter().any(|r| r.is_dir), "{runs:?}");
    let out = run(&crash, &["-p", "1", "-s", "latest"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("from checkpoint") && stderr.contains("s3://eddy-ck/crash/"),
        "{stderr}"
    );
    let expected = committed_lines(Path::new("s3://eddy-out/clean"));
    assert!(expected.len() > 1000, "{}", expected.len());
    assert_eq!(committed_lines(Path::new("s3://eddy-out/crash")), expected);
    // The staging directories the killed runs left are gone.
    let staged: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            killed
                .iter()
                .any(|pid| n.starts_with(&format!("eddy-staging-{pid}-")))
        })
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    // Pending files are incomplete multipart uploads, never objects.
    let names: Vec<String> = eddy_fs::list(Path::new("s3://eddy-out/crash"))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".part-")), "{names:?}");
}

#[test]
fn missing_buckets_and_objects_are_errors_naming_them() {
    let s3 = TestS3::start().unwrap();
    s3.create_bucket("eddy-in").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("job.sql");
    let with = |body: &str| {
        std::fs::write(&script, format!("{}{body}", s3_settings(&s3))).unwrap();
        run(&script, &[])
    };
    // A table over a prefix with nothing under it.
    let out = with(
        "CREATE TABLE t (a INT) WITH ('connector' = 'filesystem', 'path' = 's3://eddy-in/nothing', 'format' = 'csv');
SELECT * FROM t;
",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("s3://eddy-in/nothing"), "{stderr}");

    // Checkpoints into a bucket that does not exist: the job fails at once.
    let out = with(
        "SET 'execution.checkpointing.interval' = '1 s';
SET 'execution.checkpointing.dir' = 's3://no-such-bucket/ck';
CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE o (a INT) WITH ('connector' = 'blackhole');
INSERT INTO o SELECT * FROM t;
",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("s3://no-such-bucket/ck")
            && stderr.contains("bucket 'no-such-bucket' does not exist"),
        "{stderr}"
    );

    // A scheme eddy has no file system for.
    let out = with(
        "CREATE TABLE t (a INT) WITH ('connector' = 'filesystem', 'path' = 'hdfs://nn/x', 'format' = 'csv');
SELECT * FROM t;
",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no file system for scheme 'hdfs://'"),
        "{stderr}"
    );
}
