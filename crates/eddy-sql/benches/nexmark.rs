//! Nexmark queries through `eddy sql` on the built-in generator, at parallelism 1
//! and 2, into a blackhole sink: events/s and peak memory per query.
//!
//! ```sh
//! cargo bench -p eddy-sql --bench nexmark            # 10 M events (stateless), 5 M (stateful)
//! cargo bench -p eddy-sql --bench nexmark -- --quick # a tenth of that
//! ```
//!
//! Each query runs in its own process so its peak memory (VmHWM) is its own.

use std::process::Command;
use std::time::Instant;

use eddy_core::Config;
use eddy_sql::Session;

const DDL: &str = include_str!("../tests/nexmark/ddl.sql");
const VIEWS: &str = include_str!("../tests/nexmark/views.sql");

/// (name, stateful, select)
const QUERIES: &[(&str, bool, &str)] = &[
    ("q0", false, include_str!("../tests/nexmark/q0.sql")),
    ("q1", false, include_str!("../tests/nexmark/q1.sql")),
    ("q2", false, include_str!("../tests/nexmark/q2.sql")),
    ("q14", false, include_str!("../tests/nexmark/q14.sql")),
    ("q21", false, include_str!("../tests/nexmark/q21.sql")),
    ("q22", false, include_str!("../tests/nexmark/q22.sql")),
    ("q15", true, include_str!("../tests/nexmark/q15.sql")),
    ("q16", true, include_str!("../tests/nexmark/q16.sql")),
    ("q17", true, include_str!("../tests/nexmark/q17.sql")),
    (
        "hop",
        true,
        "SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end",
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

/// Runs one query; prints `seconds peak_kib`.
fn run_case(name: &str, p: u32, events: u64) -> Result<(), String> {
    let (_, _, select) = QUERIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| format!("no query {name}"))?;
    let mut session = Session::new(Config::new());
    session.config.set("parallelism.default", p.to_string());
    let ddl = DDL
        .replace("${EVENTS}", &events.to_string())
        .replace("${EXTRA}", "")
        + VIEWS;
    session
        .execute_script(&ddl, |_| {})
        .map_err(|e| e.to_string())?;
    // The sink takes every column of the query, whatever its types.
    session
        .execute_sql(&format!("CREATE VIEW result_view AS {select}"))
        .map_err(|e| e.to_string())?;
    let columns = match session
        .execute_sql("DESCRIBE result_view")
        .map_err(|e| e.to_string())?
    {
        eddy_sql::Output::Rows { rows, .. } => rows
            .iter()
            .map(|(_, r)| {
                format!(
                    "`{}` {}",
                    r[0].clone().unwrap_or_default(),
                    r[1].clone().unwrap_or_default()
                )
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
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
    println!(
        "{:<6} {:>3} {:>12} {:>10} {:>14} {:>10}",
        "query", "p", "events", "seconds", "events/s", "peak MiB"
    );
    println!("(no local Flink run is wired in: these are eddy's figures alone)");
    for (name, stateful, _) in QUERIES {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let events = if *stateful { 5_000_000 } else { 10_000_000 } / scale;
        for p in [1u32, 2] {
            let Ok(exe) = std::env::current_exe() else {
                eprintln!("cannot find the benchmark binary");
                std::process::exit(1);
            };
            let out = Command::new(exe)
                .args(["--case", name, &p.to_string(), &events.to_string()])
                .output();
            match out {
                Ok(out) if out.status.success() => {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let f: Vec<f64> = text
                        .split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect();
                    if let [seconds, peak] = f[..] {
                        println!(
                            "{name:<6} {p:>3} {events:>12} {seconds:>10.2} {:>14.0} {:>10.1}",
                            events as f64 / seconds,
                            peak / 1024.0,
                        );
                    }
                }
                Ok(out) => eprintln!(
                    "{name} p={p} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("{name} p={p} could not start: {e}"),
            }
        }
    }
}
