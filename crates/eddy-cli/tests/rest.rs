//! The REST API of `eddy sql -D rest.port=0`: a running job is listed, inspected,
//! checkpointed, savepointed, stopped with a savepoint (and the savepoint taken over
//! REST resumes the job with nothing lost or doubled) and cancelled from outside;
//! bad requests are Flink's `{"errors": [...]}` with a 4xx status.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{committed_keys, eddy, Shell};

/// A script reading the sequence 1..=`end` at `rate` rows a second into
/// committed csv files under `out`.
fn script(dir: &Path, end: u64, rate: u64, out: &Path) -> PathBuf {
    let script = dir.join(format!("job-{end}.sql"));
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE ticks (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '{rate}', \
             'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '{end}');\n\
             CREATE TABLE out_rows (k BIGINT, b BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
             INSERT INTO out_rows SELECT k, MOD(k, 7) AS b FROM ticks;\n",
            out.display()
        ),
    )
    .unwrap();
    script
}

#[test]
fn a_running_job_is_inspected_savepointed_stopped_and_resumed_over_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = script(tmp.path(), 6_000, 1_000, &out);
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let args = [
        "-p",
        "2",
        "-D",
        "execution.checkpointing.interval=200ms",
        "-D",
        &checkpoints,
    ];
    let shell = Shell::start(&script, &args);
    let job = shell.running_job();

    // The cluster and the job.
    let overview = shell.get("/overview");
    assert_eq!(overview["taskmanagers"], 1);
    assert_eq!(overview["jobs-running"], 1);
    let details = shell.get(&format!("/jobs/{job}"));
    assert_eq!(details["jid"], job.as_str());
    assert_eq!(details["name"], "insert-into_out_rows");
    assert_eq!(details["state"], "RUNNING");
    let vertices = details["vertices"].as_array().unwrap();
    assert!(vertices.len() >= 2, "{details}");
    assert!(vertices
        .iter()
        .all(|v| v["parallelism"] == 2 && v["status"] == "RUNNING"));
    assert!(
        vertices[0]["name"].as_str().unwrap().contains("ticks"),
        "{details}"
    );
    let listed = shell.get("/jobs/overview");
    assert_eq!(listed["jobs"][0]["jid"], job.as_str());
    assert_eq!(
        listed["jobs"][0]["tasks"]["running"],
        2 * vertices.len() as u64
    );
    let plan = shell.get(&format!("/jobs/{job}/plan"));
    let nodes = plan["plan"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), vertices.len());
    assert_eq!(nodes[1]["inputs"][0]["id"], nodes[0]["id"]);
    let config = shell.get(&format!("/jobs/{job}/config"));
    assert_eq!(
        config["execution-config"]["user-config"]["execution.checkpointing.interval"],
        "200ms"
    );
    let checkpoint_config = shell.get(&format!("/jobs/{job}/checkpoints/config"));
    assert_eq!(checkpoint_config["interval"], 200);
    assert_eq!(checkpoint_config["mode"], "exactly_once");

    // Records flow: the source's subtasks count what they emit.
    let source = vertices[0]["id"].as_str().unwrap();
    let metrics = shell.wait_for(
        &format!("/jobs/{job}/vertices/{source}/subtasks/metrics?get=numRecordsOut"),
        |b| b[0]["sum"].as_u64().is_some_and(|s| s > 0),
    );
    assert_eq!(metrics[0]["id"], "numRecordsOut");
    let vertex = shell.get(&format!("/jobs/{job}/vertices/{source}"));
    assert_eq!(vertex["subtasks"].as_array().unwrap().len(), 2);

    // Periodic checkpoints show up, written where the configuration says.
    let checkpoints = shell.wait_for(&format!("/jobs/{job}/checkpoints"), |b| {
        b["counts"]["completed"].as_u64().is_some_and(|c| c >= 2)
    });
    let latest = &checkpoints["latest"]["completed"];
    assert_eq!(latest["status"], "COMPLETED");
    assert!(Path::new(latest["external_path"].as_str().unwrap())
        .join("_metadata")
        .exists());
    let id = latest["id"].as_u64().unwrap();
    let one = shell.get(&format!("/jobs/{job}/checkpoints/details/{id}"));
    assert_eq!(one["id"], id);
    // Per vertex: every subtask acknowledged; the source wrote its offsets.
    let tasks = one["tasks"].as_object().unwrap();
    assert_eq!(tasks.len(), vertices.len(), "{one}");
    for v in vertices {
        let task = &tasks[v["id"].as_str().unwrap()];
        assert_eq!(task["num_subtasks"], 2, "{task}");
        assert_eq!(task["num_acknowledged_subtasks"], 2, "{task}");
        assert!(
            task["latest_ack_timestamp"].as_i64().unwrap()
                >= latest["trigger_timestamp"].as_i64().unwrap()
        );
    }
    assert!(tasks[source]["state_size"].as_u64().unwrap() > 0, "{one}");
    // Per subtask: its ack, sizes, sync and async parts, alignment, start delay.
    let path = format!("/jobs/{job}/checkpoints/details/{id}/subtasks/{source}");
    let detail = shell.get(&path);
    let subtasks = detail["subtasks"].as_array().unwrap();
    assert_eq!(subtasks.len(), 2, "{detail}");
    for (i, subtask) in subtasks.iter().enumerate() {
        assert_eq!(subtask["index"], i as u64);
        assert_eq!(subtask["status"], "completed", "{subtask}");
        assert!(subtask["state_size"].as_u64().unwrap() > 0, "{subtask}");
        for figure in ["sync", "async"] {
            assert!(subtask["checkpoint"][figure].is_u64(), "{subtask}");
        }
        assert!(subtask["alignment"]["duration"].is_u64(), "{subtask}");
        assert!(subtask["start_delay"].is_u64(), "{subtask}");
    }
    assert!(detail["summary"]["state_size"]["max"].as_u64().unwrap() > 0);
    let (status, _) = shell.call(
        "GET",
        &format!(
            "/jobs/{job}/checkpoints/details/{id}/subtasks/{}",
            "0".repeat(32)
        ),
        None,
    );
    assert_eq!(status, 404);
    let (status, _) = shell.call(
        "GET",
        &format!("/jobs/{job}/checkpoints/details/999999"),
        None,
    );
    assert_eq!(status, 404);

    // A checkpoint on request.
    let (status, trigger) = shell.call("POST", &format!("/jobs/{job}/checkpoints"), None);
    assert_eq!(status, 202, "{trigger}");
    let request = trigger["request-id"].as_str().unwrap();
    let done = shell.operation(&format!("/jobs/{job}/checkpoints/{request}"));
    assert!(done["checkpointId"].as_u64().unwrap() > id, "{done}");

    // A savepoint while the job keeps running, in the checkpoint history.
    let savepoints = tmp.path().join("savepoints");
    let body = format!(r#"{{"target-directory": "{}"}}"#, savepoints.display());
    let (status, trigger) = shell.call("POST", &format!("/jobs/{job}/savepoints"), Some(&body));
    assert_eq!(status, 202, "{trigger}");
    let request = trigger["request-id"].as_str().unwrap();
    let done = shell.operation(&format!("/jobs/{job}/savepoints/{request}"));
    let location = done["location"].as_str().unwrap().to_string();
    assert!(location.starts_with(savepoints.to_str().unwrap()), "{done}");
    assert!(Path::new(&location).join("_metadata").exists());
    let checkpoints = shell.get(&format!("/jobs/{job}/checkpoints"));
    assert_eq!(
        checkpoints["latest"]["savepoint"]["external_path"],
        location.as_str()
    );
    assert_eq!(checkpoints["latest"]["savepoint"]["is_savepoint"], true);
    assert_eq!(shell.get(&format!("/jobs/{job}"))["state"], "RUNNING");

    // Stop with a savepoint: the job ends, and the process with it once the
    // savepoint's path was read.
    let body = format!(
        r#"{{"targetDirectory": "{}", "drain": false}}"#,
        savepoints.display()
    );
    let (status, trigger) = shell.call("POST", &format!("/jobs/{job}/stop"), Some(&body));
    assert_eq!(status, 202, "{trigger}");
    let request = trigger["request-id"].as_str().unwrap();
    let stop = shell.operation(&format!("/jobs/{job}/savepoints/{request}"));
    let stopped_at = stop["location"].as_str().unwrap().to_string();
    assert_ne!(stopped_at, location);
    let (ok, stderr) = shell.finish();
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("completed. Path: {stopped_at}")),
        "{stderr}"
    );
    let before = committed_keys(&out);
    assert!(
        !before.is_empty() && before.len() < 6_000,
        "{}",
        before.len()
    );

    // The savepoint taken over REST resumes the job: every key once.
    let resumed = Shell::start(&script, &[&args[..], &["-s", &stopped_at]].concat());
    let (ok, stderr) = resumed.finish();
    assert!(ok, "{stderr}");
    assert!(stderr.contains("restoring from savepoint"), "{stderr}");
    assert_eq!(committed_keys(&out), (1..=6_000).collect::<Vec<u64>>());
}

