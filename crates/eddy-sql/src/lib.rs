//! eddy's SQL front: Flink-dialect streaming SQL, planned with DataFusion and run on
//! eddy's runtime.

pub mod catalog;
pub mod ddl;
pub mod error;
pub mod functions;
pub mod interval;
pub mod jobs;
pub mod legacy_window;
pub mod limits;
pub mod logical;
pub mod naming;
pub mod precedence;
pub mod script;
pub mod string_limit;
pub mod temporal;
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
