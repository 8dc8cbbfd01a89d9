//! Nexmark queries through `eddy sql` on the built-in generator, at parallelism 1
//! and 2, into a blackhole sink: events/s and peak memory per query. Then the
//! same SQL on eddy and on a local Apache Flink over a `datagen` table shaped
//! like Nexmark's bids (Flink has no built-in Nexmark source), with the ratio.
//!
//! ```sh
//! cargo bench -p eddy-sql --bench nexmark            # 10 M events (stateless), 5 M (stateful)
//! cargo bench -p eddy-sql --bench nexmark -- --quick # a tenth of that
//! cargo bench -p eddy-sql --bench nexmark -- --query q5
//! cargo bench -p eddy-sql --bench nexmark -- --query q16 --set table.exec.mini-batch.enabled=true ...
//! EDDY_FLINK_PYTHON=/path/to/python cargo bench -p eddy-sql --bench nexmark -- --compare-only
//! ```
//!
//! Flink is found as a Python with PyFlink (`pip install apache-flink==2.3.0`):
//! `EDDY_FLINK_PYTHON`, else `python3` when it imports `pyflink`. Without it
//! the comparison prints eddy's figures alone. Each query runs in its own
//! process so its peak memory (VmHWM) is its own.

use std::process::Command;
use std::time::Instant;

use eddy_core::Config;
use eddy_sql::Session;

const DDL: &str = include_str!("../tests/nexmark/ddl.sql");
const VIEWS: &str = include_str!("../tests/nexmark/views.sql");
const SIDE_INPUT: &str = include_str!("../tests/nexmark/side_input.sql");

/// (name, stateful, select)
const QUERIES: &[(&str, bool, &str)] = &[
    ("q0", false, include_str!("../tests/nexmark/q0.sql")),
    ("q1", false, include_str!("../tests/nexmark/q1.sql")),
    ("q2", false, include_str!("../tests/nexmark/q2.sql")),
    ("q14", false, include_str!("../tests/nexmark/q14.sql")),
    ("q21", false, include_str!("../tests/nexmark/q21.sql")),
    ("q22", false, include_str!("../tests/nexmark/q22.sql")),
    ("q13", false, include_str!("../tests/nexmark/q13.sql")),
    ("q3", true, include_str!("../tests/nexmark/q3.sql")),
    ("q4", true, include_str!("../tests/nexmark/q4.sql")),
    ("q5", true, include_str!("../tests/nexmark/q5.sql")),
    ("q7", true, include_str!("../tests/nexmark/q7.sql")),
    ("q8", true, include_str!("../tests/nexmark/q8.sql")),
    ("q9", true, include_str!("../tests/nexmark/q9.sql")),
    ("q11", true, include_str!("../tests/nexmark/q11.sql")),
    ("q12", true, include_str!("../tests/nexmark/q12.sql")),
    ("q15", true, include_str!("../tests/nexmark/q15.sql")),
    ("q16", true, include_str!("../tests/nexmark/q16.sql")),
    ("q17", true, include_str!("../tests/nexmark/q17.sql")),
    ("q18", true, include_str!("../tests/nexmark/q18.sql")),
    ("q19", true, include_str!("../tests/nexmark/q19.sql")),
    ("q20", true, include_str!("../tests/nexmark/q20.sql")),
];

/// A bid-shaped `datagen` table with the same options on eddy and Flink;
/// `${ROWS}` rows, event times 1 ms apart.
const DATAGEN_BID: &str = "CREATE TABLE bid (seq BIGINT, auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, extra STRING, \
`dateTime` AS TO_TIMESTAMP_LTZ(seq, 3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'datagen', \
'rows-per-second' = '1000000000', 'fields.seq.kind' = 'sequence', 'fields.seq.start' = '1', 'fields.seq.end' = '${ROWS}', \
'fields.auction.min' = '1000', 'fields.auction.max' = '2000', 'fields.bidder.min' = '1000', 'fields.bidder.max' = '5000', \
'fields.price.min' = '100', 'fields.price.max' = '100000', 'fields.channel.length' = '8', 'fields.url.length' = '40', \
'fields.extra.length' = '20')";

