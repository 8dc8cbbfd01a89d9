//! A table's event-time watermark (`WATERMARK FOR column AS expr`), emitted as
//! Flink's SQL watermark assigner emits it.
//!
//! The assigner keeps the largest value of the watermark expression seen so far
//! (starting at 0, as Flink's does) and emits it:
//!
//! - right after the record that raised it by more than
//!   `pipeline.auto-watermark-interval` (200 ms) over the last emitted one (the
//!   batch is cut there, so every later record comes after the watermark);
//! - on a periodic processing-time timer of that interval, if it rose at all;
//! - as `+inf` at the end of input.
//!
//! So on data of second granularity every record that advances the watermark
//! emits it before the next record, whatever the batch size, and a downstream
//! window decides lateness row by row as Flink does.
//!
//! Over a source of splits (Kafka partitions) the largest value is kept per
//! split and the watermark is the smallest of them over the splits the source
//! reads, a split without records holding it back: Flink's per-split
//! watermarks, pushed into its Kafka source, so partitions read at different
//! speeds do not make each other's records late. With
//! `table.exec.source.idle-timeout` (Flink's option, off by default) a split
//! without records for that long no longer holds the watermark back.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion_physical_expr::PhysicalExpr;
use eddy_core::config::options;
use eddy_core::{Result, Timestamp, MAX_WATERMARK};
use eddy_runtime::output::Emitter;
use eddy_runtime::{Operator, OperatorContext};

use crate::error::runtime;
use crate::exec::calc::evaluate;

/// Computes and emits a table's watermark (see the module docs).
pub struct WatermarkAssigner {
    expr: Arc<dyn PhysicalExpr>,
    /// The rowtime column: a NULL in it fails the job, as in Flink.
    rowtime: usize,
    /// `column - delay`: the watermark is the column minus the delay, without
    /// evaluating the expression.
    bounded: Option<(usize, i64)>,
    /// The largest watermark computed so far.
    current: Timestamp,
    /// Per split of the source: the largest value of the expression.
    per_split: HashMap<Arc<str>, Timestamp>,
    /// Per split: when (processing time) it last had a record.
    last_seen: HashMap<Arc<str>, Timestamp>,
    /// `table.exec.source.idle-timeout` in milliseconds (`None`: off).
    idle_timeout: Option<i64>,
    /// When the assigner opened (a split never seen is idle from then).
    opened_at: Timestamp,
    /// The source's splits as of its last batch (the periodic timer may run
    /// on another thread than the source's batches).
    owned: Option<Vec<Arc<str>>>,
    /// The last watermark emitted.
    emitted: Timestamp,
    /// `pipeline.auto-watermark-interval` in milliseconds.
    interval: i64,
    /// When the periodic timer last emitted.
    last_periodic: Timestamp,
    next_periodic: Option<Timestamp>,
    clock: Option<Arc<dyn eddy_core::time::Clock>>,
}

impl WatermarkAssigner {
    /// An assigner over `expr` (a timestamp expression) for the time attribute
    /// in column `rowtime`.
    pub fn new(expr: Arc<dyn PhysicalExpr>, rowtime: usize) -> Self {
        WatermarkAssigner {
            expr,
            rowtime,
            bounded: None,
            current: 0,
            per_split: HashMap::new(),
            last_seen: HashMap::new(),
            idle_timeout: None,
            opened_at: 0,
            owned: None,
            emitted: 0,
            interval: 200,
            last_periodic: 0,
            next_periodic: None,
            clock: None,
        }
    }

    /// The expression is `column - delay_ms` (bounded out-of-orderness).
    pub fn bounded(mut self, column: usize, delay_ms: i64) -> Self {
        self.bounded = Some((column, delay_ms));
        self
    }

    /// The smallest split watermark over the source's active splits at `now`
    /// (splits idle for the idle timeout left out; when every split is idle,
    /// over those that had records, whose watermarks stand until more come);
    /// `None` while an active split has no record yet.
    fn merged(&self, owned: &[Arc<str>], now: Timestamp) -> Option<Timestamp> {
        let idle = |split: &Arc<str>| {
            self.idle_timeout.is_some_and(|timeout| {
                let seen = self.last_seen.get(split).copied().unwrap_or(self.opened_at);
                now.saturating_sub(seen) >= timeout
            })
        };
        let mut lowest: Option<Timestamp> = None;
        let mut any_active = false;
        for split in owned.iter().filter(|s| !idle(s)) {
            any_active = true;
            let value = self.per_split.get(split).copied()?;
            lowest = Some(lowest.map_or(value, |l| l.min(value)));
        }
        if !any_active {
            return owned
                .iter()
                .filter_map(|s| self.per_split.get(s).copied())
                .min();
        }
        lowest
    }

