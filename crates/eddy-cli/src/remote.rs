//! The commands that talk to a running process's REST API, as Flink's CLI does:
//! `eddy list`, `eddy cancel`, `eddy savepoint` and `eddy stop`, with `-m
//! HOST:PORT` (default `rest.address`:`rest.port` of the `-D` settings, else
//! `localhost:8081`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::Endpoint;

/// Usage of the remote commands.
pub const USAGE: &str = "\
eddy list [-m HOST:PORT] [-a|-r|-s]      (every command: -D key=value, e.g. rest.auth.token=T or EDDY_REST_TOKEN)
eddy cancel [-m HOST:PORT] <jobId>
eddy savepoint [-m HOST:PORT] <jobId> [targetDirectory]
eddy savepoint --dispose <savepointPath>
eddy stop [-m HOST:PORT] [-p|--savepointPath DIR] [-d|--drain] <jobId>";

/// How long `savepoint` and `stop` wait for their savepoint.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(600);

/// Parsed arguments of a remote command.
#[derive(Debug, Default)]
struct Options {
    address: Option<String>,
    savepoint_path: Option<String>,
    drain: bool,
    all: bool,
    scheduled: bool,
    dispose: Option<String>,
    config: eddy::core::Config,
    positional: Vec<String>,
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-m" | "--jobmanager" => options.address = Some(value(&arg)?),
            "-p" | "--savepointPath" => options.savepoint_path = Some(value(&arg)?),
            "-d" | "--drain" => options.drain = true,
            "-a" | "--all" => options.all = true,
            "--dispose" => options.dispose = Some(value(&arg)?),
            "-D" => {
                let setting = value(&arg)?;
                options
                    .config
                    .set_from_arg(&setting)
                    .map_err(|e| e.to_string())?;
            }
            "-r" | "--running" => options.all = false,
            "-s" | "--scheduled" => options.scheduled = true,
            other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
            _ => options.positional.push(arg),
        }
    }
    Ok(options)
}

/// Runs `command` with `args`; the error is what to print.
pub fn run(command: &str, args: Vec<String>) -> Result<(), String> {
    let options = parse(args)?;
    let address = options
        .address
        .clone()
        .unwrap_or_else(|| crate::http::default_address(&options.config));
    let endpoint = Endpoint::parse(&address)?.configured(&options.config)?;
    let job = |n: usize| {
        options
            .positional
            .get(n)
            .cloned()
            .ok_or_else(|| format!("missing the job id\nusage:\n{USAGE}"))
    };
    let extra = |allowed: usize| {
        if options.positional.len() > allowed {
            Err(format!(
                "unexpected argument '{}'\nusage:\n{USAGE}",
                options.positional[allowed]
            ))
        } else {
            Ok(())
        }
    };
    match command {
        "list" => {
            extra(0)?;
            if options.scheduled {
                scheduled(&endpoint)
            } else {
                list(&endpoint, options.all)
            }
        }
        "cancel" => {
            extra(1)?;
            let id = job(0)?;
            println!("Cancelling job {id}.");
            endpoint.expect("PATCH", &format!("/jobs/{id}?mode=cancel"), None)?;
            println!("Cancelled job {id}.");
            Ok(())
        }
        "savepoint" if options.dispose.is_some() => {
            extra(0)?;
            let path = options.dispose.unwrap_or_default();
            dispose(std::path::Path::new(&path))?;
            println!("Savepoint '{path}' disposed.");
            Ok(())
        }
        "savepoint" => {
            extra(2)?;
            let id = job(0)?;
            let mut body = json!({ "cancel-job": false });
            if let Some(dir) = options.positional.get(1) {
                body["target-directory"] = json!(absolute(dir));
            }
            println!("Triggering savepoint for job {id}.");
            println!("Waiting for response...");
            let answer = endpoint.expect("POST", &format!("/jobs/{id}/savepoints"), Some(&body))?;
            let path = await_savepoint(&endpoint, &id, &answer)?;
            println!("Savepoint completed. Path: {path}");
            println!("You can resume your program from this savepoint with the run command.");
            Ok(())
        }
        "stop" => {
            extra(1)?;
            let id = job(0)?;
            let mut body = json!({ "drain": options.drain });
            if let Some(dir) = &options.savepoint_path {
                body["targetDirectory"] = json!(absolute(dir));
            }
            println!("Suspending job \"{id}\" with a CANONICAL savepoint.");
            let answer = endpoint.expect("POST", &format!("/jobs/{id}/stop"), Some(&body))?;
            let path = await_savepoint(&endpoint, &id, &answer)?;
            println!("Savepoint completed. Path: {path}");
            Ok(())
        }
        other => Err(format!("unknown command '{other}'")),
    }
}

