//! State handles: typed access to the current key's entry of a registered state.
//!
//! A handle is obtained once (when the operator opens) by registering a descriptor
//! with the [`KeyedStateBackend`]; each call then takes the backend and works on the
//! entry of the backend's current key. Handles whose namespace type `N` is not `()`
//! (window contents, for instance) take the namespace explicitly (`*_in` methods).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use eddy_core::Result;

use crate::backend::{Key, KeyedStateBackend, Namespace, StateData};
use crate::descriptor::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    ValueStateDescriptor,
};

/// An incremental aggregation: values are added to an accumulator, accumulators can
/// be merged (for merging windows), and a result is read from an accumulator.
///
/// ```
/// use eddy_state::AggregateFunction;
/// struct Average;
/// impl AggregateFunction for Average {
///     type In = f64;
///     type Acc = (f64, u64);
///     type Out = f64;
///     fn create_accumulator(&self) -> (f64, u64) { (0.0, 0) }
///     fn add(&self, value: f64, acc: &mut (f64, u64)) { acc.0 += value; acc.1 += 1; }
///     fn get_result(&self, acc: &(f64, u64)) -> f64 { acc.0 / acc.1 as f64 }
///     fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) { acc.0 += other.0; acc.1 += other.1; }
/// }
/// let mut acc = Average.create_accumulator();
/// Average.add(1.0, &mut acc);
/// Average.add(3.0, &mut acc);
/// assert_eq!(Average.get_result(&acc), 2.0);
/// ```
pub trait AggregateFunction: Send + Sync + 'static {
    /// The input value type.
    type In;
    /// The accumulator type, stored in state.
    type Acc: StateData + Clone;
    /// The result type.
    type Out;
    /// A new, empty accumulator.
    fn create_accumulator(&self) -> Self::Acc;
    /// Adds a value to an accumulator.
    fn add(&self, value: Self::In, acc: &mut Self::Acc);
    /// The result of an accumulator.
    fn get_result(&self, acc: &Self::Acc) -> Self::Out;
    /// Merges `other` into `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
}

/// One value per key (and namespace).
pub struct ValueState<V, N = ()> {
    id: usize,
    _types: PhantomData<fn() -> (V, N)>,
}

/// A list of values per key (and namespace).
pub struct ListState<V, N = ()> {
    id: usize,
    _types: PhantomData<fn() -> (V, N)>,
}

/// A map per key (and namespace), iterated in key order.
pub struct MapState<UK, UV, N = ()> {
    id: usize,
    _types: MapTypes<UK, UV, N>,
}

type MapTypes<UK, UV, N> = PhantomData<fn() -> (UK, UV, N)>;

/// One value per key (and namespace), folded from every added value.
pub struct ReducingState<V, N = ()> {
    id: usize,
    reduce: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    _types: PhantomData<fn() -> N>,
}

/// An accumulator per key (and namespace), fed by an [`AggregateFunction`].
pub struct AggregatingState<F: AggregateFunction, N = ()> {
    id: usize,
    function: Arc<F>,
    _types: PhantomData<fn() -> N>,
}

macro_rules! impl_clone {
    ($name:ident < $($t:ident),* > { $($field:ident),* }) => {
        impl<$($t),*> Clone for $name<$($t),*> where $name<$($t),*>: Sized {
            fn clone(&self) -> Self {
                $name { id: self.id, $($field: self.$field.clone(),)* _types: PhantomData }
            }
        }
    };
}
impl_clone!(ValueState < V, N > {});
impl_clone!(ListState < V, N > {});
impl_clone!(MapState < UK, UV, N > {});
impl_clone!(ReducingState < V, N > { reduce });

