//! State descriptors: a state's name, type and TTL, used to register it.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::handles::AggregateFunction;
use crate::ttl::StateTtlConfig;

macro_rules! descriptor {
    ($(#[$doc:meta])* $name:ident < $($t:ident),* >) => {
        $(#[$doc])*
        pub struct $name<$($t),*> {
            pub(crate) name: String,
            pub(crate) ttl: Option<StateTtlConfig>,
            _types: PhantomData<fn() -> ($($t,)*)>,
        }

        impl<$($t),*> $name<$($t),*> {
            /// A descriptor for the state called `name` (unique within the operator).
            pub fn new(name: impl Into<String>) -> Self {
                $name { name: name.into(), ttl: None, _types: PhantomData }
            }

            /// Entries expire as `ttl` says.
            pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
                self.ttl = Some(ttl);
                self
            }

            /// The state's name.
            pub fn name(&self) -> &str {
                &self.name
            }
        }
    };
}

descriptor!(
    /// Describes a [`ValueState`](crate::ValueState): one value per key.
    ValueStateDescriptor<V>
);
descriptor!(
    /// Describes a [`ListState`](crate::ListState): a list of values per key.
    ListStateDescriptor<V>
);
descriptor!(
    /// Describes a [`MapState`](crate::MapState): a map per key.
    MapStateDescriptor<UK, UV>
);

/// Describes a [`ReducingState`](crate::ReducingState): values folded with a reduce
/// function into one per key.
pub struct ReducingStateDescriptor<V> {
    pub(crate) name: String,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) reduce: Arc<dyn Fn(V, V) -> V + Send + Sync>,
}

impl<V> ReducingStateDescriptor<V> {
    /// A descriptor for the state called `name`, folding with `reduce`.
    pub fn new(
        name: impl Into<String>,
        reduce: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> Self {
        ReducingStateDescriptor {
            name: name.into(),
            ttl: None,
            reduce: Arc::new(reduce),
        }
    }

    /// Entries expire as `ttl` says.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// Describes an [`AggregatingState`](crate::AggregatingState): values added to an
/// accumulator per key by an [`AggregateFunction`].
pub struct AggregatingStateDescriptor<F> {
    pub(crate) name: String,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) function: Arc<F>,
}

impl<F: AggregateFunction> AggregatingStateDescriptor<F> {
    /// A descriptor for the state called `name`, aggregating with `function`.
    pub fn new(name: impl Into<String>, function: F) -> Self {
        AggregatingStateDescriptor {
            name: name.into(),
            ttl: None,
            function: Arc::new(function),
        }
    }

    /// Entries expire as `ttl` says.
    pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
        self.ttl = Some(ttl);
        self
    }
}