/// Deletes a savepoint directory, after checking that it is one (it holds
/// `_metadata` and nothing but files eddy writes there).
fn dispose(path: &std::path::Path) -> Result<(), String> {
    let metadata = path.join("_metadata");
    if !metadata.is_file() {
        return Err(format!(
            "'{}' is not a savepoint: it has no _metadata file",
            path.display()
        ));
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    for entry in entries.flatten() {
        if entry.path().is_dir() {
            return Err(format!(
                "'{}' holds a directory ({}); not disposing of it",
                path.display(),
                entry.file_name().to_string_lossy()
            ));
        }
    }
    std::fs::remove_dir_all(path).map_err(|e| format!("cannot delete '{}': {e}", path.display()))
}

/// Polls the savepoint a trigger answer names until it completes; its path.
fn await_savepoint(endpoint: &Endpoint, job: &str, trigger: &Value) -> Result<String, String> {
    let request = trigger["request-id"]
        .as_str()
        .ok_or_else(|| format!("the API answered no request id: {trigger}"))?;
    let path = format!("/jobs/{job}/savepoints/{request}");
    let started = Instant::now();
    loop {
        let status = endpoint.expect("GET", &path, None)?;
        if status["status"]["id"] == "COMPLETED" {
            let operation = &status["operation"];
            if let Some(location) = operation["location"].as_str() {
                return Ok(location.to_string());
            }
            let cause = operation["failure-cause"]["stack-trace"]
                .as_str()
                .unwrap_or("unknown cause");
            return Err(format!("the savepoint failed: {cause}"));
        }
        if started.elapsed() > OPERATION_TIMEOUT {
            return Err(format!(
                "the savepoint did not complete within {OPERATION_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `eddy list -s`: the jobs not running yet (created, initializing), as Flink
/// lists its scheduled jobs.
fn scheduled(endpoint: &Endpoint) -> Result<(), String> {
    println!("Waiting for response...");
    let answer = endpoint.expect("GET", "/jobs/overview", None)?;
    let jobs = answer["jobs"].as_array().cloned().unwrap_or_default();
    let waiting: Vec<&Value> = jobs
        .iter()
        .filter(|j| matches!(j["state"].as_str(), Some("CREATED" | "INITIALIZING")))
        .collect();
    if waiting.is_empty() {
        println!("No scheduled jobs.");
        return Ok(());
    }
    println!("----------------------- Scheduled Jobs -----------------------");
    for job in waiting {
        println!(
            "{} : {} : {}",
            format_time(job["start-time"].as_i64().unwrap_or(0)),
            job["jid"].as_str().unwrap_or("?"),
            job["name"].as_str().unwrap_or("?"),
        );
    }
    println!("--------------------------------------------------------------");
    Ok(())
}

/// `eddy list`: running jobs (with `-a`, ended ones too), as Flink lists them.
fn list(endpoint: &Endpoint, all: bool) -> Result<(), String> {
    println!("Waiting for response...");
    let answer = endpoint.expect("GET", "/jobs/overview", None)?;
    let jobs = answer["jobs"].as_array().cloned().unwrap_or_default();
    let line = |job: &Value| {
        format!(
            "{} : {} : {} ({})",
            format_time(job["start-time"].as_i64().unwrap_or(0)),
            job["jid"].as_str().unwrap_or("?"),
            job["name"].as_str().unwrap_or("?"),
            job["state"].as_str().unwrap_or("?"),
        )
    };
    let terminal = |job: &&Value| {
        matches!(
            job["state"].as_str(),
            Some("FINISHED" | "CANCELED" | "FAILED" | "SUSPENDED")
        )
    };
    let running: Vec<&Value> = jobs.iter().filter(|j| !terminal(j)).collect();
    if running.is_empty() {
        println!("No running jobs.");
    } else {
        println!("------------------ Running/Restarting Jobs -------------------");
        for job in running {
            println!("{}", line(job));
        }
        println!("--------------------------------------------------------------");
    }
    if all {
        let ended: Vec<&Value> = jobs.iter().filter(terminal).collect();
        if ended.is_empty() {
            println!("No terminated jobs.");
        } else {
            println!("---------------------- Terminated Jobs -----------------------");
            for job in ended {
                println!("{}", line(job));
            }
            println!("--------------------------------------------------------------");
        }
    }
    Ok(())
}

/// `dd.MM.yyyy HH:mm:ss` (UTC) of a time in ms since the epoch, as Flink lists jobs.
fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{d:02}.{m:02}.{y:04} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A savepoint directory as the server takes it: a relative path is the
/// client's, from where it runs (a URI passes as it is).
fn absolute(dir: &str) -> String {
    let path = std::path::Path::new(dir);
    if dir.contains("://") || path.is_absolute() {
        return dir.to_string();
    }
    std::env::current_dir().map_or_else(
        |_| dir.to_string(),
        |cwd| cwd.join(path).display().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_flink_lists_jobs() {
        assert_eq!(format_time(0), "01.01.1970 00:00:00");
        assert_eq!(format_time(1_796_175_762_511), "02.12.2026 01:42:42");
        assert_eq!(format_time(951_782_400_000), "29.02.2000 00:00:00");
    }

    #[test]
    fn options_and_positionals_parse() {
        let o = parse(
            ["-m", "h:1", "--drain", "-p", "/sp", "abc"]
                .map(String::from)
                .to_vec(),
        )
        .unwrap();
        assert_eq!(o.address.as_deref(), Some("h:1"));
        assert!(o.drain);
        assert_eq!(o.savepoint_path.as_deref(), Some("/sp"));
        assert_eq!(o.positional, vec!["abc"]);
        assert!(parse(vec!["--bogus".into()]).is_err());
        assert!(parse(vec!["-m".into()]).is_err());
    }
}
