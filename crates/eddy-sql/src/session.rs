//! A SQL session: statements run one after the other against a catalog and a
//! configuration, as in Flink's SQL client.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion_common::DFSchema;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use eddy_connectors::{FileSink, PrintSink};
use eddy_core::config::options;
use eddy_core::Config;
use eddy_runtime::{JobClient, MiniCluster};

use crate::catalog::{TableDef, ViewDef, WatermarkDef};
use crate::connectors::sinks::{Collected, LineFormat, TableSinkOperator};
use crate::connectors::sources::FileFormat;
use crate::ddl::{self, ColumnSpec};
use crate::error::{SqlError, SqlResult};
use crate::exec::changelog::RowKind;
use crate::exec::mini_batch::MiniBatch;
use crate::logical::{Planner, PHYSICAL};
use crate::plan::{Stream, StreamPlanner};
use crate::script::{self, RawStatement};
use crate::types::sql_name;

/// What a statement produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A confirmation (`[INFO] ...`).
    Info(String),
    /// Rows: column names and the changelog (`SELECT`, `SHOW`, `DESCRIBE`).
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Rows with their kind.
        rows: Vec<(RowKind, Vec<Option<String>>)>,
        /// Whether the rows are a changelog (print the `op` column).
        changelog: bool,
    },
    /// Free text (`EXPLAIN`).
    Text(String),
    /// A `SELECT` whose rows went to the result listener as they came: how
    /// many there were.
    Streamed(usize),
}

/// Rows of a running `SELECT`, handed to a result listener as they arrive.
pub enum ResultEvent<'a> {
    /// New rows of the changelog.
    Rows {
        /// The column names.
        columns: &'a [String],
        /// The rows and their kinds.
        rows: &'a [(RowKind, Vec<Option<String>>)],
    },
    /// The query ended after `count` rows.
    End {
        /// The column names.
        columns: &'a [String],
        /// All rows produced.
        count: usize,
    },
}

