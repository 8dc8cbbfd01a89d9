//! The StreamExecutionEnvironment: where a job is built and executed.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use eddy_connectors::nexmark::{Event, NexmarkConfig};
use eddy_connectors::{
    CollectionSource, GeneratorSource, NexmarkSource, SocketTextSource, TextFileSource, TextLine,
};
use eddy_core::config::options;
use eddy_core::graph::VertexKind;
use eddy_core::time::{Clock, SystemClock};
use eddy_core::{Config, Records, Result, Timestamp};
use eddy_runtime::{
    Counters, JobClient, JobExecutionResult, JobSpec, MiniCluster, SourceReader, SourceVertex,
};

use crate::datastream::DataStream;
use eddy_runtime::graph_builder::GraphBuilder;

pub(crate) struct EnvInner {
    pub config: Config,
    pub graph: GraphBuilder,
    pub counters: Counters,
    pub clock: Arc<dyn Clock>,
}

/// Builds and runs a streaming job.
///
/// ```
/// use eddy::prelude::*;
/// let env = StreamExecutionEnvironment::new();
/// let out = env
///     .from_collection(vec![1, 2, 3, 4])
///     .map(|x| x * 10)
///     .filter(|x| *x > 10)
///     .collect_vec();
/// env.execute("doc").unwrap();
/// let mut values = out.take();
/// values.sort();
/// assert_eq!(values, vec![20, 30, 40]);
/// ```
#[derive(Clone)]
pub struct StreamExecutionEnvironment {
    pub(crate) inner: Rc<RefCell<EnvInner>>,
}

impl Default for StreamExecutionEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamExecutionEnvironment {
    /// A local environment with the default configuration.
    pub fn new() -> Self {
        Self::with_config(Config::new())
    }

    /// A local environment with a configuration (Flink's keys). In an
    /// [`application`](crate::application)'s cluster processes, `config` goes
    /// over the cluster's configuration.
    pub fn with_config(config: Config) -> Self {
        let config = match crate::application::base_config() {
            Some(mut base) => {
                for (key, value) in config.iter() {
                    base.set(key, value);
                }
                base
            }
            None => config,
        };
        StreamExecutionEnvironment {
            inner: Rc::new(RefCell::new(EnvInner {
                config,
                graph: GraphBuilder::new(""),
                counters: Counters::default(),
                clock: Arc::new(SystemClock),
            })),
        }
    }

    /// Sets the default parallelism of operators (`parallelism.default`).
    pub fn set_parallelism(&self, parallelism: u32) -> &Self {
        self.inner
            .borrow_mut()
            .config
            .set(options::PARALLELISM.key, parallelism.to_string());
        self
    }

    /// Sets the number of key groups (`pipeline.max-parallelism`).
    pub fn set_max_parallelism(&self, max_parallelism: u32) -> &Self {
        self.inner
            .borrow_mut()
            .config
            .set(options::MAX_PARALLELISM.key, max_parallelism.to_string());
        self
    }

    /// Sets a configuration key.
    pub fn configure(&self, key: &str, value: &str) -> &Self {
        self.inner.borrow_mut().config.set(key, value);
        self
    }

    /// Uses `clock` as processing time (timers, TTL, watermark intervals); tests
    /// pass a [`ManualClock`](eddy_core::time::ManualClock).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) -> &Self {
        self.inner.borrow_mut().clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> Config {
        self.inner.borrow().config.clone()
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> Result<u32> {
        self.inner.borrow().config.get(&options::PARALLELISM)
    }

    pub(crate) fn max_parallelism(&self) -> Result<u32> {
        self.inner.borrow().config.get(&options::MAX_PARALLELISM)
    }

    /// Registers `T` as a record type that may cross processes, between the
    /// TaskManagers of a cluster ([`application`](crate::application) mode);
    /// Flink's `registerType`. Records travel with postcard. The types of
    /// keyed reduce and window state are registered by themselves; a stream of
    /// another type behind a `key_by`, `rebalance` or `broadcast` needs this
    /// before the job runs on a cluster, which says so when it is missing.
    ///
    /// ```
    /// use eddy::prelude::*;
    /// let env = StreamExecutionEnvironment::new();
    /// env.register_type::<(String, u64)>();
    /// ```
    pub fn register_type<T>(&self) -> &Self
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + 'static,
    {
        self.inner
            .borrow_mut()
            .graph
            .codecs
            .register::<Records<T>>();
        self
    }

    /// A job-wide counter, reported in [`JobExecutionResult::counters`]. Capture it
    /// in user functions to count, e.g., malformed records.
    pub fn counter(&self, name: &str) -> Arc<AtomicU64> {
        self.inner.borrow().counters.counter(name)
    }

    /// Adds a source. `create(subtask)` builds the reader of each parallel subtask.
    pub fn add_source<T, S, F>(
        &self,
        name: &str,
        parallelism: Option<u32>,
        create: F,
    ) -> Result<DataStream<T>>
    where
        T: Clone + Send + 'static,
        S: SourceReader<Out = Records<T>>,
        F: Fn(usize) -> S + Send + Sync + 'static,
    {
        let p = match parallelism {
            Some(p) => p,
            None => self.parallelism()?,
        };
        let mp = self.max_parallelism()?;
        let id = self.inner.borrow_mut().graph.add_vertex(
            name,
            VertexKind::Source,
            p,
            mp,
            Arc::new(SourceVertex::new(create)),
        );
        Ok(DataStream::new(self.clone(), id))
    }

    /// A bounded stream of the elements of a collection.
    pub fn from_collection<T: Clone + Send + Sync + 'static>(
        &self,
        elements: Vec<T>,
    ) -> DataStream<T> {
        let elements = Arc::new(elements);
        self.source_or_record("Collection Source", None, move |_| {
            CollectionSource::new(elements.clone())
        })
    }

