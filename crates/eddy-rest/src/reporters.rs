//! The push reporters: every `interval` they send the metrics of this process
//! somewhere, where Prometheus comes to fetch them. Configured as in Flink:
//!
//! ```yaml
//! metrics.reporter.stsd.factory.class: org.apache.flink.metrics.statsd.StatsDReporterFactory
//! metrics.reporter.stsd.host: 127.0.0.1
//! metrics.reporter.stsd.port: 8125
//! metrics.reporter.log.factory.class: org.apache.flink.metrics.slf4j.Slf4jReporterFactory
//! metrics.reporter.log.interval: 60 s        # default 10 s
//! ```
//!
//! - **StatsD**: one UDP datagram per metric, `<identifier>:<value>|g` (every
//!   value a gauge, as Flink's `StatsDReporter` sends them; a negative value
//!   is sent as `0` then the value, so StatsD does not read it as a change).
//! - **Log** (Flink's `Slf4jReporter`): one report per interval in the log,
//!   `<identifier>: <value>` per line between a start and an end line.
//!
//! The identifier is the metric's scope format (`metrics.scope.operator`,
//! ...; see [`Scope`]) with its variables filled in, joined to the metric name
//! by `metrics.reporter.<name>.scope.delimiter` (default `.`).

use std::fmt::Write as _;
use std::net::UdpSocket;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use eddy_core::time::parse_duration;
use eddy_core::{Config, Error, Result};

use crate::metric_samples::{collect, Sample, Scope};

/// Flink's default reporter interval.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// The scopes, in report order.
const SCOPES: [Scope; 4] = [Scope::Job, Scope::Task, Scope::Operator, Scope::Process];

/// Where a reporter sends its reports.
#[derive(Debug)]
enum Target {
    StatsD { socket: UdpSocket, address: String },
    Log,
}

/// One configured push reporter.
#[derive(Debug)]
struct Reporter {
    name: String,
    target: Target,
    interval: Duration,
    delimiter: char,
    /// The scope formats, in the order of [`SCOPES`].
    formats: Vec<String>,
}

/// The names of the reporters this process started.
static STARTED: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

/// Starts every push reporter the configuration names (once per process);
/// an invalid setting is an error naming its key.
pub fn start(config: &Config) -> Result<()> {
    let mut started = STARTED
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    for reporter in configured(config)? {
        if started.contains(&reporter.name) {
            continue;
        }
        started.push(reporter.name.clone());
        let thread = format!("eddy-reporter-{}", reporter.name);
        std::thread::Builder::new()
            .name(thread)
            .spawn(move || loop {
                std::thread::sleep(reporter.interval);
                reporter.report(&collect());
            })
            .map_err(|e| Error::Other(format!("cannot start a metrics reporter: {e}")))?;
    }
    Ok(())
}

/// The push reporters in `config`.
fn configured(config: &Config) -> Result<Vec<Reporter>> {
    let mut reporters = Vec::new();
    for (key, class) in config.iter() {
        let Some(name) = key
            .strip_prefix("metrics.reporter.")
            .and_then(|k| k.strip_suffix(".factory.class"))
        else {
            continue;
        };
        let option = |suffix: &str| {
            let key = format!("metrics.reporter.{name}.{suffix}");
            let value = config.get_str(&key).map(str::to_string);
            (key, value)
        };
        let target = match class.trim().rsplit('.').next().unwrap_or_default() {
            "StatsDReporterFactory" => statsd(option("host"), option("port"))?,
            "Slf4jReporterFactory" => Target::Log,
            _ => continue,
        };
        let interval = match option("interval") {
            (key, Some(text)) => {
                parse_duration(&text).map_err(|e| invalid(&key, &e.to_string()))?
            }
            (_, None) => DEFAULT_INTERVAL,
        };
        if interval.is_zero() {
            return Err(invalid(
                &format!("metrics.reporter.{name}.interval"),
                "must be more than zero",
            ));
        }
        let delimiter = match option("scope.delimiter") {
            (key, Some(text)) => {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => return Err(invalid(&key, "must be one character")),
                }
            }
            (_, None) => '.',
        };
        reporters.push(Reporter {
            name: name.to_string(),
            target,
            interval,
            delimiter,
            formats: SCOPES.iter().map(|s| s.format(config)).collect(),
        });
    }
    Ok(reporters)
}

fn invalid(key: &str, message: &str) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// A StatsD target from the reporter's `host` and `port` options.
fn statsd(host: (String, Option<String>), port: (String, Option<String>)) -> Result<Target> {
    let host = match host {
        (_, Some(h)) if !h.trim().is_empty() => h.trim().to_string(),
        (key, _) => return Err(invalid(&key, "the StatsD reporter needs a host")),
    };
    let port = match port {
        (key, Some(p)) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid(&key, &format!("'{p}' is not a port")))?,
        (key, None) => return Err(invalid(&key, "the StatsD reporter needs a port")),
    };
    let socket = UdpSocket::bind(("0.0.0.0", 0))
        .map_err(|e| Error::Other(format!("cannot open a UDP socket for StatsD: {e}")))?;
    Ok(Target::StatsD {
        socket,
        address: format!("{host}:{port}"),
    })
}

