//! The jobs users run, measured as they run them: `eddy sql -f` reading CSV
//! files and writing CSV (or Debezium JSON) files, whole processes timed, and
//! the same SQL on the same files on a local Apache Flink when one is found.
//!
//! ```sh
//! cargo bench -p eddy-cli --bench files                  # 5 M rows, p=1 and p=2
//! cargo bench -p eddy-cli --bench files -- --quick       # 1 M rows
//! cargo bench -p eddy-cli --bench files -- --case q5 --p 1 --runs 1 --no-flink
//! EDDY_FLINK_PYTHON=/path/to/python cargo bench -p eddy-cli --bench files
//! EDDY_BIN=/path/to/other/eddy cargo bench -p eddy-cli --bench files -- --no-flink
//! ```
//!
//! Flink is a Python with PyFlink (`pip install apache-flink==2.3.0`):
//! `EDDY_FLINK_PYTHON`, else `python3` when it imports `pyflink`. Each case
//! prints eddy's rows/s, MB/s of input and peak memory (the median of
//! `--runs`), Flink's net job time (the INSERT from submission to its end,
//! without the JVM's start and the planning of the tables) and whole-process
//! time, the ratios, and whether both wrote the same lines (a count and an
//! order-independent hash of every line of every output file; for a
//! changelog, of the rows it leaves). `EDDY_BIN`
//! measures another build of `eddy` (an earlier commit's, say). Before the
//! cases it prints the machine's `memcpy` speed and a plain read of the input.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bids, Nexmark-shaped: 10 per millisecond of event time.
const BID_DDL: &str = "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, \
channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, \
WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) \
WITH ('connector' = 'filesystem', 'path' = '${INPUT}', 'format' = 'csv')";

/// Events of 10,000 string keys, about 1.4 per key and 10-second window.
const EVENT_DDL: &str = "CREATE TABLE ev (ts TIMESTAMP(3), k STRING, \
WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) \
WITH ('connector' = 'filesystem', 'path' = '${INPUT}', 'format' = 'csv')";

/// A case: name, input (`bid` or `ev`), sink columns, sink format, query.
struct Case {
    name: &'static str,
    input: &'static str,
    columns: &'static str,
    format: &'static str,
    query: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "q0",
        input: "bid",
        columns: "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING",
        format: "csv",
        query: "SELECT auction, bidder, price, `dateTime`, extra FROM bid",
    },
    Case {
        name: "q1",
        input: "bid",
        columns: "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), `dateTime` TIMESTAMP(3), extra STRING",
        format: "csv",
        query: "SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra FROM bid",
    },
    Case {
        name: "q2",
        input: "bid",
        columns: "auction BIGINT, price BIGINT",
        format: "csv",
        query: "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0",
    },
    Case {
        name: "q5",
        input: "bid",
        columns: "auction BIGINT, num BIGINT",
        format: "csv",
        query: "SELECT AuctionBids.auction, AuctionBids.num FROM ( \
            SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime \
            FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) \
            GROUP BY auction, window_start, window_end) AS AuctionBids \
          JOIN ( \
            SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM ( \
              SELECT count(*) AS num, window_start AS starttime, window_end AS endtime \
              FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) \
              GROUP BY auction, window_start, window_end) AS CountBids \
            GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids \
          ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime \
            AND AuctionBids.num >= MaxBids.maxn",
    },
    Case {
        name: "q11",
        input: "bid",
        columns: "bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3)",
        format: "csv",
        query: "SELECT bidder, count(*) AS bid_count, \
            SESSION_START(`dateTime`, INTERVAL '10' SECOND) AS starttime, \
            SESSION_END(`dateTime`, INTERVAL '10' SECOND) AS endtime \
            FROM bid GROUP BY bidder, SESSION(`dateTime`, INTERVAL '10' SECOND)",
    },
    Case {
        name: "wcount",
        input: "ev",
        columns: "window_start TIMESTAMP(3), window_end TIMESTAMP(3), k STRING, cnt BIGINT",
        format: "csv",
        query: "SELECT window_start, window_end, k, COUNT(*) AS cnt \
            FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
            GROUP BY window_start, window_end, k",
    },
    Case {
        name: "agg",
        input: "bid",
        columns: "auction BIGINT, num BIGINT, top BIGINT",
        format: "debezium-json",
        query: "SELECT auction, COUNT(*) AS num, MAX(price) AS top FROM bid GROUP BY auction",
    },
];

