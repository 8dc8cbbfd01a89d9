//! [`KafkaSinkWriter`]: one subtask of the Kafka sink.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eddy_core::{Records, Result};
use eddy_runtime::operators::SinkWriter;
use eddy_runtime::OperatorContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{client_config, create, partitions_of};
use crate::error::{KafkaError, KafkaResult};
use crate::record::ProducerRecord;
use crate::sink::producer::SinkProducer;
use crate::sink::transactions::{
    marker_group, plan_recovery, transactional_id, PendingTransaction, SinkState,
};
use crate::sink::{DeliveryGuarantee, SinkConfig, SinkPartitioner};

/// The open transaction of the current checkpoint interval.
struct OpenTransaction {
    producer: SinkProducer,
    id: String,
    records: Vec<ProducerRecord>,
}

/// A flushed transaction waiting for its checkpoint to complete.
struct FlushedTransaction {
    producer: SinkProducer,
    pending: PendingTransaction,
}

/// One subtask of a [`KafkaSink`](crate::KafkaSink).
pub struct KafkaSinkWriter<T> {
    config: Arc<SinkConfig<T>>,
    subtask: u32,
    parallelism: u32,
    lineage: String,
    checkpointing: bool,
    client: ClientConfig,
    partitions: Vec<i32>,
    round_robin: usize,
    producer: Option<SinkProducer>,
    restored: Vec<SinkState>,
    next_checkpoint: u64,
    current: Option<OpenTransaction>,
    flushed: BTreeMap<u64, FlushedTransaction>,
    marker: Option<BaseConsumer>,
}

