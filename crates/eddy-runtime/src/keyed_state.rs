//! Keyed state and timers, created for an operator by the runtime and snapshotted
//! by it.
//!
//! An operator asks for its keyed state once, in `open`
//! ([`OperatorContext::keyed_state`](crate::OperatorContext::keyed_state)). The
//! runtime builds the backend that `state.backend.type` names for the subtask's
//! key groups, on the job's clock, and loads what the subtask restores: keyed
//! state (possibly from several snapshots after a rescale) and the timers of its
//! key groups. The operator registers its states on [`KeyedState::backend`] and
//! its timers on [`KeyedState::timers`], and shows both to the runtime from
//! [`Operator::managed_state`](crate::Operator::managed_state); at every barrier
//! the runtime snapshots them ([`ManagedState::snapshot`]). So no operator builds
//! a backend, keeps restored bytes, or writes checkpoint code of its own.
//!
//! ```
//! use eddy_runtime::keyed_state::KeyedState;
//! use eddy_state::ValueStateDescriptor;
//!
//! let mut state: KeyedState<String> = KeyedState::for_test(0..=127, 128);
//! let count = state.backend.value_state::<u64>(ValueStateDescriptor::new("count")).unwrap();
//! state.backend.set_current_key("k".to_string());
//! count.update(&mut state.backend, 3);
//! state.timers.register_event_time_timer(10, &"k".to_string(), &());
//!
//! let mut snapshot = state.managed().snapshot().unwrap();
//! snapshot.finish().unwrap();
//! assert_eq!(snapshot.keyed.unwrap().states[0].0, "count");
//! assert_eq!(snapshot.timers.len(), 1);
//! ```

use std::hash::Hash;

use eddy_core::config::validate;
use eddy_core::key_group::key_group_for_key;
use eddy_core::{Error, KeyGroupRange, Result};
use eddy_state::{DeferredKeyedSnapshot, Key, KeyedStateBackend, KeyedStateSnapshot};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::operator::{OperatorContext, OperatorSnapshot};
use crate::timers::{TimerService, TimerSnapshot};

/// What a timer namespace must offer: `()` for plain keyed timers, a window for
/// window timers.
pub trait TimerNamespace:
    Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static
{
}
impl<T: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static> TimerNamespace for T {}

/// The keyed state backend and the timer service of one operator subtask.
pub struct KeyedState<K: Key, N: TimerNamespace = ()> {
    /// Keyed state: register states on it, set the current key, read and write.
    pub backend: KeyedStateBackend<K>,
    /// Event-time and processing-time timers, per key and namespace.
    pub timers: TimerService<K, N>,
}

/// An operator's keyed state and timers, as the runtime snapshots them on its
/// behalf ([`Operator::managed_state`](crate::Operator::managed_state)).
pub struct ManagedState<'a> {
    keyed: &'a mut dyn SnapshotKeyed,
    timers: Option<&'a dyn SnapshotTimers>,
}

impl<'a> ManagedState<'a> {
    /// The keyed state in `backend`.
    pub fn new<K: Key>(backend: &'a mut KeyedStateBackend<K>) -> Self {
        ManagedState {
            keyed: backend,
            timers: None,
        }
    }

    /// Adds the operator's timers.
    pub fn with_timers<K: Key, N: TimerNamespace>(
        mut self,
        timers: &'a TimerService<K, N>,
    ) -> Self {
        self.timers = Some(timers);
        self
    }

    /// The state at a barrier. Keyed state is shared copy-on-write with the
    /// snapshot and serialized later, off the processing thread; timers are
    /// serialized now.
    pub fn snapshot(self) -> Result<OperatorSnapshot> {
        let timers = match self.timers {
            Some(timers) if !timers.is_empty() => vec![(0, timers.to_bytes()?)],
            _ => Vec::new(),
        };
        Ok(OperatorSnapshot {
            deferred_keyed: Some(self.keyed.snapshot_deferred()),
            timers,
            ..Default::default()
        })
    }
}

/// A keyed state backend of any key type, as a snapshot sees it.
trait SnapshotKeyed {
    fn snapshot_deferred(&mut self) -> DeferredKeyedSnapshot;
}

impl<K: Key> SnapshotKeyed for KeyedStateBackend<K> {
    fn snapshot_deferred(&mut self) -> DeferredKeyedSnapshot {
        KeyedStateBackend::snapshot_deferred(self)
    }
}

/// A timer service of any key and namespace type, as a snapshot sees it.
trait SnapshotTimers {
    fn is_empty(&self) -> bool;
    fn to_bytes(&self) -> Result<Vec<u8>>;
}

impl<K: Key, N: TimerNamespace> SnapshotTimers for TimerService<K, N> {
    fn is_empty(&self) -> bool {
        TimerService::is_empty(self)
    }
    fn to_bytes(&self) -> Result<Vec<u8>> {
        postcard::to_stdvec(&self.snapshot()).map_err(Error::state)
    }
}

impl<K: Key, N: TimerNamespace> KeyedState<K, N> {
    /// The keyed state of `ctx`'s subtask, loaded with `keyed` state and the
    /// `timers` (serialized [`TimerSnapshot`]s) of its key groups.
    pub(crate) fn create(
        ctx: &OperatorContext,
        keyed: Vec<KeyedStateSnapshot>,
        timers: Vec<Vec<u8>>,
    ) -> Result<Self> {
        validate::state_backend(&ctx.config)?;
        let mut state = KeyedState {
            backend: KeyedStateBackend::new(ctx.key_group_range(), ctx.max_parallelism)
                .with_clock(ctx.clock.clone()),
            timers: TimerService::new(),
        };
        state.backend.restore_owned(keyed)?;
        state.restore_timers(timers)?;
        Ok(state)
    }

    /// Empty keyed state for the key groups `range` out of `max_parallelism`, on
    /// the system clock: for tests and examples that run an operator's state
    /// outside a job.
    pub fn for_test(range: std::ops::RangeInclusive<u32>, max_parallelism: u32) -> Self {
        KeyedState {
            backend: KeyedStateBackend::new(
                KeyGroupRange::new(*range.start(), *range.end()),
                max_parallelism,
            ),
            timers: TimerService::new(),
        }
    }

    /// Both, for the runtime to snapshot.
    pub fn managed(&mut self) -> ManagedState<'_> {
        ManagedState::new(&mut self.backend).with_timers(&self.timers)
    }

    fn restore_timers(&mut self, snapshots: Vec<Vec<u8>>) -> Result<()> {
        let range = self.backend.key_group_range();
        let max = self.backend.max_parallelism();
        for bytes in snapshots {
            let restored: TimerSnapshot<K, N> = postcard::from_bytes(&bytes)
                .map_err(|e| Error::state(format!("timers cannot be decoded: {e}")))?;
            self.timers
                .restore(restored, |k| range.contains(key_group_for_key(k, max)));
        }
        Ok(())
    }
}