/// A small, fixed pseudo-random sequence (xorshift), so every run reads the same files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn word(&mut self, out: &mut String, len: usize) {
        for _ in 0..len {
            out.push((b'a' + self.below(26) as u8) as char);
        }
    }
}

/// `2026-01-01 00:00:00.000` plus `ms`.
fn timestamp(out: &mut String, ms: u64) {
    let (s, ms) = (ms / 1000, ms % 1000);
    let (d, s) = (s / 86_400, s % 86_400);
    let _ = write!(
        out,
        "2026-01-{:02} {:02}:{:02}:{:02}.{ms:03}",
        1 + d,
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

fn write_lines(path: &Path, rows: u64, mut line: impl FnMut(u64, &mut String)) {
    let file = std::fs::File::create(path).expect("create input");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut text = String::new();
    for i in 0..rows {
        text.clear();
        line(i, &mut text);
        text.push('\n');
        out.write_all(text.as_bytes()).expect("write input");
    }
    out.flush().expect("write input");
}

/// The input files of `rows` rows, made once per size.
fn inputs(rows: u64) -> HashMap<&'static str, PathBuf> {
    let dir = std::env::temp_dir().join(format!("eddy-bench-files-{rows}"));
    let bid = dir.join("bid.csv");
    let ev = dir.join("ev.csv");
    if !ev.exists() {
        std::fs::create_dir_all(&dir).expect("input dir");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let channels = ["apple", "google", "facebook", "baidu"];
        write_lines(&bid, rows, |i, text| {
            // Hot auctions, as Nexmark's: most bids go to a few recent ones.
            let auction = 1000
                + if rng.below(100) < 90 {
                    rng.below(100)
                } else {
                    rng.below(1000)
                };
            let bidder = 1000 + rng.below(4000);
            let price = 100 + rng.below(99_900);
            let _ = write!(
                text,
                "{auction},{bidder},{price},{},",
                channels[rng.below(4) as usize]
            );
            text.push_str("https://www.nexmark.com/");
            rng.word(text, 16);
            text.push(',');
            timestamp(text, i / 10);
            text.push(',');
            rng.word(text, 20);
        });
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        write_lines(&ev, rows, |i, text| {
            // 1,400 events per second, at most 500 ms out of order.
            let ms = (i * 5 / 7).saturating_sub(rng.below(500));
            timestamp(text, ms);
            let _ = write!(text, ",key-{}", rng.below(10_000));
        });
    }
    HashMap::from([("bid", bid), ("ev", ev)])
}

/// The statements of a case writing into `output`.
fn statements(case: &Case, input: &Path, output: &Path) -> Vec<String> {
    let ddl = if case.input == "bid" {
        BID_DDL
    } else {
        EVENT_DDL
    };
    vec![
        ddl.replace("${INPUT}", &input.display().to_string()),
        format!(
            "CREATE TABLE sink ({}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = '{}')",
            case.columns,
            output.display(),
            case.format
        ),
        format!("INSERT INTO sink {}", case.query),
    ]
}

/// Every line of every visible file under `dir`.
fn output_lines(dir: &Path, lines: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            output_lines(&path, lines);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        lines.extend(
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
}

/// The rows a Debezium JSON changelog leaves: `after` images added, `before`
/// images removed. Two runs that read the same input in another order write
/// other updates on the way, and leave the same rows.
fn final_rows(changelog: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut rows: HashMap<String, i64> = HashMap::new();
    for line in changelog {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        for (image, sign) in [("before", -1), ("after", 1)] {
            if let Some(row) = message.get(image).filter(|r| !r.is_null()) {
                *rows.entry(row.to_string()).or_default() += sign;
            }
        }
    }
    rows.into_iter()
        .flat_map(|(row, n)| std::iter::repeat_n(row.into_bytes(), n.max(0) as usize))
        .collect()
}

/// How many lines a case wrote (the rows its changelog leaves, for a
/// changelog format) and the wrapping sum of their FNV-1a hashes: the same
/// for the same lines in any order.
fn digest(dir: &Path, format: &str) -> (u64, u64) {
    let mut lines = Vec::new();
    output_lines(dir, &mut lines);
    if format == "debezium-json" {
        lines = final_rows(lines);
    }
    let mut sum = 0u64;
    for line in &lines {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in line {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        sum = sum.wrapping_add(h);
    }
    (lines.len() as u64, sum)
}

/// The resident memory of `pid` and all its descendants, in KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent follows the command name, which may hold spaces.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u32>().ok());
        if let Some(parent) = parent {
            children.entry(parent).or_default().push(p);
        }
    }
    let (mut total, mut stack) = (0, vec![pid]);
    while let Some(p) = stack.pop() {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        total += status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        stack.extend(children.get(&p).into_iter().flatten());
    }
    total
}

/// A finished process: whole seconds, peak resident KiB (of its process
/// tree, sampled every 20 ms) and what it printed.
struct Run {
    seconds: f64,
    peak_kib: u64,
    stdout: String,
}

fn timed(command: &mut Command) -> Result<Run, String> {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let mut peak = 0;
    let reader = {
        let mut out = child.stdout.take().ok_or("no stdout")?;
        let mut err = child.stderr.take().ok_or("no stderr")?;
        std::thread::spawn(move || {
            let (mut o, mut e) = (String::new(), String::new());
            let t = std::thread::spawn(move || {
                let _ = std::io::Read::read_to_string(&mut err, &mut e);
                e
            });
            let _ = std::io::Read::read_to_string(&mut out, &mut o);
            (o, t.join().unwrap_or_default())
        })
    };
    let status = loop {
        peak = peak.max(tree_rss_kib(pid));
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = start.elapsed().as_secs_f64();
    let (stdout, stderr) = reader.join().map_err(|_| "reader panicked")?;
    if !status.success() {
        let last: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(format!("{status}: {}", last.join(" | ")));
    }
    Ok(Run {
        seconds,
        peak_kib: peak,
        stdout,
    })
}

/// Runs a case on eddy; whole seconds, peak KiB and the output's digest.
fn run_eddy(case: &Case, p: u32, input: &Path, work: &Path) -> Result<(Run, (u64, u64)), String> {
    let output = work.join(format!("eddy-{}-{p}", case.name));
    let _ = std::fs::remove_dir_all(&output);
    let mut script = format!("SET 'parallelism.default' = '{p}';\n");
    for statement in statements(case, input, &output) {
        script.push_str(&statement);
        script.push_str(";\n");
    }
    let file = work.join(format!("{}.sql", case.name));
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let eddy = std::env::var("EDDY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_eddy").into());
    let run = timed(Command::new(eddy).arg("sql").arg("-f").arg(&file))?;
    Ok((run, digest(&output, case.format)))
}

/// Runs a case on Flink; its net seconds, the whole run and the output's digest.
fn run_flink(
    python: &str,
    case: &Case,
    p: u32,
    input: &Path,
    work: &Path,
) -> Result<(f64, Run, (u64, u64)), String> {
    let output = work.join(format!("flink-{}-{p}", case.name));
    let _ = std::fs::remove_dir_all(&output);
    let runner = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../eddy-sql/benches/flink_runner.py"
    );
    let run = timed(
        Command::new(python)
            .arg(runner)
            .arg(p.to_string())
            .args(statements(case, input, &output)),
    )?;
    let net = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("seconds ")?.trim().parse().ok())
        .ok_or("Flink printed no time")?;
    Ok((net, run, digest(&output, case.format)))
}

