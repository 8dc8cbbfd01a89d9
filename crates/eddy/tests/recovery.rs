//! Crash recovery of a real process: `window_count` is killed with SIGKILL at
//! random moments and restarted with `-s latest`; its committed output must equal
//! a failure-free run, record for record.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Runs `window_count` with checkpoints, SIGKILLs it `kills` times at random
/// moments, restarts it with `-s latest` each time, and returns the committed
/// output of the run that finally completes, plus everything it printed.
fn crash_and_recover(
    input: &Path,
    work: &Path,
    p: u32,
    kills: usize,
    seed: u64,
    extra: &[&str],
) -> (Vec<String>, String) {
    let output = work.join(format!("out-p{p}"));
    let checkpoints = work.join(format!("checkpoints-p{p}"));
    let args = checkpointing(&checkpoints, extra);
    let mut rng = Rng(seed);
    let mut log = String::new();
    let mut killed = 0;
    let mut attempt = 0;
    loop {
        let mut run_args = args.clone();
        if attempt > 0 {
            run_args.extend(["-s".to_string(), "latest".to_string()]);
        }
        attempt += 1;
        let child = window_count(input, &output, p, &run_args).spawn().unwrap();
        if killed < kills {
            let delay = Duration::from_millis(300 + rng.next() % 900);
            std::thread::sleep(delay);
            let mut child = child;
            if child.try_wait().unwrap().is_none() {
                // SIGKILL: no chance to clean up.
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
                log.push_str(&format!("killed after {delay:?}\n"));
                continue;
            }
            let (ok, stderr) = wait_with_timeout(child, Duration::from_secs(120));
            log.push_str(&stderr);
            assert!(ok, "window_count failed: {stderr}");
            break;
        }
        let (ok, stderr) = wait_with_timeout(child, Duration::from_secs(120));
        log.push_str(&stderr);
        assert!(ok, "window_count failed: {stderr}");
        break;
    }
    (committed(&output), log)
}

#[test]
fn sigkill_and_restart_gives_exactly_the_failure_free_output() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_500_000);
    let expected = reference(&input, work.path());
    assert!(expected.len() > 1_000);
    for p in [1, 2] {
        let seed = seed();
        let (got, log) = crash_and_recover(&input, work.path(), p, 3, seed, &[]);
        assert!(
            log.matches("killed after").count() >= 1,
            "seed {seed}: the job was never killed\n{log}"
        );
        assert!(
            log.contains("from checkpoint") || log.contains("starting from the beginning"),
            "seed {seed}:\n{log}"
        );
        assert_eq!(got.len(), expected.len(), "seed {seed}, p {p}:\n{log}");
        assert!(
            got == expected,
            "seed {seed}, p {p}: output differs from the failure-free run\n{log}"
        );
    }
}

#[test]
fn at_least_once_mode_loses_nothing_after_a_crash() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000_000);
    let expected = reference(&input, work.path());
    let seed = seed();
    let (got, log) = crash_and_recover(
        &input,
        work.path(),
        2,
        2,
        seed,
        &["execution.checkpointing.mode=AT_LEAST_ONCE"],
    );
    // Every window of the failure-free run is there with at least its count;
    // replayed records may be counted twice.
    let counts = |lines: &[String]| -> std::collections::BTreeMap<String, u64> {
        lines
            .iter()
            .map(|l| {
                let (window, n) = l.rsplit_once(',').unwrap();
                (window.to_string(), n.parse::<u64>().unwrap())
            })
            .fold(Default::default(), |mut m, (w, n)| {
                *m.entry(w).or_insert(0) += n;
                m
            })
    };
    let (want, have) = (counts(&expected), counts(&got));
    let mut duplicates = 0;
    for (window, n) in &want {
        let m = have.get(window).copied().unwrap_or(0);
        assert!(
            m >= *n,
            "seed {seed}: window {window} lost records ({m} < {n})\n{log}"
        );
        duplicates += m - n;
    }
    eprintln!("at-least-once: {duplicates} records counted twice after the crash");
}

