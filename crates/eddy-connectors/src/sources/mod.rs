//! Sources.

mod file;
mod indexed;
mod nexmark;
mod socket;

pub use file::{TextFileSource, TextLine};
pub use indexed::{
    CollectionSource, GeneratorSource, IndexFunction as GeneratorFunctionRef, IndexedSource, SPLITS,
};
pub use nexmark::NexmarkSource;
pub use socket::SocketTextSource;

use eddy_core::config::options;
use eddy_runtime::OperatorContext;

/// The number of records a source puts in one batch.
pub(crate) fn batch_size(ctx: &OperatorContext) -> usize {
    ctx.config.get(&options::BATCH_SIZE).unwrap_or(1024).max(1)
}
