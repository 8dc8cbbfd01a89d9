//! Command-line arguments shared by eddy's example programs: `-p N`,
//! `-s latest|PATH`, `--allow-non-restored-state`, `-D key=value`, and named
//! options such as `--input PATH`.

use std::collections::HashMap;

use eddy_core::{Config, Error, Result};

/// Parsed arguments: parallelism, configuration overrides and named options.
#[derive(Debug, Default)]
pub struct Args {
    /// `-p N`.
    pub parallelism: Option<u32>,
    /// `-D key=value` overrides.
    pub config: Config,
    /// `-s latest|PATH`: the checkpoint or savepoint to restore from.
    pub restore: Option<String>,
    /// `--allow-non-restored-state`.
    pub allow_non_restored_state: bool,
    options: HashMap<String, String>,
}

impl Args {
    /// Parses `args` (without the program name). `known` lists the accepted named
    /// options (`--input`, ...); anything else is an error naming it.
    ///
    /// ```
    /// use eddy::cli::Args;
    /// let args = Args::parse(
    ///     ["--input", "in.txt", "-p", "2", "-D", "execution.buffer-timeout=5 ms"].map(String::from),
    ///     &["--input", "--output"],
    /// ).unwrap();
    /// assert_eq!(args.parallelism, Some(2));
    /// assert_eq!(args.get("--input"), Some("in.txt"));
    /// assert!(Args::parse(["--bogus".to_string()], &["--input"]).is_err());
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>, known: &[&str]) -> Result<Args> {
        let mut parsed = Args::default();
        let mut iter = args.into_iter();
        let usage = |message: String| Error::InvalidConfig {
            key: String::new(),
            message,
        };
        while let Some(arg) = iter.next() {
            let mut value_of = |name: &str| {
                iter.next()
                    .ok_or_else(|| usage(format!("{name} needs a value")))
            };
            match arg.as_str() {
                "-p" | "--parallelism" => {
                    let v = value_of(&arg)?;
                    let p: u32 =
                        v.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                            usage(format!("-p needs a positive integer, got '{v}'"))
                        })?;
                    parsed.parallelism = Some(p);
                }
                "-D" => {
                    let v = value_of("-D")?;
                    parsed.config.set_from_arg(&v)?;
                }
                "-s" | "--fromSavepoint" => {
                    parsed.restore = Some(value_of(&arg)?);
                }
                "--allow-non-restored-state" | "-n" => parsed.allow_non_restored_state = true,
                other if other.starts_with("-D") && other.len() > 2 => {
                    parsed.config.set_from_arg(&other[2..])?;
                }
                other if known.contains(&other) => {
                    let v = value_of(other)?;
                    parsed.options.insert(other.to_string(), v);
                }
                other => {
                    return Err(usage(format!(
                        "unknown argument '{other}' (expected -p N, -s latest|PATH, \
                         --allow-non-restored-state, -D key=value, {})",
                        known.join(", ")
                    )))
                }
            }
        }
        Ok(parsed)
    }

    /// A named option's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// A required named option, or an error naming it.
    pub fn required(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| Error::InvalidConfig {
            key: String::new(),
            message: format!("missing required option {name}"),
        })
    }

    /// A named option parsed as a number, or `default`.
    pub fn number<N: std::str::FromStr>(&self, name: &str, default: N) -> Result<N> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| Error::InvalidConfig {
                key: String::new(),
                message: format!("{name} needs a number, got '{v}'"),
            }),
        }
    }

    /// The configuration for a job: `-D` overrides plus `-p`, `-s` and
    /// `--allow-non-restored-state`.
    pub fn job_config(&self) -> Config {
        let mut config = self.config.clone();
        if let Some(p) = self.parallelism {
            config.set("parallelism.default", p.to_string());
        }
        if let Some(path) = &self.restore {
            config.set(eddy_runtime::mini_cluster::RESTORE_PATH, path.clone());
        }
        if self.allow_non_restored_state {
            config.set(eddy_runtime::mini_cluster::ALLOW_NON_RESTORED, "true");
        }
        config
    }
}