/// Runs `window_count` until `n` checkpoints are complete, then SIGKILLs it.
fn kill_after_checkpoints(
    input: &Path,
    output: &Path,
    p: u32,
    args: &[String],
    checkpoints: &Path,
    n: usize,
) {
    let mut child = window_count(input, output, p, args).spawn().unwrap();
    wait_until(Duration::from_secs(60), || {
        complete_checkpoints(checkpoints).len() >= n
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_file_read_in_splits_resumes_exactly_at_another_parallelism() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000_000);
    let expected = reference(&input, work.path());
    let output = work.path().join("out");
    let checkpoints = work.path().join("checkpoints");
    // About a dozen splits of 1 MiB, read by two subtasks, then by three.
    let args = checkpointing(&checkpoints, &["source.file.split-size=1048576"]);
    kill_after_checkpoints(&input, &output, 2, &args, &checkpoints, 1);
    let mut restart = args.clone();
    restart.extend(["-s".to_string(), "latest".to_string()]);
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &output, 3, &restart).spawn().unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("from checkpoint"), "{stderr}");
    assert_exact(&committed(&output), &expected, &stderr);
}

#[test]
fn a_corrupt_newest_checkpoint_falls_back_to_the_previous_one_without_duplicates() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 1_000_000);
    let expected = reference(&input, work.path());
    let output = work.path().join("out");
    let checkpoints = work.path().join("checkpoints");
    let args = checkpointing(&checkpoints, &["execution.checkpointing.num-retained=3"]);
    kill_after_checkpoints(&input, &output, 2, &args, &checkpoints, 2);
    let chks = complete_checkpoints(&checkpoints);
    assert!(chks.len() >= 2, "{chks:?}");
    let (newest_id, newest) = chks.last().unwrap().clone();
    // Corrupt a state file of the newest checkpoint, whose completion may already
    // have committed part files.
    let state = std::fs::read_dir(&newest)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "state"))
        .unwrap();
    let mut bytes = std::fs::read(&state).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&state, bytes).unwrap();

    let mut restart = args.clone();
    restart.extend(["-s".to_string(), "latest".to_string()]);
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &output, 2, &restart).spawn().unwrap(),
        Duration::from_secs(120),
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("skipping checkpoint {}", newest.display())),
        "{stderr}"
    );
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    let previous = chks[chks.len() - 2].0;
    assert!(previous < newest_id);
    assert!(
        stderr.contains(&format!("from checkpoint {previous}")),
        "{stderr}"
    );
    // Output the corrupt checkpoint had committed is set aside, and the replay
    // from the older one writes it once: exactly the failure-free result.
    assert_exact(&committed(&output), &expected, &stderr);
}

#[test]
fn latest_without_any_checkpoint_starts_from_the_beginning_and_says_so() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("events.csv");
    write_input(&input, 10_000);
    let expected = reference(&input, work.path());
    let output = work.path().join("out");
    // An uncommitted file of an earlier run that never completed a checkpoint.
    std::fs::create_dir_all(&output).unwrap();
    std::fs::write(
        output.join(".part-deadbeef-0-0-0.inprogress"),
        "0,10000,k1,999\n",
    )
    .unwrap();
    let mut args = checkpointing(&work.path().join("checkpoints"), &[]);
    args.extend(["-s".to_string(), "latest".to_string()]);
    let (ok, stderr) = wait_with_timeout(
        window_count(&input, &output, 1, &args).spawn().unwrap(),
        Duration::from_secs(60),
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("starting from the beginning"), "{stderr}");
    assert!(
        committed(&output) == expected,
        "output differs from the failure-free run"
    );
    assert!(
        !output.join(".part-deadbeef-0-0-0.inprogress").exists(),
        "uncommitted output is discarded"
    );
}
