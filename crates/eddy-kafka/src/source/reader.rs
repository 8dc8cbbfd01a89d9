//! [`KafkaSourceReader`]: one subtask of the Kafka source.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use eddy_core::config::options;
use eddy_core::{Records, Result, StreamRecord};
use eddy_runtime::operators::WatermarkStrategy;
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError as ClientError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{client_config, create, partitions_of};
use crate::error::{KafkaError, KafkaResult};
use crate::partition::{owner, TopicPartition};
use crate::record::ConsumedRecord;
use crate::source::position::SourcePosition;
use crate::source::watermarks::{Merged, SplitWatermarks};
use crate::source::SourceConfig;

/// Records per batch handed to the runtime.
const MAX_BATCH: usize = 1024;

/// At most one warning about transient client errors this often.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The read state of one owned partition.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// The next offset to emit.
    next: i64,
    /// Bounded reads stop before this offset.
    stop: Option<i64>,
    finished: bool,
}

/// One subtask of a [`KafkaSource`](crate::KafkaSource): reads the partitions it
/// owns with a manually assigned consumer (no group rebalancing), so that the
/// partitions and offsets are exactly those of the checkpoint.
pub struct KafkaSourceReader<T> {
    config: Arc<SourceConfig<T>>,
    consumer: Option<BaseConsumer>,
    subtask: usize,
    parallelism: usize,
    splits: BTreeMap<TopicPartition, Split>,
    restored: Option<BTreeMap<TopicPartition, i64>>,
    /// Offsets snapshot per checkpoint, committed to the group on completion.
    pending_commits: BTreeMap<u64, Vec<(TopicPartition, i64)>>,
    /// The offsets committed last, committed again synchronously on close.
    last_commit: Option<TopicPartitionList>,
    watermarks: SplitWatermarks<T>,
    has_watermarks: bool,
    waker: Arc<Mutex<Option<Waker>>>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    watermark_interval: Duration,
    next_watermark: Instant,
    next_discovery: Option<Instant>,
    clock: Option<Arc<dyn eddy_core::time::Clock>>,
    name: String,
    idle_reported: bool,
    last_warning: Option<Instant>,
}