impl<T: Clone + Send + 'static> KafkaSinkWriter<T> {
    pub(crate) fn new(config: Arc<SinkConfig<T>>) -> Self {
        KafkaSinkWriter {
            client: client_config(&config.bootstrap_servers, &config.properties),
            config,
            subtask: 0,
            parallelism: 1,
            lineage: String::new(),
            checkpointing: false,
            partitions: Vec::new(),
            round_robin: 0,
            producer: None,
            restored: Vec::new(),
            next_checkpoint: 1,
            current: None,
            flushed: BTreeMap::new(),
            marker: None,
        }
    }

    fn timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// Transaction calls may wait for a broker to abort what a dead producer
    /// left open: give them more time than a request.
    fn transaction_timeout(&self) -> Duration {
        self.config.request_timeout * 3
    }

    fn exactly_once(&self) -> bool {
        self.config.guarantee == DeliveryGuarantee::ExactlyOnce
    }

    /// A consumer of the marker group of `subtask` (never subscribes: it only
    /// reads and, through transactions, commits the group's offset).
    fn marker_consumer(&self, subtask: u32) -> KafkaResult<BaseConsumer> {
        let mut config = self.client.clone();
        config
            .set(
                "group.id",
                marker_group(&self.config.transactional_id_prefix, &self.lineage, subtask),
            )
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
        create(&config, "commit-marker consumer")
    }

    /// The last checkpoint whose transaction `marker`'s group committed (0 if none).
    fn committed_checkpoint(&self, marker: &BaseConsumer) -> KafkaResult<u64> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.config.topic, 0);
        let committed = marker
            .committed_offsets(tpl, self.transaction_timeout())
            .map_err(|e| KafkaError::client("reading the sink's commit marker", e))?;
        Ok(
            match committed
                .find_partition(&self.config.topic, 0)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(o)) if o > 0 => o as u64,
                _ => 0,
            },
        )
    }

    /// A producer with `id`, its earlier incarnations fenced and their open
    /// transaction aborted.
    fn init_transactional(&self, id: &str) -> KafkaResult<SinkProducer> {
        let mut config = self.client.clone();
        config.set("transactional.id", id);
        let producer = SinkProducer::create(&config)?;
        producer
            .producer
            .init_transactions(self.transaction_timeout())
            .map_err(|e| KafkaError::client(format!("initialising transactional id '{id}'"), e))?;
        Ok(producer)
    }

    /// Commits `producer`'s transaction together with the marker of `checkpoint_id`.
    fn commit(
        &self,
        producer: &SinkProducer,
        marker: &BaseConsumer,
        checkpoint_id: u64,
        id: &str,
    ) -> KafkaResult<()> {
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&self.config.topic, 0, Offset::Offset(checkpoint_id as i64))
            .map_err(|e| KafkaError::client("building the commit marker", e))?;
        let group = marker
            .group_metadata()
            .ok_or_else(|| KafkaError::State("the marker consumer has no group".into()))?;
        let timeout = self.transaction_timeout();
        producer
            .producer
            .send_offsets_to_transaction(&offsets, &group, timeout)
            .map_err(|e| KafkaError::client(format!("adding the commit marker to '{id}'"), e))?;
        producer
            .producer
            .commit_transaction(timeout)
            .map_err(|e| KafkaError::client(format!("committing transaction '{id}'"), e))?;
        producer.check()
    }

    /// Recovery at start: re-commits what the restored checkpoint pre-committed
    /// and no marker shows as committed, and aborts what earlier runs left open.
    fn recover(&mut self) -> KafkaResult<()> {
        let prefix = self.config.transactional_id_prefix.clone();
        let plan = plan_recovery(&prefix, self.subtask, self.parallelism, &self.restored);
        self.restored.clear();
        self.next_checkpoint = plan.restored_checkpoint + 1;
        // First fence every id that may hold an open transaction, so that no
        // marker read below waits on an unstable offset.
        let mut reopened = Vec::new();
        for (owner, pending) in plan.to_commit {
            let producer = self.init_transactional(&pending.transactional_id)?;
            reopened.push((owner, pending, producer));
        }
        for id in &plan.to_abort {
            drop(self.init_transactional(id)?);
        }
        for (owner, pending, producer) in reopened {
            let marker = self.marker_consumer(owner)?;
            if self.committed_checkpoint(&marker)? >= pending.checkpoint_id {
                continue;
            }
            let id = &pending.transactional_id;
            producer
                .producer
                .begin_transaction()
                .map_err(|e| KafkaError::client(format!("beginning transaction '{id}'"), e))?;
            for record in &pending.records {
                producer.send(&self.config.topic, None, record, self.timeout())?;
            }
            producer.flush(self.transaction_timeout())?;
            self.commit(&producer, &marker, pending.checkpoint_id, id)?;
        }
        Ok(())
    }

    /// The partition a record without one goes to, by the partitioner.
    fn partition_for(&mut self, record: &ProducerRecord) -> Option<i32> {
        if record.partition.is_some() || record.topic.is_some() || self.partitions.is_empty() {
            return None;
        }
        match self.config.partitioner {
            SinkPartitioner::Default => None,
            SinkPartitioner::Fixed => {
                Some(self.partitions[self.subtask as usize % self.partitions.len()])
            }
            SinkPartitioner::RoundRobin => {
                self.round_robin = self.round_robin.wrapping_add(1);
                Some(self.partitions[self.round_robin % self.partitions.len()])
            }
        }
    }

    /// The open transaction of this interval, begun on first use.
    fn current_transaction(&mut self) -> KafkaResult<&mut OpenTransaction> {
        if self.current.is_none() {
            let id = transactional_id(
                &self.config.transactional_id_prefix,
                self.subtask,
                self.next_checkpoint,
            );
            let producer = self.init_transactional(&id)?;
            producer
                .producer
                .begin_transaction()
                .map_err(|e| KafkaError::client(format!("beginning transaction '{id}'"), e))?;
            self.current = Some(OpenTransaction {
                producer,
                id,
                records: Vec::new(),
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| KafkaError::State("no open transaction".into()))
    }

    fn write_records(&mut self, records: Records<T>) -> KafkaResult<()> {
        let topic = self.config.topic.clone();
        let timeout = self.timeout();
        for record in records {
            let out = (self.config.serializer)(&record.value, record.timestamp)?;
            let partition = self.partition_for(&out);
            if self.exactly_once() {
                let txn = self.current_transaction()?;
                txn.producer.send(&topic, partition, &out, timeout)?;
                txn.records.push(ProducerRecord {
                    partition: out.partition.or(partition),
                    ..out
                });
            } else {
                let producer = self
                    .producer
                    .as_ref()
                    .ok_or_else(|| KafkaError::State("the Kafka sink is not open".into()))?;
                producer.send(&topic, partition, &out, timeout)?;
            }
        }
        match (&self.producer, &self.current) {
            (Some(p), _) => p.check(),
            (None, Some(t)) => t.producer.check(),
            _ => Ok(()),
        }
    }

    /// Exactly-once at a barrier: flushes the interval's transaction and keeps
    /// it, with its records, until the checkpoint completes.
    fn pre_commit(&mut self, checkpoint_id: u64) -> KafkaResult<Vec<u8>> {
        if let Some(txn) = self.current.take() {
            txn.producer.flush(self.transaction_timeout())?;
            self.flushed.insert(
                checkpoint_id,
                FlushedTransaction {
                    producer: txn.producer,
                    pending: PendingTransaction {
                        checkpoint_id,
                        transactional_id: txn.id,
                        records: txn.records,
                    },
                },
            );
        }
        self.next_checkpoint = checkpoint_id + 1;
        SinkState {
            subtask: self.subtask,
            checkpoint_id,
            pending: self.flushed.values().map(|f| f.pending.clone()).collect(),
        }
        .encode()
    }

    /// Commits every flushed transaction up to `checkpoint_id`, oldest first.
    fn commit_up_to(&mut self, checkpoint_id: u64) -> KafkaResult<()> {
        let later = self.flushed.split_off(&(checkpoint_id + 1));
        let due = std::mem::replace(&mut self.flushed, later);
        if due.is_empty() {
            return Ok(());
        }
        let marker = match self.marker.take() {
            Some(m) => m,
            None => self.marker_consumer(self.subtask)?,
        };
        let result = due.into_iter().try_for_each(|(c, txn)| {
            self.commit(&txn.producer, &marker, c, &txn.pending.transactional_id)
        });
        self.marker = Some(marker);
        result
    }
}

impl<T: Clone + Send + 'static> SinkWriter<T> for KafkaSinkWriter<T> {
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.subtask = ctx.subtask as u32;
        self.parallelism = ctx.parallelism as u32;
        self.lineage = ctx.run.lineage.clone();
        self.checkpointing = ctx.checkpointing;
        // Fails fast, within the request timeout, on an unreachable broker or a
        // missing topic.
        let probe: BaseConsumer = create(&self.client, "metadata client")?;
        self.partitions = partitions_of(
            &probe,
            &self.config.bootstrap_servers,
            &self.config.topic,
            self.timeout(),
        )?;
        drop(probe);
        match self.config.guarantee {
            DeliveryGuarantee::ExactlyOnce => {
                self.recover()?;
                self.marker = Some(self.marker_consumer(self.subtask)?);
            }
            _ => {
                let mut config = self.client.clone();
                if self.config.guarantee == DeliveryGuarantee::AtLeastOnce {
                    config.set("acks", "all");
                }
                self.producer = Some(SinkProducer::create(&config)?);
            }
        }
        Ok(())
    }

    fn write_batch(&mut self, records: Records<T>) -> Result<()> {
        Ok(self.write_records(records)?)
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(producer) = &self.producer {
            producer.flush(self.transaction_timeout())?;
        }
        if self.exactly_once() && !self.checkpointing {
            // No checkpoint will come: the end of input is the commit point.
            let c = self.next_checkpoint;
            self.pre_commit(c)?;
            self.commit_up_to(c)?;
        }
        Ok(())
    }

    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        match self.config.guarantee {
            DeliveryGuarantee::None => Ok(Vec::new()),
            DeliveryGuarantee::AtLeastOnce => {
                if let Some(producer) = &self.producer {
                    producer.flush(self.transaction_timeout())?;
                }
                Ok(Vec::new())
            }
            DeliveryGuarantee::ExactlyOnce => Ok(self.pre_commit(checkpoint_id)?),
        }
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        Ok(self.commit_up_to(checkpoint_id)?)
    }

    fn restore(&mut self, states: Vec<Vec<u8>>) -> Result<()> {
        self.restored = SinkState::decode_all(&states)?;
        Ok(())
    }
}
