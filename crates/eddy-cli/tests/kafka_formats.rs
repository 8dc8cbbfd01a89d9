//! Kafka tables in the `avro` and `avro-confluent` formats (against a real
//! broker and a test schema registry), and keys in `csv` and `avro`: rows with
//! nullable, decimal, timestamp, date, array, map, row and bytes columns go
//! through a topic and come back equal; the bytes on the wire are Avro's
//! binary encoding; a record of another writer schema is read by field names;
//! a record that is not Avro fails the job naming topic, partition and offset.
//! And `METADATA` columns written: a record's timestamp and headers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::registry::TestRegistry;
use common::run_script;
use eddy_kafka::testing::TestBroker;

const COLUMNS: &str = "id BIGINT NOT NULL, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3), day DATE, tags ARRAY<STRING>, attrs MAP<STRING, INT>, addr ROW<city STRING, zip INT>, raw BYTES";

const ROWS: &str = r#"{"id": 1, "name": "ab", "price": -12.5, "ts": "2024-01-01 00:00:01.500", "day": "2024-03-01", "tags": ["x", null, "y"], "attrs": {"k": 1, "n": null}, "addr": {"city": "Paris", "zip": 75001}, "raw": "AQI="}
{"id": 2}
{"id": 3, "name": "", "price": 99999999.99, "ts": "1969-12-31 23:59:59.999", "day": "1900-01-01", "tags": [], "attrs": {}, "addr": {"city": null, "zip": -1}, "raw": ""}
"#;

fn lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        out.extend(
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    out.sort();
    out
}

/// Writes ROWS through `topic` in the table options `format`, reads them back,
/// and returns what came out as JSON lines, with what went in (written by the
/// same JSON encoder straight from the file).
fn round_trip(
    broker: &TestBroker,
    dir: &Path,
    topic: &str,
    format: &str,
) -> (Vec<String>, Vec<String>) {
    broker.create_topic(topic, 2).unwrap();
    std::fs::write(dir.join("in.json"), ROWS).unwrap();
    let servers = broker.bootstrap_servers();
    let d = dir.display();
    let write = format!(
        "CREATE TABLE rows_in ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{d}/in.json', 'format' = 'json');
CREATE TABLE direct ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{d}/direct-{topic}', 'format' = 'json');
CREATE TABLE t ({COLUMNS}) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{servers}', {format});
EXECUTE STATEMENT SET BEGIN
INSERT INTO direct SELECT * FROM rows_in;
INSERT INTO t SELECT * FROM rows_in;
END;
"
    );
    let out = run_script(dir, "write.sql", &write);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = format!(
        "CREATE TABLE t ({COLUMNS}) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{servers}', {format},
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE back ({COLUMNS}) WITH ('connector' = 'filesystem', 'path' = '{d}/back-{topic}', 'format' = 'json');
INSERT INTO back SELECT * FROM t;
"
    );
    let out = run_script(dir, "read.sql", &read);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        lines(&dir.join(format!("back-{topic}"))),
        lines(&dir.join(format!("direct-{topic}"))),
    )
}

