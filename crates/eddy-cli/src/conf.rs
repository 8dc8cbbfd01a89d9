//! The configuration of a cluster process: Flink's `config.yaml` in the
//! configuration directory (`--config-dir DIR`, default `conf/`), then the
//! `-D key=value` overrides. Unknown keys are warned about (with the nearest
//! known key); an invalid value is an error naming its key.

use std::path::Path;

use eddy::cli::Args;
use eddy::core::Config;

/// The option naming the configuration directory.
pub const CONFIG_DIR: &str = "--config-dir";

/// The arguments and configuration of a cluster process (`eddy jobmanager`,
/// `eddy taskmanager`); on a bad argument or configuration it prints why (with
/// `usage` for the former) and gives the exit code.
pub fn of_process(argv: Vec<String>, usage: &str) -> Result<Config, std::process::ExitCode> {
    let args = Args::parse(argv, &[CONFIG_DIR]).map_err(|e| {
        eprintln!("eddy: {e}\n{usage}");
        std::process::ExitCode::from(2)
    })?;
    load(&args).map_err(|e| {
        eprintln!("[ERROR] {e}");
        std::process::ExitCode::FAILURE
    })
}

/// The configuration `args` describe; the error is what to print.
pub fn load(args: &Args) -> Result<Config, String> {
    let (dir, explicit) = match args.get(CONFIG_DIR) {
        Some(dir) => (dir, true),
        None => ("conf", false),
    };
    let file = Path::new(dir).join("config.yaml");
    let mut config = Config::new();
    match std::fs::read_to_string(&file) {
        Ok(text) => config
            .merge_yaml(&text, &file.display().to_string())
            .map_err(|e| e.to_string())?,
        Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot read {}: {e}", file.display()))
        }
        Err(_) => {}
    }
    for (key, value) in args.job_config().iter() {
        config.set(key, value);
    }
    eddy::core::config::validate::check(&config).map_err(|e| e.to_string())?;
    for (key, nearest) in eddy::core::config::validate::unknown_keys(&config, &[]) {
        let hint = nearest
            .map(|k| format!(" (did you mean '{k}'?)"))
            .unwrap_or_default();
        eprintln!("eddy: warning: unknown configuration key '{key}'{hint}; it has no effect");
    }
    Ok(config)
}