/// (name, stateful, sink columns, select): the same statements on both engines.
const COMPARED: &[(&str, bool, &str, &str)] = &[
    (
        "passthrough",
        false,
        "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP_LTZ(3), extra STRING",
        "SELECT auction, bidder, price, `dateTime`, extra FROM bid",
    ),
    (
        "projection",
        false,
        "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), `dateTime` TIMESTAMP_LTZ(3), extra STRING",
        "SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra FROM bid",
    ),
    (
        "filter",
        false,
        "auction BIGINT, price BIGINT",
        "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0",
    ),
    (
        "tumble",
        true,
        "auction BIGINT, num BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3)",
        "SELECT auction, COUNT(*) AS num, window_start, window_end FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end",
    ),
    (
        "group-by",
        true,
        "auction BIGINT, num BIGINT, top BIGINT",
        "SELECT auction, COUNT(*) AS num, MAX(price) AS top FROM bid GROUP BY auction",
    ),
];

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The `--set key=value` options: configuration for every eddy run.
fn settings(args: &[String]) -> Vec<String> {
    args.windows(2)
        .filter(|w| w[0] == "--set")
        .flat_map(|w| ["--set".to_string(), w[1].clone()])
        .collect()
}

/// A session at parallelism `p` with the `--set` options of this process.
fn session(p: u32) -> Result<Session, String> {
    let mut session = Session::new(Config::new());
    session.config.set("parallelism.default", p.to_string());
    let args: Vec<String> = std::env::args().collect();
    for pair in settings(&args).chunks(2) {
        let (key, value) = pair[1]
            .split_once('=')
            .ok_or_else(|| format!("--set needs key=value, got '{}'", pair[1]))?;
        session.config.set(key, value);
    }
    Ok(session)
}

