//! Test support: [`TestBroker`], a Kafka-compatible broker (the `noida-db`
//! package from PyPI, installed on first use under `~/.cache/eddy-noida`)
//! started on a free port of 127.0.0.1 and stopped, by its PID, on drop; and
//! helpers to create topics, produce and read back.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// The broker package and version the tests use.
pub const BROKER_PACKAGE: &str = "noida-db==0.2.3";

type TestResult<T> = std::result::Result<T, String>;

/// A record read back: partition, offset, key, value.
pub type ReadRecord = (i32, i64, Option<Vec<u8>>, Vec<u8>);

/// A broker process for one test.
pub struct TestBroker {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("eddy-noida")
}

/// The broker binary inside the installed package, installing it first if needed
/// (into a fresh directory renamed into place, so concurrent tests do not clash).
pub fn broker_binary() -> TestResult<PathBuf> {
    if let Some(path) = std::env::var_os("EDDY_TEST_KAFKA_BROKER") {
        return Ok(PathBuf::from(path));
    }
    let target = cache_dir().join("pkg");
    let binary = target.join("noida_db").join("noida-db");
    if binary.exists() {
        return Ok(binary);
    }
    std::fs::create_dir_all(cache_dir()).map_err(|e| format!("creating the cache dir: {e}"))?;
    let staging = cache_dir().join(format!("pkg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .ok_or("no python3 to install the test broker with pip")?;
    let output = Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
        .arg(&staging)
        .arg(BROKER_PACKAGE)
        .output()
        .map_err(|e| format!("running pip: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "pip install {BROKER_PACKAGE} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if std::fs::rename(&staging, &target).is_err() {
        // Another test installed it meanwhile.
        let _ = std::fs::remove_dir_all(&staging);
    }
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!("{} missing after pip install", binary.display()))
    }
}

fn free_port() -> TestResult<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("reading the port: {e}"))
}

fn block_on<F: std::future::Future>(future: F) -> TestResult<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a runtime: {e}"))?;
    Ok(runtime.block_on(future))
}

impl TestBroker {
    /// Starts a broker and waits until it answers metadata requests.
    pub fn start() -> TestResult<TestBroker> {
        let binary = broker_binary()?;
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("eddy-kafka-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("broker.log"))
            .map_err(|e| format!("creating the broker log: {e}"))?;
        let child = Command::new(&binary)
            .args(["start", "--only", "kafka", "--kafka-port"])
            .arg(port.to_string())
            .args(["--host", "127.0.0.1", "--data-dir"])
            .arg(dir.join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let broker = TestBroker { child, port, dir };
        broker.wait_ready(Duration::from_secs(30))?;
        Ok(broker)
    }

    fn wait_ready(&self, timeout: Duration) -> TestResult<()> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let consumer = self.consumer("eddy-test-probe")?;
                if consumer
                    .fetch_metadata(None, Duration::from_secs(2))
                    .is_ok()
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "the test broker did not answer on port {} within {timeout:?}",
            self.port
        ))
    }

    /// `127.0.0.1:<port>`.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's working directory (log and data).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("log_level", "3");
        config
    }

    fn consumer(&self, group: &str) -> TestResult<BaseConsumer> {
        self.config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create()
            .map_err(|e| format!("creating a consumer: {e}"))
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> TestResult<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .config()
            .create()
            .map_err(|e| format!("creating an admin client: {e}"))?;
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = block_on(admin.create_topics(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))?
        .map_err(|e| format!("creating topic {topic}: {e}"))?;
        for result in results {
            result.map_err(|(t, e)| format!("creating topic {t}: {e}"))?;
        }
        // Wait until the metadata shows every partition.
        let consumer = self.consumer("eddy-test-probe")?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(m) = consumer.fetch_metadata(Some(topic), Duration::from_secs(2)) {
                if m.topics()
                    .iter()
                    .any(|t| t.name() == topic && t.partitions().len() == partitions as usize)
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "topic {topic} did not show {partitions} partitions"
        ))
    }

    /// Grows `topic` to `total` partitions.
    pub fn add_partitions(&self, topic: &str, total: usize) -> TestResult<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .config()
            .create()
            .map_err(|e| format!("creating an admin client: {e}"))?;
        let new = NewPartitions::new(topic, total);
        let results = block_on(admin.create_partitions(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))?
        .map_err(|e| format!("adding partitions to {topic}: {e}"))?;
        for result in results {
            result.map_err(|(t, e)| format!("adding partitions to {t}: {e}"))?;
        }
        Ok(())
    }

    /// Writes `values` to `topic`: record `i` to partition `i % partitions`
    /// (`partitions` = 0 lets the client pick), and waits until all are acknowledged.
    pub fn produce(&self, topic: &str, partitions: i32, values: &[String]) -> TestResult<()> {
        self.producer()?.send(topic, partitions, values)
    }

    /// A producer to write many small batches with.
    pub fn producer(&self) -> TestResult<TestProducer> {
        let producer = self
            .config()
            .set("linger.ms", "5")
            .create()
            .map_err(|e| format!("creating a producer: {e}"))?;
        Ok(TestProducer { producer })
    }

    /// Everything committed in `topic`, read by a fresh `read_committed`
    /// consumer from the earliest offsets up to the end, sorted by partition
    /// and offset.
    pub fn read_committed(&self, topic: &str) -> TestResult<Vec<ReadRecord>> {
        let consumer = self.consumer(&format!("eddy-test-reader-{}", std::process::id()))?;
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut tpl = TopicPartitionList::new();
        let mut ends = std::collections::BTreeMap::new();
        for p in &partitions {
            let (_, high) = consumer
                .fetch_watermarks(topic, *p, Duration::from_secs(10))
                .map_err(|e| format!("watermarks of {topic}-{p}: {e}"))?;
            ends.insert(*p, high);
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| format!("assigning: {e}"))?;
        let mut done: std::collections::BTreeSet<i32> = ends
            .iter()
            .filter(|(_, h)| **h == 0)
            .map(|(p, _)| *p)
            .collect();
        let mut out = Vec::new();
        let started = Instant::now();
        while done.len() < partitions.len() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "reading {topic} back did not reach its end within 30 s"
                ));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    out.push((
                        m.partition(),
                        m.offset(),
                        m.key().map(<[u8]>::to_vec),
                        m.payload().unwrap_or_default().to_vec(),
                    ));
                    if m.offset() + 1 >= ends[&m.partition()] {
                        done.insert(m.partition());
                    }
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    done.insert(p);
                }
                Some(Err(e)) => return Err(format!("reading {topic}: {e}")),
                None => {}
            }
        }
        out.sort_by_key(|r| (r.0, r.1));
        Ok(out)
    }

    /// The values of [`read_committed`](Self::read_committed) as strings.
    pub fn read_committed_values(&self, topic: &str) -> TestResult<Vec<String>> {
        Ok(self
            .read_committed(topic)?
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r.3).into_owned())
            .collect())
    }
}

