//! SQL's `jdbc` tables through the `eddy sql` command, against a real
//! PostgreSQL server: rows appended, upserted and deleted by key, a table
//! scanned in partitions, a lookup join through a partial cache that sees an
//! update after its TTL, a Kafka → aggregation → PostgreSQL job killed with
//! SIGKILL that ends in the failure-free table, and the errors for bad
//! set-ups (wrong password, nothing listening, missing table or column, a
//! column of the wrong type, a key without a unique constraint, bad options).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{eddy_command as eddy, kill_and_resume, run_script};
use eddy_jdbc::testing::{TestPostgres, PASSWORD, USER};
use eddy_kafka::testing::TestBroker;

fn succeed(dir: &Path, name: &str, script: &str) {
    let out = run_script(dir, name, script);
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `WITH` options of a jdbc table over `table` of `pg`, plus `extra`.
fn jdbc(pg: &TestPostgres, table: &str, extra: &str) -> String {
    format!(
        "'connector' = 'jdbc', 'url' = '{}', 'table-name' = '{table}',
  'username' = '{USER}', 'password' = '{PASSWORD}'{extra}",
        pg.url()
    )
}

fn rows(pg: &TestPostgres, query: &str) -> Vec<Vec<String>> {
    pg.query(query)
        .unwrap()
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

#[test]
fn jdbc_tables_are_appended_upserted_deleted_and_scanned_through_sql() {
    let pg = TestPostgres::start().unwrap();
    pg.execute(
        "CREATE TABLE log (id BIGINT, word TEXT, amount NUMERIC(10, 2), ts TIMESTAMP(3), ok BOOLEAN, day DATE);
         CREATE TABLE totals (word TEXT PRIMARY KEY, c BIGINT NOT NULL, amount NUMERIC(12, 2), last_ts TIMESTAMP(3));
         CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(20), score DOUBLE PRECISION);
         CREATE TABLE source_rows (id INT PRIMARY KEY, name VARCHAR(20), score REAL);
         INSERT INTO source_rows SELECT i, 'n' || i, i / 4.0 FROM generate_series(1, 1000) AS i;",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut events = String::new();
    for i in 0..300 {
        events.push_str(&format!(
            "{i},w{},{}.{:02},2024-03-0{} 10:00:{:02}.5{},{}\n",
            i % 7,
            i % 50,
            i % 100,
            1 + i % 3,
            i % 60,
            i % 10,
            if i % 2 == 0 { "true" } else { "false" }
        ));
    }
    // A row with NULLs goes through too.
    events.push_str("300,,,,\n");
    std::fs::write(tmp.path().join("events.csv"), &events).unwrap();
    // A changelog of people: inserted, updated, deleted.
    let changes = [
        r#"{"before":null,"after":{"id":1,"name":"ann","score":1.5},"op":"c"}"#,
        r#"{"before":null,"after":{"id":2,"name":"bob","score":2.5},"op":"c"}"#,
        r#"{"before":null,"after":{"id":3,"name":"cy","score":3.5},"op":"c"}"#,
        r#"{"before":{"id":1,"name":"ann","score":1.5},"after":{"id":1,"name":"anne","score":9.0},"op":"u"}"#,
        r#"{"before":{"id":2,"name":"bob","score":2.5},"after":null,"op":"d"}"#,
    ];
    std::fs::write(tmp.path().join("people.json"), changes.join("\n") + "\n").unwrap();
    let script = format!(
        "CREATE TABLE events (id BIGINT, word STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), ok BOOLEAN)
  WITH ('connector' = 'filesystem', 'path' = '{dir}/events.csv', 'format' = 'csv',
        'csv.ignore-parse-errors' = 'true');
CREATE TABLE log (id BIGINT, word STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3), ok BOOLEAN, day DATE)
  WITH ({log});
CREATE TABLE totals (word STRING, c BIGINT, amount DECIMAL(12, 2), last_ts TIMESTAMP(3), PRIMARY KEY (word) NOT ENFORCED)
  WITH ({totals});
CREATE TABLE changes (id INT, name STRING, score DOUBLE)
  WITH ('connector' = 'filesystem', 'path' = '{dir}/people.json', 'format' = 'debezium-json');
CREATE TABLE people (id INT, name STRING, score DOUBLE, PRIMARY KEY (id) NOT ENFORCED) WITH ({people});
CREATE TABLE source_rows (id INT, name STRING, score FLOAT, PRIMARY KEY (id) NOT ENFORCED) WITH ({scan});
CREATE TABLE copied (id INT, name STRING, score FLOAT)
  WITH ('connector' = 'filesystem', 'path' = '{dir}/copied', 'format' = 'csv');
SET 'parallelism.default' = '2';
INSERT INTO log SELECT id, word, amount, ts, ok, CAST(ts AS DATE) FROM events;
INSERT INTO totals SELECT word, COUNT(*), SUM(amount), MAX(ts) FROM events WHERE id < 300 GROUP BY word;
INSERT INTO people SELECT * FROM changes;
INSERT INTO copied SELECT * FROM source_rows;
",
        dir = tmp.path().display(),
        log = jdbc(&pg, "log", ", 'sink.buffer-flush.max-rows' = '7'"),
        totals = jdbc(&pg, "totals", ""),
        people = jdbc(&pg, "people", ""),
        scan = jdbc(
            &pg,
            "source_rows",
            ",\n  'scan.partition.column' = 'id', 'scan.partition.num' = '3',
  'scan.partition.lower-bound' = '1', 'scan.partition.upper-bound' = '1000', 'scan.fetch-size' = '64'"
        ),
    );
    succeed(tmp.path(), "write.sql", &script);

    // Appended: every row once, values as written.
    assert_eq!(
        rows(&pg, "SELECT count(*), count(DISTINCT id) FROM log"),
        vec![vec!["301", "301"]]
    );
    assert_eq!(
        rows(
            &pg,
            "SELECT id, word, amount, ts, ok, day FROM log WHERE id IN (13, 300) ORDER BY id"
        ),
        vec![
            vec![
                "13",
                "w6",
                "13.13",
                "2024-03-02 10:00:13.53",
                "f",
                "2024-03-02"
            ],
            // CSV reads an empty STRING field as ''; the other empty fields are
            // parse errors, read as NULL under 'csv.ignore-parse-errors'.
            vec!["300", "", "NULL", "NULL", "NULL", "NULL"],
        ]
    );
    // Upserted: one row per key with the final aggregate.
    let mut want = Vec::new();
    for w in 0..7 {
        let ids: Vec<i64> = (0..300).filter(|i| i % 7 == w).collect();
        let cents: i64 = ids.iter().map(|i| (i % 50) * 100 + i % 100).sum();
        let last = ids
            .iter()
            .map(|i| format!("2024-03-0{} 10:00:{:02}.5{}", 1 + i % 3, i % 60, i % 10))
            .max()
            .unwrap();
        want.push(vec![
            format!("w{w}"),
            ids.len().to_string(),
            format!("{}.{:02}", cents / 100, cents % 100),
            last,
        ]);
    }
    assert_eq!(
        rows(
            &pg,
            "SELECT word, c, amount, last_ts FROM totals ORDER BY word"
        ),
        want
    );
    // The changelog: updated in place, deleted by key.
    assert_eq!(
        rows(&pg, "SELECT id, name, score FROM people ORDER BY id"),
        vec![vec!["1", "anne", "9"], vec!["3", "cy", "3.5"]]
    );
    // Scanned in three partitions by two subtasks: every row exactly once.
    let mut copied: Vec<String> = std::fs::read_dir(tmp.path().join("copied"))
        .unwrap()
        .flat_map(|f| {
            std::fs::read_to_string(f.unwrap().path())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    copied.sort_by_key(|l| l.split(',').next().unwrap().parse::<i32>().unwrap());
    let want: Vec<String> = (1..=1000)
        .map(|i| format!("{i},n{i},{:?}", i as f32 / 4.0))
        .collect();
    assert_eq!(copied.len(), want.len(), "rows lost or read twice");
    assert!(
        copied == want,
        "scanned rows differ: first {:?}",
        &copied[..3]
    );
}

#[test]
fn bad_jdbc_set_ups_are_errors_that_name_the_cause() {
    let pg = TestPostgres::start().unwrap();
    pg.execute(
        "CREATE TABLE counts (word TEXT PRIMARY KEY, c BIGINT);
         CREATE TABLE loose (word TEXT, c BIGINT);
         CREATE TABLE narrow (word TEXT PRIMARY KEY, c INT);",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("words.csv"), "a\nb\na\n").unwrap();
    let script = |with: &str, key: &str| {
        format!(
            "CREATE TABLE words (word STRING) WITH ('connector' = 'filesystem', 'path' = '{}/words.csv', 'format' = 'csv');
CREATE TABLE sink (word STRING, c BIGINT{key}) WITH ({with});
INSERT INTO sink SELECT word, COUNT(*) FROM words GROUP BY word;
",
            tmp.path().display()
        )
    };
    let pk = ", PRIMARY KEY (word) NOT ENFORCED";
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = free.local_addr().unwrap().port();
    drop(free);
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "wrong password",
            script(&jdbc(&pg, "counts", "").replace(PASSWORD, "nope"), pk),
            vec!["password authentication failed".into()],
        ),
        (
            "nothing listening",
            script(
                &jdbc(&pg, "counts", ", 'connection.max-retry-timeout' = '5 s'")
                    .replace(&pg.port().to_string(), &closed_port.to_string()),
                pk,
            ),
            vec![format!("127.0.0.1:{closed_port}")],
        ),
        (
            "missing table",
            script(&jdbc(&pg, "nowhere", ""), pk),
            vec!["nowhere".into(), "does not exist".into()],
        ),
        (
            "missing column",
            script(&jdbc(&pg, "counts", ""), pk).replace("c BIGINT", "total BIGINT"),
            vec!["no column total".into()],
        ),
        (
            "column of the wrong type",
            script(&jdbc(&pg, "narrow", ""), pk),
            vec!["column c is int4".into()],
        ),
        (
            "key without a unique constraint",
            script(&jdbc(&pg, "loose", ""), pk),
            vec!["ON CONFLICT".into()],
        ),
        (
            "updates into a table without a key",
            script(&jdbc(&pg, "counts", ""), ""),
            vec![
                "doesn't support consuming update".into(),
                "PRIMARY KEY".into(),
            ],
        ),
        (
            "misspelt option",
            script(
                &jdbc(&pg, "counts", ", 'sink.buffer-flush.max-row' = '5'"),
                pk,
            ),
            vec!["sink.buffer-flush.max-row".into()],
        ),
        (
            "bad value",
            script(&jdbc(&pg, "counts", ", 'sink.max-retries' = 'often'"), pk),
            vec!["sink.max-retries".into(), "often".into()],
        ),
        (
            "not PostgreSQL",
            script(
                &jdbc(&pg, "counts", "").replace("jdbc:postgresql:", "jdbc:mysql:"),
                pk,
            ),
            vec!["'url'".into(), "PostgreSQL".into()],
        ),
        (
            "half the partition options",
            format!(
                "CREATE TABLE src (word STRING, c BIGINT) WITH ({});
CREATE TABLE out (word STRING, c BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT * FROM src;
",
                jdbc(&pg, "counts", ", 'scan.partition.column' = 'c'")
            ),
            vec!["scan.partition.num".into()],
        ),
    ];
    for (what, script, wanted) in cases {
        let started = Instant::now();
        let out = run_script(tmp.path(), "bad.sql", &script);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: succeeded");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: took {:?}",
            started.elapsed()
        );
        for w in wanted {
            assert!(stderr.contains(&w), "{what}: no '{w}' in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    // Nothing was written by any of them.
    assert_eq!(rows(&pg, "SELECT count(*) FROM counts"), vec![vec!["0"]]);
}

#[test]
fn a_lookup_join_reads_postgres_through_a_partial_cache_and_sees_updates_after_its_ttl() {
    let pg = TestPostgres::start().unwrap();
    pg.execute(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT);
         INSERT INTO users VALUES (1, 'ann-old'), (2, 'bob');
         CREATE TABLE enriched (seq BIGINT, cache TEXT, uid BIGINT, name TEXT);",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // 100 clicks at 25 a second; users 1, 2 and 3 (who is not in the table).
    let script = format!(
        "CREATE TABLE clicks (seq BIGINT, uid AS seq % 3 + 1, pt AS PROCTIME()) WITH (
  'connector' = 'datagen', 'rows-per-second' = '25', 'number-of-rows' = '100',
  'fields.seq.kind' = 'sequence', 'fields.seq.start' = '1', 'fields.seq.end' = '100');
CREATE TABLE fresh (id BIGINT, name STRING) WITH ({fresh});
CREATE TABLE cached (id BIGINT, name STRING) WITH ({cached});
CREATE TABLE whole (id BIGINT, name STRING) WITH ({whole});
CREATE TABLE enriched (seq BIGINT, cache STRING, uid BIGINT, name STRING) WITH ({out});
EXECUTE STATEMENT SET BEGIN
INSERT INTO enriched SELECT c.seq, 'fresh', c.uid, u.name
  FROM clicks AS c LEFT JOIN fresh FOR SYSTEM_TIME AS OF c.pt AS u ON c.uid = u.id;
INSERT INTO enriched SELECT c.seq, 'cached', c.uid, u.name
  FROM clicks AS c JOIN cached FOR SYSTEM_TIME AS OF c.pt AS u ON c.uid = u.id;
INSERT INTO enriched SELECT c.seq, 'whole', c.uid, u.name
  FROM clicks AS c LEFT JOIN whole FOR SYSTEM_TIME AS OF c.pt AS u ON c.uid = u.id;
END;
",
        fresh = jdbc(
            &pg,
            "users",
            ",\n  'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.expire-after-write' = '300 ms'"
        ),
        cached = jdbc(
            &pg,
            "users",
            ",\n  'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.expire-after-write' = '1 h', 'lookup.partial-cache.max-rows' = '100'"
        ),
        whole = jdbc(
            &pg,
            "users",
            ",\n  'lookup.cache' = 'FULL', 'lookup.full-cache.periodic-reload.interval' = '300 ms'"
        ),
        out = jdbc(&pg, "enriched", ", 'sink.buffer-flush.max-rows' = '1'"),
    );
    let path = tmp.path().join("lookup.sql");
    std::fs::write(&path, script).unwrap();
    let child = eddy()
        .args(["sql", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once ann's old name has been seen through both tables, rename her.
    let started = Instant::now();
    while rows(
        &pg,
        "SELECT count(DISTINCT cache) FROM enriched WHERE uid = 1",
    ) != vec![vec!["3"]]
    {
        assert!(started.elapsed() < Duration::from_secs(20), "no output");
        std::thread::sleep(Duration::from_millis(20));
    }
    pg.execute("UPDATE users SET name = 'ann-new' WHERE id = 1")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let names = |cache: &str, uid: i64| -> Vec<String> {
        rows(
            &pg,
            &format!(
                "SELECT name FROM enriched WHERE cache = '{cache}' AND uid = {uid} ORDER BY seq"
            ),
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    };
    // Every click once per table it joins (the missing user only in the LEFT join).
    assert_eq!(
        rows(
            &pg,
            "SELECT count(*), count(DISTINCT seq) FROM enriched WHERE cache = 'fresh'"
        ),
        vec![vec!["100", "100"]]
    );
    assert_eq!(
        rows(&pg, "SELECT count(*) FROM enriched WHERE cache = 'cached'"),
        vec![vec!["67"]]
    );
    assert!(names("fresh", 3).iter().all(|n| n == "NULL"));
    assert!(names("fresh", 2)
        .iter()
        .chain(&names("cached", 2))
        .all(|n| n == "bob"));
    // Past its TTL the fresh table shows the new name, and keeps showing it.
    let fresh = names("fresh", 1);
    let switch = fresh
        .iter()
        .position(|n| n == "ann-new")
        .expect("the update was never seen");
    assert!(switch > 0, "{fresh:?}");
    assert!(fresh[..switch].iter().all(|n| n == "ann-old"), "{fresh:?}");
    assert!(fresh[switch..].iter().all(|n| n == "ann-new"), "{fresh:?}");
    // The whole table, loaded again every 300 ms, sees it too.
    let whole = names("whole", 1);
    let switch = whole
        .iter()
        .position(|n| n == "ann-new")
        .expect("never reloaded");
    assert!(switch > 0, "{whole:?}");
    assert!(whole[..switch].iter().all(|n| n == "ann-old"), "{whole:?}");
    assert!(whole[switch..].iter().all(|n| n == "ann-new"), "{whole:?}");
    assert!(names("whole", 3).iter().all(|n| n == "NULL"));
    // The hour-long cache never asked again.
    let cached = names("cached", 1);
    assert_eq!(cached.len(), 33);
    assert!(cached.iter().all(|n| n == "ann-old"), "{cached:?}");
}

/// Events `i`: word `w{i % 50}`, `n` = `i % 100`, 10 ms apart from midnight.
fn events(range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| {
            format!(
                r#"{{"id":{i},"word":"w{}","n":{},"ts":"2024-01-01 00:{:02}:{:02}.{:03}"}}"#,
                i % 50,
                i % 100,
                i / 6000,
                i / 100 % 60,
                i % 100 * 10
            )
        })
        .collect()
}

/// Kafka → a running total per word and a count per word and 10-second window
/// → PostgreSQL upserts; `bounded` ends at the topic's end; `suffix` names the
/// tables written.
fn aggregation_job(
    broker: &TestBroker,
    pg: &TestPostgres,
    checkpoints: &Path,
    bounded: bool,
    suffix: &str,
) -> String {
    let scan = if bounded {
        ", 'scan.bounded.mode' = 'latest-offset'"
    } else {
        ""
    };
    format!(
        "SET 'execution.checkpointing.interval' = '200 ms';
SET 'execution.checkpointing.dir' = '{ck}';
CREATE TABLE events (id BIGINT, word STRING, n BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'events', 'format' = 'json',
  'properties.bootstrap.servers' = '{servers}', 'scan.startup.mode' = 'earliest-offset'{scan});
CREATE TABLE totals (word STRING, c BIGINT, s BIGINT, PRIMARY KEY (word) NOT ENFORCED)
  WITH ({totals});
CREATE TABLE windows (word STRING, window_start TIMESTAMP(3), c BIGINT,
  PRIMARY KEY (word, window_start) NOT ENFORCED) WITH ({windows});
EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT word, COUNT(*), SUM(n) FROM events GROUP BY word;
INSERT INTO windows SELECT word, window_start, COUNT(*)
  FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY word, window_start, window_end;
END;
",
        ck = checkpoints.display(),
        servers = broker.bootstrap_servers(),
        totals = jdbc(
            pg,
            &format!("totals{suffix}"),
            ", 'sink.buffer-flush.max-rows' = '20'"
        ),
        windows = jdbc(pg, &format!("windows{suffix}"), ""),
    )
}

#[test]
fn a_kafka_to_postgres_job_killed_with_sigkill_ends_in_the_failure_free_tables() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("events", 3).unwrap();
    let pg = TestPostgres::start().unwrap();
    for suffix in ["", "_clean"] {
        pg.execute(&format!(
            "CREATE TABLE totals{suffix} (word TEXT PRIMARY KEY, c BIGINT, s BIGINT);
             CREATE TABLE windows{suffix} (word TEXT, window_start TIMESTAMP(3), c BIGINT,
               PRIMARY KEY (word, window_start));"
        ))
        .unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = tmp.path().join("checkpoints");
    const N: usize = 24_000;
    broker.produce("events", 3, &events(0..4_000)).unwrap();
    let unbounded = tmp.path().join("unbounded.sql");
    std::fs::write(
        &unbounded,
        aggregation_job(&broker, &pg, &checkpoints, false, ""),
    )
    .unwrap();
    let kills = std::thread::scope(|scope| {
        // Input keeps arriving while the job is killed and restarted.
        scope.spawn(|| {
            let producer = broker.producer().unwrap();
            for chunk in events(4_000..N).chunks(500) {
                producer.send("events", 3, chunk).unwrap();
                std::thread::sleep(Duration::from_millis(60));
            }
        });
        kill_and_resume(
            &unbounded,
            &checkpoints,
            10,
            |round| if round % 2 == 0 { "1" } else { "2" },
            |round| Duration::from_millis(100 + 97 * (round % 5)),
        )
    });
    assert!(
        rows(&pg, "SELECT count(*) FROM totals")[0][0] != "0",
        "nothing written before the last run"
    );
    // The last run reads to the end of the topic and finishes.
    let bounded = tmp.path().join("bounded.sql");
    std::fs::write(
        &bounded,
        aggregation_job(&broker, &pg, &checkpoints, true, ""),
    )
    .unwrap();
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
    // A failure-free run of the same job over the same topic.
    let clean = tmp.path().join("clean.sql");
    let clean_checkpoints = tmp.path().join("clean-checkpoints");
    std::fs::write(
        &clean,
        aggregation_job(&broker, &pg, &clean_checkpoints, true, "_clean"),
    )
    .unwrap();
    let out = eddy().args(["sql", "-f"]).arg(&clean).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let totals = rows(&pg, "SELECT word, c, s FROM totals ORDER BY word");
    let windows = rows(
        &pg,
        "SELECT word, window_start, c FROM windows ORDER BY word, window_start",
    );
    assert_eq!(
        totals,
        rows(&pg, "SELECT word, c, s FROM totals_clean ORDER BY word")
    );
    let clean_windows = rows(
        &pg,
        "SELECT word, window_start, c FROM windows_clean ORDER BY word, window_start",
    );
    assert!(
        windows == clean_windows,
        "windows differ from the failure-free run after {kills} kills"
    );
    // And both are the input's true aggregates.
    let mut want: Vec<Vec<String>> = (0..50)
        .map(|w| {
            let s: usize = (0..N).filter(|i| i % 50 == w).map(|i| i % 100).sum();
            vec![format!("w{w}"), (N / 50).to_string(), s.to_string()]
        })
        .collect();
    want.sort();
    assert_eq!(totals, want, "after {kills} kills");
    assert_eq!(windows.len(), 50 * N / 1000);
    assert!(windows.iter().all(|r| r[2] == "20"), "{:?}", &windows[..3]);
}

#[test]
fn jdbc_tables_work_on_a_cluster_of_taskmanager_processes() {
    let pg = TestPostgres::start().unwrap();
    pg.execute(
        "CREATE TABLE totals (k BIGINT PRIMARY KEY, n BIGINT);
         CREATE TABLE names (id BIGINT PRIMARY KEY, name TEXT);
         INSERT INTO names SELECT i, 'n' || i FROM generate_series(0, 9) AS i;
         CREATE TABLE named (k BIGINT, name TEXT);",
    )
    .unwrap();
    let cluster = common::cluster::Cluster::start(&[], &[1, 1]);
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("cluster.sql");
    std::fs::write(
        &script,
        format!(
            "SET 'parallelism.default' = '2';
CREATE TABLE ticks (k BIGINT, pt AS PROCTIME()) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
  'number-of-rows' = '300', 'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '300');
CREATE TABLE totals (k BIGINT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ({totals});
CREATE TABLE names (id BIGINT, name STRING) WITH ({names});
CREATE TABLE named (k BIGINT, name STRING) WITH ({named});
INSERT INTO totals SELECT k % 10, COUNT(*) FROM ticks GROUP BY k % 10;
INSERT INTO named SELECT t.k, n.name FROM ticks AS t JOIN names FOR SYSTEM_TIME AS OF t.pt AS n ON t.k % 10 = n.id;
",
            totals = jdbc(&pg, "totals", ""),
            names = jdbc(
                &pg,
                "names",
                ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100'"
            ),
            named = jdbc(&pg, "named", ""),
        ),
    )
    .unwrap();
    let out = eddy()
        .args(["sql", "-m", &cluster.rest, "-f"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Job has been submitted with JobID "))
        .map(str::trim)
        .collect();
    assert_eq!(jobs.len(), 2, "{stdout}");
    let rest = cluster.rest();
    for job in jobs {
        let started = Instant::now();
        loop {
            let state = rest.get(&format!("/jobs/{job}"))["state"].clone();
            if state == "FINISHED" {
                break;
            }
            assert!(
                state != "FAILED" && started.elapsed() < Duration::from_secs(60),
                "job {job} is {state}: {:?}",
                rest.get(&format!("/jobs/{job}/exceptions"))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let want: Vec<Vec<String>> = (0..10).map(|k| vec![k.to_string(), "30".into()]).collect();
    assert_eq!(rows(&pg, "SELECT k, n FROM totals ORDER BY k"), want);
    assert_eq!(
        rows(
            &pg,
            "SELECT count(*), count(DISTINCT k), bool_and(name = 'n' || (k % 10)) FROM named"
        ),
        vec![vec!["300", "300", "t"]]
    );
}
