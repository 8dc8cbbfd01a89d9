//! Sources.

mod collection;
mod file;
mod generator;
mod nexmark;
mod socket;

pub use collection::CollectionSource;
pub use file::{TextFileSource, TextLine};
pub use generator::{GeneratorFunction as GeneratorFunctionRef, GeneratorSource};
pub use nexmark::NexmarkSource;
pub use socket::SocketTextSource;

use eddy_core::config::options;
use eddy_runtime::OperatorContext;

/// The number of records a source puts in one batch.
pub(crate) fn batch_size(ctx: &OperatorContext) -> usize {
    ctx.config.get(&options::BATCH_SIZE).unwrap_or(1024).max(1)
}
