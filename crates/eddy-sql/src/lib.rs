//! eddy's SQL front: Flink-dialect streaming SQL, planned with DataFusion and run on
//! eddy's runtime.
//!
//! ```text
//!  statement ─▶ Session (session): DDL into the catalog, SET into the config,
//!     │          SHOW / DESCRIBE / EXPLAIN answered at once
//!     │ INSERT, SELECT: the text rewritten where the parser lacks Flink's
//!     │ syntax (tvf, temporal, json_syntax, map_syntax), the AST repaired where sqlparser
//!     │ and Flink differ (precedence, time_units, legacy_window)
//!     ▼
//!  DataFusion logical plan, analyzed, subqueries decorrelated into joins
//!     │ (logical) ─▶ plan: one eddy vertex per node, chosen by time attributes
//!     │   (window, interval, lookup, temporal, regular and semi/anti joins,
//!     │   expand for grouping sets, changelog normalization of upsert sources...)
//!     ▼
//!  JobSpec (eddy_runtime::graph_builder) ─▶ eddy_runtime::MiniCluster
//!
//!  a record batch in a job:
//!  file ─▶ TextFileSource (splits of large files) ─▶ LineDecoder (connectors::lines:
//!     CSV fields straight into Arrow columns, JSON through arrow's decoder) ─▶
//!     watermark assigner (per split of a Kafka source) ─▶ exec operators (Arrow
//!     batches; keyed state and timers from the runtime; event-time windows,
//!     slices and sessions in memory: exec::window_panes, slice_panes,
//!     session_panes, written as keyed state at checkpoints) ─▶ TableSinkOperator
//!     (connectors::encode_batch: a column at a time into CSV / JSON lines) ─▶
//!     file, print, Kafka or a SELECT's rows
//!  Parquet files and database tables (connectors::parquet, a registered
//!     connector of rows such as `jdbc`) enter and leave as Arrow batches.
//! ```
//!
//! A bad input line fails the job naming its file and line, or is skipped and
//! counted with the format's `ignore-parse-errors`; a failing expression names
//! the input row it was evaluating ([`exec::origin`]).

pub mod catalog;
pub mod cluster_job;
pub mod ddl;
pub mod error;
pub mod flink_types;
pub mod functions;
pub mod interval;
pub mod jobs;
pub mod json_syntax;
pub mod legacy_window;
pub mod limits;
pub mod logical;
pub mod map_syntax;
pub mod naming;
pub mod precedence;
pub mod script;
pub mod show;
pub mod string_limit;
pub mod temporal;
pub mod time_units;
pub mod tvf;
pub mod types;

pub use error::{SqlError, SqlResult};
pub mod connectors;
pub mod exec;
pub mod plan;
pub mod session;
pub mod tableau;

pub use session::{Output, ResultEvent, ResultListener, Session};
pub use tableau::{render, Tableau};
