//! What `-s latest` resumes when the checkpoint directory holds more than one
//! run, when every checkpoint is gone or corrupt, and when a checkpoint is
//! unusable: never another run's checkpoint, never a finished run's, never the
//! committed output twice, never silently from the beginning.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

fn latest(args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    args.extend(["-s".to_string(), "latest".to_string()]);
    args
}

#[test]
fn a_new_run_on_a_used_checkpoint_directory_never_resumes_the_older_run() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000_000);
    let expected = reference(&input, work.path());
    let checkpoints = work.path().join("checkpoints");
    let args = checkpointing(&checkpoints, &[]);

    // Run 1 finishes into o1.
    let o1 = work.path().join("o1");
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &o1, 2, &args).spawn().unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");
    assert_eq!(committed(&o1), expected);

    // Run 2 into o2 is killed once it has committed some output.
    let o2 = work.path().join("o2");
    let mut child = window_count(&input, &o2, 2, &args).spawn().unwrap();
    wait_until(Duration::from_secs(60), || {
        !complete_checkpoints(&checkpoints).is_empty() && has_committed(&o2)
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "run 2 ended before the kill"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // `-s latest` resumes run 2, not run 1's final checkpoint.
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &o2, 2, &latest(&args))
            .spawn()
            .unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");
    assert_exact(&committed(&o2), &expected, &stderr);
}

#[test]
fn with_every_checkpoint_corrupt_the_replay_does_not_write_committed_output_twice() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000_000);
    let expected = reference(&input, work.path());
    let output = work.path().join("out");
    let checkpoints = work.path().join("checkpoints");
    // The default: one retained checkpoint.
    let args = checkpointing(&checkpoints, &[]);
    let mut child = window_count(&input, &output, 2, &args).spawn().unwrap();
    wait_until(Duration::from_secs(60), || {
        complete_checkpoints(&checkpoints)
            .first()
            .is_some_and(|(id, _)| *id >= 2)
            && has_committed(&output)
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the job ended before the kill"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!committed(&output).is_empty(), "the job committed nothing");
    for (_, chk) in complete_checkpoints(&checkpoints) {
        std::fs::remove_file(chk.join("_metadata")).unwrap();
    }

    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &output, 2, &latest(&args))
            .spawn()
            .unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("starting from the beginning"), "{stderr}");
    assert!(stderr.contains("set aside"), "{stderr}");
    assert_exact(&committed(&output), &expected, &stderr);
    assert!(
        std::fs::read_dir(output.join(".discarded"))
            .unwrap()
            .count()
            > 0,
        "the earlier output is kept aside, not deleted"
    );
}

#[test]
fn latest_after_a_finished_run_says_there_is_nothing_to_resume() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 10_000);
    let output = work.path().join("out");
    let args = checkpointing(&work.path().join("checkpoints"), &[]);
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &output, 1, &args).spawn().unwrap(),
        Duration::from_secs(60),
    );
    assert!(ok, "{stderr}");
    let before = committed(&output);
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &output, 1, &latest(&args))
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("nothing to resume"), "{stderr}");
    assert!(stderr.contains("finished"), "{stderr}");
    assert_eq!(committed(&output), before, "nothing written");
}

#[test]
fn a_checkpoint_that_covers_no_operator_is_rejected() {
    use eddy_runtime::checkpoint::{storage, CompletedCheckpoint};
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000);
    // A well-formed `_metadata` (valid checksum) with no operator and no state.
    let empty = work.path().join("chk-5");
    let checkpoint = CompletedCheckpoint {
        id: 5,
        ..CompletedCheckpoint::default()
    };
    storage::write(&empty, "window_count", "0", &checkpoint).unwrap();
    let args = vec!["-s".to_string(), empty.display().to_string()];
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &work.path().join("out"), 1, &args)
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("covers no operator"), "{stderr}");
    assert!(!work.path().join("out").exists() || committed(&work.path().join("out")).is_empty());
}

#[test]
fn an_unwritable_checkpoint_directory_fails_the_job_at_once() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000);
    let not_a_dir = work.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    for dir in [not_a_dir.clone(), not_a_dir.join("below")] {
        let args = checkpointing(&dir, &[]);
        let (ok, stderr) = wait_with_timeout(
            window_count(&input, &work.path().join("out"), 1, &args)
                .spawn()
                .unwrap(),
            Duration::from_secs(30),
        );
        assert!(!ok, "{stderr}");
        assert!(
            stderr.contains(&not_a_dir.display().to_string()),
            "{stderr}"
        );
    }
}

