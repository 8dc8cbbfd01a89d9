//! Timestamps and watermarks: strategies, generators and the operator that applies
//! them.
//!
//! A [`WatermarkStrategy`] says how to read a record's event time and how to derive
//! watermarks from the records seen. Watermarks are emitted periodically
//! (`pipeline.auto-watermark-interval`, default 200 ms) and whenever a generator
//! emits one from `on_event`. With `with_idleness`, an input that sees no record for
//! that long is marked idle, so it no longer holds back downstream event time.

use std::sync::Arc;
use std::time::Duration;

use eddy_core::config::options;
use eddy_core::{Records, Result, Timestamp, WatermarkStatus, MAX_WATERMARK, MIN_WATERMARK};

use crate::operator::{Operator, OperatorContext};
use crate::output::Emitter;

/// Collects the watermark a generator emits.
#[derive(Debug, Default)]
pub struct WatermarkOutput {
    watermark: Option<Timestamp>,
}

impl WatermarkOutput {
    /// Emits a watermark (the highest emitted in one call wins).
    pub fn emit_watermark(&mut self, watermark: Timestamp) {
        self.watermark = Some(self.watermark.map_or(watermark, |w| w.max(watermark)));
    }

    /// The watermark emitted, if any (for sources that run generators themselves).
    pub fn emitted(&self) -> Option<Timestamp> {
        self.watermark
    }
}

/// Derives watermarks from the records of one subtask.
pub trait WatermarkGenerator<T>: Send {
    /// Sees a record and its timestamp; may emit a watermark right away.
    fn on_event(&mut self, value: &T, timestamp: Timestamp, output: &mut WatermarkOutput);
    /// Called every auto-watermark interval; may emit a watermark.
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput);
}

/// Watermarks trail the highest timestamp seen by a fixed bound:
/// `max_timestamp - bound - 1`.
#[derive(Debug, Clone)]
pub struct BoundedOutOfOrderness {
    bound: i64,
    max_timestamp: Timestamp,
}

impl BoundedOutOfOrderness {
    /// A generator for records out of order by at most `bound`.
    pub fn new(bound: Duration) -> Self {
        let bound = i64::try_from(bound.as_millis()).unwrap_or(i64::MAX / 2);
        BoundedOutOfOrderness {
            bound,
            max_timestamp: MIN_WATERMARK.saturating_add(bound).saturating_add(1),
        }
    }
}

impl<T> WatermarkGenerator<T> for BoundedOutOfOrderness {
    fn on_event(&mut self, _: &T, timestamp: Timestamp, _: &mut WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }

    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        output.emit_watermark(
            self.max_timestamp
                .saturating_sub(self.bound)
                .saturating_sub(1),
        );
    }
}

/// Reads a record's event time (given the timestamp it already has, if any).
pub type TimestampAssigner<T> = Arc<dyn Fn(&T, Option<Timestamp>) -> Timestamp + Send + Sync>;

type GeneratorFactory<T> = Arc<dyn Fn() -> Box<dyn WatermarkGenerator<T>> + Send + Sync>;

/// How to assign timestamps and generate watermarks.
///
/// ```
/// use std::time::Duration;
/// use eddy_runtime::operators::WatermarkStrategy;
/// let strategy = WatermarkStrategy::<(i64, String)>::for_bounded_out_of_orderness(Duration::from_secs(1))
///     .with_timestamp_assigner(|event, _| event.0)
///     .with_idleness(Duration::from_secs(30));
/// # let _ = strategy;
/// ```
pub struct WatermarkStrategy<T> {
    pub(crate) assigner: Option<TimestampAssigner<T>>,
    pub(crate) generator: GeneratorFactory<T>,
    pub(crate) idleness: Option<Duration>,
}

impl<T> Clone for WatermarkStrategy<T> {
    fn clone(&self) -> Self {
        WatermarkStrategy {
            assigner: self.assigner.clone(),
            generator: self.generator.clone(),
            idleness: self.idleness,
        }
    }
}

impl<T: 'static> WatermarkStrategy<T> {
    /// Timestamps only increase: the watermark is the highest timestamp minus 1 ms.
    pub fn for_monotonous_timestamps() -> Self {
        Self::for_bounded_out_of_orderness(Duration::ZERO)
    }

    /// Records may arrive late by at most `bound`.
    pub fn for_bounded_out_of_orderness(bound: Duration) -> Self {
        Self::for_generator(move || BoundedOutOfOrderness::new(bound))
    }

    /// A custom generator, created once per subtask.
    pub fn for_generator<G, F>(factory: F) -> Self
    where
        G: WatermarkGenerator<T> + 'static,
        F: Fn() -> G + Send + Sync + 'static,
    {
        WatermarkStrategy {
            assigner: None,
            generator: Arc::new(move || Box::new(factory())),
            idleness: None,
        }
    }

    /// No watermarks at all (event time never advances until the input ends).
    pub fn no_watermarks() -> Self {
        struct Never;
        impl<T> WatermarkGenerator<T> for Never {
            fn on_event(&mut self, _: &T, _: Timestamp, _: &mut WatermarkOutput) {}
            fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
        }
        Self::for_generator(|| Never)
    }

    /// Reads event time from the record with `assigner(record, existing_timestamp)`.
    pub fn with_timestamp_assigner(
        mut self,
        assigner: impl Fn(&T, Option<Timestamp>) -> Timestamp + Send + Sync + 'static,
    ) -> Self {
        self.assigner = Some(Arc::new(assigner));
        self
    }

    /// Marks the input idle after `timeout` without records.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idleness = Some(timeout);
        self
    }

    /// The event time of `value`: the assigner's answer, else the timestamp the
    /// record already has (for sources that apply a strategy themselves).
    pub fn timestamp_of(&self, value: &T, existing: Option<Timestamp>) -> Option<Timestamp> {
        match &self.assigner {
            Some(assign) => Some(assign(value, existing)),
            None => existing,
        }
    }

    /// A new generator (sources with per-split watermarks make one per split).
    pub fn create_generator(&self) -> Box<dyn WatermarkGenerator<T>> {
        (self.generator)()
    }

    /// The idleness timeout, if set.
    pub fn idleness(&self) -> Option<Duration> {
        self.idleness
    }
}