    /// A bounded stream of the lines of a file, or of every file under a
    /// directory (recursively, skipping names that start with `.` or `_`; see
    /// [`TextFileSource`]).
    pub fn read_text_file(&self, path: impl Into<PathBuf>) -> DataStream<String> {
        self.read_text_lines(path)
            .map(|line| line.text)
            .name("Text Lines")
    }

    /// Like [`read_text_file`](Self::read_text_file), with each line's file and
    /// line number (for error messages).
    pub fn read_text_lines(&self, path: impl Into<PathBuf>) -> DataStream<TextLine> {
        let path = path.into();
        self.source_or_record("File Source", None, move |_| {
            TextFileSource::new(path.clone())
        })
    }

    /// An unbounded stream of the lines received on a TCP socket (ends when the
    /// peer closes). Runs with parallelism 1.
    pub fn socket_text_stream(&self, host: &str, port: u16) -> DataStream<String> {
        let host = host.to_string();
        self.source_or_record("Socket Source", Some(1), move |_| {
            SocketTextSource::new(&host, port)
        })
    }

    /// A deterministic stream `f(0), f(1), ...` of `count` records (or unbounded);
    /// `f` returns the value and its event time, if any.
    pub fn from_generator<T, F>(&self, count: Option<u64>, f: F) -> DataStream<T>
    where
        T: Clone + Send + 'static,
        F: Fn(u64) -> (T, Option<Timestamp>) + Send + Sync + 'static,
    {
        self.from_generator_with_rate(count, None, f)
    }

    /// Like [`from_generator`](Self::from_generator), limited to `rate` records per
    /// second over all subtasks.
    pub fn from_generator_with_rate<T, F>(
        &self,
        count: Option<u64>,
        rate: Option<f64>,
        f: F,
    ) -> DataStream<T>
    where
        T: Clone + Send + 'static,
        F: Fn(u64) -> (T, Option<Timestamp>) + Send + Sync + 'static,
    {
        let f: eddy_connectors::sources::GeneratorFunctionRef<T> = Arc::new(f);
        self.source_or_record("Generator Source", None, move |_| {
            GeneratorSource::new(f.clone(), count).with_rate(rate)
        })
    }

    /// The Nexmark event stream (persons, auctions, bids) with event timestamps.
    pub fn nexmark(&self, config: NexmarkConfig) -> DataStream<Event> {
        self.source_or_record("Nexmark Source", None, move |_| {
            NexmarkSource::new(config.clone())
        })
    }

    fn source_or_record<T, S, F>(
        &self,
        name: &str,
        parallelism: Option<u32>,
        create: F,
    ) -> DataStream<T>
    where
        T: Clone + Send + 'static,
        S: SourceReader<Out = Records<T>>,
        F: Fn(usize) -> S + Send + Sync + 'static,
    {
        match self.add_source(name, parallelism, create) {
            Ok(stream) => stream,
            Err(e) => {
                self.record_build_error(e);
                DataStream::new(self.clone(), eddy_core::VertexId(u32::MAX))
            }
        }
    }

    pub(crate) fn record_build_error(&self, error: eddy_core::Error) {
        let mut inner = self.inner.borrow_mut();
        let message = error.to_string();
        inner.config.set("eddy.internal.build-error", message);
    }

    /// The job as plain data plus its code, ready to run.
    pub fn job_spec(&self, name: &str) -> Result<JobSpec> {
        let inner = self.inner.borrow();
        // A bad configuration value is the cause of a bad graph too: say it first.
        eddy_core::config::validate::check(&inner.config)?;
        if let Some(error) = inner.config.get_str("eddy.internal.build-error") {
            return Err(eddy_core::Error::InvalidGraph(error.to_string()));
        }
        Ok(inner.graph.to_spec(name))
    }

    /// The job graph as JSON (Flink's `getExecutionPlan`).
    pub fn execution_plan(&self, name: &str) -> Result<String> {
        Ok(self.job_spec(name)?.graph.to_json())
    }

    fn cluster(&self) -> MiniCluster {
        let inner = self.inner.borrow();
        MiniCluster::new(inner.config.clone())
            .with_clock(inner.clock.clone())
            .with_counters(inner.counters.clone())
    }

    /// Runs the job to its end (bounded input) and returns its result. With
    /// `rest.port` set, the process serves the REST API while it runs.
    pub fn execute(&self, name: &str) -> Result<JobExecutionResult> {
        self.execute_async(name)?.wait()
    }

    /// Starts the job and returns a client: status, counters, cancel, wait. With
    /// `rest.port` set, the process serves the REST API (see [`eddy_rest`]).
    /// In an [`application`](crate::application)'s JobManager the job runs on
    /// the cluster's TaskManagers.
    pub fn execute_async(&self, name: &str) -> Result<JobClient> {
        let mut spec = self.job_spec(name)?;
        spec.counters = self.inner.borrow().counters.clone();
        if !crate::application::runs_here() {
            return crate::application::execute(spec, &self.cluster());
        }
        crate::logging::init(&self.inner.borrow().config, "local")?;
        eddy_rest::start(&self.inner.borrow().config)?;
        self.cluster().execute_async(spec)
    }
}
