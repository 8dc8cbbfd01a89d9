//! # eddy-connectors
//!
//! Sources and sinks for the DataStream API. Sources implement
//! [`SourceReader`](eddy_runtime::SourceReader) (one reader per parallel subtask, each
//! reading its own split); sinks implement [`SinkWriter`](eddy_runtime::operators::SinkWriter).
//!
//! | source | bounded | split across subtasks by |
//! |---|---|---|
//! | [`CollectionSource`] | yes | element index |
//! | [`TextFileSource`] | yes | file (the files under a directory, recursively, sorted), and byte range of a file larger than `source.file.split-size` (16 MiB) |
//! | [`SocketTextSource`] | no (ends when the peer closes) | subtask 0 only |
//! | [`GeneratorSource`] | optional | sequence number |
//! | [`NexmarkSource`] | optional | event number |
//!
//! Sinks: [`PrintSink`], [`FileSink`] (part files, committed when the input ends),
//! [`CollectSink`] (for tests), [`DiscardSink`].

pub mod nexmark;
pub mod sinks;
pub mod sources;

pub use sinks::{CollectSink, DiscardSink, FileSink, PrintSink};
pub use sources::{
    CollectionSource, GeneratorSource, NexmarkSource, SocketTextSource, TextFileSource, TextLine,
};
