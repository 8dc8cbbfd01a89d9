//! `eddy sql` end to end: a script's results, its errors, and a SQL job killed
//! with SIGKILL and restarted from its latest checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn runs_a_script_and_prints_a_changelog() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("in.csv"), "a,1\nb,2\na,3\n");
    let script = tmp.path().join("job.sql");
    write(
        &script,
        &format!(
            "CREATE TABLE t (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\nSELECT k, SUM(v) AS total FROM t GROUP BY k;\n",
            tmp.path().join("in.csv").display()
        ),
    );
    let out = eddy().args(["sql", "-f"]).arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = "\
+----+---+-------+
| op | k | total |
+----+---+-------+
| +I | a |     1 |
| +I | b |     2 |
| -U | a |     1 |
| +U | a |     4 |
+----+---+-------+
4 rows in set
";
    assert!(stdout.contains(expected), "{stdout}");
}

#[test]
fn errors_name_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("bad.sql");
    write(
        &script,
        "SET 'parallelism.default' = '1';\n\nSELECT a\n  FROM t WHERE (;\n",
    );
    let out = eddy().args(["sql", "-f"]).arg(&script).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("bad.sql: line 4, column 17: SQL parse error"),
        "{stderr}"
    );
    write(&script, "SELECT 1;\nSELECT a FROM\n   nowhere;\n");
    let out = eddy().args(["sql", "-f"]).arg(&script).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("bad.sql: line 3, column 4: Object 'nowhere' not found"),
        "{stderr}"
    );
    let out = eddy()
        .args(["sql", "-f", "/no/such/file.sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/file.sql"));
    let out = eddy().args(["sql", "-p", "zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn job(tmp: &Path, out: &str, throttle: bool) -> String {
    let rate = if throttle {
        ", 'rows-per-second' = '100000'"
    } else {
        ""
    };
    format!(
        "SET 'execution.checkpointing.interval' = '100 ms';
SET 'execution.checkpointing.dir' = '{ck}';
CREATE TABLE datagen (
    event_type INT,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events.num' = '300000'{rate});
CREATE VIEW bid AS SELECT bid.auction, bid.price, `dateTime` FROM datagen WHERE event_type = 2;
CREATE TABLE counts (auction BIGINT, window_start TIMESTAMP(3), n BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
CREATE TABLE totals (auction BIGINT, n BIGINT, top BIGINT) WITH ('connector' = 'filesystem', 'path' = '{out}-totals', 'format' = 'debezium-json');
EXECUTE STATEMENT SET BEGIN
INSERT INTO counts SELECT auction, window_start, COUNT(*), SUM(price) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY auction, window_start, window_end;
INSERT INTO totals SELECT auction, COUNT(*), MAX(price) FROM bid GROUP BY auction;
END;
",
        ck = tmp.join(format!("{out}-ck")).display(),
        out = tmp.join(out).display(),
    )
}

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

/// The final rows of a Debezium JSON changelog.
fn changelog_state(dir: &Path) -> Vec<String> {
    let mut rows: std::collections::BTreeMap<String, i64> = Default::default();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        // Files in commit order: names carry the run, subtask and part number;
        // retractions and insertions of one key stay in one subtask's files.
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            match v["op"].as_str().unwrap() {
                "c" => *rows.entry(v["after"].to_string()).or_default() += 1,
                _ => *rows.entry(v["before"].to_string()).or_default() -= 1,
            }
        }
    }
    rows.into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(r, n)| format!("{n} {r}"))
        .collect()
}

#[test]
fn a_sql_job_killed_with_sigkill_resumes_from_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    // The failure-free run.
    let clean = tmp.path().join("clean.sql");
    write(&clean, &job(tmp.path(), "clean", false));
    let out = eddy().args(["sql", "-f"]).arg(&clean).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same job, killed twice, restarted with `-s latest`; its GROUP BY in
    // mini-batches so long that only the checkpoints end them: the rows a
    // bundle holds must reach the sink before the barrier does.
    let crash = tmp.path().join("crash.sql");
    let mini_batch = "SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.mini-batch.allow-latency' = '1 h';
