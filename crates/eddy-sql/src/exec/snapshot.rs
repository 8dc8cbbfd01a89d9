//! Checkpoints of the SQL operators: their keyed state, and their timers when
//! they have any.

use std::hash::Hash;

use eddy_core::Result;
use eddy_runtime::{OperatorSnapshot, TimerService};
use eddy_state::KeyedStateBackend;
use serde::Serialize;

use crate::error::runtime;

/// The snapshot of an operator's keyed state (`operator` names it in the
/// error when it is not open yet).
pub fn keyed(
    backend: Option<&mut KeyedStateBackend<Vec<u8>>>,
    operator: &str,
) -> Result<OperatorSnapshot> {
    let backend = backend.ok_or_else(|| runtime(format!("{operator} used before open")))?;
    Ok(OperatorSnapshot {
        deferred_keyed: Some(backend.snapshot_deferred()),
        ..Default::default()
    })
}

/// The snapshot of an operator's keyed state and timers.
pub fn keyed_with_timers<N: Hash + Eq + Clone + Serialize>(
    backend: Option<&mut KeyedStateBackend<Vec<u8>>>,
    timers: &TimerService<Vec<u8>, N>,
    operator: &str,
) -> Result<OperatorSnapshot> {
    Ok(OperatorSnapshot {
        timers: vec![(0, postcard::to_stdvec(&timers.snapshot()).map_err(runtime)?)],
        ..keyed(backend, operator)?
    })
}
