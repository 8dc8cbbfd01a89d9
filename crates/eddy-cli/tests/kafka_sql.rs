//! SQL's `kafka` and `upsert-kafka` tables through the `eddy sql` command,
//! against a real broker: a table read and written, exactly-once output after
//! the job is killed with SIGKILL and resumed with `-s latest`, and the errors
//! for a bad option and an unreachable broker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{eddy_command as eddy, kill_and_resume, run_script};
use eddy_kafka::testing::TestBroker;

fn input(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r#"{{"id":{i},"word":"w{}","n":{}}}"#, i % 7, i % 100))
        .collect()
}

fn table(name: &str, topic: &str, broker: &TestBroker, extra: &str) -> String {
    format!(
        "CREATE TABLE {name} (id BIGINT, word STRING, n BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'format' = 'json',
  'properties.bootstrap.servers' = '{servers}'{extra});\n",
        servers = broker.bootstrap_servers()
    )
}

const BOUNDED: &str =
    ",\n  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'";

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

#[test]
fn kafka_tables_are_read_and_written_and_upserted_through_sql() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("events", 3).unwrap();
    broker.create_topic("doubled", 2).unwrap();
    broker.create_topic("counts", 2).unwrap();
    broker.create_topic("lines", 3).unwrap();
    broker.create_topic("located", 1).unwrap();
    let events = input(700);
    broker.produce("events", 3, &events).unwrap();
    broker.create_topic("headed", 1).unwrap();
    broker
        .producer()
        .unwrap()
        .send_with_headers(
            "headed",
            0,
            r#"{"id":1}"#,
            &[("source", b"test"), ("n", b"1")],
        )
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "CREATE TABLE headed (id BIGINT, hs MAP<STRING, BYTES> METADATA FROM 'headers') WITH (
  'connector' = 'kafka', 'topic' = 'headed', 'format' = 'json', 'properties.bootstrap.servers' = '{servers}'{bounded});
CREATE TABLE headed_out (id BIGINT, hs MAP<STRING, BYTES>) WITH ('connector' = 'print');
{src}{dst}CREATE TABLE counts (word STRING, c BIGINT, PRIMARY KEY (word) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'json', 'value.format' = 'json',
  'properties.bootstrap.servers' = '{servers}');
CREATE TABLE lines_in (line STRING) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'raw',
  'properties.bootstrap.servers' = '{servers}'{bounded});
CREATE TABLE lines_out (line STRING) WITH ('connector' = 'kafka', 'topic' = 'lines', 'format' = 'raw',
  'properties.bootstrap.servers' = '{servers}', 'sink.partitioner' = 'round-robin');
CREATE TABLE located (id BIGINT, word STRING, n BIGINT, `partition` INT METADATA, `offset` BIGINT METADATA,
  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', src STRING METADATA FROM 'topic' VIRTUAL)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json',
  'properties.bootstrap.servers' = '{servers}'{bounded});
CREATE TABLE located_out (id BIGINT, p INT, o BIGINT, ts TIMESTAMP_LTZ(3), src STRING) WITH (
  'connector' = 'kafka', 'topic' = 'located', 'format' = 'json', 'properties.bootstrap.servers' = '{servers}');