/// Assigns timestamps and emits watermarks according to a [`WatermarkStrategy`].
/// Watermarks from upstream are ignored (this operator defines event time), except
/// the final one at the end of input.
pub struct TimestampsAndWatermarksOperator<T> {
    strategy: WatermarkStrategy<T>,
    generator: Option<Box<dyn WatermarkGenerator<T>>>,
    interval: i64,
    next_periodic: Option<Timestamp>,
    emitted: Timestamp,
    last_record_time: Timestamp,
    idle: bool,
    clock: Option<Arc<dyn eddy_core::time::Clock>>,
}

impl<T> TimestampsAndWatermarksOperator<T> {
    /// An operator applying `strategy`.
    pub fn new(strategy: WatermarkStrategy<T>) -> Self {
        TimestampsAndWatermarksOperator {
            strategy,
            generator: None,
            interval: 200,
            next_periodic: None,
            emitted: MIN_WATERMARK,
            last_record_time: 0,
            idle: false,
            clock: None,
        }
    }

    fn emit<O: eddy_core::Batch>(
        &mut self,
        output: WatermarkOutput,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        if let Some(w) = output.watermark {
            if w > self.emitted && !self.idle {
                self.emitted = w;
                out.emit_watermark(w)?;
            }
        }
        Ok(())
    }
}

impl<T: Clone + Send + 'static> Operator for TimestampsAndWatermarksOperator<T> {
    type In = Records<T>;
    type Out = Records<T>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.generator = Some((self.strategy.generator)());
        let interval = ctx.config.get(&options::AUTO_WATERMARK_INTERVAL)?;
        self.interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        let now = ctx.now();
        self.last_record_time = now;
        self.next_periodic = (self.interval > 0).then(|| now + self.interval);
        self.clock = Some(ctx.clock.clone());
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<T>>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.idle {
            self.idle = false;
            out.emit_status(WatermarkStatus::Active)?;
        }
        self.last_record_time = self.clock.as_ref().map_or(0, |c| c.now_millis());
        let Some(mut generator) = self.generator.take() else {
            return out.collect(batch);
        };
        // A watermark emitted by `on_event` follows its record at once: the batch
        // is cut there, so no record after it is seen before the watermark.
        let mut pending = Vec::with_capacity(batch.len());
        let mut result = Ok(());
        for mut record in batch {
            let ts = match &self.strategy.assigner {
                Some(assign) => assign(&record.value, record.timestamp),
                None => record.timestamp.unwrap_or(MIN_WATERMARK),
            };
            record.timestamp = Some(ts);
            let mut output = WatermarkOutput::default();
            generator.on_event(&record.value, ts, &mut output);
            pending.push(record);
            if output.watermark.is_some_and(|w| w > self.emitted) {
                result = out
                    .collect(std::mem::take(&mut pending))
                    .and_then(|()| self.emit(output, out));
                if result.is_err() {
                    break;
                }
            }
        }
        self.generator = Some(generator);
        result?;
        out.collect(pending)
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Records<T>>,
    ) -> Result<()> {
        if watermark == MAX_WATERMARK && self.emitted != MAX_WATERMARK {
            self.emitted = MAX_WATERMARK;
            self.idle = false;
            out.emit_watermark(MAX_WATERMARK)?;
        }
        Ok(())
    }

    fn process_status(
        &mut self,
        _: WatermarkStatus,
        _: &mut Emitter<'_, Records<T>>,
    ) -> Result<()> {
        Ok(())
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.next_periodic
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, Records<T>>,
    ) -> Result<()> {
        if let Some(timeout) = self.strategy.idleness {
            let timeout = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
            if !self.idle && now.saturating_sub(self.last_record_time) >= timeout {
                self.idle = true;
                out.emit_status(WatermarkStatus::Idle)?;
            }
        }
        let mut output = WatermarkOutput::default();
        if let Some(generator) = self.generator.as_mut() {
            generator.on_periodic_emit(&mut output);
        }
        self.emit(output, out)?;
        self.next_periodic = Some(now + self.interval.max(1));
        Ok(())
    }
}