    /// Emits the current watermark if it rose since the last one emitted.
    fn advance(&mut self, out: &mut Emitter<'_, RecordBatch>) -> Result<()> {
        if self.current > self.emitted {
            self.emitted = self.current;
            out.emit_watermark(self.current)?;
        }
        Ok(())
    }
}

impl Operator for WatermarkAssigner {
    type In = RecordBatch;
    type Out = RecordBatch;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let interval = ctx.config.get(&options::AUTO_WATERMARK_INTERVAL)?;
        self.interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        self.idle_timeout = match ctx.config.get_str("table.exec.source.idle-timeout") {
            None => None,
            Some(text) => {
                let timeout = eddy_core::time::parse_duration(text).map_err(|e| {
                    runtime(format!(
                        "invalid configuration for 'table.exec.source.idle-timeout': {e}"
                    ))
                })?;
                (!timeout.is_zero()).then(|| i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX))
            }
        };
        let now = ctx.now();
        self.opened_at = now;
        self.clock = Some(ctx.clock.clone());
        self.last_periodic = now;
        self.next_periodic = (self.interval > 0).then(|| now.saturating_add(self.interval));
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: RecordBatch,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        let rowtime = batch.column(self.rowtime);
        if rowtime.null_count() > 0 {
            // A retraction may lack its time (an upsert source's tombstone
            // carries only its key); an added row may not.
            let kinds = crate::exec::changelog::kinds(&batch);
            let added_without_time = (0..batch.num_rows()).any(|i| {
                rowtime.is_null(i) && crate::exec::changelog::kind_at(kinds, i).is_addition()
            });
            if added_without_time {
                return Err(runtime(
                    "RowTime field should not be null, please convert it to a non-null long value.",
                ));
            }
        }
        let (values, delay) = match self.bounded {
            Some((column, delay)) => (batch.column(column).clone(), delay),
            None => (evaluate(&self.expr, &batch)?, 0),
        };
        let millis =
            arrow::compute::cast(&values, &DataType::Timestamp(TimeUnit::Millisecond, None))
                .map_err(runtime)?;
        let millis = millis.as_primitive::<TimestampMillisecondType>();
        let owned = crate::exec::origin::owned_splits();
        if owned.is_some() {
            self.owned.clone_from(&owned);
        }
        let runs = owned
            .as_ref()
            .and_then(|_| crate::exec::origin::split_runs(&batch));
        let now = self.clock.as_ref().map_or(0, |c| c.now_millis());
        if let (Some(_), Some(runs)) = (self.idle_timeout, &runs) {
            for (_, split) in runs {
                self.last_seen.insert(split.clone(), now);
            }
        }
        // The run of splits the current row belongs to.
        let mut run = 0;
        // Rows up to `from` have been forwarded.
        let mut from = 0;
        for i in 0..batch.num_rows() {
            if millis.is_valid(i) {
                let value = millis.value(i).saturating_sub(delay);
                match (&owned, &runs) {
                    (Some(owned), Some(runs)) if !runs.is_empty() => {
                        while runs.get(run + 1).is_some_and(|(start, _)| *start <= i) {
                            run += 1;
                        }
                        let split = &runs[run].1;
                        let raised = match self.per_split.get_mut(split) {
                            Some(max) if *max >= value => false,
                            Some(max) => {
                                *max = value;
                                true
                            }
                            None => {
                                self.per_split.insert(split.clone(), value);
                                true
                            }
                        };
                        if raised {
                            if let Some(lowest) = self.merged(owned, now) {
                                self.current = self.current.max(lowest);
                            }
                        }
                    }
                    _ => self.current = self.current.max(value),
                }
            }
            if self.current.saturating_sub(self.emitted) > self.interval {
                let slice = batch.slice(from, i + 1 - from);
                crate::exec::origin::forward_slice(&batch, &slice, from);
                out.collect(slice)?;
                from = i + 1;
                self.advance(out)?;
            }
        }
        if from < batch.num_rows() {
            let slice = batch.slice(from, batch.num_rows() - from);
            crate::exec::origin::forward_slice(&batch, &slice, from);
            out.collect(slice)?;
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        // Only the end of input (+inf) passes: the table's own watermark rules.
        if watermark == MAX_WATERMARK && self.current != MAX_WATERMARK {
            self.current = MAX_WATERMARK;
            self.emitted = MAX_WATERMARK;
            out.emit_watermark(watermark)?;
        }
        Ok(())
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.next_periodic
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, RecordBatch>,
    ) -> Result<()> {
        if self.last_periodic.saturating_add(self.interval) <= now {
            self.last_periodic = now;
            // A split may have gone idle since the last record.
            if let (Some(_), Some(owned)) = (self.idle_timeout, &self.owned) {
                if let Some(lowest) = self.merged(owned, now) {
                    self.current = self.current.max(lowest);
                }
            }
            self.advance(out)?;
        }
        self.next_periodic = Some(now.saturating_add(self.interval));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema};
    use eddy_core::WatermarkStatus;
    use eddy_runtime::output::{Output, SideOutputs};

    /// What the assigner emitted: row ids and watermarks, in order.
    #[derive(Default)]
    struct Events(Vec<String>);

    impl Output<RecordBatch> for Events {
        fn collect(&mut self, batch: RecordBatch) -> Result<()> {
            let ids = batch
                .column(0)
                .as_primitive::<arrow::datatypes::Int32Type>();
            self.0.extend(ids.values().iter().map(|i| format!("r{i}")));
            Ok(())
        }
        fn emit_watermark(&mut self, watermark: Timestamp) -> Result<()> {
            self.0.push(format!("w{watermark}"));
            Ok(())
        }
        fn emit_status(&mut self, _: WatermarkStatus) -> Result<()> {
            Ok(())
        }
    }

    fn batch(times: &[Option<i64>]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int32Array::from_iter_values(0..times.len() as i32)),
                Arc::new(TimestampMillisecondArray::from(times.to_vec())),
            ],
        )
        .unwrap()
    }

    fn assigner(delay: i64) -> WatermarkAssigner {
        let expr = datafusion_physical_expr::expressions::col("ts", &batch(&[]).schema()).unwrap();
        WatermarkAssigner::new(expr, 1).bounded(1, delay)
    }

    fn run(assigner: &mut WatermarkAssigner, times: &[Option<i64>]) -> Result<Vec<String>> {
        let mut events = Events::default();
        let mut sides = SideOutputs::default();
        let mut out = Emitter::new(&mut events, &mut sides);
        assigner.process_batch(batch(times), &mut out)?;
        Ok(events.0)
    }

    #[test]
    fn a_watermark_follows_the_record_that_raises_it_by_more_than_the_interval() {
        let mut a = assigner(1000);
        let times = [1000, 5000, 5100, 5250, 3000, 9000].map(Some);
        assert_eq!(
            run(&mut a, &times).unwrap(),
            ["r0", "r1", "w4000", "r2", "r3", "w4250", "r4", "r5", "w8000"]
        );
        // 1150 and 1200 are not more than 200 ms over 1000.
        let mut a = assigner(0);
        let times = [1000, 1150, 1200, 1201].map(Some);
        assert_eq!(
            run(&mut a, &times).unwrap(),
            ["r0", "w1000", "r1", "r2", "r3", "w1201"]
        );
    }

    #[test]
    fn the_watermark_starts_at_zero_and_ends_at_infinity() {
        let mut a = assigner(0);
        assert_eq!(
            run(&mut a, &[Some(-5000), Some(100)]).unwrap(),
            ["r0", "r1"]
        );
        let mut events = Events::default();
        let mut sides = SideOutputs::default();
        let mut out = Emitter::new(&mut events, &mut sides);
        a.on_processing_time(1_000, &mut out).unwrap();
        a.process_watermark(5, &mut out).unwrap();
        a.process_watermark(MAX_WATERMARK, &mut out).unwrap();
        a.process_watermark(MAX_WATERMARK, &mut out).unwrap();
        assert_eq!(events.0, ["w100", format!("w{MAX_WATERMARK}").as_str()]);
    }

    #[test]
    fn a_null_rowtime_fails_as_in_flink() {
        let error = run(&mut assigner(0), &[Some(1), None]).unwrap_err();
        assert!(error
            .to_string()
            .contains("RowTime field should not be null"));
    }
}
