//! The codecs a job registered for its record types: how batches of a type
//! that has no codec of its own cross processes.
//!
//! A typed DataStream edge knows its record type only as a type parameter, and
//! not every record type can be serialized. A program registers the types that
//! travel between TaskManagers (Flink's `registerType`; eddy registers the
//! types of keyed state by itself), and building the job gives every edge of a
//! registered type its codec ([`EdgeFactory::with_codecs`]).
//!
//! ```
//! use eddy_core::Records;
//! use eddy_runtime::codecs::Codecs;
//! use eddy_runtime::{EdgeFactory, TypedEdge};
//!
//! let mut codecs = Codecs::default();
//! codecs.register::<Records<(String, u64)>>();
//! let edge = TypedEdge::<Records<(String, u64)>>::new();
//! assert!(!edge.crosses_processes());
//! assert!(edge.with_codecs(&codecs).unwrap().crosses_processes());
//! // A type nobody registered keeps its edge in one process.
//! assert!(TypedEdge::<Records<u8>>::new().with_codecs(&codecs).is_none());
//! ```
//!
//! [`EdgeFactory::with_codecs`]: crate::EdgeFactory::with_codecs

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use eddy_core::codec::{decode_element, encode_element, BatchCodec};

use crate::network::bridge::{DecodeFn, EncodeFn};

/// Registered codecs, by batch type.
#[derive(Clone, Default)]
pub struct Codecs(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl Codecs {
    /// Registers the codec of batch type `B`; registering twice is harmless.
    pub fn register<B: BatchCodec>(&mut self) {
        let codec: (EncodeFn<B>, DecodeFn<B>) = (encode_element::<B>, decode_element::<B>);
        self.0.insert(TypeId::of::<B>(), Arc::new(codec));
    }

    /// The codec of batch type `B`, if registered.
    pub fn get<B: 'static>(&self) -> Option<(EncodeFn<B>, DecodeFn<B>)> {
        self.0
            .get(&TypeId::of::<B>())?
            .downcast_ref::<(EncodeFn<B>, DecodeFn<B>)>()
            .copied()
    }

    /// How many types are registered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no type is registered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Codecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codecs({} types)", self.0.len())
    }
}