#[test]
fn avro_rows_round_trip_through_a_topic_as_avro_binary() {
    let broker = TestBroker::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (back, direct) = round_trip(&broker, tmp.path(), "avro", "'format' = 'avro'");
    assert_eq!(back.len(), 3);
    assert_eq!(back, direct);

    // The wire format of a small table: Avro's binary encoding, no header.
    broker.create_topic("small", 1).unwrap();
    let servers = broker.bootstrap_servers();
    let script = format!(
        "CREATE TABLE s (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'kafka', 'topic' = 'small', 'format' = 'avro', 'properties.bootstrap.servers' = '{servers}');
INSERT INTO s VALUES (1, 'ab'), (-2, CAST(NULL AS STRING));
"
    );
    let out = run_script(tmp.path(), "small.sql", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<Vec<u8>> = broker
        .read_committed("small")
        .unwrap()
        .into_iter()
        .map(|(_, _, _, value)| value)
        .collect();
    // long 1 (zigzag 2); union branch 1, string of 2 bytes; long -2 (3); branch 0.
    assert_eq!(
        values,
        [vec![0x02, 0x02, 0x04, b'a', b'b'], vec![0x03, 0x00]]
    );

    // A record that is not Avro of the table's schema fails the job, named.
    broker
        .producer()
        .unwrap()
        .send_bytes("small", 0, None, &[0x02, 0x08, 0x01])
        .unwrap();
    let script = format!(
        "CREATE TABLE s (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'kafka', 'topic' = 'small', 'format' = 'avro', 'properties.bootstrap.servers' = '{servers}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE o (id BIGINT, name STRING) WITH ('connector' = 'print');
INSERT INTO o SELECT * FROM s;
"
    );
    let out = run_script(tmp.path(), "bad.sql", &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("topic small, partition 0, offset 2"),
        "{stderr}"
    );
    assert!(stderr.contains("union branch 4 out of range"), "{stderr}");
}

#[test]
fn avro_confluent_registers_the_schema_and_reads_other_writer_schemas_by_name() {
    let broker = TestBroker::start().unwrap();
    let registry = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let format = format!(
        "'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{}'",
        registry.url
    );
    let (back, direct) = round_trip(&broker, tmp.path(), "confluent", &format);
    assert_eq!(back.len(), 3);
    assert_eq!(back, direct);
    {
        let state = registry.state.lock().unwrap();
        assert_eq!(
            state.subjects.keys().collect::<Vec<_>>(),
            ["confluent-value"]
        );
        let schema: serde_json::Value = serde_json::from_str(&state.schemas[0]).unwrap();
        assert_eq!(schema["name"], "record");
        assert_eq!(schema["namespace"], "org.apache.flink.avro.generated");
        assert_eq!(
            schema["fields"][0],
            serde_json::json!({"name": "id", "type": "long"})
        );
        assert_eq!(
            schema["fields"][2]["type"][1],
            serde_json::json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2})
        );
        assert_eq!(schema["fields"][7]["type"][1]["name"], "record_addr");
    }
    // Every message: a zero byte and the schema's id first.
    for (_, _, _, value) in broker.read_committed("confluent").unwrap() {
        assert_eq!(value[..5], [0, 0, 0, 0, 1]);
    }

    // Another producer's schema: an extra field and no `name`; read by names.
    let other = r#"{"type":"record","name":"Other","fields":[{"name":"extra","type":"string"},{"name":"id","type":"long"}]}"#;
    let id = registry.register("confluent-value", other);
    let mut message = vec![0u8];
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&[0x02, b'z', 0x0e]); // "z", 7
    broker
        .producer()
        .unwrap()
        .send_bytes("confluent", 0, None, &message)
        .unwrap();
    // A message whose schema id the registry does not know.
    let servers = broker.bootstrap_servers();
    let script = format!(
        "CREATE TABLE t ({COLUMNS}) WITH ('connector' = 'kafka', 'topic' = 'confluent', 'properties.bootstrap.servers' = '{servers}', {format},
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE o (id BIGINT, name STRING) WITH ('connector' = 'print');
INSERT INTO o SELECT id, name FROM t WHERE id = 7;
"
    );
    let out = run_script(tmp.path(), "other.sql", &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("+I[7, NULL]"), "{stdout}");

    // The rows written above went to either partition: the bad one is last
    // in partition 1.
    let offset = broker
        .read_committed("confluent")
        .unwrap()
        .iter()
        .filter(|(partition, ..)| *partition == 1)
        .count();
    broker
        .producer()
        .unwrap()
        .send_bytes("confluent", 1, None, &[0, 0, 0, 0, 99, 0x02])
        .unwrap();
    let out = run_script(tmp.path(), "unknown.sql", &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("topic confluent, partition 1, offset {offset}"))
            && stderr.contains("Schema not found"),
        "{stderr}"
    );
}