EXECUTE STATEMENT SET BEGIN
INSERT INTO headed_out SELECT id, hs FROM headed;
INSERT INTO located_out SELECT id, `partition`, `offset`, ts, src FROM located;
INSERT INTO lines_out SELECT line FROM lines_in;
INSERT INTO doubled SELECT id, word, n * 2 FROM events;
INSERT INTO counts SELECT word, COUNT(*) FROM events GROUP BY word;
END;
",
        src = table("events", "events", &broker, BOUNDED),
        dst = table(
            "doubled",
            "doubled",
            &broker,
            ",\n  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'sql-doubled'"
        ),
        servers = broker.bootstrap_servers(),
        bounded = BOUNDED,
    );
    let out = run_script(tmp.path(), "job.sql", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Headers as a MAP<STRING, BYTES> metadata column, in order.
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("+I[1, {source=x'74657374', n=x'31'}]"),
        "{printed}"
    );

    let mut doubled: Vec<(i64, String, i64)> = broker
        .read_committed_values("doubled")
        .unwrap()
        .iter()
        .map(|l| {
            let v = json(l);
            (
                v["id"].as_i64().unwrap(),
                v["word"].as_str().unwrap().to_string(),
                v["n"].as_i64().unwrap(),
            )
        })
        .collect();
    doubled.sort();
    let expected: Vec<(i64, String, i64)> = (0..700)
        .map(|i| (i as i64, format!("w{}", i % 7), (i % 100) as i64 * 2))
        .collect();
    assert_eq!(doubled, expected);

    // METADATA columns: record i went to partition i % 3 at offset i / 3.
    let located = broker.read_committed_values("located").unwrap();
    assert_eq!(located.len(), 700);
    for line in located {
        let v = json(&line);
        let id = v["id"].as_i64().unwrap();
        assert_eq!(v["p"].as_i64(), Some(id % 3), "{line}");
        assert_eq!(v["o"].as_i64(), Some(id / 3), "{line}");
        assert_eq!(v["src"].as_str(), Some("events"), "{line}");
        assert!(
            v["ts"].as_str().is_some_and(|t| t.starts_with("20")),
            "{line}"
        );
    }

    // The raw format: values as they are, spread round-robin.
    let lines = broker.read_committed("lines").unwrap();
    for p in 0..3 {
        assert!(
            lines.iter().filter(|r| r.0 == p).count() > 200,
            "round-robin over 3 partitions"
        );
    }
    let mut lines: Vec<String> = lines
        .into_iter()
        .map(|r| String::from_utf8(r.3).unwrap())
        .collect();
    lines.sort();
    let mut want_lines = events.clone();
    want_lines.sort();
    assert_eq!(lines, want_lines);

    // The upsert topic: the last value of every key is the final count.
    let mut latest: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for (_, _, key, value) in broker.read_committed("counts").unwrap() {
        let key = json(&String::from_utf8(key.expect("keyed")).unwrap());
        let count = (!value.is_empty()).then(|| {
            json(&String::from_utf8(value).unwrap())["c"]
                .as_i64()
                .unwrap()
        });
        latest.insert(key["word"].as_str().unwrap().to_string(), count);
    }
    let mut want = BTreeMap::new();
    for i in 0..700 {
        *want.entry(format!("w{}", i % 7)).or_insert(0i64) += 1;
    }
    let got: BTreeMap<String, i64> = latest
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_bad_option_or_an_unreachable_broker_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let servers = format!("127.0.0.1:{port}");
    let make = |extra: &str| {
        format!(
            "CREATE TABLE t (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json',
  'properties.bootstrap.servers' = '{servers}', 'scan.startup.mode' = 'earliest-offset'{extra});
CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id FROM t;
"
        )
    };
    // A misspelt option is named.
    let out = run_script(
        tmp.path(),
        "typo.sql",
        &make(", 'scan.bounded.mod' = 'latest-offset'"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("scan.bounded.mod"), "{stderr}");
    // A bad value is named with its option.
    let out = run_script(
        tmp.path(),
        "value.sql",
        &make(", 'scan.bounded.mode' = 'soon'"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("scan.bounded.mode") && stderr.contains("soon"),
        "{stderr}"
    );
    // The default start (group offsets) needs a group.
    let script = make("").replace(", 'scan.startup.mode' = 'earliest-offset'", "");
    let out = run_script(tmp.path(), "group.sql", &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("properties.group.id"), "{stderr}");
    // An unknown metadata key is named, with the keys there are.
    let script = make("").replacen(
        "(id BIGINT)",
        "(id BIGINT, h STRING METADATA FROM 'nope')",
        1,
    );
    let out = run_script(tmp.path(), "meta.sql", &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("'nope'") && stderr.contains("offset"),
        "{stderr}"
    );
    // Nothing listens at the address: an error within the request timeout.
    let started = Instant::now();
    let out = run_script(tmp.path(), "down.sql", &make(""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr.contains(&servers), "{stderr}");
}

/// A Kafka → Kafka exactly-once job; `bounded` makes it end at the topic's end.
fn kill_job(broker: &TestBroker, checkpoints: &Path, bounded: bool) -> String {
    let scan = if bounded {
        BOUNDED
    } else {
        ",\n  'scan.startup.mode' = 'earliest-offset'"
    };
    format!(
        "SET 'execution.checkpointing.interval' = '200 ms';
SET 'execution.checkpointing.dir' = '{ck}';
{src}{dst}INSERT INTO copied SELECT id, word, n + 1 FROM events;
",
        ck = checkpoints.display(),
        src = table("events", "events", broker, scan),
        dst = table(
            "copied",
            "copied",
            broker,
            ",\n  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'sql-kill'"
        ),
    )
}

#[test]
fn a_kafka_to_kafka_sql_job_killed_with_sigkill_resumes_exactly_once() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("events", 3).unwrap();
    broker.create_topic("copied", 2).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints: PathBuf = tmp.path().join("checkpoints");
    let events = input(24_000);
    // Input keeps arriving while the job is killed and restarted.
    let (first, rest) = events.split_at(4_000);
    broker.produce("events", 3, first).unwrap();
    let unbounded = tmp.path().join("unbounded.sql");
    std::fs::write(&unbounded, kill_job(&broker, &checkpoints, false)).unwrap();
    let kills = std::thread::scope(|scope| {
        scope.spawn(|| {
            let producer = broker.producer().unwrap();
            for chunk in rest.chunks(600) {
                producer.send("events", 3, chunk).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        kill_and_resume(
            &unbounded,
            &checkpoints,
            5,
            |round| if round % 2 == 0 { "2" } else { "3" },
            |round| Duration::from_millis(350 + 170 * round),
        )
    });
    let before_last = broker.read_committed_values("copied").unwrap().len();
    assert!(before_last > 0, "nothing committed before the last run");
    // The last run reads to the end of the topic and finishes.
    let bounded = tmp.path().join("bounded.sql");
    std::fs::write(&bounded, kill_job(&broker, &checkpoints, true)).unwrap();
    let out = eddy()
        .args(["sql", "-f"])
        .arg(&bounded)
        .args(["-p", "2", "-s", "latest"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut got: Vec<(i64, i64)> = broker
        .read_committed_values("copied")
        .unwrap()
        .iter()
        .map(|l| {
            let v = json(l);
            (v["id"].as_i64().unwrap(), v["n"].as_i64().unwrap())
        })
        .collect();
    got.sort();
    let want: Vec<(i64, i64)> = (0..24_000)
        .map(|i| (i as i64, (i % 100) as i64 + 1))
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "records lost or duplicated after {kills} kills"
    );
    assert!(
        got == want,
        "output after {kills} kills differs from the input"
    );
}

#[test]
fn a_missing_topic_or_a_malformed_record_is_named() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("mixed", 1).unwrap();
    let mut records = input(5);
    records.insert(3, "{\"id\": 3, oops".to_string());
    broker.produce("mixed", 1, &records).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = |topic: &str, extra: &str| {
        format!(
            "{}CREATE TABLE out (id BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT id FROM events;
",
            table("events", topic, &broker, &format!("{BOUNDED}{extra}"))
        )
    };
    // A topic that does not exist.
    let out = run_script(tmp.path(), "missing.sql", &script("nowhere", ""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("'nowhere'"), "{stderr}");
    // A record that is not JSON: the job fails naming topic, partition and offset.
    let out = run_script(tmp.path(), "bad.sql", &script("mixed", ""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("kafka://mixed/0:3"), "{stderr}");
    // With json.ignore-parse-errors it is skipped, counted and reported.
    let out = run_script(
        tmp.path(),
        "skip.sql",
        &script("mixed", ", 'json.ignore-parse-errors' = 'true'"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("+I[")).count(),
        5,
        "{stdout}"
    );
    assert!(stderr.contains("kafka://mixed/0:3"), "{stderr}");
}

#[test]
fn a_kafka_tables_watermark_is_tracked_per_partition() {
    // Partition 0 is 100 s ahead of partition 1: with one watermark for both,
    // partition 1's rows read after partition 0's would be late.
    let broker = TestBroker::start().unwrap();
    broker.create_topic("timed", 2).unwrap();
    let record = |i: usize, base: usize| {
        format!(
            r#"{{"id":{i},"ts":"2024-01-01 00:{:02}:{:02}.{:03}"}}"#,
            (base + i / 30) / 60,
            (base + i / 30) % 60,
            i % 30 * 33
        )
    };
    // Record k goes to partition k % 2.
    let values: Vec<String> = (0..600)
        .map(|k| record(k / 2, if k % 2 == 0 { 100 } else { 0 }))
        .collect();
    broker.produce("timed", 2, &values).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "CREATE TABLE timed (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
  'connector' = 'kafka', 'topic' = 'timed', 'format' = 'json',
  'properties.bootstrap.servers' = '{}'{BOUNDED});
CREATE TABLE counts (window_start TIMESTAMP(3), c BIGINT)
  WITH ('connector' = 'filesystem', 'path' = '{}/counts', 'format' = 'csv');
INSERT INTO counts SELECT window_start, COUNT(*)
  FROM TABLE(TUMBLE(TABLE timed, DESCRIPTOR(ts), INTERVAL '5' SECOND))
  GROUP BY window_start, window_end;
",
        broker.bootstrap_servers(),
        tmp.path().display()
    );
    let out = run_script(tmp.path(), "timed.sql", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts: Vec<String> = std::fs::read_dir(tmp.path().join("counts"))
        .unwrap()
        .flat_map(|f| {
            std::fs::read_to_string(f.unwrap().path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    counts.sort();
    // Ten seconds of each partition: two windows of 150 rows each.
    let want: Vec<String> = ["00:00:00", "00:00:05", "00:01:40", "00:01:45"]
        .iter()
        .map(|t| format!("\"2024-01-01 {t}\",150"))
        .collect();
    assert_eq!(counts, want);
}

/// The last value of each key of `topic`, as JSON (`None` after a tombstone).
fn latest_by_key(broker: &TestBroker, topic: &str) -> BTreeMap<String, Option<serde_json::Value>> {
    let mut latest = BTreeMap::new();
    for (_, _, key, value) in broker.read_committed(topic).unwrap() {
        let key = String::from_utf8(key.expect("keyed")).unwrap();
        let value = (!value.is_empty()).then(|| json(&String::from_utf8(value).unwrap()));
        latest.insert(key, value);
    }
    latest
}

#[test]
fn upsert_kafka_tables_are_read_as_changelogs_and_versioned_tables() {
    let broker = TestBroker::start().unwrap();
    for topic in ["prices", "slim", "totals", "orders", "priced"] {
        broker.create_topic(topic, 2).unwrap();
    }
    let producer = broker.producer().unwrap();
    // Keys a and c on partition 0, b on 1: each key's records in order.
    let records: [(&str, i32, Option<&str>); 8] = [
        (
            "a",
            0,
            Some(r#"{"id":"a","price":10,"ts":"2024-01-01 10:00:00"}"#),
        ),
        (
            "b",
            1,
            Some(r#"{"id":"b","price":5,"ts":"2024-01-01 10:00:00"}"#),
        ),
        (
            "a",
            0,
            Some(r#"{"id":"a","price":12,"ts":"2024-01-01 11:00:00"}"#),
        ),
        (
            "a",
            0,
            Some(r#"{"id":"a","price":12,"ts":"2024-01-01 11:00:00"}"#),
        ),
        ("b", 1, None),
        ("c", 0, None),
        (
            "c",
            0,
            Some(r#"{"id":"c","price":7,"ts":"2024-01-01 10:30:00"}"#),
        ),
        (
            "b",
            1,
            Some(r#"{"id":"b","price":6,"ts":"2024-01-01 12:00:00"}"#),
        ),
    ];
    for (key, partition, value) in records {
        producer
            .send_keyed("prices", partition, &format!(r#"{{"id":"{key}"}}"#), value)
            .unwrap();
        // The same, with values that leave out the key.
        let slim = value.map(|v| v.replacen(&format!(r#""id":"{key}","#), "", 1));
        producer
            .send_keyed(
                "slim",
                partition,
                &format!(r#"{{"id":"{key}"}}"#),
                slim.as_deref(),
            )
            .unwrap();
    }
    let orders = [
        r#"{"oid":1,"id":"a","qty":1,"ts":"2024-01-01 10:30:00"}"#,
        r#"{"oid":2,"id":"b","qty":2,"ts":"2024-01-01 10:30:00"}"#,
        r#"{"oid":3,"id":"a","qty":3,"ts":"2024-01-01 11:30:00"}"#,
        r#"{"oid":4,"id":"b","qty":4,"ts":"2024-01-01 11:30:00"}"#,
        r#"{"oid":5,"id":"c","qty":5,"ts":"2024-01-01 11:30:00"}"#,
        r#"{"oid":6,"id":"b","qty":6,"ts":"2024-01-01 12:30:00"}"#,
    ];
    broker
        .produce("orders", 1, &orders.map(String::from))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let servers = broker.bootstrap_servers();
    let upsert = |name: &str, topic: &str, columns: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} ({columns}) WITH (
  'connector' = 'upsert-kafka', 'topic' = '{topic}', 'key.format' = 'json', 'value.format' = 'json',
  'properties.bootstrap.servers' = '{servers}', 'scan.bounded.mode' = 'latest-offset'{extra});\n"
        )
    };
    let script = upsert(
        "prices",
        "prices",
        "id STRING, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts, PRIMARY KEY (id) NOT ENFORCED",
        "",
    ) + &upsert(
        "slim",
        "slim",
        "id STRING, price BIGINT, ts TIMESTAMP(3), PRIMARY KEY (id) NOT ENFORCED",
        ", 'value.fields-include' = 'EXCEPT_KEY'",
    ) + &upsert(
        "totals",
        "totals",
        "name STRING, n BIGINT, total BIGINT, PRIMARY KEY (name) NOT ENFORCED",
        "",
    ) + &format!(
        "CREATE TABLE orders (oid BIGINT, id STRING, qty BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'format' = 'json', 'properties.bootstrap.servers' = '{servers}'{BOUNDED});
CREATE TABLE priced (oid BIGINT, price BIGINT, cost BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'priced', 'format' = 'json', 'properties.bootstrap.servers' = '{servers}');
EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT 'prices', COUNT(*), SUM(price) FROM prices;
INSERT INTO totals SELECT 'slim', COUNT(*), SUM(price) FROM slim;
INSERT INTO priced SELECT o.oid, p.price, o.qty * p.price
  FROM orders AS o JOIN prices FOR SYSTEM_TIME AS OF o.ts AS p ON o.id = p.id;
END;
"
    );
    let out = run_script(tmp.path(), "upsert.sql", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a's repeated 12 changed nothing; b's tombstone retracted 5 before 6
    // came; c's tombstone deleted nothing. The rows left: a 12, b 6, c 7.
    let totals = latest_by_key(&broker, "totals");
    for name in ["prices", "slim"] {
        let row = totals[&format!(r#"{{"name":"{name}"}}"#)]
            .clone()
            .expect(name);
        assert_eq!(
            (row["n"].as_i64(), row["total"].as_i64()),
            (Some(3), Some(25)),
            "{name}"
        );
    }
    // Each order priced as of its time: b was deleted from 10:00 (its
    // tombstone carries no time, so it takes effect as of b's last version)
    // until 12:00, and c is priced from 10:30.
    let mut priced: Vec<(i64, i64, i64)> = broker
        .read_committed_values("priced")
        .unwrap()
        .iter()
        .map(|l| {
            let v = json(l);
            (
                v["oid"].as_i64().unwrap(),
                v["price"].as_i64().unwrap(),
                v["cost"].as_i64().unwrap(),
            )
        })
        .collect();
    priced.sort();
    assert_eq!(
        priced,
        vec![(1, 10, 10), (3, 12, 36), (5, 7, 35), (6, 6, 36)]
    );
}

#[test]
fn raw_keys_are_written_and_read_as_the_key_columns_text() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("events", 2).unwrap();
    broker.create_topic("counts", 2).unwrap();
    broker.produce("events", 2, &input(70)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let servers = broker.bootstrap_servers();
    let counts = |extra: &str| {
        format!(
            "CREATE TABLE counts (word STRING, c BIGINT, PRIMARY KEY (word) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'raw', 'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY', 'properties.bootstrap.servers' = '{servers}'{extra});\n"
        )
    };
    let script = table("events", "events", &broker, BOUNDED)
        + &counts("")
        + "INSERT INTO counts SELECT word, COUNT(*) FROM events GROUP BY word;\n";
    let out = run_script(tmp.path(), "write.sql", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The keys are the words themselves; the values leave them out.
    let latest = latest_by_key(&broker, "counts");
    assert_eq!(latest.len(), 7);
    for w in 0..7 {
        let value = latest[&format!("w{w}")].clone().expect("a count");
        assert_eq!(value, json(r#"{"c":10}"#), "w{w}");
    }
    // Read back as an upsert source with raw keys.
    let tally = format!(
        "{}CREATE TABLE tally (n BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}/tally', 'format' = 'debezium-json');
INSERT INTO tally SELECT COUNT(*), SUM(c) FROM counts;
",
        counts(", 'scan.bounded.mode' = 'latest-offset'"),
        tmp.path().display()
    );
    let out = run_script(tmp.path(), "read.sql", &tally);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut last = None;
    for entry in std::fs::read_dir(tmp.path().join("tally")).unwrap() {
        for line in std::fs::read_to_string(entry.unwrap().path())
            .unwrap()
            .lines()
        {
            let v = json(line);
            if v["op"] == "c" {
                last = Some(v["after"].clone());
            }
        }
    }
    assert_eq!(last, Some(json(r#"{"n":7,"total":70}"#)));
    // A raw key holds one column.
    let two = format!(
        "CREATE TABLE pairs (a STRING, b STRING, PRIMARY KEY (a, b) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'raw', 'value.format' = 'json',
  'properties.bootstrap.servers' = '{servers}');
INSERT INTO pairs VALUES ('x', 'y');
"
    );
    let out = run_script(tmp.path(), "two.sql", &two);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("'raw' keys hold one column"), "{stderr}");
}

#[test]
fn an_empty_partition_holds_the_watermark_back_until_the_idle_timeout() {
    use std::io::{BufRead, BufReader};
    let broker = TestBroker::start().unwrap();
    broker.create_topic("sparse", 2).unwrap();
    // 30 seconds of event time, all on partition 0; partition 1 stays empty.
    let values: Vec<String> = (0..300)
        .map(|i| {
            format!(
                r#"{{"id":{i},"ts":"2024-01-01 00:00:{:02}.{:03}"}}"#,
                i / 10,
                i % 10 * 100
            )
        })
        .collect();
    // One partition given: every record to partition 0.
    broker.produce("sparse", 1, &values).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let windows_within = |idle: &str, wait: Duration| -> Vec<String> {
        let script = format!(
            "{idle}CREATE TABLE sparse (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
  'connector' = 'kafka', 'topic' = 'sparse', 'format' = 'json',
  'properties.bootstrap.servers' = '{}', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE out (window_start TIMESTAMP(3), c BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT window_start, COUNT(*)
  FROM TABLE(TUMBLE(TABLE sparse, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end;
",
            broker.bootstrap_servers()
        );
        let path = tmp.path().join("sparse.sql");
        std::fs::write(&path, script).unwrap();
        let mut child = eddy()
            .args(["sql", "-f"])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reader = {
            let lines = lines.clone();
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.starts_with("+I") {
                        lines.lock().unwrap().push(line);
                    }
                }
            })
        };
        let started = Instant::now();
        while lines.lock().unwrap().len() < 2 && started.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let mut got = lines.lock().unwrap().clone();
        got.sort();
        got
    };
    // With an idle timeout the empty partition stops holding event time back.
    assert_eq!(
        windows_within(
            "SET 'table.exec.source.idle-timeout' = '500 ms';\n",
            Duration::from_secs(20)
        ),
        vec![
            "+I[2024-01-01 00:00:00.000, 100]",
            "+I[2024-01-01 00:00:10.000, 100]"
        ]
    );
    // Without one (Flink's default) no window fires while the job runs.
    assert_eq!(
        windows_within("", Duration::from_secs(3)),
        Vec::<String>::new()
    );
}