impl<T: Clone + Send + 'static> KafkaSourceReader<T> {
    pub(crate) fn new(config: Arc<SourceConfig<T>>, strategy: WatermarkStrategy<T>) -> Self {
        KafkaSourceReader {
            config,
            consumer: None,
            subtask: 0,
            parallelism: 1,
            splits: BTreeMap::new(),
            restored: None,
            pending_commits: BTreeMap::new(),
            last_commit: None,
            watermarks: SplitWatermarks::new(strategy),
            has_watermarks: true,
            waker: Arc::new(Mutex::new(None)),
            timer: None,
            watermark_interval: Duration::from_millis(200),
            next_watermark: Instant::now(),
            next_discovery: None,
            clock: None,
            name: String::new(),
            idle_reported: false,
            last_warning: None,
        }
    }

    fn now_millis(&self) -> i64 {
        self.clock.as_ref().map_or(0, |c| c.now_millis())
    }

    fn consumer(&self) -> KafkaResult<&BaseConsumer> {
        self.consumer
            .as_ref()
            .ok_or_else(|| KafkaError::State("the Kafka source reader is not open".into()))
    }

    /// The owned partitions of the topics, asking the broker.
    fn owned_partitions(&self) -> KafkaResult<Vec<TopicPartition>> {
        let consumer = self.consumer()?;
        let mut owned = Vec::new();
        for topic in &self.config.topics {
            let partitions = partitions_of(
                consumer,
                &self.config.bootstrap_servers,
                topic,
                self.config.request_timeout,
            )?;
            owned.extend(
                partitions
                    .into_iter()
                    .filter(|p| owner(topic, *p, self.parallelism) == self.subtask)
                    .map(|p| TopicPartition::new(topic.clone(), p)),
            );
        }
        Ok(owned)
    }

    /// Adds partitions to the read set: restored ones at their checkpointed
    /// offset, the others where `starting` (or, for partitions discovered
    /// later, the earliest offset) says.
    fn add_partitions(&mut self, new: Vec<TopicPartition>, discovered: bool) -> KafkaResult<()> {
        let new: Vec<TopicPartition> = new
            .into_iter()
            .filter(|tp| !self.splits.contains_key(tp))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let consumer = self
            .consumer
            .as_ref()
            .ok_or_else(|| KafkaError::State("the Kafka source reader is not open".into()))?;
        let timeout = self.config.request_timeout;
        let (from_checkpoint, fresh): (Vec<TopicPartition>, Vec<TopicPartition>) = new
            .iter()
            .cloned()
            .partition(|tp| self.restored.as_ref().is_some_and(|r| r.contains_key(tp)));
        let starting = if discovered || self.restored.is_some() {
            // Partitions a restored run did not know are new: read them whole.
            crate::OffsetsInitializer::Earliest
        } else {
            self.config.starting.clone()
        };
        let mut starts = starting.resolve(consumer, &fresh, timeout, false)?;
        for tp in from_checkpoint {
            let offset = self
                .restored
                .as_ref()
                .and_then(|r| r.get(&tp).copied())
                .unwrap_or(0);
            starts.insert(tp, offset);
        }
        let stops = match &self.config.stopping {
            Some(stopping) => Some(stopping.resolve(consumer, &new, timeout, true)?),
            None => None,
        };
        let mut tpl = TopicPartitionList::new();
        let now = self.now_millis();
        for tp in new {
            let next = starts.get(&tp).copied().unwrap_or(0);
            let stop = stops.as_ref().and_then(|s| s.get(&tp).copied());
            let finished = stop.is_some_and(|s| next >= s);
            if !finished {
                tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(next))
                    .map_err(|e| KafkaError::client(format!("assigning {tp}"), e))?;
                self.watermarks.add(tp.clone(), now);
            }
            self.splits.insert(
                tp,
                Split {
                    next,
                    stop,
                    finished,
                },
            );
        }
        if tpl.count() > 0 {
            consumer
                .incremental_assign(&tpl)
                .map_err(|e| KafkaError::client("assigning partitions", e))?;
        }
        Ok(())
    }

    fn finish_split(&mut self, tp: &TopicPartition) -> KafkaResult<()> {
        let Some(split) = self.splits.get_mut(tp) else {
            return Ok(());
        };
        if split.finished {
            return Ok(());
        }
        split.finished = true;
        self.watermarks.remove(tp);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&tp.topic, tp.partition);
        self.consumer()?
            .incremental_unassign(&tpl)
            .map_err(|e| KafkaError::client(format!("releasing finished partition {tp}"), e))
    }

    /// A bounded read reached the end of a partition number: the splits with
    /// that number whose position passed their stop are finished (the
    /// position skips transaction markers that no record stands for).
    fn on_partition_eof(&mut self, partition: i32) -> KafkaResult<()> {
        if self.config.stopping.is_none() {
            return Ok(());
        }
        let positions = self
            .consumer()?
            .position()
            .map_err(|e| KafkaError::client("reading positions", e))?;
        let mut done = Vec::new();
        for (tp, split) in &mut self.splits {
            if tp.partition != partition || split.finished {
                continue;
            }
            if let Some(Offset::Offset(p)) = positions
                .find_partition(&tp.topic, tp.partition)
                .map(|e| e.offset())
            {
                split.next = split.next.max(p);
            }
            if split.stop.is_some_and(|s| split.next >= s) {
                done.push(tp.clone());
            }
        }
        for tp in done {
            self.finish_split(&tp)?;
        }
        Ok(())
    }

    /// Reads up to a batch of records without blocking.
    fn read_batch(&mut self) -> Result<Records<T>> {
        let mut out: Records<T> = Vec::new();
        let now = self.now_millis();
        let mut to_finish = Vec::new();
        let mut eofs = Vec::new();
        {
            let consumer = self
                .consumer
                .as_ref()
                .ok_or_else(|| KafkaError::State("the Kafka source reader is not open".into()))?;
            while out.len() < MAX_BATCH {
                let message = match consumer.poll(Duration::ZERO) {
                    None => break,
                    Some(Err(ClientError::PartitionEOF(p))) => {
                        eofs.push(p);
                        continue;
                    }
                    Some(Err(e)) if is_fatal(&e) => {
                        return Err(KafkaError::client("reading records", e).into())
                    }
                    // Transient (a broker went away, ...): the client retries;
                    // say so now and then rather than wait silently.
                    Some(Err(e)) => {
                        let now = Instant::now();
                        if self.last_warning.is_none_or(|w| now - w > WARNING_INTERVAL) {
                            self.last_warning = Some(now);
                            eprintln!(
                                "eddy: {} (subtask {}): Kafka error, retrying: {e}",
                                self.name, self.subtask
                            );
                        }
                        continue;
                    }
                    Some(Ok(m)) => m,
                };
                let tp = TopicPartition::new(message.topic(), message.partition());
                let Some(split) = self.splits.get_mut(&tp) else {
                    continue;
                };
                if split.finished || message.offset() < split.next {
                    continue;
                }
                if split.stop.is_some_and(|s| message.offset() >= s) {
                    to_finish.push(tp);
                    continue;
                }
                let headers = message
                    .headers()
                    .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                    .unwrap_or_default();
                let record = ConsumedRecord {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    timestamp: message.timestamp().to_millis(),
                    key: message.key(),
                    value: message.payload(),
                    headers,
                };
                let value = (self.config.deserializer)(&record)?;
                split.next = message.offset() + 1;
                if split.stop.is_some_and(|s| split.next >= s) {
                    to_finish.push(tp.clone());
                }
                let timestamp = if self.has_watermarks {
                    self.watermarks
                        .on_record(&tp, &value, record.timestamp, now)
                } else {
                    record.timestamp
                };
                out.push(StreamRecord { value, timestamp });
            }
        }
        for tp in to_finish {
            self.finish_split(&tp)?;
        }
        for p in eofs {
            self.on_partition_eof(p)?;
        }
        Ok(out)
    }

    fn all_finished(&self) -> bool {
        self.config.stopping.is_some() && self.splits.values().all(|s| s.finished)
    }

    /// Arms the timer for the next periodic duty (watermarks, discovery).
    fn arm_timer(&mut self, cx: &mut Context<'_>) {
        let mut due = self.next_watermark;
        if let Some(d) = self.next_discovery {
            due = due.min(d);
        }
        let deadline = tokio::time::Instant::from_std(due);
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        if let Some(timer) = &mut self.timer {
            // Registers the waker; a timer already due wakes at once.
            if std::future::Future::poll(timer.as_mut(), cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
    }
}

/// Errors that no retry by the client can fix.
fn is_fatal(error: &ClientError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::UnknownTopicOrPartition
                | Code::TopicAuthorizationFailed
                | Code::GroupAuthorizationFailed
                | Code::OffsetOutOfRange
                | Code::Fatal
        )
    )
}

