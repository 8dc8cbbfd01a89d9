//! eddy's JDBC connector, for PostgreSQL (Flink's `jdbc` connector).
//!
//! ```text
//!   records (DataStream: JdbcSink, a row function) ─┐
//!   rows (Arrow batches, with row kinds) ──────────► JdbcSinkWriter ──► buffer, reduced by key
//!        ──► flush (max rows · interval · checkpoint barrier · end) ──► one transaction:
//!            INSERT .. ON CONFLICT (key) DO UPDATE  /  DELETE .. WHERE key IN (..)
//!
//!   keys of a lookup join ──► JdbcLookup ──► SELECT .. WHERE key IN (..) ──► rows
//!
//!   JdbcScan (bounded) ──► SELECT .. [WHERE column BETWEEN lo AND hi] ──► Arrow batches
//! ```
//!
//! Every connection of a process runs on one small I/O runtime
//! ([`connection`]); the tasks wait on it. Values travel in PostgreSQL's binary
//! formats ([`values`]), checked against the database table's column types
//! when a writer or reader opens, so a schema mismatch is an error naming the
//! column before anything is written. SQL's `jdbc` tables are registered by
//! the `eddy` command from these pieces; [`testing`] starts a real PostgreSQL
//! server for tests.

pub mod connection;
pub mod datastream;
mod dialect;
pub mod error;
pub mod lookup;
mod numeric;
mod read;
pub mod scan;
pub mod sink;
pub mod testing;
mod values;

pub use connection::ConnectionOptions;
pub use datastream::{JdbcRecordWriter, JdbcSink, JdbcSinkBuilder, JdbcType, JdbcValue};
pub use error::{JdbcError, JdbcResult};
pub use lookup::{JdbcLookup, JdbcLookupOptions};
pub use scan::{JdbcScanOptions, JdbcScanReader, ScanPartitioning};
pub use sink::{JdbcSinkOptions, JdbcSinkWriter};
