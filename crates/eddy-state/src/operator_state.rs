//! Operator (non-keyed) list state, with Flink's two ways to redistribute it when
//! the parallelism changes.
//!
//! ```
//! use eddy_state::{OperatorStateStore, Redistribution};
//! let mut store = OperatorStateStore::default();
//! let offsets = store.list_state::<u64>("offsets", Redistribution::EvenSplit).unwrap();
//! offsets.update(&mut store, vec![10, 20, 30]).unwrap();
//! let bytes = store.snapshot().unwrap();
//! // Restored at parallelism 2: subtask 0 gets the first half, subtask 1 the rest.
//! let mut first = OperatorStateStore::restore(&[bytes.clone()], 0, 2).unwrap();
//! let mut second = OperatorStateStore::restore(&[bytes], 1, 2).unwrap();
//! let a = first.list_state::<u64>("offsets", Redistribution::EvenSplit).unwrap();
//! let b = second.list_state::<u64>("offsets", Redistribution::EvenSplit).unwrap();
//! assert_eq!(a.get(&first).unwrap(), vec![10]);
//! assert_eq!(b.get(&second).unwrap(), vec![20, 30]);
//! ```

use std::collections::BTreeMap;
use std::marker::PhantomData;

use eddy_core::{Error, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// How a list's elements are handed out after a restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Redistribution {
    /// The elements of all subtasks are concatenated (in old subtask order) and
    /// split into contiguous, even parts, one per new subtask.
    EvenSplit,
    /// Every new subtask receives every element.
    Union,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Lists {
    lists: BTreeMap<String, (Redistribution, Vec<Vec<u8>>)>,
}

/// The operator list states of one subtask. Elements are kept serialized, so a
/// snapshot is a copy of bytes.
#[derive(Clone, Debug, Default)]
pub struct OperatorStateStore {
    lists: Lists,
}

/// A typed handle to one list of an [`OperatorStateStore`].
pub struct OperatorListState<T> {
    name: String,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for OperatorListState<T> {
    fn clone(&self) -> Self {
        OperatorListState {
            name: self.name.clone(),
            _type: PhantomData,
        }
    }
}

impl OperatorStateStore {
    /// Registers (or finds) the list called `name`.
    pub fn list_state<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &str,
        mode: Redistribution,
    ) -> Result<OperatorListState<T>> {
        let entry = self
            .lists
            .lists
            .entry(name.to_string())
            .or_insert_with(|| (mode, Vec::new()));
        if entry.0 != mode {
            return Err(Error::state(format!(
                "operator state '{name}' was registered as {:?}, not {mode:?}",
                entry.0
            )));
        }
        Ok(OperatorListState {
            name: name.to_string(),
            _type: PhantomData,
        })
    }

    /// Whether no list is registered.
    pub fn is_empty(&self) -> bool {
        self.lists.lists.is_empty()
    }

    /// Serializes every list.
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        postcard::to_stdvec(&self.lists).map_err(Error::state)
    }

    /// The store of subtask `subtask` of `parallelism`, from the snapshots of every
    /// old subtask in subtask order.
    pub fn restore(snapshots: &[Vec<u8>], subtask: usize, parallelism: usize) -> Result<Self> {
        let mut merged: BTreeMap<String, (Redistribution, Vec<Vec<u8>>)> = BTreeMap::new();
        for bytes in snapshots.iter().filter(|b| !b.is_empty()) {
            let lists: Lists = postcard::from_bytes(bytes)
                .map_err(|e| Error::state(format!("operator state cannot be decoded: {e}")))?;
            for (name, (mode, elements)) in lists.lists {
                let entry = merged.entry(name).or_insert_with(|| (mode, Vec::new()));
                entry.1.extend(elements);
            }
        }
        let p = parallelism.max(1);
        for (mode, elements) in merged.values_mut() {
            if *mode == Redistribution::EvenSplit {
                let n = elements.len();
                let (start, end) = (subtask * n / p, (subtask + 1) * n / p);
                *elements = elements.drain(start..end).collect();
            }
        }
        Ok(OperatorStateStore {
            lists: Lists { lists: merged },
        })
    }

    fn elements(&self, name: &str) -> &[Vec<u8>] {
        self.lists
            .lists
            .get(name)
            .map(|(_, e)| e.as_slice())
            .unwrap_or(&[])
    }
}

impl<T: Serialize + DeserializeOwned> OperatorListState<T> {
    /// The elements of this subtask.
    pub fn get(&self, store: &OperatorStateStore) -> Result<Vec<T>> {
        store
            .elements(&self.name)
            .iter()
            .map(|b| {
                postcard::from_bytes(b).map_err(|e| {
                    Error::state(format!(
                        "operator state '{}' cannot be decoded: {e}",
                        self.name
                    ))
                })
            })
            .collect()
    }

    /// Replaces the elements of this subtask.
    pub fn update(&self, store: &mut OperatorStateStore, values: Vec<T>) -> Result<()> {
        let bytes = values
            .iter()
            .map(|v| postcard::to_stdvec(v).map_err(Error::state))
            .collect::<Result<Vec<_>>>()?;
        if let Some(entry) = store.lists.lists.get_mut(&self.name) {
            entry.1 = bytes;
        }
        Ok(())
    }

    /// Appends an element.
    pub fn add(&self, store: &mut OperatorStateStore, value: &T) -> Result<()> {
        let bytes = postcard::to_stdvec(value).map_err(Error::state)?;
        if let Some(entry) = store.lists.lists.get_mut(&self.name) {
            entry.1.push(bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_gives_everything_to_everyone_and_modes_must_match() {
        let mut a = OperatorStateStore::default();
        let la = a
            .list_state::<String>("names", Redistribution::Union)
            .unwrap();
        la.add(&mut a, &"x".to_string()).unwrap();
        let mut b = OperatorStateStore::default();
        let lb = b
            .list_state::<String>("names", Redistribution::Union)
            .unwrap();
        lb.add(&mut b, &"y".to_string()).unwrap();
        let snaps = [a.snapshot().unwrap(), b.snapshot().unwrap()];
        for k in 0..3 {
            let mut r = OperatorStateStore::restore(&snaps, k, 3).unwrap();
            let l = r
                .list_state::<String>("names", Redistribution::Union)
                .unwrap();
            assert_eq!(l.get(&r).unwrap(), vec!["x".to_string(), "y".to_string()]);
            assert!(r
                .list_state::<String>("names", Redistribution::EvenSplit)
                .is_err());
        }
    }

    #[test]
    fn even_split_covers_every_element_once() {
        let mut a = OperatorStateStore::default();
        let l = a.list_state::<u32>("n", Redistribution::EvenSplit).unwrap();
        l.update(&mut a, (0..10).collect()).unwrap();
        let snaps = [a.snapshot().unwrap()];
        let mut all = Vec::new();
        for k in 0..3 {
            let mut r = OperatorStateStore::restore(&snaps, k, 3).unwrap();
            let l = r.list_state::<u32>("n", Redistribution::EvenSplit).unwrap();
            all.extend(l.get(&r).unwrap());
        }
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
