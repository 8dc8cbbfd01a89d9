//! The heap keyed state backend: scoping, TTL variants, and snapshot/restore by key
//! group at another parallelism.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use eddy_core::key_group::{key_group_for_key, operator_index_for_key_group};
use eddy_core::time::ManualClock;
use eddy_core::KeyGroupRange;
use eddy_state::{
    KeyedStateBackend, ListStateDescriptor, StateTtlConfig, TtlUpdateType, TtlVisibility,
    ValueStateDescriptor,
};

fn backend(range: KeyGroupRange, clock: &ManualClock) -> KeyedStateBackend<String> {
    KeyedStateBackend::new(range, 128).with_clock(Arc::new(clock.clone()))
}

#[test]
fn namespaces_are_separate() {
    let clock = ManualClock::new(0);
    let mut b = backend(KeyGroupRange::new(0, 127), &clock);
    let list = b
        .list_state_in::<u32, (i64, i64)>(ListStateDescriptor::new("l"))
        .unwrap();
    b.set_current_key("k".into());
    list.add_in(&mut b, &(0, 10), 1);
    list.add_in(&mut b, &(10, 20), 2);
    list.add_in(&mut b, &(0, 10), 3);
    assert_eq!(list.get_in(&mut b, &(0, 10)), vec![1, 3]);
    assert_eq!(list.take_in(&mut b, &(10, 20)), vec![2]);
    assert!(list.get_in(&mut b, &(10, 20)).is_empty());
    assert_eq!(b.entry_count(), 1);
}

#[test]
fn registering_a_name_with_another_type_is_an_error() {
    let mut b: KeyedStateBackend<String> = KeyedStateBackend::new(KeyGroupRange::new(0, 127), 128);
    b.value_state::<u64>(ValueStateDescriptor::new("x"))
        .unwrap();
    let err = b
        .value_state::<String>(ValueStateDescriptor::new("x"))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("'x' is already registered"),
        "{err}"
    );
}

#[test]
fn ttl_update_on_read_and_return_expired_visibility() {
    let clock = ManualClock::new(0);
    let mut b = backend(KeyGroupRange::new(0, 127), &clock);
    let on_read = b
        .value_state::<u32>(
            ValueStateDescriptor::new("read").with_ttl(
                StateTtlConfig::new(Duration::from_millis(100))
                    .with_update_type(TtlUpdateType::OnReadAndWrite),
            ),
        )
        .unwrap();
    let visible = b
        .value_state::<u32>(
            ValueStateDescriptor::new("visible").with_ttl(
                StateTtlConfig::new(Duration::from_millis(100))
                    .with_visibility(TtlVisibility::ReturnExpiredIfNotCleanedUp),
            ),
        )
        .unwrap();
    b.set_current_key("k".into());
    on_read.update(&mut b, 1);
    visible.update(&mut b, 2);
    clock.set(90);
    assert_eq!(on_read.value(&mut b), Some(1), "read refreshes");
    clock.set(180);
    assert_eq!(on_read.value(&mut b), Some(1), "alive: read at 90");
    assert_eq!(visible.value(&mut b), Some(2), "expired but still visible");
    clock.set(400);
    assert_eq!(on_read.value(&mut b), None);
    // A snapshot cleans up expired entries fully.
    let snapshot = b.snapshot().unwrap();
    let mut restored = backend(KeyGroupRange::new(0, 127), &clock);
    restored.restore(&[snapshot]).unwrap();
    let visible = restored
        .value_state::<u32>(ValueStateDescriptor::new("visible"))
        .unwrap();
    restored.set_current_key("k".into());
    assert_eq!(visible.value(&mut restored), None);
}

#[test]
fn snapshots_redistribute_by_key_group_across_parallelism() {
    let clock = ManualClock::new(0);
    let keys: Vec<String> = (0..500).map(|i| format!("key-{i}")).collect();
    // Write at parallelism 3.
    let mut snapshots = Vec::new();
    for subtask in 0..3 {
        let range = KeyGroupRange::for_operator(128, 3, subtask);
        let mut b = backend(range, &clock);
        let count = b
            .value_state::<u64>(ValueStateDescriptor::new("count"))
            .unwrap();
        for (i, key) in keys.iter().enumerate() {
            if range.contains(key_group_for_key(key, 128)) {
                b.set_current_key(key.clone());
                count.update(&mut b, i as u64);
            }
        }
        snapshots.push(b.snapshot().unwrap());
    }
    // Restore at parallelism 2: each subtask takes its key groups from all snapshots.
    let mut seen = 0;
    for subtask in 0..2 {
        let range = KeyGroupRange::for_operator(128, 2, subtask);
        let mut b = backend(range, &clock);
        b.restore(&snapshots).unwrap();
        let count = b
            .value_state::<u64>(ValueStateDescriptor::new("count"))
            .unwrap();
        for (i, key) in keys.iter().enumerate() {
            let kg = key_group_for_key(key, 128);
            if operator_index_for_key_group(128, 2, kg) == subtask {
                b.set_current_key(key.clone());
                assert_eq!(count.value(&mut b), Some(i as u64), "{key}");
                seen += 1;
            }
        }
        assert_eq!(
            b.entry_count(),
            keys.iter()
                .filter(|k| range.contains(key_group_for_key(*k, 128)))
                .count()
        );
    }
    assert_eq!(seen, keys.len());
}

#[test]
fn restoring_with_another_max_parallelism_is_refused() {
    let clock = ManualClock::new(0);
    let mut b = backend(KeyGroupRange::new(0, 127), &clock);
    b.value_state::<u64>(ValueStateDescriptor::new("v"))
        .unwrap();
    let snapshot = b.snapshot().unwrap();
    let mut other: KeyedStateBackend<String> =
        KeyedStateBackend::new(KeyGroupRange::new(0, 63), 64);
    let err = other.restore(&[snapshot]).unwrap_err().to_string();
    assert!(
        err.contains("max parallelism 128") && err.contains("64"),
        "{err}"
    );
}

#[test]
fn corrupt_state_bytes_are_reported() {
    let clock = ManualClock::new(0);
    let mut b = backend(KeyGroupRange::new(0, 127), &clock);
    let v = b
        .value_state::<u64>(ValueStateDescriptor::new("v"))
        .unwrap();
    b.set_current_key("a".into());
    v.update(&mut b, 7);
    let mut snapshot = b.snapshot().unwrap();
    for (_, groups) in &mut snapshot.states {
        for g in groups
            .iter_mut()
            .filter(|g| !g.bytes.is_empty() && g.bytes != [0])
        {
            g.bytes.truncate(g.bytes.len() / 2);
        }
    }
    let mut restored = backend(KeyGroupRange::new(0, 127), &clock);
    restored.restore(&[snapshot]).unwrap();
    let err = restored
        .value_state::<u64>(ValueStateDescriptor::new("v"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot be decoded"), "{err}");
}
