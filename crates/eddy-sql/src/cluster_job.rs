//! SQL jobs on a cluster: a TaskManager plans the job again from its
//! statements, so no code or plan is shipped.
//!
//! The JobManager's session gives every `INSERT` job an artifact: the `CREATE`
//! and `DROP` statements the session ran before it, then the job's own
//! statement. A TaskManager's [`load`] replays them in a fresh session with the
//! job's configuration and plans the job without running it. Planning is
//! deterministic, so the graph is the one the JobManager planned (the
//! TaskManager checks that).
//!
//! ```
//! use eddy_core::Config;
//! use eddy_sql::session::Session;
//!
//! let mut session = Session::new(Config::new());
//! session
//!     .execute_sql("CREATE TABLE s (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3')")
//!     .unwrap();
//! session
//!     .execute_sql("CREATE TABLE o (k BIGINT) WITH ('connector' = 'blackhole')")
//!     .unwrap();
//! let planned = session.plan_job("INSERT INTO o SELECT k FROM s").unwrap();
//! let artifact = planned.artifact.clone().unwrap();
//! assert_eq!(artifact.statements.len(), 3);
//! let again = eddy_sql::cluster_job::load(&artifact, &Config::new()).unwrap();
//! assert_eq!(again.graph, planned.graph);
//! ```

use eddy_core::{Config, Error, Result};
use eddy_runtime::protocol::JobArtifact;
use eddy_runtime::JobSpec;

use crate::session::Session;

/// The artifact kind of SQL jobs.
pub const KIND: &str = "sql";

/// Plans the job of a SQL artifact: replays its catalog statements, then plans
/// its last statement without running it.
pub fn load(artifact: &JobArtifact, config: &Config) -> Result<JobSpec> {
    if artifact.kind != KIND {
        return Err(Error::InvalidGraph(format!(
            "a '{}' job cannot be built by the SQL loader",
            artifact.kind
        )));
    }
    let Some((job, catalog)) = artifact.statements.split_last() else {
        return Err(Error::InvalidGraph("the SQL job has no statement".into()));
    };
    let mut session = Session::new(config.clone());
    for statement in catalog {
        session
            .execute_sql(statement)
            .map_err(|e| Error::InvalidGraph(format!("replaying '{statement}': {e}")))?;
    }
    session
        .plan_job(job)
        .map_err(|e| Error::InvalidGraph(format!("planning '{job}': {e}")))
}
