//! Snapshots share the live state instead of copying it: writes, deletes and TTL
//! expiry after a snapshot never reach it, whether it is serialized before, during or
//! after them, and restoring it gives exactly the state at the snapshot.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use eddy_core::time::ManualClock;
use eddy_core::KeyGroupRange;
use eddy_state::{
    KeyedStateBackend, KeyedStateSnapshot, ListState, ListStateDescriptor, MapState,
    MapStateDescriptor, StateTtlConfig, TtlVisibility, ValueState, ValueStateDescriptor,
};

const KEYS: u64 = 5_000;

/// A backend with a value state (TTL 1 s), a list state and a map state, and the
/// handles to them.
struct Fixture {
    range: KeyGroupRange,
    backend: KeyedStateBackend<u64>,
    clock: ManualClock,
    value: ValueState<u64>,
    list: ListState<String>,
    map: MapState<u32, String>,
}

/// One key's entries: value, list and map.
type Row = (u64, Option<u64>, Vec<String>, Vec<(u32, String)>);

/// Whether `key` belongs to the key groups of `range`.
fn owns(range: KeyGroupRange, key: u64) -> bool {
    range.contains(eddy_core::key_group::key_group_for_key(&key, 128))
}

impl Fixture {
    fn new(range: KeyGroupRange) -> Fixture {
        let clock = ManualClock::new(0);
        let mut backend = KeyedStateBackend::new(range, 128).with_clock(Arc::new(clock.clone()));
        let value = backend
            .value_state(
                ValueStateDescriptor::new("value")
                    .with_ttl(StateTtlConfig::new(Duration::from_millis(1_000))),
            )
            .unwrap();
        let list = backend
            .list_state(ListStateDescriptor::new("list"))
            .unwrap();
        let map = backend.map_state(MapStateDescriptor::new("map")).unwrap();
        Fixture {
            range,
            backend,
            clock,
            value,
            list,
            map,
        }
    }

    /// Every key gets a value, a list and a map entry; keys written at time 0 expire
    /// at 1000, the others (odd keys, rewritten at 500) at 1500.
    fn fill(&mut self) {
        for key in (0..KEYS).filter(|k| owns(self.range, *k)) {
            self.backend.set_current_key(key);
            self.value.update(&mut self.backend, key);
            self.list.add(&mut self.backend, format!("l{key}"));
            self.map.put(&mut self.backend, 1, format!("m{key}"));
        }
        self.clock.set(500);
        for key in (1..KEYS).step_by(2).filter(|k| owns(self.range, *k)) {
            self.backend.set_current_key(key);
            self.value.update(&mut self.backend, key * 10);
        }
    }

    /// Updates, inserts, deletes and lets entries expire.
    fn churn(&mut self, round: u64) {
        for key in (0..KEYS + 1_000).filter(|k| owns(self.range, *k)) {
            self.backend.set_current_key(key);
            match key % 4 {
                0 => self
                    .value
                    .update(&mut self.backend, round * 1_000_000 + key),
                1 => self.list.clear(&mut self.backend),
                2 => self.list.add(&mut self.backend, format!("r{round}")),
                _ => {
                    self.map.remove(&mut self.backend, &1);
                    self.map.put(&mut self.backend, 2, format!("r{round}"));
                }
            }
        }
        // Even keys not rewritten above expire; reading them drops them.
        self.clock.advance(1_200);
        for key in (0..KEYS).filter(|k| owns(self.range, *k)) {
            self.backend.set_current_key(key);
            let _ = self.value.value(&mut self.backend);
        }
    }

    /// Every entry, in key order, to compare states whatever their layout.
    fn contents(&mut self) -> Vec<Row> {
        (0..KEYS + 1_000)
            .filter(|k| owns(self.range, *k))
            .map(|key| {
                self.backend.set_current_key(key);
                (
                    key,
                    self.value.value(&mut self.backend),
                    self.list.get(&mut self.backend),
                    self.map.entries(&mut self.backend),
                )
            })
            .collect()
    }
}

fn restored(snapshot: &KeyedStateSnapshot, now: i64) -> Fixture {
    let mut fixture = Fixture::new(KeyGroupRange::new(0, 127));
    fixture.clock.set(now);
    fixture
        .backend
        .restore(std::slice::from_ref(snapshot))
        .unwrap();
    fixture
}

#[test]
fn a_snapshot_keeps_the_state_of_its_barrier_through_later_writes() {
    // Two backends that see the same operations: one serializes at the barrier,
    // the other after writes, deletes and expiry that follow it.
    let mut reference = Fixture::new(KeyGroupRange::new(0, 127));
    let mut live = Fixture::new(KeyGroupRange::new(0, 127));
    reference.fill();
    live.fill();
    let expected = reference.backend.snapshot().unwrap();
    let at_barrier = reference.contents();

    let deferred = live.backend.snapshot_deferred();
    live.churn(1);
    let after = live.contents();
    assert_ne!(after, at_barrier, "the live state did change");
    let snapshot = deferred.finish().unwrap();
    assert_eq!(
        snapshot, expected,
        "same bytes as a snapshot taken at the barrier"
    );

    let mut back = restored(&snapshot, 500);
    assert_eq!(back.contents(), at_barrier);
    assert_eq!(
        live.contents(),
        after,
        "serializing did not touch the live state"
    );
}