#[test]
fn bad_configuration_is_an_error_naming_the_key_never_an_abort_or_a_hang() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000);
    let checkpoints = format!(
        "execution.checkpointing.dir={}",
        work.path().join("ck").display()
    );
    for (setting, key) in [
        ("execution.batch-size=100000000000", "execution.batch-size"),
        (
            "taskmanager.numberOfTaskSlots=100000",
            "taskmanager.numberOfTaskSlots",
        ),
        (
            "pipeline.max-parallelism=100000000",
            "pipeline.max-parallelism",
        ),
        ("pipeline.max-parallelism=0", "pipeline.max-parallelism"),
        (
            "execution.checkpointing.timeout=0",
            "execution.checkpointing.timeout",
        ),
        (
            "execution.checkpointing.interval=1ms",
            "execution.checkpointing.interval",
        ),
        (
            "restart-strategy.exponential-delay.backoff-multiplier=NaN",
            "restart-strategy.exponential-delay.backoff-multiplier",
        ),
        (
            "execution.state-recovery.path=",
            "execution.state-recovery.path",
        ),
    ] {
        let mut args = vec![
            "-D".to_string(),
            checkpoints.clone(),
            "-D".to_string(),
            setting.to_string(),
        ];
        if !setting.starts_with("execution.checkpointing.interval") {
            args.extend(["-D".into(), "execution.checkpointing.interval=100ms".into()]);
        }
        let (ok, stderr) = wait_with_timeout(
            window_count(&input, &work.path().join("out"), 1, &args)
                .spawn()
                .unwrap(),
            Duration::from_secs(30),
        );
        assert!(!ok, "{setting}: {stderr}");
        assert!(stderr.contains(&format!("'{key}'")), "{setting}: {stderr}");
        assert!(!stderr.contains("panicked"), "{setting}: {stderr}");
    }
}

#[test]
fn an_unknown_key_is_warned_about_with_the_key_it_resembles() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000);
    let args = ["-D", "execution.checkpointing.intervall=100ms"].map(String::from);
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &work.path().join("out"), 1, &args)
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(
            "unknown configuration key 'execution.checkpointing.intervall' \
             (did you mean 'execution.checkpointing.interval'?)"
        ),
        "{stderr}"
    );
}

#[test]
fn random_kills_with_corrupt_or_missing_checkpoints_on_a_reused_directory_give_exact_output() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000_000);
    let expected = reference(&input, work.path());
    let seed = seed();
    let mut rng = Rng(seed);
    let checkpoints = work.path().join("checkpoints");
    let retained = format!(
        "execution.checkpointing.num-retained={}",
        1 + rng.next() % 3
    );
    let args = checkpointing(&checkpoints, &[&retained]);
    // An earlier run of the same job finished in the same checkpoint directory.
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &work.path().join("earlier"), 2, &args)
            .spawn()
            .unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");

    let output = work.path().join("out");
    let mut log = format!("seed {seed}, {retained}\n");
    for attempt in 0..5 {
        let run_args = if attempt == 0 {
            args.clone()
        } else {
            latest(&args)
        };
        let mut child = window_count(&input, &output, 2, &run_args).spawn().unwrap();
        if attempt == 4 {
            let (ok, stderr) = wait_with_timeout(child, Duration::from_secs(120));
            log.push_str(&stderr);
            assert!(ok, "{log}");
            break;
        }
        let delay = Duration::from_millis(300 + rng.next() % 1500);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_some() {
            log.push_str("finished before the kill\n");
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let newest = complete_checkpoints(&checkpoints).pop();
        let damage = rng.next() % 3;
        log.push_str(&format!(
            "killed after {delay:?}, damage {damage} to {newest:?}\n"
        ));
        if let Some((_, dir)) = newest {
            match damage {
                0 => {
                    let state = std::fs::read_dir(&dir)
                        .unwrap()
                        .flatten()
                        .map(|e| e.path())
                        .find(|p| p.extension().is_some_and(|x| x == "state"));
                    if let Some(state) = state {
                        let mut bytes = std::fs::read(&state).unwrap();
                        let middle = bytes.len() / 2;
                        bytes[middle] ^= 0x5a;
                        std::fs::write(&state, bytes).unwrap();
                    }
                }
                1 => std::fs::remove_file(dir.join("_metadata")).unwrap(),
                _ => {}
            }
        }
    }
    assert_exact(&committed(&output), &expected, &log);
}