fn flink_python() -> Option<String> {
    let candidates = std::env::var("EDDY_FLINK_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import pyflink"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `memcpy` of 256 MiB, GB/s.
fn memcpy_gbps() -> f64 {
    let src = vec![1u8; 256 << 20];
    let mut dst = vec![0u8; 256 << 20];
    let start = Instant::now();
    for _ in 0..4 {
        dst.copy_from_slice(&src);
        std::hint::black_box(&mut dst);
    }
    4.0 * 256.0 * 1.048_576e6 / start.elapsed().as_secs_f64() / 1e9
}

/// Reading `path` whole and counting its lines: MB/s.
fn plain_read_mbps(path: &Path) -> f64 {
    let start = Instant::now();
    let bytes = std::fs::read(path).unwrap_or_default();
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    std::hint::black_box(lines);
    bytes.len() as f64 / 1e6 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<Run>) -> Run {
    v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    v.swap_remove(v.len() / 2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let quick = args.iter().any(|a| a == "--quick");
    let rows: u64 = value("--rows")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1_000_000 } else { 5_000_000 });
    let runs: usize = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let only = value("--case");
    let ps: Vec<u32> = value("--p")
        .map(|v| v.split(',').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let flink = if args.iter().any(|a| a == "--no-flink") {
        None
    } else {
        flink_python()
    };

    let inputs = inputs(rows);
    let work = tempfile::tempdir().expect("work dir");
    println!("machine: memcpy {:.1} GB/s", memcpy_gbps());
    for (name, path) in &inputs {
        let mb = std::fs::metadata(path).map_or(0, |m| m.len()) as f64 / 1e6;
        println!(
            "input {name}: {rows} rows, {mb:.0} MB, plain read and line count {:.0} MB/s",
            plain_read_mbps(path)
        );
    }
    if flink.is_none() {
        println!("(no PyFlink found: eddy's figures alone)");
    }
    println!(
        "\n{:<7} {:>2} {:>8} {:>10} {:>7} {:>8} {:>9} {:>9} {:>9} {:>6} {:>6}  output",
        "case",
        "p",
        "eddy s",
        "rows/s",
        "MB/s",
        "peak MB",
        "flink net",
        "flink all",
        "flink MB",
        "x net",
        "x all"
    );
    for case in CASES
        .iter()
        .filter(|c| only.as_deref().is_none_or(|o| o == c.name))
    {
        let input = &inputs[case.input];
        let mb = std::fs::metadata(input).map_or(0, |m| m.len()) as f64 / 1e6;
        for &p in &ps {
            let mut eddy_runs = Vec::new();
            let mut eddy_digest = (0, 0);
            for _ in 0..runs.max(1) {
                match run_eddy(case, p, input, work.path()) {
                    Ok((run, d)) => {
                        eddy_runs.push(run);
                        eddy_digest = d;
                    }
                    Err(e) => {
                        println!("{:<7} {p:>2} eddy failed: {e}", case.name);
                        break;
                    }
                }
            }
            if eddy_runs.is_empty() {
                continue;
            }
            let eddy = median(eddy_runs);
            let mut line = format!(
                "{:<7} {p:>2} {:>8.2} {:>10.0} {:>7.1} {:>8.0}",
                case.name,
                eddy.seconds,
                rows as f64 / eddy.seconds,
                mb / eddy.seconds,
                eddy.peak_kib as f64 / 1024.0
            );
            match flink
                .as_deref()
                .map(|py| run_flink(py, case, p, input, work.path()))
            {
                None => {
                    let _ = write!(line, "  {} lines", eddy_digest.0);
                }
                Some(Ok((net, all, flink_digest))) => {
                    let same = if flink_digest == eddy_digest {
                        format!("same {} lines", eddy_digest.0)
                    } else {
                        format!(
                            "DIFFERENT: eddy {} lines, Flink {}",
                            eddy_digest.0, flink_digest.0
                        )
                    };
                    let _ = write!(
                        line,
                        " {net:>9.2} {:>9.2} {:>9.0} {:>6.1} {:>6.1}  {same}",
                        all.seconds,
                        all.peak_kib as f64 / 1024.0,
                        net / eddy.seconds,
                        all.seconds / eddy.seconds
                    );
                }
                Some(Err(e)) => {
                    let _ = write!(line, "  Flink failed: {e}");
                }
            }
            println!("{line}");
        }
    }
}