/// Receives the rows of `SELECT`s while they run (see
/// [`Session::set_result_listener`]).
pub type ResultListener = Box<dyn FnMut(ResultEvent<'_>) + Send>;

/// A SQL session.
pub struct Session {
    /// Tables and views.
    pub catalog: crate::catalog::Catalog,
    /// Configuration: `SET` values over the defaults and `-D` overrides.
    pub config: Config,
    listener: Option<ResultListener>,
    last_counters: BTreeMap<String, u64>,
    /// INSERTs submitted without waiting (`table.dml-sync` = false).
    background: crate::jobs::BackgroundJobs,
    /// Whether INSERTs wait for their job when `table.dml-sync` is not set.
    dml_sync_default: bool,
    /// Set (by a Ctrl-C handler, or the SQL Gateway's cancel) to cancel the
    /// statement that runs.
    interrupt: Arc<std::sync::atomic::AtomicBool>,
    /// Whether `interrupt` is cleared when a statement starts (the shell's: a
    /// Ctrl-C at the prompt is not meant for the next statement), or stays set
    /// and cancels every statement from then on ([`Session::set_cancel_flag`]).
    interrupt_clears: bool,
    /// The statements that shaped the catalog, in order: with a job's own
    /// statement, what another process plans the same job from.
    catalog_statements: Vec<String>,
    /// The statement being executed.
    statement: String,
    /// Set when jobs are to be planned but not run: the planned job lands here.
    capture: Option<Option<eddy_runtime::JobSpec>>,
}

fn words(text: &str, n: usize) -> Vec<String> {
    text.split_whitespace()
        .take(n)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect()
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let quoted =
        (s.starts_with('\'') && s.ends_with('\'')) || (s.starts_with('`') && s.ends_with('`'));
    if quoted && s.len() >= 2 {
        s[1..s.len() - 1].replace("''", "'")
    } else {
        s.to_string()
    }
}

const MINI_BATCH_ENABLED: &str = "table.exec.mini-batch.enabled";
const MINI_BATCH_LATENCY: &str = "table.exec.mini-batch.allow-latency";
const MINI_BATCH_SIZE: &str = "table.exec.mini-batch.size";
const AGG_PHASE_STRATEGY: &str = "table.optimizer.agg-phase-strategy";

/// The `table.*` keys the SQL front reads.
const TABLE_KEYS: [&str; 7] = [
    "table.exec.state.ttl",
    "table.exec.sink.not-null-enforcer",
    "table.exec.source.idle-timeout",
    "table.exec.mini-batch.enabled",
    "table.exec.mini-batch.allow-latency",
    "table.exec.mini-batch.size",
    "table.optimizer.agg-phase-strategy",
];

impl Session {
    /// A session over a configuration.
    pub fn new(config: Config) -> Self {
        Session {
            catalog: Default::default(),
            config,
            listener: None,
            last_counters: BTreeMap::new(),
            background: Default::default(),
            dml_sync_default: true,
            interrupt: Default::default(),
            interrupt_clears: true,
            catalog_statements: Vec::new(),
            statement: String::new(),
            capture: None,
        }
    }

    /// Plans the job `statement` (an `INSERT` or a statement set) would run,
    /// without running it: what a TaskManager does with a job's artifact.
    pub fn plan_job(&mut self, statement: &str) -> SqlResult<eddy_runtime::JobSpec> {
        self.capture = Some(None);
        let result = self.execute_sql(statement);
        let planned = self.capture.take().flatten();
        result?;
        planned.ok_or_else(|| SqlError::new("the statement does not run a job"))
    }

    /// What another process needs to plan the job of the statement being
    /// executed: the catalog's statements, then it.
    fn artifact(&self) -> eddy_runtime::protocol::JobArtifact {
        let mut statements = self.catalog_statements.clone();
        statements.push(self.statement.clone());
        eddy_runtime::protocol::JobArtifact {
            kind: crate::cluster_job::KIND.to_string(),
            statements,
        }
    }

    /// The job `planner` built, named `name`, able to run on a cluster.
    fn job_spec(&self, planner: &StreamPlanner, name: &str) -> eddy_runtime::JobSpec {
        let mut spec = planner.job.to_spec(name);
        spec.artifact = Some(self.artifact());
        spec
    }

    /// Where jobs run: in this process, or on the cluster's TaskManagers when
    /// this process is a JobManager.
    fn cluster(&self) -> MiniCluster {
        MiniCluster::new(self.config.clone())
            .with_resource_manager(eddy_runtime::cluster::ResourceManager::installed())
    }

    /// Whether an `INSERT` waits for its job when `table.dml-sync` is not set:
    /// `true` (the default) runs each one to its end; `false` submits it, prints
    /// its job id and goes on, as Flink's SQL client does.
    pub fn set_dml_sync_default(&mut self, sync: bool) {
        self.dml_sync_default = sync;
    }

    /// The flag that cancels the running statement when set (the shell's Ctrl-C
    /// handler sets it). It is cleared when a statement starts.
    pub fn interrupt_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.interrupt.clone()
    }

    /// Makes `flag` cancel the statements that run from now on: set, it
    /// cancels the one that runs and every later one, and it is never cleared
    /// here. The SQL Gateway gives each operation its own flag, so a cancel that
    /// comes before the operation starts, or between its statements, is not lost.
    pub fn set_cancel_flag(&mut self, flag: Arc<std::sync::atomic::AtomicBool>) {
        self.interrupt = flag;
        self.interrupt_clears = false;
    }

    fn interrupted(&self) -> bool {
        if self.interrupt_clears {
            self.interrupt
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        } else {
            self.interrupt.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    /// Waits for the jobs submitted in the background; the ids and errors of those
    /// that failed.
    pub fn wait_for_background_jobs(&mut self) -> Vec<(eddy_core::JobId, String)> {
        self.background.wait_all()
    }

    /// Cancels the jobs submitted in the background that still run; how many.
    pub fn cancel_background_jobs(&mut self) -> usize {
        self.background.cancel_all()
    }

    /// What `eddy info` shows: for an `INSERT`, the job graph it would run, as
    /// JSON, without running it; any other statement but a query runs as usual
    /// (so that the tables it creates are there for the next), and a query is
    /// skipped.
    pub fn job_plan(&mut self, statement: &RawStatement) -> SqlResult<Option<String>> {
        let w = words(&statement.text, 1);
        match w.first().map(String::as_str) {
            Some("INSERT") => Ok(Some(self.insert_job(statement)?.graph.to_json())),
            Some("SELECT" | "WITH" | "VALUES") => Ok(None),
            _ => self.execute(statement).map(|_| None),
        }
    }

    /// The id of the job the last background `INSERT` submitted.
    pub fn last_submitted_job(&self) -> Option<eddy_core::JobId> {
        self.background.last()
    }

    /// Hands over the jobs submitted in the background: they run on as long as
    /// the returned clients are kept (a client dropped cancels its job).
    pub fn take_background_jobs(&mut self) -> Vec<eddy_runtime::JobClient> {
        self.background.take()
    }

    /// Whether a job submitted in the background still runs.
    pub fn has_background_jobs(&self) -> bool {
        !self.background.is_empty()
    }

    /// Hands the rows of each `SELECT` to `listener` while the query runs
    /// (an unbounded query shows its changelog as it grows); the statement
    /// then returns [`Output::Streamed`]. `None` collects them into
    /// [`Output::Rows`] at the end, as before.
    pub fn set_result_listener(&mut self, listener: Option<ResultListener>) {
        self.listener = listener;
    }

    /// The counters of the last job a statement ran (`<operator>.numRecordsOut`,
    /// `<source>.numRecordsInErrors` for malformed lines a source skipped, ...);
    /// empty before the first job.
    pub fn last_job_counters(&self) -> &BTreeMap<String, u64> {
        &self.last_counters
    }

    /// Runs every statement of a script, handing each output to `on_output`; stops
    /// at the first error, whose position is in script coordinates.
    pub fn execute_script(
        &mut self,
        script: &str,
        mut on_output: impl FnMut(&Output),
    ) -> SqlResult<()> {
        for statement in script::split(script)? {
            let output = self.execute(&statement).map_err(|e| statement.locate(e))?;
            on_output(&output);
        }
        Ok(())
    }

    /// Runs one statement (text without `;`).
    pub fn execute_sql(&mut self, sql: &str) -> SqlResult<Output> {
        let mut statements = script::split(sql)?;
        match statements.len() {
            0 => Err(SqlError::new("empty statement")),
            1 => {
                let statement = statements.remove(0);
                self.execute(&statement).map_err(|e| statement.locate(e))
            }
            _ => Err(SqlError::new("expected one statement")),
        }
    }

    /// Runs one statement of a script.
    ///
    /// The statement's expressions may nest at most
    /// [`MAX_DEPTH`](crate::limits::MAX_DEPTH) deep; it is planned and run on
    /// a thread whose stack takes that. Errors are in the statement's
    /// coordinates (see [`RawStatement::locate`]).
    pub fn execute(&mut self, statement: &RawStatement) -> SqlResult<Output> {
        let text = statement.text.as_str();
        crate::limits::check_depth(text)?;
        let result = std::thread::scope(|scope| {
            let planning = std::thread::Builder::new()
                .name("eddy-sql".into())
                .stack_size(STATEMENT_STACK)
                .spawn_scoped(scope, || self.execute_statement(text))
                .map_err(|e| SqlError::new(format!("cannot start a thread: {e}")))?;
            match planning.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        result.map_err(|e| {
            let e = crate::limits::locate_nesting(e, text);
            let e = crate::exec::failure::locate(e, text);
            unsupported_feature(e, text)
        })
    }

    fn execute_statement(&mut self, text: &str) -> SqlResult<Output> {
        if self.interrupt_clears {
            // A Ctrl-C before the statement started is not meant for it.
            self.interrupt
                .store(false, std::sync::atomic::Ordering::SeqCst);
        } else if self.interrupted() {
            return Err(SqlError::new("the statement was cancelled"));
        }
        self.statement = text.to_string();
        let output = self.dispatch(text)?;
        let w = words(text, 3);
        if matches!(w.first().map(String::as_str), Some("CREATE" | "DROP")) {
            self.catalog_statements.push(text.to_string());
        }
        Ok(output)
    }

    fn dispatch(&mut self, text: &str) -> SqlResult<Output> {
        let w = words(text, 4);
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        match w.as_slice() {
            ["SET", ..] => self.set(text),
            ["RESET", ..] => {
                let key = unquote(text.trim()[5..].trim());
                self.config = {
                    let mut c = Config::new();
                    for (k, v) in self.config.iter() {
                        if k != key {
                            c.set(k, v);
                        }
                    }
                    c
                };
                Ok(Output::Info("Session property has been reset.".into()))
            }
            ["CREATE", "TABLE", ..] | ["CREATE", "TEMPORARY", "TABLE", ..] => {
                self.create_table(text)
            }
            ["CREATE", "VIEW", ..] | ["CREATE", "TEMPORARY", "VIEW", ..] => self.create_view(text),
            ["DROP", kind @ ("TABLE" | "VIEW"), ..]
            | ["DROP", "TEMPORARY", kind @ ("TABLE" | "VIEW"), ..] => {
                self.drop(text, kind == &"VIEW")
            }
            ["SHOW", "TABLES", ..] => Ok(self.show(true, true)),
            ["SHOW", "JOBS"] => Ok(crate::jobs::show_jobs()),
            ["SHOW", "FUNCTIONS"] => Ok(crate::show::functions()),
            // eddy has no user-defined functions yet.
            ["SHOW", "USER", "FUNCTIONS"] => Ok(Output::Rows {
                columns: vec!["function name".into()],
                rows: Vec::new(),
                changelog: false,
            }),
            ["SHOW", "CREATE", ..] => crate::show::create_statement(&self.catalog, text),
            ["SHOW", ..] if crate::show::namespace(&w).is_some() => {
                crate::show::namespace(&w).ok_or_else(|| SqlError::new("SHOW"))
            }
            ["HELP"] => Ok(crate::show::help()),
            ["STOP", "JOB", ..] => crate::jobs::stop_job(text, &self.config),
            ["SHOW", "VIEWS", ..] => Ok(self.show(false, true)),
            ["DESCRIBE" | "DESC", ..] => self.describe(text),
            ["EXPLAIN", ..] => self.explain(text),
            ["INSERT", ..] => {
                let mut planner = self.new_planner()?;
                let table = self.plan_insert(&mut planner, text)?;
                let name = format!("insert-into_{table}");
                if !crate::jobs::dml_sync(&self.config, self.dml_sync_default)? {
                    return self.submit_planned(&planner, &name);
                }
                self.run(&planner, &name)?;
                Ok(Output::Info(format!("Inserted into {table}.")))
            }
            ["EXECUTE", "STATEMENT", "SET", ..] | ["BEGIN", "STATEMENT", "SET", ..] => {
                self.statement_set(text)
            }
            ["SELECT", ..] | ["WITH", ..] | ["VALUES", ..] | ["(", ..] => self.select(text),
            [] => Err(SqlError::new("empty statement")),
            _ => Err(SqlError::at(
                format!(
                    "unsupported statement: {}",
                    text.split_whitespace()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                1,
                1,
            )),
        }
    }

    fn parallelism(&self) -> SqlResult<u32> {
        Ok(self.config.get(&options::PARALLELISM)?)
    }

    fn max_parallelism(&self) -> SqlResult<u32> {
        Ok(self.config.get(&options::MAX_PARALLELISM)?)
    }

    fn state_ttl(&self) -> SqlResult<Option<u64>> {
        match self.config.get_str("table.exec.state.ttl") {
            None => Ok(None),
            Some(v) => {
                let d = eddy_core::time::parse_duration(v).map_err(|_| {
                    SqlError::new(format!(
                        "invalid configuration for 'table.exec.state.ttl': '{v}' is not a \
                         duration (e.g. '1 h', '30 min'; '0' keeps state forever)"
                    ))
                })?;
                Ok((!d.is_zero()).then_some(d.as_millis() as u64))
            }
        }
    }

    /// `table.exec.mini-batch.*` when a job is planned: `None` unless
    /// enabled; then the latency and size must be positive, as Flink requires.
    fn mini_batch(&self) -> SqlResult<Option<MiniBatch>> {
        let (enabled, latency, size, two_phase) = self.mini_batch_values()?;
        if !enabled {
            return Ok(None);
        }
        if latency.is_zero() {
            return Err(SqlError::new(format!(
                "MiniBatch Latency must be greater than 0 ms: set '{MINI_BATCH_LATENCY}' when \
                 '{MINI_BATCH_ENABLED}' is true"
            )));
        }
        if size <= 0 {
            return Err(SqlError::new(format!(
                "'{MINI_BATCH_SIZE}' must be > 0 when '{MINI_BATCH_ENABLED}' is true"
            )));
        }
        Ok(Some(MiniBatch {
            allow_latency_ms: latency.as_millis().max(1) as u64,
            size: size as usize,
            two_phase,
        }))
    }

    /// The values of `table.exec.mini-batch.*` (enabled, latency, size) and
    /// whether `table.optimizer.agg-phase-strategy` allows two phases, each an
    /// error naming its key when it does not parse (checked at `SET`).
    fn mini_batch_values(&self) -> SqlResult<(bool, std::time::Duration, i64, bool)> {
        let enabled = match self.config.get_str(MINI_BATCH_ENABLED) {
            None => false,
            Some(v) => v.trim().parse::<bool>().map_err(|_| {
                SqlError::new(format!(
                    "invalid configuration for '{MINI_BATCH_ENABLED}': '{v}' is not true or false"
                ))
            })?,
        };
        let latency = match self.config.get_str(MINI_BATCH_LATENCY) {
            None => std::time::Duration::ZERO,
            Some(v) => eddy_core::time::parse_duration(v).map_err(|_| {
                SqlError::new(format!(
                    "invalid configuration for '{MINI_BATCH_LATENCY}': '{v}' is not a duration \
                     (e.g. '1 s', '500 ms')"
                ))
            })?,
        };
        let size = match self.config.get_str(MINI_BATCH_SIZE) {
            None => -1,
            Some(v) => v.trim().parse::<i64>().map_err(|_| {
                SqlError::new(format!(
                    "invalid configuration for '{MINI_BATCH_SIZE}': '{v}' is not a number"
                ))
            })?,
        };
        let two_phase = match self.config.get_str(AGG_PHASE_STRATEGY) {
            None => true,
            Some(v) => match v.trim().to_ascii_uppercase().as_str() {
                "AUTO" | "TWO_PHASE" => true,
                "ONE_PHASE" => false,
                _ => {
                    return Err(SqlError::new(format!(
                        "invalid configuration for '{AGG_PHASE_STRATEGY}': '{v}' is not AUTO, \
                         ONE_PHASE or TWO_PHASE"
                    )))
                }
            },
        };
        Ok((enabled, latency, size, two_phase))
    }

    fn set(&mut self, text: &str) -> SqlResult<Output> {
        let rest = text.trim()[3..].trim();
        if rest.is_empty() {
            let rows = self
                .config
                .iter()
                .map(|(k, v)| {
                    (
                        RowKind::Insert,
                        vec![Some(k.to_string()), Some(v.to_string())],
                    )
                })
                .collect();
            return Ok(Output::Rows {
                columns: vec!["key".into(), "value".into()],
                rows,
                changelog: false,
            });
        }
        let Some((key, value)) = rest.split_once('=') else {
            return Err(SqlError::at("SET needs 'key' = 'value'", 1, 1));
        };
        let (key, value) = (unquote(key), unquote(value));
        // A bad value is an error now, naming its key, not when a job starts.
        let mut config = self.config.clone();
        config.set(key.clone(), value);
        eddy_core::config::validate::check(&config)?;
        let previous = std::mem::replace(&mut self.config, config);
        if let Err(e) = self
            .state_ttl()
            .and_then(|_| self.not_null_drops())
            .and_then(|_| self.mini_batch_values())
        {
            self.config = previous;
            return Err(e);
        }
        let known = || {
            let mut known = eddy_core::config::validate::known_keys();
            known.extend(TABLE_KEYS);
            known
        };
        let unknown = !known().contains(&key.as_str()) && !key.starts_with("eddy.internal.");
        Ok(Output::Info(if unknown {
            let hint = eddy_core::config::validate::nearest(&key, &known())
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            format!(
                "Execute statement succeeded. Warning: eddy does not read '{key}'{hint}; it is kept \
                 but has no effect."
            )
        } else {
            "Execute statement succeeded.".into()
        }))
    }

    /// `table.exec.sink.not-null-enforcer`: whether rows with a NULL in a NOT NULL
    /// column are dropped (`DROP`) instead of failing the job (`ERROR`).
    fn not_null_drops(&self) -> SqlResult<bool> {
        match self
            .config
            .get_str("table.exec.sink.not-null-enforcer")
            .map(|v| v.trim().to_ascii_uppercase())
            .as_deref()
        {
            None | Some("ERROR") => Ok(false),
            Some("DROP") => Ok(true),
            Some(other) => Err(SqlError::new(format!(
                "invalid configuration for 'table.exec.sink.not-null-enforcer': '{other}' is \
                 not ERROR or DROP"
            ))),
        }
    }

    fn create_table(&mut self, text: &str) -> SqlResult<Output> {
        let create = ddl::parse_create_table(text)?;
        if let Some((error, key)) =
            crate::connectors::check_options(&create.options, &create.columns)
        {
            return Err(error.with_position(quoted_position(text, &key)));
        }
        if self.catalog.contains(&create.name) {
            if create.if_not_exists {
                return Ok(Output::Info("Execute statement succeeded.".into()));
            }
            return Err(SqlError::new(format!(
                "table {} already exists",
                create.name
            )));
        }
        let mut physical = Vec::new();
        for c in &create.columns {
            if let ColumnSpec::Physical {
                name,
                data_type,
                nullable,
            } = c
            {
                physical.push(Field::new(name, data_type.clone(), *nullable));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for c in &create.columns {
            if !seen.insert(c.name()) {
                return Err(SqlError::new(format!(
                    "table {}: column '{}' is declared twice",
                    create.name,
                    c.name()
                )));
            }
        }
        let physical = Arc::new(Schema::new(physical));
        let physical_df = Arc::new(DFSchema::try_from_qualified_schema(PHYSICAL, &physical)?);
        let planner = Planner::new(&self.catalog).with_physical(physical.clone());
        let scan = planner.scan(PHYSICAL)?;
        let mut exprs = Vec::new();
        let mut computed_text = Vec::new();
        for c in &create.columns {
            match c {
                ColumnSpec::Physical { name, .. } => {
                    exprs.push(Expr::Column(datafusion_common::Column::new(
                        Some(PHYSICAL),
                        name,
                    )));
                    computed_text.push(None);
                }
                ColumnSpec::Computed { name, expr } => {
                    let planned = planner
                        .plan_expr(expr.as_ref().clone(), &physical_df)
                        .map_err(|e| {
                            let position = e.position;
                            SqlError::new(format!("computed column '{name}': {}", e.message))
                                .with_position(position)
                                .with_source(e)
                        })?;
                    exprs.push(planned.alias(name));
                    computed_text.push(Some(expr.to_string()));
                }
            }
        }
        let projection =
            planner.analyze(LogicalPlanBuilder::from(scan).project(exprs)?.build()?)?;
        let LogicalPlan::Projection(p) = &projection else {
            return Err(SqlError::new("computed columns could not be planned"));
        };
        let computed: Vec<Option<Expr>> = p
            .expr
            .iter()
            .zip(&create.columns)
            .map(|(e, c)| match (e, c) {
                (Expr::Alias(a), ColumnSpec::Computed { .. }) => Some(a.expr.as_ref().clone()),
                _ => None,
            })
            .collect();
        let full_df = projection.schema().clone();
        let proctime = create.columns.iter().position(|c| {
            matches!(c, ColumnSpec::Computed { expr, .. } if expr.to_string().to_ascii_uppercase().replace(' ', "") == "PROCTIME()")
        });
        let watermark = match &create.watermark {
            None => None,
            Some((column, expr)) => {
                let Some(index) = full_df.fields().iter().position(|f| f.name() == column) else {
                    return Err(SqlError::new(format!(
                        "the rowtime column '{column}' of the watermark is not a column of {}",
                        create.name
                    )));
                };
                let t = full_df.field(index).data_type();
                if !matches!(
                    t,
                    DataType::Timestamp(TimeUnit::Millisecond | TimeUnit::Second, _)
                ) {
                    return Err(SqlError::new(format!(
                        "the rowtime column '{column}' must be TIMESTAMP(p) or TIMESTAMP_LTZ(p) with p from 0 to 3, not {}",
                        sql_name(t)
                    )));
                }
                let planned = planner.plan_expr(expr.clone(), &full_df)?;
                let plan = planner.analyze(
                    LogicalPlanBuilder::from(projection.clone())
                        .project(vec![planned])?
                        .build()?,
                )?;
                let LogicalPlan::Projection(wp) = &plan else {
                    return Err(SqlError::new("the watermark could not be planned"));
                };
                let wexpr = wp.expr[0].clone();
                let wt = wp.schema.field(0).data_type();
                if !matches!(wt, DataType::Timestamp(_, _)) {
                    return Err(SqlError::new(format!(
                        "the watermark expression must return a timestamp, not {}",
                        sql_name(wt)
                    )));
                }
                Some(WatermarkDef {
                    column: index,
                    expr: wexpr,
                    text: expr.to_string(),
                })
            }
        };
        if !create.options.contains_key("connector") {
            return Err(SqlError::new(format!(
                "table {} needs the option 'connector'",
                create.name
            )));
        }
        let schema = Arc::new(full_df.as_arrow().clone());
        let def = TableDef {
            name: create.name.clone(),
            physical,
            schema,
            physical_df,
            full_df,
            computed,
            watermark,
            proctime,
            primary_key: create.primary_key.clone(),
            metadata: create.metadata.clone(),
            virtual_metadata: create.virtual_metadata.clone(),
            options: create.options.clone(),
            computed_text,
        };
        self.catalog.tables.insert(create.name, Arc::new(def));
        Ok(Output::Info("Execute statement succeeded.".into()))
    }

    fn create_view(&mut self, text: &str) -> SqlResult<Output> {
        let view = ddl::parse_create_view(text)?;
        if self.catalog.contains(&view.name) {
            if view.if_not_exists {
                return Ok(Output::Info("Execute statement succeeded.".into()));
            }
            return Err(SqlError::new(format!("view {} already exists", view.name)));
        }
        let offset = text.len() - view.query.len();
        let (line, column) = position_of(text, offset);
        let mut plan = Planner::new(&self.catalog)
            .plan_query(&view.query)
            .map_err(|e| e.offset(line, column))?;
        if !view.columns.is_empty() {
            if view.columns.len() != plan.schema().fields().len() {
                return Err(SqlError::new(format!(
                    "view {} names {} columns but its query has {}",
                    view.name,
                    view.columns.len(),
                    plan.schema().fields().len()
                )));
            }
            let exprs: Vec<Expr> = plan
                .schema()
                .columns()
                .into_iter()
                .zip(&view.columns)
                .map(|(c, n)| Expr::Column(c).alias(n))
                .collect();
            plan = LogicalPlanBuilder::from(plan).project(exprs)?.build()?;
        }
        self.catalog.views.insert(
            view.name.clone(),
            Arc::new(ViewDef {
                name: view.name,
                plan,
                query: view.query,
            }),
        );
        Ok(Output::Info("Execute statement succeeded.".into()))
    }

    fn drop(&mut self, text: &str, view: bool) -> SqlResult<Output> {
        let mut parts: Vec<&str> = text.split_whitespace().skip(2).collect();
        if parts
            .first()
            .is_some_and(|p| p.eq_ignore_ascii_case("TABLE") || p.eq_ignore_ascii_case("VIEW"))
        {
            parts.remove(0);
        }
        let if_exists = parts.len() >= 3
            && parts[0].eq_ignore_ascii_case("IF")
            && parts[1].eq_ignore_ascii_case("EXISTS");
        let name = unquote(parts.last().copied().unwrap_or_default());
        let removed = if view {
            self.catalog.views.remove(&name).is_some()
        } else {
            self.catalog.tables.remove(&name).is_some()
        };
        if !removed && !if_exists {
            let kind = if view { "view" } else { "table" };
            let at = position_of_word(text, 0, &name);
            return Err(SqlError::new(format!("{kind} {name} does not exist")).with_position(at));
        }
        Ok(Output::Info("Execute statement succeeded.".into()))
    }

    fn show(&self, tables: bool, views: bool) -> Output {
        let mut names: Vec<String> = Vec::new();
        if tables {
            names.extend(self.catalog.tables.keys().cloned());
        }
        if views {
            names.extend(self.catalog.views.keys().cloned());
        }
        names.sort();
        let header = if tables { "table name" } else { "view name" };
        Output::Rows {
            columns: vec![header.into()],
            rows: names
                .into_iter()
                .map(|n| (RowKind::Insert, vec![Some(n)]))
                .collect(),
            changelog: false,
        }
    }

    fn describe(&self, text: &str) -> SqlResult<Output> {
        let name = unquote(text.split_whitespace().nth(1).unwrap_or_default());
        let columns = vec!["name", "type", "null", "key", "extras", "watermark"]
            .into_iter()
            .map(String::from)
            .collect();
        let mut rows = Vec::new();
        if let Some(t) = self.catalog.tables.get(&name) {
            for (i, f) in t.full_df.fields().iter().enumerate() {
                let key = t
                    .primary_key
                    .iter()
                    .any(|k| k == f.name())
                    .then(|| format!("PRI({})", t.primary_key.join(", ")));
                let mut ty = sql_name(f.data_type());
                if t.watermark.as_ref().is_some_and(|w| w.column == i) {
                    ty.push_str(" *ROWTIME*");
                }
                if t.proctime == Some(i) {
                    ty = "TIMESTAMP_LTZ(3) *PROCTIME*".into();
                }
                let nullable = t
                    .physical
                    .field_with_name(f.name())
                    .map_or(true, |p| p.is_nullable())
                    && key.is_none();
                let extras = t.computed_text[i].as_ref().map(|c| format!("AS {c}"));
                let watermark = t
                    .watermark
                    .as_ref()
                    .filter(|w| w.column == i)
                    .map(|w| w.text.clone());
                rows.push((
                    RowKind::Insert,
                    vec![
                        Some(f.name().clone()),
                        Some(ty),
                        Some(if nullable { "TRUE" } else { "FALSE" }.into()),
                        key,
                        extras,
                        watermark,
                    ],
                ));
            }
        } else if let Some(v) = self.catalog.views.get(&name) {
            for f in v.plan.schema().fields() {
                rows.push((
                    RowKind::Insert,
                    vec![
                        Some(f.name().clone()),
                        Some(sql_name(f.data_type())),
                        Some(if f.is_nullable() { "TRUE" } else { "FALSE" }.into()),
                        None,
                        None,
                        None,
                    ],
                ));
            }
        } else {
            let at = position_of_word(text, 0, &name);
            return Err(SqlError::new(format!("Object '{name}' not found")).with_position(at));
        }
        Ok(Output::Rows {
            columns,
            rows,
            changelog: false,
        })
    }

    fn explain(&mut self, text: &str) -> SqlResult<Output> {
        let mut rest = text.trim()[7..].trim_start();
        if rest.to_ascii_uppercase().starts_with("PLAN FOR") {
            rest = rest[8..].trim_start();
        }
        let offset = text.len() - rest.len();
        let (line, column) = position_of(text, offset);
        let locate = |e: SqlError| e.offset(line, column);
        let mut planner = self.new_planner()?;
        let logical = if rest.to_ascii_uppercase().starts_with("INSERT") {
            let (plan, _) = self.plan_insert_logical(rest).map_err(locate)?;
            self.plan_insert(&mut planner, rest).map_err(locate)?;
            plan
        } else {
            let plan = Planner::new(&self.catalog)
                .plan_query(rest)
                .map_err(locate)?;
            planner.translate(&plan).map_err(locate)?;
            plan
        };
        Ok(Output::Text(format!(
            "== Logical Plan ==\n{}\n\n== Stream Graph ==\n{}\n",
            logical.display_indent(),
            planner.describe()
        )))
    }

    fn plan_insert_logical(&self, text: &str) -> SqlResult<(LogicalPlan, Arc<TableDef>)> {
        // INSERT INTO name [(columns)] query
        let mut rest = text.trim();
        for word in ["INSERT", "INTO"] {
            if !rest.to_ascii_uppercase().starts_with(word) {
                if word == "INTO" && rest.to_ascii_uppercase().starts_with("OVERWRITE") {
                    return Err(SqlError::unsupported("INSERT OVERWRITE on a streaming job"));
                }
                return Err(SqlError::at(format!("expected {word}"), 1, 1));
            }
            rest = rest[word.len()..].trim_start();
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(rest.len());
        let name = unquote(&rest[..name_end]);
        let name = name.rsplit('.').next().unwrap_or_default().to_string();
        rest = rest[name_end..].trim_start();
        let Some(table) = self.catalog.tables.get(&name).cloned() else {
            let what = if self.catalog.views.contains_key(&name) {
                "is a view and cannot be written to"
            } else {
                "not found"
            };
            let at = position_of_word(text, 0, &name);
            return Err(SqlError::new(format!("table '{name}' {what}")).with_position(at));
        };
        let mut columns: Option<Vec<String>> = None;
        if rest.starts_with('(') {
            let close = rest
                .find(')')
                .ok_or_else(|| SqlError::new("unclosed column list"))?;
            columns = Some(rest[1..close].split(',').map(unquote).collect());
            rest = rest[close + 1..].trim_start();
        }
        let offset = text.len() - rest.len();
        let (line, column) = position_of(text, offset);
        let mut plan = Planner::new(&self.catalog)
            .plan_query(rest)
            .map_err(|e| e.offset(line, column))?;
        // Map the query's columns onto the sink's columns, with casts.
        let sink = &table.sink_schema();
        let targets: Vec<usize> = match &columns {
            None => (0..sink.fields().len()).collect(),
            Some(cols) => cols
                .iter()
                .map(|c| {
                    sink.fields()
                        .iter()
                        .position(|f| f.name() == c)
                        .ok_or_else(|| {
                            let what = if table.virtual_metadata.contains(c) {
                                "a VIRTUAL metadata column, which is never written"
                            } else {
                                "not a physical column"
                            };
                            SqlError::new(format!("column '{c}' of {name} is {what}"))
                        })
                })
                .collect::<SqlResult<_>>()?,
        };
        let query_columns = plan.schema().columns();
        if query_columns.len() != targets.len() {
            return Err(SqlError::new(format!(
                "the query has {} columns but table {name} takes {} ({})",
                query_columns.len(),
                targets.len(),
                targets
                    .iter()
                    .map(|&t| sink.field(t).name().clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut exprs: Vec<Expr> = sink
            .fields()
            .iter()
            .map(|f| {
                Expr::Literal(
                    datafusion_common::ScalarValue::try_from(f.data_type())
                        .unwrap_or(datafusion_common::ScalarValue::Null),
                    None,
                )
                .alias(f.name())
            })
            .collect();
        for (q, &t) in query_columns.into_iter().zip(&targets) {
            let field = sink.field(t);
            let source_type = plan
                .schema()
                .qualified_field_from_column(&q)?
                .1
                .data_type()
                .clone();
            let expr = Expr::Column(q);
            let expr = if &source_type == field.data_type() {
                expr
            } else if arrow::compute::can_cast_types(&source_type, field.data_type()) {
                Expr::Cast(datafusion_expr::Cast::new(
                    Box::new(expr),
                    field.data_type().clone(),
                ))
            } else {
                return Err(SqlError::new(format!(
                    "column '{}' of table {name} is {} and cannot take a {}",
                    field.name(),
                    sql_name(field.data_type()),
                    sql_name(&source_type)
                )));
            };
            exprs[t] = expr.alias(field.name());
        }
        plan = LogicalPlanBuilder::from(plan).project(exprs)?.build()?;
        Ok((plan, table))
    }

    fn plan_insert(&self, planner: &mut StreamPlanner, text: &str) -> SqlResult<String> {
        let (plan, table) = self.plan_insert_logical(text)?;
        let stream = planner.translate(&plan)?;
        self.add_table_sink(planner, &stream, &table)?;
        Ok(table.name.clone())
    }

    fn add_table_sink(
        &self,
        planner: &mut StreamPlanner,
        stream: &Stream,
        table: &Arc<TableDef>,
    ) -> SqlResult<()> {
        let name = table.name.clone();
        let sink_schema = table.sink_schema();
        let names: Vec<String> = sink_schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let not_null: Vec<(usize, String)> = sink_schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.is_nullable())
            .map(|(i, f)| (i, f.name().clone()))
            .collect();
        let enforced;
        let stream = if not_null.is_empty() {
            stream
        } else {
            let drop = self.not_null_drops()?;
            enforced = planner.enforce_not_null(stream, not_null, drop);
            &enforced
        };
        let connector = table.option("connector").unwrap_or_default().to_string();
        // The metadata columns written (not VIRTUAL), and the keys they write.
        let (metadata_columns, metadata_keys): (Vec<String>, Vec<String>) = table
            .metadata
            .iter()
            .filter(|(column, _)| !table.virtual_metadata.contains(*column))
            .map(|(column, key)| (column.clone(), key.clone()))
            .unzip();
        let writable = crate::connectors::registry::lookup(&connector)
            .map_or(&[][..], |c| c.writable_metadata_keys());
        if let Some((column, key)) = metadata_columns
            .iter()
            .zip(&metadata_keys)
            .find(|(_, key)| !writable.contains(&key.as_str()))
        {
            let keys = if writable.is_empty() {
                "none".to_string()
            } else {
                writable.join(", ")
            };
            return Err(SqlError::unsupported(format!(
                "writing the METADATA column {column} ('{key}') of table {name}: the '{connector}' connector writes these metadata keys: {keys} (declare the column VIRTUAL to only read it)"
            )));
        }
        let reject_updates = |what: &str| -> SqlResult<()> {
            if stream.updating {
                return Err(SqlError::new(format!(
                    "table sink '{name}' doesn't support consuming update and delete changes, which {} produces; {what}",
                    stream.updated_by.clone().unwrap_or_else(|| "the query".into())
                )));
            }
            Ok(())
        };
        match connector.as_str() {
            "print" => {
                let prefix = table.option("print-identifier").map(|p| format!("{p}:"));
                planner.add_sink(
                    &format!("Sink(table=[{name}], connector=[print])"),
                    stream,
                    move |_| {
                        let prefix = prefix.clone();
                        let format: Arc<dyn Fn(&String) -> String + Send + Sync> =
                            Arc::new(move |line: &String| match &prefix {
                                Some(p) => format!("{p}{line}"),
                                None => line.clone(),
                            });
                        TableSinkOperator::writer(
                            Box::new(PrintSink::new(format)),
                            LineFormat::Print,
                            names.clone(),
                        )
                    },
                );
            }
            "blackhole" => {
                planner.add_sink(
                    &format!("Sink(table=[{name}], connector=[blackhole])"),
                    stream,
                    move |_| TableSinkOperator::discard(names.clone()),
                );
            }
            "filesystem" if table.option("format") == Some("avro") => {
                let path = table
                    .option("path")
                    .ok_or_else(|| SqlError::new(format!("table {name} needs the option 'path'")))?
                    .to_string();
                reject_updates(
                    "Avro files are append-only; write the changes to 'format' = 'debezium-json'",
                )?;
                let codec = crate::connectors::avro::files::codec(&name, &table.options)?;
                let parts =
                    crate::connectors::avro::files::parts(&name, sink_schema.clone(), codec)?;
                let roll = table
                    .option("sink.rolling-policy.file-size")
                    .map(parse_size)
                    .transpose()?;
                planner.add_sink(
                    &format!("Sink(table=[{name}], connector=[filesystem], format=[avro])"),
                    stream,
                    move |_| {
                        let mut sink = FileSink::with_parts(path.clone(), parts.clone());
                        if let Some(bytes) = roll {
                            sink = sink.with_roll_size(bytes);
                        }
                        TableSinkOperator::rows(Box::new(sink), names.clone())
                    },
                );
            }
            "filesystem" if table.option("format") == Some("parquet") => {
                let path = table
                    .option("path")
                    .ok_or_else(|| SqlError::new(format!("table {name} needs the option 'path'")))?
                    .to_string();
                reject_updates("Parquet files are append-only; write the changes to 'format' = 'debezium-json'")?;
                let compression = crate::connectors::parquet::compression(&name, &table.options)?;
                let parts = crate::connectors::parquet::parts(table.physical.clone(), compression);
                let roll = table
                    .option("sink.rolling-policy.file-size")
                    .map(parse_size)
                    .transpose()?;
                planner.add_sink(
                    &format!("Sink(table=[{name}], connector=[filesystem], format=[parquet])"),
                    stream,
                    move |_| {
                        let mut sink = FileSink::with_parts(path.clone(), parts.clone());
                        if let Some(bytes) = roll {
                            sink = sink.with_roll_size(bytes);
                        }
                        TableSinkOperator::rows(Box::new(sink), names.clone())
                    },
                );
            }
            "filesystem" => {
                let path = table
                    .option("path")
                    .ok_or_else(|| SqlError::new(format!("table {name} needs the option 'path'")))?
                    .to_string();
                let format = FileFormat::from_options(&name, &table.options)?;
                let line = LineFormat::for_file(&name, &table.options)?;
                if !format.is_changelog() {
                    reject_updates(
                        "write it to a changelog format such as 'format' = 'debezium-json'",
                    )?;
                }
                let roll = table
                    .option("sink.rolling-policy.file-size")
                    .map(parse_size)
                    .transpose()?;
                let interval = table
                    .option("sink.rolling-policy.rollover-interval")
                    .map(eddy_core::time::parse_duration)
                    .transpose()?;
                planner.add_sink(
                    &format!("Sink(table=[{name}], connector=[filesystem])"),
                    stream,
                    move |_| {
                        let mut sink = FileSink::of_lines(path.clone());
                        if let Some(bytes) = roll {
                            sink = sink.with_roll_size(bytes);
                        }
                        if let Some(d) = interval {
                            sink = sink.with_rollover_interval(d);
                        }
                        TableSinkOperator::file(Box::new(sink), line.clone(), names.clone())
                    },
                );
            }
            "" => {
                return Err(SqlError::new(format!(
                    "table {name} has no 'connector' option"
                )))
            }
            "datagen" | "nexmark" => {
                return Err(SqlError::new(format!(
                    "table {name} uses the '{connector}' connector, which can only be read"
                )))
            }
            other => {
                let Some(connector) = crate::connectors::registry::lookup(other) else {
                    return Err(SqlError::unsupported(format!(
                        "connector '{other}' of table {name} (eddy writes to filesystem, print and blackhole{})",
                        crate::connectors::registry::names()
                            .iter()
                            .map(|n| format!(", {n}"))
                            .collect::<String>()
                    )));
                };
                let described = crate::connectors::registry::ConnectorTable {
                    name: &name,
                    options: &table.options,
                    primary_key: &table.primary_key,
                    columns: &names,
                    schema: &sink_schema,
                    metadata: &metadata_keys,
                    metadata_columns: &metadata_columns,
                };
                if connector.batches() {
                    if table.primary_key.is_empty() {
                        reject_updates(
                            "declare a PRIMARY KEY (..) NOT ENFORCED on the table to upsert and delete by it",
                        )?;
                    }
                    let writers = connector.batch_sink(described, &sink_schema)?;
                    planner.add_sink(
                        &format!("Sink(table=[{name}], connector=[{other}])"),
                        stream,
                        move |i| TableSinkOperator::rows(writers(i), names.clone()),
                    );
                    return Ok(());
                }
                let options =
                    crate::connectors::registry::with_format(connector.as_ref(), &table.options);
                let format = FileFormat::from_options(&name, &options)?;
                let line = LineFormat::for_file(&name, &options)?;
                if !format.is_changelog() {
                    reject_updates(
                        "write it to a changelog format such as 'format' = 'debezium-json'",
                    )?;
                }
                let writers = connector.sink(described)?;
                planner.add_sink(
                    &format!("Sink(table=[{name}], connector=[{other}])"),
                    stream,
                    move |i| TableSinkOperator::writer(writers(i), line.clone(), names.clone()),
                );
            }
        }
        Ok(())
    }

    fn statement_set(&mut self, text: &str) -> SqlResult<Output> {
        let upper = text.to_ascii_uppercase();
        let begin = upper.find("BEGIN").map(|i| i + 5).unwrap_or(0);
        let begin = if upper[begin..].trim_start().starts_with("STATEMENT SET") {
            begin + upper[begin..].find("SET").map_or(0, |i| i + 3)
        } else {
            begin
        };
        let end = upper.rfind("END").unwrap_or(text.len());
        let body = &text[begin..end];
        let (line0, col0) = position_of(text, begin);
        let mut planner = self.new_planner()?;
        let mut tables = Vec::new();
        for statement in script::split(body)? {
            if !statement
                .text
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("INSERT")
            {
                return Err(statement
                    .locate(SqlError::at(
                        "a statement set holds only INSERT statements",
                        1,
                        1,
                    ))
                    .offset(line0, col0));
            }
            let table = self
                .plan_insert(&mut planner, &statement.text)
                .map_err(|e| statement.locate(e).offset(line0, col0))?;
            tables.push(table);
        }
        if tables.is_empty() {
            return Err(SqlError::new("the statement set is empty"));
        }
        let name = format!("insert-into_{}", tables.join("_"));
        if !crate::jobs::dml_sync(&self.config, self.dml_sync_default)? {
            return self.submit_planned(&planner, &name);
        }
        self.run(&planner, &name)?;
        Ok(Output::Info(format!(
            "Inserted into {}.",
            tables.join(", ")
        )))
    }

    fn select(&mut self, text: &str) -> SqlResult<Output> {
        let plan = Planner::new(&self.catalog).plan_query(text)?;
        if let LogicalPlan::Limit(limit) = &plan {
            use datafusion_expr::logical_plan::{FetchType, SkipType};
            let skip = match limit.get_skip_type()? {
                SkipType::Literal(n) => n,
                SkipType::UnsupportedExpr => return Err(SqlError::new("OFFSET must be a number")),
            };
            let fetch = match limit.get_fetch_type()? {
                FetchType::Literal(n) => n,
                FetchType::UnsupportedExpr => return Err(SqlError::new("LIMIT must be a number")),
            };
            return self.select_limited(&limit.input, skip, fetch);
        }
        let mut planner = self.new_planner()?;
        let stream = planner.translate(&plan)?;
        let columns: Vec<String> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let rows: Collected = Arc::new(Mutex::new(Vec::new()));
        let names = columns.clone();
        let collected = rows.clone();
        planner.add_sink("Collect", &stream, move |_| {
            TableSinkOperator::collect(collected.clone(), names.clone())
        });
        let take = || -> SqlResult<Vec<(RowKind, Vec<Option<String>>)>> {
            Ok(std::mem::take(
                &mut *rows
                    .lock()
                    .map_err(|_| SqlError::new("result buffer poisoned"))?,
            ))
        };
        let Some(mut listener) = self.listener.take() else {
            self.run(&planner, "collect")?;
            return Ok(Output::Rows {
                columns,
                rows: take()?,
                changelog: true,
            });
        };
        // Stream the rows while the job runs.
        let mut counters = BTreeMap::new();
        let streamed = (|| -> SqlResult<usize> {
            let client = MiniCluster::new(self.config.clone())
                .execute_async(planner.job.to_spec("collect"))?;
            // The first rows wait up to half a second for more, so that a
            // short query prints one table fitted to all its rows.
            let (mut count, mut pending, mut first) = (0, Vec::new(), None);
            let mut flushing = false;
            // Polls soon after the start (a short query ends in milliseconds),
            // then every 100 ms at most.
            let mut pause = std::time::Duration::from_millis(1);
            loop {
                if self.interrupted() {
                    client.cancel();
                    let _ = client.wait();
                    return Err(SqlError::new("the query was cancelled"));
                }
                let running = !client.status().is_terminal();
                pending.extend(take()?);
                if !pending.is_empty() {
                    let since = *first.get_or_insert_with(std::time::Instant::now);
                    flushing |= since.elapsed() >= std::time::Duration::from_millis(500);
                }
                if !running {
                    break;
                }
                if flushing && !pending.is_empty() {
                    count += pending.len();
                    listener(ResultEvent::Rows {
                        columns: &columns,
                        rows: &std::mem::take(&mut pending),
                    });
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            counters = client.wait()?.counters;
            pending.extend(take()?);
            if !pending.is_empty() {
                count += pending.len();
                listener(ResultEvent::Rows {
                    columns: &columns,
                    rows: &pending,
                });
            }
            listener(ResultEvent::End {
                columns: &columns,
                count,
            });
            Ok(count)
        })();
        self.listener = Some(listener);
        self.last_counters = counters;
        Ok(Output::Streamed(streamed?))
    }

    /// `SELECT ... [LIMIT n] [OFFSET m]` at the top of a query: the first rows
    /// of an append-only result, after which the job is cancelled (so a limit
    /// ends a query over an unbounded table).
    fn select_limited(
        &mut self,
        plan: &LogicalPlan,
        skip: usize,
        fetch: Option<usize>,
    ) -> SqlResult<Output> {
        let mut planner = self.new_planner()?;
        let stream = planner.translate(plan)?;
        let columns: Vec<String> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let rows: Collected = Arc::new(Mutex::new(Vec::new()));
        let (names, collected) = (columns.clone(), rows.clone());
        planner.add_sink("Collect", &stream, move |_| {
            TableSinkOperator::collect(collected.clone(), names.clone())
        });
        let client =
            MiniCluster::new(self.config.clone()).execute_async(planner.job.to_spec("collect"))?;
        let wanted = fetch.map(|n| n.saturating_add(skip));
        let mut kept: Vec<(RowKind, Vec<Option<String>>)> = Vec::new();
        loop {
            let done = client.is_done();
            let batch = std::mem::take(
                &mut *rows
                    .lock()
                    .map_err(|_| SqlError::new("result buffer poisoned"))?,
            );
            if batch.iter().any(|(kind, _)| *kind != RowKind::Insert) {
                client.cancel();
                let _ = client.wait();
                return Err(SqlError::new(
                    "LIMIT on an updating query is not supported: it applies to append-only results",
                ));
            }
            kept.extend(batch);
            let enough = wanted.is_some_and(|n| kept.len() >= n);
            if enough || done {
                if !done {
                    client.cancel();
                }
                match client.wait() {
                    Ok(result) => self.last_counters = result.counters,
                    Err(eddy_core::Error::Cancelled) if enough => {}
                    Err(e) => return Err(e.into()),
                }
                break;
            }
            if self.interrupted() {
                client.cancel();
                let _ = client.wait();
                return Err(SqlError::new("the query was cancelled"));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let end = wanted.unwrap_or(kept.len()).min(kept.len());
        let rows = kept.drain(skip.min(end)..end).collect();
        Ok(Output::Rows {
            columns,
            rows,
            changelog: false,
        })
    }

    /// Runs a planned job to its end; an interrupt cancels it.
    fn run(&mut self, planner: &StreamPlanner, name: &str) -> SqlResult<()> {
        self.last_counters.clear();
        let spec = if name == "collect" {
            // Collected rows come back through this process's memory: the job
            // runs here, never on a cluster.
            planner.job.to_spec(name)
        } else {
            self.job_spec(planner, name)
        };
        if let Some(capture) = &mut self.capture {
            *capture = Some(spec);
            return Ok(());
        }
        let client = self.cluster().execute_async(spec)?;
        while !client.is_done() {
            if self.interrupted() {
                client.cancel();
                let _ = client.wait();
                return Err(SqlError::new("the statement was cancelled"));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let result = client.wait()?;
        self.last_counters = result.counters;
        Ok(())
    }

    /// Starts a planned job in the background.
    fn submit_planned(&mut self, planner: &StreamPlanner, name: &str) -> SqlResult<Output> {
        let spec = self.job_spec(planner, name);
        if let Some(capture) = &mut self.capture {
            *capture = Some(spec);
            return Ok(Output::Info(String::new()));
        }
        let client = self.cluster().execute_async(spec)?;
        Ok(self.background.submit(client))
    }

    /// Starts an `INSERT` without waiting for it: the client reports status and
    /// counters, cancels, and takes savepoints.
    pub fn submit(&mut self, sql: &str) -> SqlResult<JobClient> {
        let statements = script::split(sql)?;
        let [statement] = statements.as_slice() else {
            return Err(SqlError::new("expected one INSERT statement"));
        };
        if !statement
            .text
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("INSERT")
        {
            return Err(SqlError::new(
                "only INSERT statements run in the background",
            ));
        }
        self.statement = statement.text.clone();
        let mut spec = self.insert_job(statement)?;
        spec.artifact = Some(self.artifact());
        Ok(self.cluster().execute_async(spec)?)
    }

    /// The job one `INSERT` statement runs, planned but not started.
    fn insert_job(&self, statement: &RawStatement) -> SqlResult<eddy_runtime::JobSpec> {
        crate::limits::check_depth(&statement.text).map_err(|e| statement.locate(e))?;
        let mut planner = self.new_planner()?;
        let table = self
            .plan_insert(&mut planner, &statement.text)
            .map_err(|e| statement.locate(e))?;
        Ok(planner.job.to_spec(&format!("insert-into_{table}")))
    }

    /// A streaming planner with the session's parallelism, max parallelism and
    /// state TTL.
    fn new_planner(&self) -> SqlResult<StreamPlanner> {
        Ok(StreamPlanner::new(
            self.parallelism()?,
            self.max_parallelism()?,
            self.state_ttl()?,
        )
        .with_mini_batch(self.mini_batch()?))
    }
}

fn parse_size(text: &str) -> SqlResult<u64> {
    let t = text.trim().to_ascii_lowercase();
    let (digits, unit): (String, String) = t.chars().partition(|c| c.is_ascii_digit());
    let n: u64 = digits
        .parse()
        .map_err(|_| SqlError::new(format!("'{text}' is not a size such as 128mb")))?;
    let factor = match unit.trim() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        other => {
            return Err(SqlError::new(format!(
                "unknown size unit '{other}' in '{text}'"
            )))
        }
    };
    Ok(n * factor)
}

/// Line and column (from 1) of a byte offset.
fn position_of(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    (line, column)
}

/// The stack of the thread a statement is planned on: planning, type coercion
/// and DataFusion's rewrites recurse once per level of an expression, up to
/// [`MAX_DEPTH`](crate::limits::MAX_DEPTH) levels, with large frames in debug
/// builds. Reserved, not committed: only what is touched costs memory.
const STATEMENT_STACK: usize = 256 << 20;

/// The position of the first word `name` (without its qualifier, quotes
/// removed) in `text`, from `from` on (a byte offset).
fn position_of_word(text: &str, from: usize, name: &str) -> Option<crate::error::Position> {
    let tokens = script::tokenize(text).ok()?;
    let (line, column) = position_of(text, from);
    let bare = name.rsplit('.').next().unwrap_or(name);
    tokens
        .iter()
        .filter(|t| (t.span.start.line, t.span.start.column) >= (line, column))
        .find(|t| {
            matches!(&t.token, datafusion_sql::sqlparser::tokenizer::Token::Word(w) if w.value == bare)
        })
        .and_then(|t| crate::error::Position::new(t.span.start.line, t.span.start.column))
}

/// The first word of `words` (in order, as consecutive significant tokens) in
/// `text`.
fn position_of_words(text: &str, words: &[&str]) -> Option<crate::error::Position> {
    use datafusion_sql::sqlparser::tokenizer::Token;
    let tokens = script::tokenize(text).ok()?;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    (0..significant.len())
        .find(|&i| {
            words.iter().enumerate().all(|(k, w)| {
                significant.get(i + k).is_some_and(|t| match &t.token {
                    Token::Word(word) => word.value.eq_ignore_ascii_case(w),
                    Token::LParen => *w == "(",
                    _ => false,
                })
            })
        })
        .and_then(|i| {
            let at = significant[i].span.start;
            crate::error::Position::new(at.line, at.column)
        })
}

/// Says which unsupported feature a planner error is about, in one sentence,
/// with its position in the statement `text`.
fn unsupported_feature(e: SqlError, text: &str) -> SqlError {
    let m = e.message.clone();
    let (message, position) = if m.contains("MatchRecognize") {
        (
            "unsupported: MATCH_RECOGNIZE (pattern recognition over rows)".to_string(),
            position_of_words(text, &["MATCH_RECOGNIZE"]),
        )
    } else if m.contains("GroupingSet") {
        let found = [
            ("GROUPING SETS", &["GROUPING", "SETS"][..]),
            ("CUBE", &["CUBE", "("][..]),
            ("ROLLUP", &["ROLLUP", "("][..]),
        ]
        .into_iter()
        .find_map(|(name, words)| position_of_words(text, words).map(|p| (name, p)));
        match found {
            Some((name, p)) => (format!("unsupported: GROUP BY {name}"), Some(p)),
            None => (
                "unsupported: GROUP BY GROUPING SETS, CUBE or ROLLUP".into(),
                None,
            ),
        }
    } else if m.contains("Unsupported Interval Expression") {
        (
            "unsupported: INTERVAL with a range of units such as HOUR TO SECOND (write one unit, as INTERVAL '90' MINUTE)".to_string(),
            position_of_words(text, &["INTERVAL"]),
        )
    } else if m.contains("Dot access not supported") {
        (
            "unsupported: '.' on an expression that is not a ROW".to_string(),
            e.position,
        )
    } else {
        return e;
    };
    let mut e = e;
    e.message = message;
    e.position = position.or(e.position);
    e
}

/// The position of the string literal `'key'` in `text`.
fn quoted_position(text: &str, key: &str) -> Option<crate::error::Position> {
    use datafusion_sql::sqlparser::tokenizer::Token;
    script::tokenize(text)
        .ok()?
        .iter()
        .find(|t| matches!(&t.token, Token::SingleQuotedString(s) if s == key))
        .and_then(|t| crate::error::Position::new(t.span.start.line, t.span.start.column))
}