impl Reporter {
    fn format_of(&self, scope: Scope) -> &str {
        let i = SCOPES.iter().position(|s| *s == scope).unwrap_or(0);
        &self.formats[i]
    }

    /// The lines of one report: `(identifier, value)`.
    fn lines<'a>(&'a self, samples: &'a [Sample]) -> impl Iterator<Item = (String, f64)> + 'a {
        let filter = |text: &str| text.replace(':', "-");
        samples.iter().map(move |s| {
            let id = s.identifier(self.format_of(s.scope), self.delimiter, filter);
            (id, s.value)
        })
    }

    fn report(&self, samples: &[Sample]) {
        match &self.target {
            Target::StatsD { socket, address } => {
                for (id, value) in self.lines(samples) {
                    for datagram in statsd_datagrams(&id, value) {
                        // A lost datagram is StatsD's nature; the next report
                        // sends the value again.
                        let _ = socket.send_to(datagram.as_bytes(), address.as_str());
                    }
                }
            }
            Target::Log => tracing::info!("{}", log_report(self.lines(samples))),
        }
    }
}

/// The value as StatsD reads it: whole numbers without a fraction.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The datagrams that set gauge `id` to `value`.
fn statsd_datagrams(id: &str, value: f64) -> Vec<String> {
    if value < 0.0 {
        // "-5|g" would lower the gauge by 5; set it to zero first.
        vec![format!("{id}:0|g"), format!("{id}:{}|g", number(value))]
    } else {
        vec![format!("{id}:{}|g", number(value))]
    }
}

/// A log report, as Flink's `Slf4jReporter` writes one.
fn log_report(lines: impl Iterator<Item = (String, f64)>) -> String {
    let mut report = String::from(
        "\n=========================== Starting metrics report ===========================\n",
    );
    for (id, value) in lines {
        let _ = writeln!(report, "{id}: {}", number(value));
    }
    report.push_str(
        "=========================== Finished metrics report ===========================",
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut config = Config::new();
        for (k, v) in pairs {
            config.set(*k, *v);
        }
        config
    }

    #[test]
    fn reporters_come_from_flinks_keys_and_bad_values_name_the_key() {
        let statsd = "org.apache.flink.metrics.statsd.StatsDReporterFactory";
        let found = configured(&config(&[
            ("metrics.reporter.stsd.factory.class", statsd),
            ("metrics.reporter.stsd.host", "127.0.0.1"),
            ("metrics.reporter.stsd.port", "8125"),
            ("metrics.reporter.stsd.interval", "2 s"),
            ("metrics.reporter.stsd.scope.delimiter", "_"),
            (
                "metrics.reporter.log.factory.class",
                "org.apache.flink.metrics.slf4j.Slf4jReporterFactory",
            ),
            (
                "metrics.reporter.prom.factory.class",
                "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
            ),
        ]))
        .unwrap();
        let mut summary: Vec<(String, Duration, char)> = found
            .iter()
            .map(|r| (r.name.clone(), r.interval, r.delimiter))
            .collect();
        summary.sort();
        assert_eq!(
            summary,
            [
                ("log".to_string(), DEFAULT_INTERVAL, '.'),
                ("stsd".to_string(), Duration::from_secs(2), '_'),
            ]
        );
        let error = |pairs: &[(&str, &str)]| configured(&config(pairs)).unwrap_err().to_string();
        let class = ("metrics.reporter.s.factory.class", statsd);
        assert!(error(&[class]).contains("metrics.reporter.s.host"));
        let host = ("metrics.reporter.s.host", "localhost");
        assert!(error(&[class, host, ("metrics.reporter.s.port", "x")])
            .contains("metrics.reporter.s.port"));
        let port = ("metrics.reporter.s.port", "8125");
        let interval = error(&[class, host, port, ("metrics.reporter.s.interval", "soon")]);
        assert!(
            interval.contains("metrics.reporter.s.interval"),
            "{interval}"
        );
    }

    #[test]
    fn statsd_gauges_and_log_lines_are_flinks() {
        assert_eq!(statsd_datagrams("a.b", 42.0), ["a.b:42|g"]);
        assert_eq!(statsd_datagrams("a.b", 0.5), ["a.b:0.5|g"]);
        assert_eq!(statsd_datagrams("w", -3.0), ["w:0|g", "w:-3|g"]);
        let report = log_report([("x.numRecordsIn".to_string(), 7.0)].into_iter());
        assert!(report.contains("Starting metrics report"));
        assert!(report.contains("\nx.numRecordsIn: 7\n"));
        assert!(report.ends_with("Finished metrics report ==========================="));
    }
}
