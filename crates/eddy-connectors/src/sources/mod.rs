//! Sources.

mod file;
mod indexed;
mod listing;
mod nexmark;
mod skipped;
mod socket;
pub mod splits;

pub use file::{TextFileSource, TextLine};
pub use indexed::{
    CollectionSource, GeneratorSource, IndexFunction as GeneratorFunctionRef, IndexedSource, SPLITS,
};
pub use listing::{is_hidden, list_files};
pub use nexmark::NexmarkSource;
pub use skipped::{SkippedLines, SKIPPED_COUNTER};
pub use socket::SocketTextSource;

use eddy_core::config::options;
use eddy_runtime::OperatorContext;

/// The number of records a source puts in one batch.
pub(crate) fn batch_size(ctx: &OperatorContext) -> usize {
    ctx.config.get(&options::BATCH_SIZE).unwrap_or(1024).max(1)
}
