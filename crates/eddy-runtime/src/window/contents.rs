//! How records accumulate in a window: folded, aggregated, or kept as a list.

use std::sync::Arc;

use eddy_core::Result;
use eddy_state::{
    AggregateFunction, AggregatingState, AggregatingStateDescriptor, Key, KeyedStateBackend,
    ListState, ListStateDescriptor, ReducingState, ReducingStateDescriptor, StateData,
};

use super::Window;

/// The contents of a window of the current key, in keyed state.
pub trait WindowContents<T, W: Window>: Send + 'static {
    /// What a firing window hands to the window function.
    type Result;
    /// Registers the state.
    fn open<K: Key>(&mut self, backend: &mut KeyedStateBackend<K>) -> Result<()>;
    /// Adds a record to `window`; returns whether it is the window's first.
    fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W, value: T) -> bool;
    /// The contents of `window`, if any record was added.
    fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<Self::Result>;
    /// Drops the contents of `window`.
    fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W);
    /// Removes the contents of `window` and returns them, if any record was
    /// added: a window that fires and ends at once hands its contents over
    /// without a copy.
    fn take<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<Self::Result> {
        let contents = self.get(backend, window);
        self.clear(backend, window);
        contents
    }
    /// Moves the contents of `sources` into `target` (session merging).
    fn merge<K: Key>(&self, backend: &mut KeyedStateBackend<K>, target: &W, sources: &[W]);
}

/// Folds records with a reduce function.
pub struct ReduceContents<T> {
    reduce: Arc<dyn Fn(T, T) -> T + Send + Sync>,
    windowed: Option<Box<dyn std::any::Any + Send>>,
}

impl<T> ReduceContents<T> {
    /// Contents folded with `reduce`.
    pub fn new(reduce: impl Fn(T, T) -> T + Send + Sync + 'static) -> Self {
        ReduceContents {
            reduce: Arc::new(reduce),
            windowed: None,
        }
    }
}

impl<T: StateData + Clone, W: Window> WindowContents<T, W> for ReduceContents<T> {
    type Result = T;

    fn open<K: Key>(&mut self, backend: &mut KeyedStateBackend<K>) -> Result<()> {
        let reduce = self.reduce.clone();
        let state: ReducingState<T, W> = backend.reducing_state_in(
            ReducingStateDescriptor::new("window-contents", move |a, b| reduce(a, b)),
        )?;
        self.windowed = Some(Box::new(state));
        Ok(())
    }

    fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W, value: T) -> bool {
        self.handle::<W>()
            .is_some_and(|state| state.add_in(backend, window, value))
    }

    fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<T> {
        self.handle::<W>()?.get_in(backend, window)
    }

    fn take<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<T> {
        self.handle::<W>()?.take_in(backend, window)
    }

    fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) {
        if let Some(state) = self.handle::<W>() {
            state.clear_in(backend, window);
        }
    }

    fn merge<K: Key>(&self, backend: &mut KeyedStateBackend<K>, target: &W, sources: &[W]) {
        if let Some(state) = self.handle::<W>() {
            for source in sources {
                if let Some(value) = state.take_in(backend, source) {
                    state.add_in(backend, target, value);
                }
            }
        }
    }
}

impl<T: 'static> ReduceContents<T> {
    fn handle<W: 'static>(&self) -> Option<&ReducingState<T, W>> {
        self.windowed
            .as_ref()?
            .downcast_ref::<ReducingState<T, W>>()
    }
}

/// Adds records to an accumulator of an [`AggregateFunction`].
pub struct AggregateContents<F: AggregateFunction> {
    function: Option<F>,
    state: Option<Box<dyn std::any::Any + Send>>,
}

impl<F: AggregateFunction> AggregateContents<F> {
    /// Contents aggregated by `function`.
    pub fn new(function: F) -> Self {
        AggregateContents {
            function: Some(function),
            state: None,
        }
    }

    fn handle<W: 'static>(&self) -> Option<&AggregatingState<F, W>> {
        self.state
            .as_ref()?
            .downcast_ref::<AggregatingState<F, W>>()
    }
}

impl<F: AggregateFunction, W: Window> WindowContents<F::In, W> for AggregateContents<F> {
    type Result = F::Out;

    fn open<K: Key>(&mut self, backend: &mut KeyedStateBackend<K>) -> Result<()> {
        if let Some(function) = self.function.take() {
            let state: AggregatingState<F, W> = backend.aggregating_state_in(
                AggregatingStateDescriptor::new("window-contents", function),
            )?;
            self.state = Some(Box::new(state));
        }
        Ok(())
    }

    fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W, value: F::In) -> bool {
        self.handle::<W>()
            .is_some_and(|state| state.add_in(backend, window, value))
    }

    fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<F::Out> {
        self.handle::<W>()?.get_in(backend, window)
    }

    fn take<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<F::Out> {
        let state = self.handle::<W>()?;
        let acc = state.take_acc_in(backend, window)?;
        Some(state.function().get_result(&acc))
    }

    fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) {
        if let Some(state) = self.handle::<W>() {
            state.clear_in(backend, window);
        }
    }

    fn merge<K: Key>(&self, backend: &mut KeyedStateBackend<K>, target: &W, sources: &[W]) {
        if let Some(state) = self.handle::<W>() {
            for source in sources {
                if let Some(acc) = state.take_acc_in(backend, source) {
                    state.merge_in(backend, target, acc);
                }
            }
        }
    }
}

/// Keeps every record (for process window functions that need them all).
pub struct ListContents<T> {
    state: Option<Box<dyn std::any::Any + Send>>,
    _type: std::marker::PhantomData<fn() -> T>,
}

impl<T> ListContents<T> {
    /// Contents kept as a list.
    pub fn new() -> Self {
        ListContents {
            state: None,
            _type: std::marker::PhantomData,
        }
    }
}

impl<T> Default for ListContents<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> ListContents<T> {
    fn handle<W: 'static>(&self) -> Option<&ListState<T, W>> {
        self.state.as_ref()?.downcast_ref::<ListState<T, W>>()
    }
}

impl<T: StateData + Clone, W: Window> WindowContents<T, W> for ListContents<T> {
    type Result = Vec<T>;

    fn open<K: Key>(&mut self, backend: &mut KeyedStateBackend<K>) -> Result<()> {
        let state: ListState<T, W> =
            backend.list_state_in(ListStateDescriptor::new("window-contents"))?;
        self.state = Some(Box::new(state));
        Ok(())
    }

    fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W, value: T) -> bool {
        self.handle::<W>()
            .is_some_and(|state| state.add_in(backend, window, value))
    }

    fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<Vec<T>> {
        let values = self.handle::<W>()?.get_in(backend, window);
        (!values.is_empty()).then_some(values)
    }

    fn take<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) -> Option<Vec<T>> {
        let values = self.handle::<W>()?.take_in(backend, window);
        (!values.is_empty()).then_some(values)
    }

    fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>, window: &W) {
        if let Some(state) = self.handle::<W>() {
            state.clear_in(backend, window);
        }
    }

    fn merge<K: Key>(&self, backend: &mut KeyedStateBackend<K>, target: &W, sources: &[W]) {
        if let Some(state) = self.handle::<W>() {
            for source in sources {
                for value in state.take_in(backend, source) {
                    state.add_in(backend, target, value);
                }
            }
        }
    }
}