/// A producer of a [`TestBroker`].
pub struct TestProducer {
    producer: ThreadedProducer<DefaultProducerContext>,
}

impl TestProducer {
    /// Writes one record with headers to `partition` of `topic`, and waits for it.
    pub fn send_with_headers(
        &self,
        topic: &str,
        partition: i32,
        value: &str,
        headers: &[(&str, &[u8])],
    ) -> TestResult<()> {
        let mut owned = rdkafka::message::OwnedHeaders::new();
        for (key, value) in headers {
            owned = owned.insert(rdkafka::message::Header {
                key,
                value: Some(*value),
            });
        }
        let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(value.as_bytes())
            .partition(partition)
            .headers(owned);
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("producing to {topic}: {e}"))?;
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("flushing: {e}"))
    }

    /// Writes one keyed record to `partition` of `topic` (`None`: a
    /// tombstone), and waits for it.
    pub fn send_keyed(
        &self,
        topic: &str,
        partition: i32,
        key: &str,
        value: Option<&str>,
    ) -> TestResult<()> {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .key(key.as_bytes())
            .partition(partition);
        if let Some(value) = value {
            record = record.payload(value.as_bytes());
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("producing to {topic}: {e}"))?;
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("flushing: {e}"))
    }

    /// Writes one record of bytes (a binary format) to `partition` of `topic`,
    /// and waits for it.
    pub fn send_bytes(
        &self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> TestResult<()> {
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).payload(value).partition(partition);
        if let Some(key) = key {
            record = record.key(key);
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| format!("producing to {topic}: {e}"))?;
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("flushing: {e}"))
    }

    /// Writes `values` to `topic` as [`TestBroker::produce`] does.
    pub fn send(&self, topic: &str, partitions: i32, values: &[String]) -> TestResult<()> {
        for (i, value) in values.iter().enumerate() {
            let mut record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(topic).payload(value.as_bytes());
            if partitions > 0 {
                record = record.partition(i as i32 % partitions);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        back,
                    )) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => return Err(format!("producing to {topic}: {e}")),
                }
            }
        }
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("flushing: {e}"))
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
