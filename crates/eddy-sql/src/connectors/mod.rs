//! Connectors of SQL tables, by Flink's names and options: `filesystem`,
//! `datagen`, `nexmark` (sources) and `print`, `blackhole`, `filesystem` (sinks).

pub mod format;
pub mod lines;
pub mod sinks;
pub mod sources;