SET 'table.exec.mini-batch.size' = '100000000';
";
    write(
        &crash,
        &format!("{mini_batch}{}", job(tmp.path(), "crash", true)),
    );
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
        std::thread::sleep(Duration::from_millis(1200));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let out = eddy()
        .args(["sql", "-f"])
        .arg(&crash)
        .args(["-p", "1", "-s", "latest"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = lines(&tmp.path().join("clean"));
    assert!(expected.len() > 1000);
    assert_eq!(
        lines(&tmp.path().join("crash")),
        expected,
        "window counts after two crashes"
    );
    assert_eq!(
        changelog_state(&tmp.path().join("crash-totals")),
        changelog_state(&tmp.path().join("clean-totals")),
        "group totals after two crashes"
    );
}

/// An unbounded SELECT prints its rows while it runs.
#[test]
fn streams_the_rows_of_an_unbounded_select() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("tail.sql");
    write(
        &script,
        "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5', 'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '1000000');\nSELECT k * 10 AS tens FROM ticks;\n",
    );
    let mut child = eddy()
        .args(["sql", "-f"])
        .arg(&script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    // Rows keep coming one by one (the source makes 5 a second); stop after
    // a few, long before the query could end.
    while seen
        .iter()
        .filter(|l: &&String| l.starts_with("| +I"))
        .count()
        < 4
    {
        match lines.next() {
            Some(Ok(line)) => seen.push(line),
            _ => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let rows: Vec<String> = seen
        .iter()
        .filter(|l| l.starts_with("| +I"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows,
        ["| +I | 10 |", "| +I | 20 |", "| +I | 30 |", "| +I | 40 |"],
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l.contains("| op |")), "{seen:?}");
}

fn run_script(tmp: &Path, script: &str) -> std::process::Output {
    let path = tmp.join("job.sql");
    write(&path, script);
    eddy().args(["sql", "-f"]).arg(&path).output().unwrap()
}

#[test]
fn malformed_lines_fail_naming_file_and_line_or_are_skipped_counted_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("in.json");
    write(
        &json,
        "{\"id\": 1}\n{\"id\": 2}{\"id\": 3}\n{\"id\": 4}\n{\"id\": 5}\n",
    );
    let create = |options: &str| {
        format!(
            "CREATE TABLE t (id INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json'{options});\nSELECT * FROM t;\n",
            json.display()
        )
    };
    let out = run_script(tmp.path(), &create(""));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in.json:2: invalid JSON at column 10: more than one JSON value"),
        "{stderr}"
    );

    let out = run_script(tmp.path(), &create(", 'json.ignore-parse-errors' = 'true'"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in ["1", "4", "5"] {
        assert!(stdout.contains(&format!("| +I |  {id} |")), "{stdout}");
    }
    assert!(stdout.contains("3 rows in set"), "{stdout}");
    assert!(
        stderr.contains("skipped 1 malformed line (json.ignore-parse-errors):")
            && stderr.contains("in.json:2: invalid JSON at column 10"),
        "{stderr}"
    );
}

#[test]
fn a_source_read_by_several_subtasks_reports_its_skipped_lines_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    write(&dir.join("a.csv"), "1,a\nx\n2,b\n");
    write(&dir.join("b.csv"), "3,c\ny\nz\n4,d\n");
    let script = format!(
        "SET 'parallelism.default' = '2';\nCREATE TABLE t (id INT, s STRING) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'csv.ignore-parse-errors' = 'true');\nSELECT * FROM t;\n",
        dir.display()
    );
    let out = run_script(tmp.path(), &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("malformed line").count(), 1, "{stderr}");
    assert!(
        stderr.contains("skipped 3 malformed lines (csv.ignore-parse-errors):")
            && stderr.contains("a.csv:2")
            && stderr.contains("b.csv:2")
            && stderr.contains("b.csv:3"),
        "{stderr}"
    );
    assert!(!stderr.contains("subtask"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 rows in set"), "{stdout}");
}

#[test]
fn wide_values_print_and_huge_strings_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_script(tmp.path(), "SELECT REPEAT('x', 70000) AS v;\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("x... |") && stdout.contains("1 row in set"));
    assert!(stdout.lines().all(|l| l.chars().count() < 10_100));

    let out = run_script(tmp.path(), "SELECT REPEAT('x', 2000000000) AS v;\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("REPEAT() would build a string of 2000000000 characters"),
        "{stderr}"
    );
}

#[test]
fn show_create_catalogs_functions_and_help() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("show.sql");
    write(
        &script,
        "CREATE TABLE t (k STRING NOT NULL, v INT, ts TIMESTAMP(3), d AS v * 2, \
         WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, PRIMARY KEY (k) NOT ENFORCED) \
         WITH ('connector' = 'datagen', 'number-of-rows' = '3');\n\
         CREATE VIEW w AS SELECT k, v FROM t WHERE v > 1;\n\
         SHOW CREATE TABLE t;\nSHOW CREATE VIEW w;\nSHOW CATALOGS;\nSHOW CURRENT DATABASE;\n\
         SHOW FUNCTIONS;\nSHOW USER FUNCTIONS;\nHELP;\n",
    );
    let out = eddy().args(["sql", "-f"]).arg(&script).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = "\
CREATE TABLE `default_catalog`.`default_database`.`t` (
  `k` STRING NOT NULL,
  `v` INT,
  `ts` TIMESTAMP(3),
  `d` AS v * 2,
  WATERMARK FOR `ts` AS ts - INTERVAL '5' SECOND,
  PRIMARY KEY (`k`) NOT ENFORCED
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '3'
)
CREATE VIEW `default_catalog`.`default_database`.`w` AS
SELECT k, v FROM t WHERE v > 1
";
    assert!(stdout.contains(table), "{stdout}");
    assert!(stdout.contains("| default_catalog |"), "{stdout}");
    assert!(stdout.contains(" default_database |"), "{stdout}");
    for function in ["UPPER", "SUM", "COUNT", "ROW_NUMBER"] {
        assert!(
            stdout.contains(&format!(" {function} |")),
            "{function}: {stdout}"
        );
    }
    assert!(
        stdout.contains("Empty set") || stdout.contains("0 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("STOP JOB '<id>'"), "{stdout}");

    write(&script, "SHOW CREATE TABLE nope;\n");
    let out = eddy().args(["sql", "-f"]).arg(&script).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Table 'nope' was not found"));
}

#[test]
fn limit_ends_a_query_over_an_unbounded_table() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("limit.sql");
    write(
        &script,
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'fields.a.kind' = 'sequence', \
         'fields.a.start' = '1', 'fields.a.end' = '100000000', 'rows-per-second' = '100');\n\
         SELECT a FROM t LIMIT 3;\n\
         SELECT a * 2 AS b FROM t LIMIT 2 OFFSET 1;\n",
    );
    let out = eddy()
        .args(["sql", "-p", "1", "-f"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = "\
+---+
| a |
+---+
| 1 |
| 2 |
| 3 |
+---+
3 rows in set
+---+
| b |
+---+
| 4 |
| 6 |
+---+
2 rows in set
";
    assert!(stdout.ends_with(expected), "{stdout}");

    // A limit over an updating result is an error, not a wrong answer.
    write(
        &script,
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');\n\
         SELECT COUNT(*) AS c FROM t LIMIT 1;\n",
    );
    let out = eddy().args(["sql", "-f"]).arg(&script).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LIMIT on an updating query"), "{stderr}");
}

#[test]
fn info_prints_the_job_graph_without_running_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = tmp.path().join("job.sql");
    write(
        &script,
        &format!(
            "CREATE TABLE t (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');\n\
             CREATE TABLE o (b BIGINT, c BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');\n\
             SELECT k FROM t;\n\
             INSERT INTO o SELECT MOD(k, 3) AS b, COUNT(*) AS c FROM t GROUP BY MOD(k, 3);\n",
            out.display()
        ),
    );
    let run = eddy()
        .args(["info", "-p", "2"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(plan["name"], "insert-into_o");
    let vertices = plan["vertices"].as_array().unwrap();
    assert!(vertices.len() >= 3, "{plan}");
    assert!(vertices.iter().all(|v| v["parallelism"] == 2));
    assert!(vertices
        .iter()
        .any(|v| v["name"].as_str().unwrap().starts_with("GroupAggregate")));
    assert!(
        plan["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["partitioning"] == "Hash"),
        "{plan}"
    );
    assert!(!out.exists(), "info ran the job");

    write(&script, "INSERT INTO nope SELECT 1;\n");
    let run = eddy().args(["info"]).arg(&script).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("nope"));
}