#[test]
fn csv_and_avro_keys_of_upsert_tables() {
    let broker = TestBroker::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let servers = broker.bootstrap_servers();
    let d = tmp.path().display();
    std::fs::write(tmp.path().join("words.csv"), "a,1\nb,2\na,3\nc,4\nb,5\n").unwrap();
    for (topic, key) in [("csv-keys", "csv"), ("avro-keys", "avro")] {
        broker.create_topic(topic, 2).unwrap();
        let table = format!(
            "CREATE TABLE totals (word STRING, n INT, total BIGINT, PRIMARY KEY (word, n) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '{topic}', 'key.format' = '{key}', 'value.format' = 'avro',
  'value.fields-include' = 'EXCEPT_KEY', 'properties.bootstrap.servers' = '{servers}'"
        );
        let script = format!(
            "CREATE TABLE words (word STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{d}/words.csv', 'format' = 'csv');
{table});
INSERT INTO totals SELECT word, 1, SUM(v) FROM words GROUP BY word;
"
        );
        let out = run_script(tmp.path(), "write.sql", &script);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let keys: Vec<Vec<u8>> = broker
            .read_committed(topic)
            .unwrap()
            .into_iter()
            .map(|(_, _, key, _)| key.unwrap())
            .collect();
        if key == "csv" {
            assert!(keys.contains(&b"a,1".to_vec()), "{keys:?}");
        } else {
            // A record of the key columns: string "a", int 1.
            assert!(
                keys.contains(&vec![0x02, 0x02, b'a', 0x02, 0x02]),
                "{keys:?}"
            );
        }
        let script = format!(
            "{table}, 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE o (word STRING, n INT, total BIGINT, PRIMARY KEY (word, n) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = '{d}/out-{topic}', 'format' = 'debezium-json');
INSERT INTO o SELECT * FROM totals;
"
        );
        let out = run_script(tmp.path(), "read.sql", &script);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The final row per key.
        let mut last = std::collections::BTreeMap::new();
        for line in lines(&tmp.path().join(format!("out-{topic}"))) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["op"] != "d" {
                let after = &v["after"];
                let total = after["total"].as_i64().unwrap();
                let entry = last
                    .entry(after["word"].as_str().unwrap().to_string())
                    .or_insert(0);
                *entry = (*entry).max(total);
                assert_eq!(after["n"], 1);
            }
        }
        let expected: std::collections::BTreeMap<String, i64> =
            [("a".into(), 4), ("b".into(), 7), ("c".into(), 4)].into();
        assert_eq!(last, expected, "{topic}");
    }
}

#[test]
fn timestamp_and_headers_metadata_columns_are_written() {
    let broker = TestBroker::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let servers = broker.bootstrap_servers();
    broker.create_topic("headed", 1).unwrap();
    broker.create_topic("copied", 1).unwrap();
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
    let bounded = "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'";
    let script = format!(
        "CREATE TABLE headed (id BIGINT, hs MAP<STRING, BYTES> METADATA FROM 'headers') WITH (
  'connector' = 'kafka', 'topic' = 'headed', 'format' = 'json', 'properties.bootstrap.servers' = '{servers}', {bounded});
CREATE TABLE copied (id BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', hs MAP<STRING, BYTES> METADATA FROM 'headers',
  `partition` INT METADATA VIRTUAL) WITH (
  'connector' = 'kafka', 'topic' = 'copied', 'value.format' = 'avro', 'properties.bootstrap.servers' = '{servers}');
INSERT INTO copied SELECT id, TO_TIMESTAMP_LTZ(4102444800123, 3), hs FROM headed;
"
    );
    let out = run_script(tmp.path(), "copy.sql", &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The value holds the physical column only: long 1.
    let records = broker.read_committed("copied").unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].3, [0x02, 0x02]);

    let script = format!(
        "CREATE TABLE copied (id BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', hs MAP<STRING, BYTES> METADATA FROM 'headers') WITH (
  'connector' = 'kafka', 'topic' = 'copied', 'value.format' = 'avro', 'properties.bootstrap.servers' = '{servers}', {bounded});
CREATE TABLE o (id BIGINT, ts TIMESTAMP_LTZ(3), source STRING, n STRING) WITH ('connector' = 'print');
INSERT INTO o SELECT id, ts, CAST(hs['source'] AS STRING), CAST(hs['n'] AS STRING) FROM copied;
"
    );
    let out = run_script(tmp.path(), "back.sql", &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("+I[1, 2100-01-01 00:00:00.123, test, 1]"),
        "{stdout}"
    );

    // Metadata a Kafka record cannot be given, and values that cannot carry it.
    for (columns, value, format, expected) in [
        (
            "o BIGINT METADATA FROM 'offset'",
            "0",
            "json",
            "the 'kafka' connector writes these metadata keys: headers, timestamp",
        ),
        (
            "ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'",
            "TO_TIMESTAMP_LTZ(0, 3)",
            "csv",
            "with values in 'csv'",
        ),
    ] {
        let script = format!(
            "CREATE TABLE t (id BIGINT, {columns}) WITH ('connector' = 'kafka', 'topic' = 'copied', 'format' = '{format}', 'properties.bootstrap.servers' = '{servers}');
INSERT INTO t SELECT 1, {value};
"
        );
        let out = run_script(tmp.path(), "bad.sql", &script);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(expected), "{stderr}");
    }
}