/// Runs one query; prints `seconds peak_kib`.
fn run_case(name: &str, p: u32, events: u64) -> Result<(), String> {
    let (_, _, select) = QUERIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| format!("no query {name}"))?;
    let mut session = session(p)?;
    let side_input = std::env::temp_dir().join("eddy-bench-side-input.csv");
    if !side_input.exists() {
        let text: String = (0..10_000).map(|k| format!("{k},v{k}\n")).collect();
        std::fs::write(&side_input, text).map_err(|e| e.to_string())?;
    }
    let ddl = DDL
        .replace("${EVENTS}", &events.to_string())
        .replace("${EXTRA}", "")
        + VIEWS
        + &SIDE_INPUT.replace("${SIDE_INPUT}", &side_input.display().to_string())
        + "CREATE VIEW B AS SELECT *, PROCTIME() as p_time FROM bid;";
    session
        .execute_script(&ddl, |_| {})
        .map_err(|e| e.to_string())?;
    // The sink takes every column of the query, whatever its types.
    session
        .execute_sql(&format!("CREATE VIEW result_view AS {select}"))
        .map_err(|e| e.to_string())?;
    // Repeated names (q20 selects two `dateTime`s) get a suffix, as Flink's.
    let mut seen = std::collections::HashSet::new();
    let columns = match session
        .execute_sql("DESCRIBE result_view")
        .map_err(|e| e.to_string())?
    {
        eddy_sql::Output::Rows { rows, .. } => rows
            .iter()
            .map(|(_, r)| {
                let name = r[0].clone().unwrap_or_default();
                let mut unique = name.clone();
                let mut k = 0;
                while !seen.insert(unique.clone()) {
                    unique = format!("{name}{k}");
                    k += 1;
                }
                format!("`{unique}` {}", r[1].clone().unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => return Err("DESCRIBE gave no rows".into()),
    };
    session
        .execute_sql(&format!(
            "CREATE TABLE sink ({columns}) WITH ('connector' = 'blackhole')"
        ))
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    session
        .execute_sql("INSERT INTO sink SELECT * FROM result_view")
        .map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{seconds} {}", peak_memory_kib());
    Ok(())
}

/// The statements of a compared query: the table, the sink, the INSERT.
fn compared_statements(name: &str, rows: u64) -> Result<Vec<String>, String> {
    let (_, _, columns, select) = COMPARED
        .iter()
        .find(|(n, _, _, _)| *n == name)
        .ok_or_else(|| format!("no compared query {name}"))?;
    Ok(vec![
        DATAGEN_BID.replace("${ROWS}", &rows.to_string()),
        format!("CREATE TABLE sink ({columns}) WITH ('connector' = 'blackhole')"),
        format!("INSERT INTO sink {select}"),
    ])
}

/// Runs a compared query on eddy; prints `seconds peak_kib`.
fn run_compared(name: &str, p: u32, rows: u64) -> Result<(), String> {
    let mut session = session(p)?;
    let statements = compared_statements(name, rows)?;
    let (insert, setup) = statements.split_last().ok_or("no statements")?;
    for statement in setup {
        session.execute_sql(statement).map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    session.execute_sql(insert).map_err(|e| e.to_string())?;
    println!("{} {}", start.elapsed().as_secs_f64(), peak_memory_kib());
    Ok(())
}

/// A Python that imports PyFlink, if there is one.
fn flink_python() -> Option<String> {
    let candidates = std::env::var("EDDY_FLINK_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import pyflink"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    None
}

/// Runs a compared query on Flink; its seconds.
fn run_flink(python: &str, name: &str, p: u32, rows: u64) -> Result<f64, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/flink_runner.py");
    let out = Command::new(python)
        .arg(script)
        .arg(p.to_string())
        .args(settings(&std::env::args().collect::<Vec<_>>()))
        .args(compared_statements(name, rows)?)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("seconds ")?.trim().parse().ok())
        .ok_or_else(|| {
            let err = String::from_utf8_lossy(&out.stderr);
            let last: Vec<&str> = err.lines().rev().take(5).collect();
            format!("Flink run failed: {}", last.join(" | "))
        })
}

/// Runs this binary with `args`; returns (seconds, peak KiB).
fn child(args: &[String]) -> Result<(f64, f64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let forwarded = settings(&std::env::args().collect::<Vec<_>>());
    let out = Command::new(exe)
        .args(args)
        .args(forwarded)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let f: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    match f[..] {
        [seconds, peak] => Ok((seconds, peak)),
        _ => Err("no figures".into()),
    }
}

/// The allocator the `eddy` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--compared-case") {
        let name = args.get(i + 1).cloned().unwrap_or_default();
        let p: u32 = args.get(i + 2).and_then(|v| v.parse().ok()).unwrap_or(1);
        let rows: u64 = args
            .get(i + 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        if let Err(e) = run_compared(&name, p, rows) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--case") {
        let name = args.get(i + 1).cloned().unwrap_or_default();
        let p: u32 = args.get(i + 2).and_then(|v| v.parse().ok()).unwrap_or(1);
        let events: u64 = args
            .get(i + 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        if let Err(e) = run_case(&name, p, events) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    let scale = if args.iter().any(|a| a == "--quick") {
        10
    } else {
        1
    };
    let only: Option<&String> = args
        .iter()
        .position(|a| a == "--query")
        .and_then(|i| args.get(i + 1));
    let compare_only = args.iter().any(|a| a == "--compare-only");
    if !compare_only {
        println!("Nexmark on eddy's generator (blackhole sink)");
        println!(
            "{:<6} {:>3} {:>12} {:>10} {:>14} {:>10}",
            "query", "p", "events", "seconds", "events/s", "peak MiB"
        );
        for (name, stateful, _) in QUERIES {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let events = if *stateful { 5_000_000 } else { 10_000_000 } / scale;
            for p in [1u32, 2] {
                let args = ["--case", name, &p.to_string(), &events.to_string()].map(String::from);
                match child(&args) {
                    Ok((seconds, peak)) => println!(
                        "{name:<6} {p:>3} {events:>12} {seconds:>10.2} {:>14.0} {:>10.1}",
                        events as f64 / seconds,
                        peak / 1024.0,
                    ),
                    Err(e) => eprintln!("{name} p={p} failed: {e}"),
                }
            }
        }
    }
    let flink = flink_python();
    println!();
    match &flink {
        Some(python) => println!("The same SQL on eddy and on Apache Flink ({python}), datagen bids"),
        None => println!(
            "The same SQL on eddy over datagen bids (no local Flink: set EDDY_FLINK_PYTHON to a Python with apache-flink)"
        ),
    }
    println!(
        "{:<12} {:>3} {:>10} {:>14} {:>10} {:>14} {:>8}",
        "query", "p", "rows", "eddy rows/s", "eddy MiB", "Flink rows/s", "ratio"
    );
    for (name, stateful, _, _) in COMPARED {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let rows = if *stateful { 2_000_000 } else { 4_000_000 } / scale;
        for p in [1u32, 2] {
            let args =
                ["--compared-case", name, &p.to_string(), &rows.to_string()].map(String::from);
            let (eddy, peak) = match child(&args) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{name} p={p} failed on eddy: {e}");
                    continue;
                }
            };
            let eddy_rate = rows as f64 / eddy;
            let flink_rate = flink
                .as_ref()
                .map(|python| run_flink(python, name, p, rows));
            let (flink_text, ratio) = match flink_rate {
                Some(Ok(seconds)) => {
                    let rate = rows as f64 / seconds;
                    (format!("{rate:.0}"), format!("{:.1}x", eddy_rate / rate))
                }
                Some(Err(e)) => {
                    eprintln!("{name} p={p}: {e}");
                    ("failed".into(), "-".into())
                }
                None => ("-".into(), "-".into()),
            };
            println!(
                "{name:<12} {p:>3} {rows:>10} {eddy_rate:>14.0} {:>10.1} {flink_text:>14} {ratio:>8}",
                peak / 1024.0
            );
        }
    }
}