impl<T: Clone + Send + 'static> SourceReader for KafkaSourceReader<T> {
    type Out = Records<T>;

    fn splits(&self) -> Option<Vec<String>> {
        Some(
            self.splits
                .iter()
                .filter(|(_, split)| !split.finished)
                .map(|(tp, _)| tp.uri())
                .collect(),
        )
    }

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.subtask = ctx.subtask;
        self.parallelism = ctx.parallelism;
        self.clock = Some(ctx.clock.clone());
        self.name = ctx.name.clone();
        self.watermark_interval = ctx
            .config
            .get(&options::AUTO_WATERMARK_INTERVAL)?
            .max(Duration::from_millis(1));
        let mut config = client_config(&self.config.bootstrap_servers, &self.config.properties);
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed");
        if self.config.stopping.is_some() {
            config.set("enable.partition.eof", "true");
        }
        config.set(
            "group.id",
            self.config
                .group_id
                .clone()
                .unwrap_or_else(|| format!("eddy-source-{}", ctx.run.lineage)),
        );
        for (k, v) in &self.config.properties {
            config.set(k, v);
        }
        let mut consumer: BaseConsumer = create(&config, "Kafka consumer")?;
        let waker = self.waker.clone();
        consumer.set_nonempty_callback(move || {
            if let Ok(mut w) = waker.lock() {
                if let Some(w) = w.take() {
                    w.wake();
                }
            }
        });
        self.consumer = Some(consumer);
        let owned = self.owned_partitions()?;
        self.add_partitions(owned, false)?;
        self.next_discovery = self.config.discovery_interval.map(|d| Instant::now() + d);
        self.next_watermark = Instant::now() + self.watermark_interval;
        Ok(())
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<Records<T>>>> {
        if let Ok(mut w) = self.waker.lock() {
            *w = Some(cx.waker().clone());
        }
        let now = Instant::now();
        if self.next_discovery.is_some_and(|d| now >= d) {
            self.next_discovery = self.config.discovery_interval.map(|d| now + d);
            let found = self.owned_partitions();
            if let Err(e) = found.and_then(|owned| self.add_partitions(owned, true)) {
                return Poll::Ready(Err(e.into()));
            }
        }
        if now >= self.next_watermark {
            self.next_watermark = now + self.watermark_interval;
            match self.watermarks.on_periodic_emit(self.now_millis()) {
                Merged::Advanced(w) => return Poll::Ready(Ok(SourceEvent::Watermark(w))),
                Merged::Idle => return Poll::Ready(Ok(SourceEvent::Idle)),
                Merged::Unchanged => {}
            }
        }
        match self.read_batch() {
            Err(e) => return Poll::Ready(Err(e)),
            Ok(batch) if !batch.is_empty() => {
                self.idle_reported = false;
                return Poll::Ready(Ok(SourceEvent::Batch(batch)));
            }
            Ok(_) => {}
        }
        if self.all_finished() {
            return Poll::Ready(Ok(SourceEvent::End));
        }
        if self.splits.values().all(|s| s.finished) && !self.idle_reported {
            // No partition to read (yet): do not hold back event time.
            self.idle_reported = true;
            return Poll::Ready(Ok(SourceEvent::Idle));
        }
        self.arm_timer(cx);
        Poll::Pending
    }

    fn close(&mut self) -> Result<()> {
        // The last asynchronous commit may still be in flight: make it land.
        if let (Some(consumer), Some(tpl)) = (&self.consumer, self.last_commit.take()) {
            let _ = consumer.commit(&tpl, CommitMode::Sync);
        }
        self.consumer = None;
        Ok(())
    }

    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        let offsets = self
            .splits
            .iter()
            .map(|(tp, s)| (tp.clone(), s.next))
            .collect();
        Ok(SourcePosition { offsets }.encode()?)
    }

    fn snapshot_position_for(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        let offsets: Vec<(TopicPartition, i64)> = self
            .splits
            .iter()
            .map(|(tp, s)| (tp.clone(), s.next))
            .collect();
        if self.config.commit_offsets_on_checkpoint && self.config.group_id.is_some() {
            self.pending_commits.insert(checkpoint_id, offsets.clone());
        }
        Ok(SourcePosition { offsets }.encode()?)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let Some((&id, _)) = self.pending_commits.range(..=checkpoint_id).next_back() else {
            return Ok(());
        };
        let offsets = self.pending_commits.remove(&id).unwrap_or_default();
        self.pending_commits = self.pending_commits.split_off(&(checkpoint_id + 1));
        let mut tpl = TopicPartitionList::new();
        for (tp, next) in offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(next))
                .map_err(|e| KafkaError::client("committing offsets", e))?;
        }
        if tpl.count() > 0 {
            // For monitoring only: a failed commit is retried at the next checkpoint.
            let _ = self.consumer()?.commit(&tpl, CommitMode::Async);
            self.last_commit = Some(tpl);
        }
        Ok(())
    }

    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        self.restored = Some(SourcePosition::merge(&positions)?);
        Ok(())
    }
}