impl<F: AggregateFunction, N> Clone for AggregatingState<F, N> {
    fn clone(&self) -> Self {
        AggregatingState {
            id: self.id,
            function: self.function.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: Key> KeyedStateBackend<K> {
    /// Registers a value state (or returns the one with this name).
    pub fn value_state<V: StateData + Clone>(
        &mut self,
        descriptor: ValueStateDescriptor<V>,
    ) -> Result<ValueState<V>> {
        self.value_state_in(descriptor)
    }

    /// Registers a value state in namespaces of type `N`.
    pub fn value_state_in<V: StateData + Clone, N: Namespace>(
        &mut self,
        descriptor: ValueStateDescriptor<V>,
    ) -> Result<ValueState<V, N>> {
        let id = self.register::<N, V>(&descriptor.name, descriptor.ttl)?;
        Ok(ValueState {
            id,
            _types: PhantomData,
        })
    }

    /// Registers a list state.
    pub fn list_state<V: StateData + Clone>(
        &mut self,
        descriptor: ListStateDescriptor<V>,
    ) -> Result<ListState<V>> {
        self.list_state_in(descriptor)
    }

    /// Registers a list state in namespaces of type `N`.
    pub fn list_state_in<V: StateData + Clone, N: Namespace>(
        &mut self,
        descriptor: ListStateDescriptor<V>,
    ) -> Result<ListState<V, N>> {
        let id = self.register::<N, Vec<V>>(&descriptor.name, descriptor.ttl)?;
        Ok(ListState {
            id,
            _types: PhantomData,
        })
    }

    /// Registers a map state.
    pub fn map_state<UK: StateData + Ord + Clone, UV: StateData + Clone>(
        &mut self,
        descriptor: MapStateDescriptor<UK, UV>,
    ) -> Result<MapState<UK, UV>> {
        let id = self.register::<(), BTreeMap<UK, UV>>(&descriptor.name, descriptor.ttl)?;
        Ok(MapState {
            id,
            _types: PhantomData,
        })
    }

    /// Registers a reducing state.
    pub fn reducing_state<V: StateData + Clone>(
        &mut self,
        descriptor: ReducingStateDescriptor<V>,
    ) -> Result<ReducingState<V>> {
        self.reducing_state_in(descriptor)
    }

    /// Registers a reducing state in namespaces of type `N`.
    pub fn reducing_state_in<V: StateData + Clone, N: Namespace>(
        &mut self,
        descriptor: ReducingStateDescriptor<V>,
    ) -> Result<ReducingState<V, N>> {
        let id = self.register::<N, V>(&descriptor.name, descriptor.ttl)?;
        Ok(ReducingState {
            id,
            reduce: descriptor.reduce,
            _types: PhantomData,
        })
    }

    /// Registers an aggregating state.
    pub fn aggregating_state<F: AggregateFunction>(
        &mut self,
        descriptor: AggregatingStateDescriptor<F>,
    ) -> Result<AggregatingState<F>> {
        self.aggregating_state_in(descriptor)
    }

    /// Registers an aggregating state in namespaces of type `N`.
    pub fn aggregating_state_in<F: AggregateFunction, N: Namespace>(
        &mut self,
        descriptor: AggregatingStateDescriptor<F>,
    ) -> Result<AggregatingState<F, N>> {
        let id = self.register::<N, F::Acc>(&descriptor.name, descriptor.ttl)?;
        Ok(AggregatingState {
            id,
            function: descriptor.function,
            _types: PhantomData,
        })
    }
}

impl<V: StateData + Clone, N: Namespace> ValueState<V, N> {
    /// The value of the current key in `ns`.
    pub fn value_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Option<V> {
        let (table, kg, key, now) = backend.table::<N, V>(self.id);
        table.get_mut(kg, key, ns, now).map(|v| v.clone())
    }

    /// Sets the value of the current key in `ns`.
    pub fn update_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N, value: V) {
        let (table, kg, key, now) = backend.table::<N, V>(self.id);
        table.put(kg, key, ns, now, value);
    }

    /// Removes the value of the current key in `ns`.
    pub fn clear_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) {
        let (table, kg, key, _) = backend.table::<N, V>(self.id);
        table.remove(kg, key, ns);
    }

    /// Removes and returns the value of the current key in `ns` (an unexpired one).
    pub fn take_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Option<V> {
        let (table, kg, key, now) = backend.table::<N, V>(self.id);
        table.take(kg, key, ns, now)
    }

    /// Replaces the value of the current key in `ns` with `f(current)`, in
    /// one lookup.
    pub fn update_with_in<K: Key>(
        &self,
        backend: &mut KeyedStateBackend<K>,
        ns: &N,
        f: impl FnOnce(Option<V>) -> V,
    ) {
        let (table, kg, key, now) = backend.table::<N, V>(self.id);
        table.update_with(kg, key, ns, now, f);
    }
}

impl<V: StateData + Clone> ValueState<V> {
    /// The value of the current key, or `None`.
    pub fn value<K: Key>(&self, backend: &mut KeyedStateBackend<K>) -> Option<V> {
        self.value_in(backend, &())
    }

    /// Sets the value of the current key.
    pub fn update<K: Key>(&self, backend: &mut KeyedStateBackend<K>, value: V) {
        self.update_in(backend, &(), value);
    }

    /// Removes the value of the current key.
    pub fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>) {
        self.clear_in(backend, &());
    }

