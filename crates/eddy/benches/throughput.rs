//! Throughput benchmark of the core engine.
//!
//! ```text
//! cargo bench -p eddy --bench throughput            # every case at parallelism 1 and 2
//! cargo bench -p eddy --bench throughput -- --quick # smaller inputs
//! ```
//!
//! Each case runs in its own process so its peak memory (VmHWM) is its own:
//! (a) generator → map → filter → discard; (b) generator → key_by → 10 s tumbling
//! event-time window count over 10,000 keys; (c) generator → key_by → running reduce
//! over 10,000 keys; (d) wordcount over a generated text file of 500 MB; (s) running
//! reduce over 1 M keys with a checkpoint every second, and (s0) the same without
//! checkpoints, so the two peak memories compare at the same key count; (l) and (l0)
//! the same over 10 M keys, where a full snapshot takes longer to write than the
//! checkpoint interval.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eddy::prelude::*;

const KEYS: u64 = 10_000;

#[global_allocator]
static ALLOCATOR: eddy::Allocator = eddy::Allocator;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--case") {
        let case = args.get(pos + 1).cloned().unwrap_or_default();
        let p: u32 = args
            .iter()
            .position(|a| a == "-p")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let n: u64 = args
            .iter()
            .position(|a| a == "-n")
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000_000);
        if let Err(e) = run_case(&case, p, n) {
            eprintln!("case {case} failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let cases: [(&str, &str, u64); 12] = [
        ("a", "map -> filter (stateless)", 200_000_000 / scale),
        (
            "b",
            "key_by -> 10 s tumbling window count",
            50_000_000 / scale,
        ),
        ("b-ck", "  same, checkpoint every 1 s", 50_000_000 / scale),
        (
            "b-m",
            "  same as (b), Prometheus scraped every 1 s",
            50_000_000 / scale,
        ),
        ("c", "key_by -> running reduce", 50_000_000 / scale),
        ("c-ck", "  same, checkpoint every 1 s", 50_000_000 / scale),
        (
            "d",
            "wordcount (words) over a text file",
            if quick { 50 } else { 500 },
        ),
        (
            "s0",
            "reduce over 1 M keys, no checkpoints",
            30_000_000 / scale,
        ),
        (
            "s",
            "reduce over 1 M keys, checkpoint 1 s",
            30_000_000 / scale,
        ),
        (
            "l0",
            "reduce over 10 M keys, no checkpoints",
            60_000_000 / scale,
        ),
        (
            "l",
            "reduce over 10 M keys, checkpoint 1 s",
            60_000_000 / scale,
        ),
        (
            "r",
            "restart with ~100 MB of keyed state",
            1_000_000 / scale,
        ),
    ];
    println!(
        "{:<40} {:>3} {:>14} {:>12} {:>10} {:>12}  checkpoints",
        "case", "p", "records", "seconds", "M rec/s", "peak MiB"
    );
    for (case, label, n) in cases {
        let parallelisms: &[u32] = if matches!(case, "s" | "s0" | "l" | "l0" | "r") {
            &[1]
        } else {
            &[1, 2]
        };
        for &p in parallelisms {
            let exe = match std::env::current_exe() {
                Ok(exe) => exe,
                Err(e) => {
                    eprintln!("cannot find the benchmark binary: {e}");
                    std::process::exit(1);
                }
            };
            let output = Command::new(exe)
                .args(["--case", case, "-p", &p.to_string(), "-n", &n.to_string()])
                .output();
            match output {
                Ok(out) if out.status.success() => {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let (numbers, extra) = text.split_once('|').unwrap_or((&text, ""));
                    let fields: Vec<&str> = numbers.split_whitespace().collect();
                    if let [records, seconds, peak_kib] = fields[..] {
                        let records: f64 = records.parse().unwrap_or(0.0);
                        let seconds: f64 = seconds.parse().unwrap_or(f64::NAN);
                        let peak: f64 = peak_kib.parse().unwrap_or(0.0);
                        println!(
                            "{:<40} {:>3} {:>14} {:>12.2} {:>10.2} {:>12.1}  {}",
                            format!("({case}) {label}"),
                            p,
                            records as u64,
                            seconds,
                            records / seconds / 1e6,
                            peak / 1024.0,
                            extra.trim()
                        );
                    }
                }
                Ok(out) => eprintln!(
                    "({case}) p={p} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("({case}) p={p} could not start: {e}"),
            }
        }
    }
}

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

fn env(p: u32) -> StreamExecutionEnvironment {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(p);
    env
}

/// A fresh checkpoint directory under the temp dir.
fn checkpoint_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn with_checkpoints(env: &StreamExecutionEnvironment, dir: &Path) {
    env.configure("execution.checkpointing.interval", "1s");
    env.configure("execution.checkpointing.dir", &dir.display().to_string());
}

fn checkpoint_figures(result: &JobExecutionResult) -> String {
    format!(
        "{} completed, last {} ms, {:.1} MiB, pause last {} us, longest {} us",
        result.counter("numberOfCompletedCheckpoints"),
        result.counter("lastCheckpointDuration"),
        result.counter("lastCheckpointSize") as f64 / (1024.0 * 1024.0),
        result.counter("lastCheckpointSyncDurationMicros"),
        result.counter("checkpointSyncDurationMaxMicros")
    )
}

/// Fetches the Prometheus endpoint every second, as a Prometheus server would.
struct Scraper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Scraper {
    fn start() -> Scraper {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let addr = eddy::rest::prometheus_address()
            .map(|a| std::net::SocketAddr::from(([127, 0, 0, 1], a.port())));
        let thread = std::thread::spawn(move || {
            let mut scrapes = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Some(addr) = addr {
                    if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
                        let _ = write!(
                            stream,
                            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        );
                        let mut body = Vec::new();
                        if stream.read_to_end(&mut body).is_ok() && !body.is_empty() {
                            scrapes += 1;
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            scrapes
        });
        Scraper { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

fn run_case(case: &str, p: u32, n: u64) -> Result<()> {
    let mut extra = String::new();
    let (records, elapsed) = match case {
        "a" => {
            let env = env(p);
            env.from_generator(Some(n), |i| (i, None))
                .map(|x: u64| x.wrapping_mul(3))
                .filter(|x| x % 7 != 0)
                .discard();
            let result = env.execute("bench-a")?;
            (n, result.net_runtime)
        }
        "b" => {
            let env = env(p);
            // Event time advances 1 ms every 100 records: 1 M records per 10 s window.
            env.from_generator(Some(n), |i| ((i % KEYS, 1u64), Some((i / 100) as i64)))
                .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps())
                .key_by(|r: &(u64, u64)| r.0)
                .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
                .reduce(|a, b| (a.0, a.1 + b.1))
                .discard();
            let result = env.execute("bench-b")?;
            (n, result.net_runtime)
        }
        "b-m" => {
            let env = env(p);
            env.configure(
                "metrics.reporter.prom.factory.class",
                "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
            );
            env.configure("metrics.reporter.prom.port", "0");
            env.configure("rest.port", "0");
            env.from_generator(Some(n), |i| ((i % KEYS, 1u64), Some((i / 100) as i64)))
                .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps())
                .key_by(|r: &(u64, u64)| r.0)
                .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
                .reduce(|a, b| (a.0, a.1 + b.1))
                .discard();
            let client = env.execute_async("bench-b-m")?;
            let scraper = Scraper::start();
            let result = client.wait()?;
            extra = format!(" ({} scrapes)", scraper.stop());
            (n, result.net_runtime)
        }
        "b-ck" => {
            let env = env(p);
            let dir = checkpoint_dir("b");
            with_checkpoints(&env, &dir);
            env.from_generator(Some(n), |i| ((i % KEYS, 1u64), Some((i / 100) as i64)))
                .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps())
                .key_by(|r: &(u64, u64)| r.0)
                .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
                .reduce(|a, b| (a.0, a.1 + b.1))
                .discard();
            let result = env.execute("bench-b-ck")?;
            extra = checkpoint_figures(&result);
            let _ = std::fs::remove_dir_all(dir);
            (n, result.net_runtime)
        }
        "c" | "c-ck" | "s" | "s0" | "l" | "l0" => {
            let env = env(p);
            let dir = checkpoint_dir(case);
            let checkpointed = matches!(case, "c-ck" | "s" | "l");
            if checkpointed {
                with_checkpoints(&env, &dir);
            }
            let keys = match case {
                "s" | "s0" => 1_000_000,
                "l" | "l0" => 10_000_000,
                _ => KEYS,
            };
            env.from_generator(Some(n), move |i| ((i % keys, i), None))
                .key_by(|r: &(u64, u64)| r.0)
                .reduce(|a, b| (a.0, a.1.wrapping_add(b.1)))
                .discard();
            let result = env.execute("bench-c")?;
            if checkpointed {
                extra = checkpoint_figures(&result);
            }
            let _ = std::fs::remove_dir_all(dir);
            (n, result.net_runtime)
        }
        "r" => {
            // Build ~100 MB of keyed state (n keys, 100-byte values), stop the job
            // with a savepoint, then measure how long a job restoring it takes to
            // process its first record.
            let dir = checkpoint_dir("r");
            let env = env(p);
            with_checkpoints(&env, &dir);
            let produced = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counted = produced.clone();
            env.from_generator(None, move |i| {
                counted.fetch_max(i + 1, std::sync::atomic::Ordering::Relaxed);
                ((i % n, "x".repeat(100)), None)
            })
            .uid("build")
            .key_by(|r: &(u64, String)| r.0)
            .reduce(|a, _| a)
            .uid("state")
            .discard()
            .uid("sink");
            let started = Instant::now();
            let client = env.execute_async("bench-r")?;
            while produced.load(std::sync::atomic::Ordering::Relaxed) < n {
                std::thread::sleep(Duration::from_millis(5));
            }
            let savepoint = client.stop_with_savepoint(&dir, false)?;
            let build = client.wait()?;
            let built_in = started.elapsed();
            let size = build.counter("lastCheckpointSize");
            let env = self::env(p);
            with_checkpoints(&env, &dir);
            env.configure(
                "execution.state-recovery.path",
                savepoint.to_string_lossy().as_ref(),
            );
            env.configure("execution.state-recovery.ignore-unclaimed-state", "true");
            let first = std::sync::Arc::new(std::sync::OnceLock::new());
            let seen = first.clone();
            env.from_generator(Some(1), |i| ((i, String::new()), None))
                .uid("probe")
                .key_by(|r: &(u64, String)| r.0)
                .reduce(|a, _| a)
                .uid("state")
                .map(move |r| {
                    let _ = seen.set(Instant::now());
                    r
                })
                .discard()
                .uid("sink");
            let started = Instant::now();
            env.execute("bench-r")?;
            let restart = first
                .get()
                .map_or(Duration::ZERO, |t| t.duration_since(started));
            let _ = std::fs::remove_dir_all(dir);
            extra = format!(
                "restored {:.1} MiB of state, processing again after {:.0} ms",
                size as f64 / (1024.0 * 1024.0),
                restart.as_secs_f64() * 1000.0
            );
            (n, built_in)
        }
        "d" => {
            let path = text_file(n)?;
            let env = env(p);
            let out = std::env::temp_dir().join(format!("eddy-bench-wc-{}", std::process::id()));
            env.read_text_file(&path)
                .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
                    for word in line
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .filter(|w| !w.is_empty())
                    {
                        out.collect((word.to_ascii_lowercase(), 1));
                    }
                })
                .key_by(|(w, _)| w.clone())
                .reduce(|a, b| (a.0, a.1 + b.1))
                .discard();
            let started = Instant::now();
            let result = env.execute("bench-d")?;
            let _ = std::fs::remove_dir_all(out);
            let _ = started;
            // Records are words; the file holds `n` MB.
            (
                result.counter("Keyed Reduce.numRecordsIn"),
                result.net_runtime,
            )
        }
        other => return Err(Error::Other(format!("unknown case {other}"))),
    };
    println!(
        "{records} {:.4} {} | {extra}",
        elapsed.as_secs_f64(),
        peak_memory_kib()
    );
    Ok(())
}

/// A text file of about `megabytes` MB of words, made once and cached.
fn text_file(megabytes: u64) -> Result<PathBuf> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("eddy-bench-words-{megabytes}mb.txt"));
    if path.exists() {
        return Ok(path);
    }
    write_words(&path, megabytes * 1_000_000).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

fn write_words(path: &Path, bytes: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut written = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        for _ in 0..12 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Zipf-like: small word ids are frequent.
            let id = (state % 1000) * (state >> 40) % 50_000;
            line.push_str("word");
            line.push_str(&id.to_string());
            line.push(' ');
        }
        line.push('\n');
        file.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    file.flush()?;
    drop(file);
    std::fs::rename(tmp, path)
}
