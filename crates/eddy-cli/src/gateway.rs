//! The SQL engine behind the REST API's SQL Gateway resources: one
//! [`Session`] per gateway session, in the JobManager and in `eddy sql` with
//! `rest.port` set (where the Web UI's SQL editor submits to). Jobs an
//! `INSERT` submits are kept for the life of the process, so they run on after
//! their session closes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use eddy::core::{Config, JobId};
use eddy::rest::{ResultSink, SqlGateway};
use eddy::runtime::JobClient;
use eddy_sql::exec::changelog::RowKind;
use eddy_sql::{Output, ResultEvent, Session};

/// Sessions of this process and the jobs they started.
pub struct Gateway {
    base: Config,
    sessions: Mutex<HashMap<String, Arc<Mutex<Session>>>>,
    jobs: Mutex<Vec<JobClient>>,
}

fn kind(row: RowKind) -> &'static str {
    match row {
        RowKind::Insert => "INSERT",
        RowKind::UpdateBefore => "UPDATE_BEFORE",
        RowKind::UpdateAfter => "UPDATE_AFTER",
        RowKind::Delete => "DELETE",
    }
}

impl Gateway {
    /// A gateway whose sessions start from `base` (the process's configuration).
    pub fn new(base: Config) -> Self {
        Gateway {
            base,
            sessions: Mutex::new(HashMap::new()),
            jobs: Mutex::new(Vec::new()),
        }
    }

    fn session(&self, id: &str) -> Result<Arc<Mutex<Session>>, String> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| format!("Session '{id}' does not exist"))
    }

    /// Keeps a session's submitted jobs running; forgets those that ended.
    fn keep(&self, session: &mut Session) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.retain(|j| !j.is_done());
        jobs.extend(session.take_background_jobs());
    }

    fn take_jobs(&self) -> Vec<JobClient> {
        std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Waits for the jobs the sessions submitted to end, those submitted
    /// meanwhile too; the ids and errors of those that failed.
    pub fn wait_for_jobs(&self) -> Vec<(JobId, String)> {
        let mut failures = Vec::new();
        loop {
            let jobs = self.take_jobs();
            if jobs.is_empty() {
                return failures;
            }
            for job in jobs {
                let id = job.job_id();
                if let Err(e) = job.wait() {
                    failures.push((id, e.to_string()));
                }
            }
        }
    }

    /// Cancels the jobs the sessions submitted that still run; how many.
    pub fn cancel_jobs(&self) -> usize {
        let mut cancelled = 0;
        for job in self.take_jobs() {
            if !job.is_done() {
                cancelled += 1;
                job.cancel();
            }
            let _ = job.wait();
        }
        cancelled
    }
}

impl SqlGateway for Gateway {
    fn open(&self, id: &str, properties: &BTreeMap<String, String>) -> Result<(), String> {
        let mut config = self.base.clone();
        for (k, v) in properties {
            config.set(k.clone(), v.clone());
        }
        eddy::core::config::validate::check(&config).map_err(|e| e.to_string())?;
        let mut session = Session::new(config);
        session.set_dml_sync_default(false);
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), Arc::new(Mutex::new(session)));
        Ok(())
    }

    fn execute(
        &self,
        id: &str,
        statement: &str,
        sink: Arc<dyn ResultSink>,
        cancel: Arc<AtomicBool>,
    ) -> Result<(), String> {
        let session = self.session(id)?;
        let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
        session.set_cancel_flag(cancel);
        let rows = sink.clone();
        session.set_result_listener(Some(Box::new(move |event| {
            if let ResultEvent::Rows {
                columns,
                rows: batch,
            } = event
            {
                rows.columns(columns.to_vec());
                rows.rows(batch.iter().map(|(k, v)| (kind(*k), v.clone())).collect());
            }
        })));
        let before = session.last_submitted_job();
        let result = session.execute_script(statement, |output| match output {
            Output::Rows { columns, rows, .. } => {
                sink.columns(columns.clone());
                sink.rows(rows.iter().map(|(k, v)| (kind(*k), v.clone())).collect());
            }
            Output::Text(text) => {
                sink.columns(vec!["result".into()]);
                sink.rows(vec![("INSERT", vec![Some(text.clone())])]);
            }
            Output::Info(_) | Output::Streamed(_) => {}
        });
        session.set_result_listener(None);
        let submitted = session.last_submitted_job().filter(|j| Some(*j) != before);
        if let Some(job) = submitted {
            sink.job(job);
            sink.columns(vec!["job id".into()]);
            sink.rows(vec![("INSERT", vec![Some(job.to_string())])]);
        }
        self.keep(&mut session);
        result.map_err(|e| e.to_string())
    }

    fn close(&self, id: &str) {
        let removed = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(session) = removed {
            let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
            self.keep(&mut session);
        }
    }
}