/// The ratios of one subtask in a `/backpressure` answer: backpressured, idle,
/// busy.
fn ratios(subtask: &serde_json::Value) -> [f64; 3] {
    ["ratio", "idleRatio", "busyRatio"].map(|k| subtask[k].as_f64().unwrap())
}

#[test]
fn watermarks_and_backpressure_show_where_a_job_waits() {
    // A source as fast as it can be, feeding an aggregation that does far more
    // per row: the source waits for room, the aggregation works.
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("job.sql");
    std::fs::write(
        &script,
        "CREATE TABLE clicks (user_id BIGINT, url STRING, ts TIMESTAMP(3), \
         WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen', \
         'rows-per-second' = '100000000', 'fields.user_id.min' = '1', 'fields.user_id.max' = '1000000');\n\
         CREATE TABLE counts (user_id BIGINT, n BIGINT, u STRING) WITH ('connector' = 'blackhole');\n\
         INSERT INTO counts SELECT user_id, COUNT(*) AS n, MAX(url) AS u FROM clicks GROUP BY user_id;\n",
    )
    .unwrap();
    let shell = Shell::start(&script, &[]);
    let job = shell.running_job();
    let details = shell.get(&format!("/jobs/{job}"));
    let vertex = |part: &str| {
        let vertices = details["vertices"].as_array().unwrap();
        let found = vertices
            .iter()
            .find(|v| v["name"].as_str().unwrap().starts_with(part))
            .unwrap_or_else(|| panic!("no {part} in {details}"));
        found["id"].as_str().unwrap().to_string()
    };
    let (source, assigner, aggregate) = (
        vertex("TableSourceScan"),
        vertex("WatermarkAssigner"),
        vertex("GroupAggregate"),
    );

    // Backpressure: Flink's shape; the source is held back, the aggregation
    // busy, and each subtask's shares add up to its whole time.
    let path = |v: &str, resource: &str| format!("/jobs/{job}/vertices/{v}/{resource}");
    let held = shell.wait_for(&path(&source, "backpressure"), |b| {
        b["status"] == "ok" && ratios(&b["subtasks"][0])[0] > 0.3
    });
    assert_ne!(held["backpressure-level"], "ok", "{held}");
    assert_eq!(held["subtasks"][0]["subtask"], 0);
    let busy = shell.wait_for(&path(&aggregate, "backpressure"), |b| {
        b["status"] == "ok" && ratios(&b["subtasks"][0])[2] > 0.5
    });
    assert_eq!(busy["backpressure-level"], "ok", "{busy}");
    for answer in [&held, &busy] {
        let total: f64 = ratios(&answer["subtasks"][0]).iter().sum();
        assert!((0.9..=1.05).contains(&total), "{answer}");
    }
    let metrics = shell.get(&format!(
        "/jobs/{job}/vertices/{source}/metrics?get=0.isBackPressured,0.busyTimeMsPerSecond,0.backPressuredTimeMsPerSecond"
    ));
    assert_eq!(metrics.as_array().unwrap().len(), 3, "{metrics}");
    assert!(
        ["true", "false"].contains(&metrics[0]["value"].as_str().unwrap()),
        "{metrics}"
    );

    // Watermarks: the assigner emits event time, a second behind the rows (which
    // are stamped now), and the aggregation receives it.
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let value = |answer: &serde_json::Value, id: &str| -> i64 {
        let entries = answer.as_array().unwrap();
        let entry = entries.iter().find(|e| e["id"] == id);
        entry.map_or(i64::MIN, |e| e["value"].as_str().unwrap().parse().unwrap())
    };
    let before = now();
    let emitted = shell.wait_for(&path(&assigner, "watermarks"), |w| {
        value(w, "0.currentOutputWatermark") > before - 60_000
    });
    let watermark = value(&emitted, "0.currentOutputWatermark");
    assert!(watermark <= now() - 1_000, "{emitted}");
    assert_eq!(
        value(&emitted, "0.currentInputWatermark"),
        i64::MIN,
        "the source emits no watermark: {emitted}"
    );
    let received = shell.wait_for(&path(&aggregate, "watermarks"), |w| {
        value(w, "0.currentInputWatermark") >= watermark
    });
    assert!(
        value(&received, "0.currentInputWatermark") < now(),
        "{received}"
    );

    let (status, _) = shell.call("PATCH", &format!("/jobs/{job}?mode=cancel"), None);
    assert_eq!(status, 202);
    let (ok, stderr) = shell.finish();
    assert!(!ok && stderr.contains("cancelled"), "{stderr}");
}