#[test]
fn a_snapshot_serialized_while_processing_goes_on_is_consistent() {
    let mut reference = Fixture::new(KeyGroupRange::new(0, 63));
    let mut live = Fixture::new(KeyGroupRange::new(0, 63));
    reference.fill();
    live.fill();
    let expected = reference.backend.snapshot().unwrap();

    let deferred = live.backend.snapshot_deferred();
    let writer = deferred.clone();
    let snapshot = std::thread::scope(|scope| {
        let finishing = scope.spawn(move || writer.finish());
        for round in 1..=3 {
            live.churn(round);
        }
        finishing.join().unwrap()
    })
    .unwrap();
    assert_eq!(snapshot, expected);
    assert!(deferred.finish().is_err(), "a snapshot is finished once");
}

#[test]
fn snapshots_in_flight_each_keep_their_own_version() {
    let mut reference = Fixture::new(KeyGroupRange::new(0, 127));
    let mut live = Fixture::new(KeyGroupRange::new(0, 127));
    reference.fill();
    live.fill();
    let first_expected = reference.backend.snapshot().unwrap();
    let first = live.backend.snapshot_deferred();
    reference.churn(1);
    live.churn(1);
    let second_expected = reference.backend.snapshot().unwrap();
    let second = live.backend.snapshot_deferred();
    let dropped = live.backend.snapshot_deferred();
    live.churn(2);
    drop(dropped);
    live.churn(3);
    assert_eq!(second.finish().unwrap(), second_expected);
    assert_eq!(first.finish().unwrap(), first_expected);
}

#[test]
fn a_snapshot_drops_expired_entries_from_itself_and_from_the_live_state() {
    let clock = ManualClock::new(0);
    let mut backend: KeyedStateBackend<u64> =
        KeyedStateBackend::new(KeyGroupRange::new(0, 127), 128).with_clock(Arc::new(clock.clone()));
    let visible = backend
        .value_state::<u64>(
            ValueStateDescriptor::new("visible").with_ttl(
                StateTtlConfig::new(Duration::from_millis(100))
                    .with_visibility(TtlVisibility::ReturnExpiredIfNotCleanedUp),
            ),
        )
        .unwrap();
    for key in 0..1_000 {
        backend.set_current_key(key);
        visible.update(&mut backend, key);
    }
    clock.set(50);
    for key in 0..500 {
        backend.set_current_key(key);
        visible.update(&mut backend, key + 1);
    }
    clock.set(120);
    backend.set_current_key(999);
    assert_eq!(
        visible.value(&mut backend),
        Some(999),
        "expired, still visible"
    );
    assert_eq!(backend.entry_count(), 1_000);

    let deferred = backend.snapshot_deferred();
    assert_eq!(backend.entry_count(), 500, "the snapshot cleaned up");
    for key in 0..1_000 {
        backend.set_current_key(key);
        let expected = (key < 500).then_some(key + 1);
        assert_eq!(visible.value(&mut backend), expected, "key {key}");
    }
    // Keys written after the barrier are not in the snapshot.
    for key in 1_000..1_100 {
        backend.set_current_key(key);
        visible.update(&mut backend, key);
    }
    let snapshot = deferred.finish().unwrap();

    let mut back: KeyedStateBackend<u64> = KeyedStateBackend::new(KeyGroupRange::new(0, 127), 128)
        .with_clock(Arc::new(ManualClock::new(120)));
    back.restore(&[snapshot]).unwrap();
    let visible = back
        .value_state::<u64>(
            ValueStateDescriptor::new("visible").with_ttl(
                StateTtlConfig::new(Duration::from_millis(100))
                    .with_visibility(TtlVisibility::ReturnExpiredIfNotCleanedUp),
            ),
        )
        .unwrap();
    assert_eq!(back.entry_count(), 500);
    for key in 0..1_100 {
        back.set_current_key(key);
        let expected = (key < 500).then_some(key + 1);
        assert_eq!(visible.value(&mut back), expected, "key {key}");
    }
}

#[test]
fn snapshots_restore_at_another_parallelism() {
    let mut whole = Fixture::new(KeyGroupRange::new(0, 127));
    whole.fill();
    let at_barrier = whole.contents();
    let deferred = whole.backend.snapshot_deferred();
    whole.churn(1);
    let snapshot = deferred.finish().unwrap();
    let mut parts: Vec<Fixture> = (0..3)
        .map(|subtask| {
            let range = KeyGroupRange::for_operator(128, 3, subtask);
            let mut part = Fixture::new(range);
            part.clock.set(500);
            part.backend
                .restore(std::slice::from_ref(&snapshot))
                .unwrap();
            part
        })
        .collect();
    for (key, value, list, map) in at_barrier {
        let kg = eddy_core::key_group::key_group_for_key(&key, 128);
        let part = parts
            .iter_mut()
            .find(|p| p.backend.key_group_range().contains(kg))
            .unwrap();
        part.backend.set_current_key(key);
        assert_eq!(part.value.value(&mut part.backend), value);
        assert_eq!(part.list.get(&mut part.backend), list);
        assert_eq!(part.map.entries(&mut part.backend), map);
    }
}