    /// Replaces the value of the current key with `f(current)`, in one lookup.
    pub fn update_with<K: Key>(
        &self,
        backend: &mut KeyedStateBackend<K>,
        f: impl FnOnce(Option<V>) -> V,
    ) {
        self.update_with_in(backend, &(), f);
    }

    /// Removes and returns the value of the current key.
    pub fn take<K: Key>(&self, backend: &mut KeyedStateBackend<K>) -> Option<V> {
        self.take_in(backend, &())
    }

    /// Applies `f` to the value of the current key in place, if there is one.
    /// Counts as a read for TTL: the entry's retention time is not refreshed.
    pub fn with_mut<K: Key, R>(
        &self,
        backend: &mut KeyedStateBackend<K>,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        let (table, kg, key, now) = backend.table::<(), V>(self.id);
        table.get_mut(kg, key, &(), now).map(f)
    }
}

impl<V: StateData + Clone, N: Namespace> ListState<V, N> {
    /// The list of the current key in `ns` (empty if none).
    pub fn get_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Vec<V> {
        let (table, kg, key, now) = backend.table::<N, Vec<V>>(self.id);
        table.get_mut(kg, key, ns, now).cloned().unwrap_or_default()
    }

    /// Appends a value to the list of the current key in `ns`; returns whether
    /// the list was empty.
    pub fn add_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N, value: V) -> bool {
        let (table, kg, key, now) = backend.table::<N, Vec<V>>(self.id);
        let list = table.get_or_insert_with(kg, key, ns, now, Vec::new);
        list.push(value);
        list.len() == 1
    }

    /// Removes and returns the list of the current key in `ns`.
    pub fn take_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Vec<V> {
        let (table, kg, key, _) = backend.table::<N, Vec<V>>(self.id);
        table.remove(kg, key, ns).unwrap_or_default()
    }

    /// Replaces the list of the current key in `ns`.
    pub fn update_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N, values: Vec<V>) {
        let (table, kg, key, now) = backend.table::<N, Vec<V>>(self.id);
        table.put(kg, key, ns, now, values);
    }

    /// Removes the list of the current key in `ns`.
    pub fn clear_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) {
        let (table, kg, key, _) = backend.table::<N, Vec<V>>(self.id);
        table.remove(kg, key, ns);
    }
}

impl<V: StateData + Clone> ListState<V> {
    /// The list of the current key (empty if none).
    pub fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>) -> Vec<V> {
        self.get_in(backend, &())
    }

    /// Appends a value to the list of the current key.
    pub fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, value: V) {
        self.add_in(backend, &(), value);
    }

    /// Replaces the list of the current key.
    pub fn update<K: Key>(&self, backend: &mut KeyedStateBackend<K>, values: Vec<V>) {
        self.update_in(backend, &(), values);
    }

    /// Removes the list of the current key.
    pub fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>) {
        self.clear_in(backend, &());
    }
}

impl<UK: StateData + Ord + Clone, UV: StateData + Clone> MapState<UK, UV> {
    /// The value under `user_key` in the current key's map.
    pub fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>, user_key: &UK) -> Option<UV> {
        let (table, kg, key, now) = backend.table::<(), BTreeMap<UK, UV>>(self.id);
        table
            .get_mut(kg, key, &(), now)
            .and_then(|m| m.get(user_key).cloned())
    }

    /// Puts `value` under `user_key` in the current key's map.
    pub fn put<K: Key>(&self, backend: &mut KeyedStateBackend<K>, user_key: UK, value: UV) {
        let (table, kg, key, now) = backend.table::<(), BTreeMap<UK, UV>>(self.id);
        table
            .get_or_insert_with(kg, key, &(), now, BTreeMap::new)
            .insert(user_key, value);
    }

    /// Removes `user_key` from the current key's map.
    pub fn remove<K: Key>(&self, backend: &mut KeyedStateBackend<K>, user_key: &UK) -> Option<UV> {
        let (table, kg, key, now) = backend.table::<(), BTreeMap<UK, UV>>(self.id);
        let map = table.get_mut(kg, key, &(), now)?;
        let removed = map.remove(user_key);
        if map.is_empty() {
            table.remove(kg, key, &());
        }
        removed
    }

    /// Whether the current key's map has `user_key`.
    pub fn contains<K: Key>(&self, backend: &mut KeyedStateBackend<K>, user_key: &UK) -> bool {
        self.get(backend, user_key).is_some()
    }

    /// Every entry of the current key's map, in key order.
    pub fn entries<K: Key>(&self, backend: &mut KeyedStateBackend<K>) -> Vec<(UK, UV)> {
        let (table, kg, key, now) = backend.table::<(), BTreeMap<UK, UV>>(self.id);
        table
            .get_mut(kg, key, &(), now)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Removes the current key's map.
    pub fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>) {
        let (table, kg, key, _) = backend.table::<(), BTreeMap<UK, UV>>(self.id);
        table.remove(kg, key, &());
    }
}

