//! A producer that remembers delivery failures and waits (backpressure) when
//! the client's queue is full.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError as ClientError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::error::{KafkaError, KafkaResult};
use crate::record::ProducerRecord;

/// Collects the first delivery failure.
#[derive(Clone, Default)]
pub(crate) struct DeliveryErrors(Arc<Mutex<Option<String>>>);

impl ClientContext for DeliveryErrors {}

impl ProducerContext for DeliveryErrors {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            use rdkafka::Message;
            if let Ok(mut first) = self.0.lock() {
                first.get_or_insert_with(|| {
                    format!(
                        "delivering a record to topic {} failed: {error}",
                        message.topic()
                    )
                });
            }
        }
    }
}

/// A producer with its delivery failures.
pub(crate) struct SinkProducer {
    pub producer: ThreadedProducer<DeliveryErrors>,
    errors: DeliveryErrors,
}

impl SinkProducer {
    /// A producer from `config`.
    pub fn create(config: &ClientConfig) -> KafkaResult<Self> {
        let errors = DeliveryErrors::default();
        let producer = config
            .create_with_context(errors.clone())
            .map_err(|e| KafkaError::client("creating the producer", e))?;
        Ok(SinkProducer { producer, errors })
    }

    /// The first delivery failure so far, as an error.
    pub fn check(&self) -> KafkaResult<()> {
        match self.errors.0.lock().ok().and_then(|e| e.clone()) {
            Some(message) => Err(KafkaError::client(
                message,
                ClientError::MessageProduction(RDKafkaErrorCode::Fail),
            )),
            None => Ok(()),
        }
    }

    /// Sends a record to `topic` (partition `partition` unless the record has
    /// one), waiting while the client's queue is full.
    pub fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        record: &ProducerRecord,
        timeout: Duration,
    ) -> KafkaResult<()> {
        let topic = record.topic.as_deref().unwrap_or(topic);
        let mut base: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic);
        if let Some(key) = &record.key {
            base = base.key(key.as_slice());
        }
        if let Some(value) = &record.value {
            base = base.payload(value.as_slice());
        }
        if let Some(p) = record.partition.or(partition) {
            base = base.partition(p);
        }
        if let Some(ts) = record.timestamp {
            base = base.timestamp(ts);
        }
        if !record.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_slice()),
                });
            }
            base = base.headers(headers);
        }
        let started = Instant::now();
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((ClientError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if started.elapsed() < timeout =>
                {
                    base = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => {
                    return Err(KafkaError::client(
                        format!("sending a record to topic {topic}"),
                        error,
                    ))
                }
            }
        }
    }

    /// Waits until everything sent is acknowledged.
    pub fn flush(&self, timeout: Duration) -> KafkaResult<()> {
        self.producer.flush(timeout).map_err(|e| {
            KafkaError::client(format!("flushing the producer (within {timeout:?})"), e)
        })?;
        self.check()
    }
}