#[test]
fn bad_requests_are_errors_and_a_cancelled_job_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = script(tmp.path(), 1_000_000, 100, &out);
    let shell = Shell::start(&script, &[]);
    let job = shell.running_job();

    let errors = |method: &str, path: &str, body: Option<&str>, expected: u16| {
        let (status, answer) = shell.call(method, path, body);
        assert_eq!(status, expected, "{method} {path}: {answer}");
        let message = answer["errors"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        message.to_string()
    };
    assert!(errors("GET", "/jobs/not-a-job", None, 400).contains("not a job id"));
    let unknown = "0123456789abcdef0123456789abcdef";
    assert!(errors("GET", &format!("/jobs/{unknown}"), None, 404).contains(unknown));
    assert!(
        errors("GET", &format!("/jobs/{job}/vertices/{unknown}"), None, 404).contains("Vertex")
    );
    for resource in ["watermarks", "backpressure"] {
        let path = format!("/jobs/{job}/vertices/{unknown}/{resource}");
        assert!(errors("GET", &path, None, 404).contains("Vertex"));
    }
    errors("GET", "/no/such/resource", None, 404);
    // Checkpointing is off: no checkpoint configuration, no savepoint, no checkpoint.
    errors("GET", &format!("/jobs/{job}/checkpoints/config"), None, 404);
    let no_dir = errors("POST", &format!("/jobs/{job}/savepoints"), Some("{}"), 400);
    assert!(
        no_dir.contains("execution.checkpointing.savepoint-dir"),
        "{no_dir}"
    );
    errors("POST", &format!("/jobs/{job}/checkpoints"), None, 400);
    let body = format!(r#"{{"target-directory": "{}"}}"#, tmp.path().display());
    let (status, trigger) = shell.call("POST", &format!("/jobs/{job}/savepoints"), Some(&body));
    assert_eq!(status, 202);
    let request = trigger["request-id"].as_str().unwrap();
    let failed = shell.operation(&format!("/jobs/{job}/savepoints/{request}"));
    let cause = failed["failure-cause"]["stack-trace"].as_str().unwrap();
    assert!(cause.contains("checkpointing"), "{failed}");
    errors(
        "GET",
        &format!("/jobs/{job}/savepoints/{unknown}"),
        None,
        404,
    );
    errors("PATCH", &format!("/jobs/{job}?mode=rescale"), None, 400);
    assert_eq!(shell.get(&format!("/jobs/{job}"))["state"], "RUNNING");

    // Cancel: the job ends CANCELED and the script reports it.
    let (status, _) = shell.call("PATCH", &format!("/jobs/{job}?mode=cancel"), None);
    assert_eq!(status, 202);
    let (ok, stderr) = shell.finish();
    assert!(!ok);
    assert!(stderr.contains("cancelled"), "{stderr}");
}

#[test]
fn the_cli_lists_savepoints_and_stops_a_job_through_the_rest_api() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = script(tmp.path(), 1_000_000, 500, &out);
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        tmp.path().join("ck").display()
    );
    let shell = Shell::start(
        &script,
        &[
            "-D",
            "execution.checkpointing.interval=300ms",
            "-D",
            &checkpoints,
        ],
    );
    let job = shell.running_job();
    let m = shell.addr.clone();

    let (ok, listed, stderr) = eddy(&["list", "-m", &m]);
    assert!(ok, "{stderr}");
    assert!(listed.contains("Running/Restarting Jobs"), "{listed}");
    assert!(
        listed.contains(&format!(" : {job} : insert-into_out_rows (RUNNING)")),
        "{listed}"
    );
    // Without -m, the address is rest.address:rest.port of the settings.
    let (host, port) = m.rsplit_once(':').unwrap();
    let (address, port) = (format!("rest.address={host}"), format!("rest.port={port}"));
    let (ok, by_config, stderr) = eddy(&["list", "-D", &address, "-D", &port]);
    assert!(ok && by_config.contains(&job), "{by_config}{stderr}");
    let (ok, scheduled, stderr) = eddy(&["list", "-s", "-m", &m]);
    assert!(
        ok && scheduled.contains("No scheduled jobs."),
        "{scheduled}{stderr}"
    );

    let savepoints = tmp.path().join("sp");
    let (ok, said, stderr) = eddy(&["savepoint", "-m", &m, &job, savepoints.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let path = said
        .lines()
        .find_map(|l| l.strip_prefix("Savepoint completed. Path: "))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(Path::new(path).join("_metadata").exists(), "{said}");

    // Errors: an unknown job, a missing job id, nothing listening.
    let unknown = "0123456789abcdef0123456789abcdef";
    let (ok, _, stderr) = eddy(&["cancel", "-m", &m, unknown]);
    assert!(!ok && stderr.contains("not found"), "{stderr}");
    let (ok, _, stderr) = eddy(&["stop", "-m", &m]);
    assert!(!ok && stderr.contains("missing the job id"), "{stderr}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (ok, _, stderr) = eddy(&["list", "-m", &nobody]);
    assert!(
        !ok && stderr.contains("cannot reach the REST API"),
        "{stderr}"
    );

    // Stop with a drained savepoint: the command prints its path, the job ends.
    let (ok, said, stderr) = eddy(&[
        "stop",
        "-m",
        &m,
        "--drain",
        "--savepointPath",
        savepoints.to_str().unwrap(),
        &job,
    ]);
    assert!(ok, "{stderr}");
    let stopped = said
        .lines()
        .find_map(|l| l.strip_prefix("Savepoint completed. Path: "))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(Path::new(stopped).join("_metadata").exists());
    let (ok, stderr) = shell.finish();
    assert!(ok, "{stderr}");

    // Disposing of a savepoint deletes it; a directory that is not one stays.
    let (ok, said, stderr) = eddy(&["savepoint", "--dispose", path]);
    assert!(ok, "{stderr}");
    assert!(said.contains("disposed"), "{said}");
    assert!(!Path::new(path).exists());
    let (ok, _, stderr) = eddy(&["savepoint", "--dispose", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("is not a savepoint"), "{stderr}");
    assert!(out.exists());
}

#[test]
fn help_and_version_exit_zero() {
    let (ok, said, _) = eddy(&["--version"]);
    assert!(ok && said.starts_with("eddy "), "{said}");
    let (ok, said, _) = eddy(&["--help"]);
    assert!(ok && said.contains("savepoint"), "{said}");
    for verb in ["list", "cancel", "savepoint", "stop", "sql"] {
        let (ok, said, stderr) = eddy(&[verb, "--help"]);
        assert!(ok && said.contains("usage"), "{verb}: {said} {stderr}");
    }
    let (ok, _, stderr) = eddy(&["frobnicate"]);
    assert!(
        !ok && stderr.contains("unknown command 'frobnicate'"),
        "{stderr}"
    );
}

#[test]
fn a_port_that_is_not_a_port_is_an_error_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let script = script(tmp.path(), 10, 10, &tmp.path().join("out"));
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-f"])
        .arg(&script)
        .args(["-D", "rest.port=80x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rest.port"), "{stderr}");
    // A port in use is an error too, naming the address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = format!("rest.port={}", taken.local_addr().unwrap().port());
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["sql", "-f"])
        .arg(&script)
        .args(["-D", &port])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen on 127.0.0.1"), "{stderr}");
}

/// Reads an operation's result pages until `enough` holds for the rows so far
/// (kind and fields) or the result ends; returns the rows and whether it ended.
fn fetch_rows(
    shell: &Shell,
    session: &str,
    op: &str,
    enough: impl Fn(&[(String, Vec<String>)]) -> bool,
) -> (Vec<(String, Vec<String>)>, bool) {
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    let mut next = format!("/v1/sessions/{session}/operations/{op}/result/0");
    loop {
        let page = shell.get(&next);
        for row in page["results"]["data"].as_array().unwrap() {
            let fields = row["fields"].as_array().unwrap();
            let fields = fields.iter().map(|f| f.as_str().unwrap().to_string());
            rows.push((row["kind"].as_str().unwrap().to_string(), fields.collect()));
        }
        let Some(uri) = page["nextResultUri"].as_str() else {
            return (rows, true);
        };
        if enough(&rows) {
            return (rows, false);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{page}"
        );
        if page["resultType"] == "NOT_READY" {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        next = uri.to_string();
    }
}

/// The ids of the jobs in `state`.
fn jobs_in(shell: &Shell, state: &str) -> Vec<String> {
    let jobs = shell.get("/jobs/overview");
    let jobs = jobs["jobs"].as_array().unwrap().iter();
    jobs.filter(|j| j["state"] == state)
        .map(|j| j["jid"].as_str().unwrap().to_string())
        .collect()
}

/// The one job running now that was not in `before`.
fn new_running_job(shell: &Shell, before: &[String]) -> String {
    let started = std::time::Instant::now();
    loop {
        let new: Vec<String> = jobs_in(shell, "RUNNING")
            .into_iter()
            .filter(|j| !before.contains(j))
            .collect();
        match new.as_slice() {
            [job] => return job.clone(),
            [] => assert!(started.elapsed() < std::time::Duration::from_secs(30)),
            more => panic!("new jobs {more:?}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_sql_gateway_of_eddy_sql_runs_cancels_and_closes_statements() {
    let tmp = tempfile::tempdir().unwrap();
    // The script's job runs in the background, so the script ends when every
    // job of the process has ended.
    let script = script(tmp.path(), 1_000_000, 100, &tmp.path().join("out"));
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("SET 'table.dml-sync' = 'false';\n{text}")).unwrap();
    let shell = Shell::start(&script, &[]);
    let anchor = shell.running_job();
    let session = shell.open_session("{}");
    let status = |op: &str| -> String {
        let path = format!("/v1/sessions/{session}/operations/{op}/status");
        shell.get(&path)["status"].as_str().unwrap().to_string()
    };

    // A bounded aggregation: its changelog, applied, is the exact result.
    shell.statement(
        &session,
        "CREATE TABLE nums (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10', \
         'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '10');\n\
         CREATE TABLE slow (a BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20', \
         'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '1000000')",
    );
    let op = shell.statement(
        &session,
        "SELECT MOD(n, 3) AS k, COUNT(*) AS c FROM nums GROUP BY MOD(n, 3)",
    );
    let (rows, ended) = fetch_rows(&shell, &session, &op, |_| false);
    assert!(ended);
    let mut table = std::collections::BTreeMap::new();
    for (kind, fields) in &rows {
        match kind.as_str() {
            "INSERT" | "UPDATE_AFTER" => {
                assert!(table.insert(fields[0].clone(), fields[1].clone()).is_none())
            }
            "UPDATE_BEFORE" | "DELETE" => {
                assert_eq!(table.remove(&fields[0]).as_ref(), Some(&fields[1]))
            }
            other => panic!("row kind {other}"),
        }
    }
    let expected = [("0", "3"), ("1", "4"), ("2", "3")];
    let expected = expected.map(|(k, c)| (k.to_string(), c.to_string()));
    assert_eq!(table, expected.into_iter().collect(), "{rows:?}");
    assert_eq!(status(&op), "FINISHED");

    // A streaming query, cancelled: its job ends CANCELED, its rows so far stay
    // readable and the result ends; the statement queued behind it then runs.
    let before = jobs_in(&shell, "RUNNING");
    let streaming = shell.statement(&session, "SELECT a FROM slow");
    let queued = shell.statement(&session, "SELECT 42 AS answer");
    let (first, ended) = fetch_rows(&shell, &session, &streaming, |rows| rows.len() >= 5);
    assert!(!ended);
    let query_job = new_running_job(&shell, &before);
    assert_eq!(status(&queued), "RUNNING");
    let path = format!("/v1/sessions/{session}/operations/{streaming}/cancel");
    let (code, answer) = shell.call("POST", &path, None);
    assert_eq!((code, answer["status"].as_str()), (200, Some("CANCELED")));
    let (all, ended) = fetch_rows(&shell, &session, &streaming, |_| false);
    assert!(ended && all.len() >= first.len());
    let values: Vec<u64> = all.iter().map(|(_, f)| f[0].parse().unwrap()).collect();
    assert_eq!(values, (1..=values.len() as u64).collect::<Vec<_>>());
    shell.wait_for(&format!("/jobs/{}", query_job), |j| {
        j["state"] == "CANCELED"
    });
    let (answer, ended) = fetch_rows(&shell, &session, &queued, |_| false);
    assert!(ended);
    assert_eq!(answer, vec![("INSERT".to_string(), vec!["42".to_string()])]);
    assert_eq!(status(&streaming), "CANCELED");

    // An INSERT answers with its job, which runs on after its session closes.
    let insert = shell.statement(
        &session,
        "CREATE TABLE sink (a BIGINT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO sink SELECT a FROM slow",
    );
    let (rows, _) = fetch_rows(&shell, &session, &insert, |_| false);
    let inserted = rows.last().unwrap().1[0].clone();
    shell.wait_for(&format!("/jobs/{inserted}"), |j| j["state"] == "RUNNING");

    // Closing the session cancels the query that runs, promptly.
    let before = jobs_in(&shell, "RUNNING");
    let streaming = shell.statement(&session, "SELECT a FROM slow");
    fetch_rows(&shell, &session, &streaming, |rows| !rows.is_empty());
    let query_job = new_running_job(&shell, &before);
    let closing = std::time::Instant::now();
    let (code, answer) = shell.call("DELETE", &format!("/v1/sessions/{session}"), None);
    assert_eq!((code, answer["status"].as_str()), (200, Some("CLOSED")));
    assert!(closing.elapsed() < std::time::Duration::from_secs(10));
    shell.wait_for(&format!("/jobs/{}", query_job), |j| {
        j["state"] == "CANCELED"
    });
    let (code, _) = shell.call(
        "GET",
        &format!("/v1/sessions/{session}/operations/{streaming}/status"),
        None,
    );
    assert_eq!(code, 404);
    assert_eq!(shell.get(&format!("/jobs/{inserted}"))["state"], "RUNNING");

    // The script ends when the job submitted over REST ends too.
    let (code, _) = shell.call("PATCH", &format!("/jobs/{anchor}?mode=cancel"), None);
    assert_eq!(code, 202);
    shell.wait_for(&format!("/jobs/{anchor}"), |j| j["state"] == "CANCELED");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(shell.get(&format!("/jobs/{inserted}"))["state"], "RUNNING");
    let (code, _) = shell.call("PATCH", &format!("/jobs/{inserted}?mode=cancel"), None);
    assert_eq!(code, 202);
    let (ok, stderr) = shell.finish();
    assert!(!ok);
    assert!(stderr.contains(&format!("job {inserted}")), "{stderr}");
}