impl<V: StateData + Clone, N: Namespace> ReducingState<V, N> {
    /// The folded value of the current key in `ns`.
    pub fn get_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Option<V> {
        let (table, kg, key, now) = backend.table::<N, V>(self.id);
        table.get_mut(kg, key, ns, now).map(|v| v.clone())
    }

    /// Folds `value` into the current key's value in `ns`; returns whether
    /// `ns` had no value.
    pub fn add_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N, value: V) -> bool {
        let (table, kg, key, now) = backend.table::<N, V>(self.id);
        let reduce = &self.reduce;
        let mut first = false;
        table.update_with(kg, key, ns, now, |current| match current {
            Some(current) => reduce(current, value),
            None => {
                first = true;
                value
            }
        });
        first
    }

    /// Removes and returns the folded value of the current key in `ns`.
    pub fn take_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Option<V> {
        let (table, kg, key, _) = backend.table::<N, V>(self.id);
        table.remove(kg, key, ns)
    }

    /// Removes the folded value of the current key in `ns`.
    pub fn clear_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) {
        self.take_in(backend, ns);
    }
}

impl<V: StateData + Clone> ReducingState<V> {
    /// The folded value of the current key.
    pub fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>) -> Option<V> {
        self.get_in(backend, &())
    }

    /// Folds `value` into the current key's value.
    pub fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, value: V) {
        self.add_in(backend, &(), value);
    }

    /// Removes the current key's value.
    pub fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>) {
        self.clear_in(backend, &());
    }
}

impl<F: AggregateFunction, N: Namespace> AggregatingState<F, N> {
    /// The result for the current key in `ns`, if it has an accumulator.
    pub fn get_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) -> Option<F::Out> {
        let (table, kg, key, now) = backend.table::<N, F::Acc>(self.id);
        table
            .get_mut(kg, key, ns, now)
            .map(|acc| self.function.get_result(acc))
    }

    /// Adds `value` to the current key's accumulator in `ns`; returns whether
    /// `ns` had no accumulator.
    pub fn add_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N, value: F::In) -> bool {
        let (table, kg, key, now) = backend.table::<N, F::Acc>(self.id);
        let function = &self.function;
        let mut first = false;
        let acc = table.get_or_insert_with(kg, key, ns, now, || {
            first = true;
            function.create_accumulator()
        });
        function.add(value, acc);
        first
    }

    /// Merges an accumulator into the current key's accumulator in `ns`.
    pub fn merge_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N, other: F::Acc) {
        let (table, kg, key, now) = backend.table::<N, F::Acc>(self.id);
        let function = &self.function;
        let acc = table.get_or_insert_with(kg, key, ns, now, || function.create_accumulator());
        function.merge(acc, other);
    }

    /// Removes and returns the accumulator of the current key in `ns`.
    pub fn take_acc_in<K: Key>(
        &self,
        backend: &mut KeyedStateBackend<K>,
        ns: &N,
    ) -> Option<F::Acc> {
        let (table, kg, key, _) = backend.table::<N, F::Acc>(self.id);
        table.remove(kg, key, ns)
    }

    /// Removes the accumulator of the current key in `ns`.
    pub fn clear_in<K: Key>(&self, backend: &mut KeyedStateBackend<K>, ns: &N) {
        self.take_acc_in(backend, ns);
    }

    /// The aggregate function.
    pub fn function(&self) -> &F {
        &self.function
    }
}

impl<F: AggregateFunction> AggregatingState<F> {
    /// The result for the current key.
    pub fn get<K: Key>(&self, backend: &mut KeyedStateBackend<K>) -> Option<F::Out> {
        self.get_in(backend, &())
    }

    /// Adds `value` to the current key's accumulator.
    pub fn add<K: Key>(&self, backend: &mut KeyedStateBackend<K>, value: F::In) {
        self.add_in(backend, &(), value);
    }

    /// Removes the current key's accumulator.
    pub fn clear<K: Key>(&self, backend: &mut KeyedStateBackend<K>) {
        self.clear_in(backend, &());
    }
}
