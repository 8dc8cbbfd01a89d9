//! Per-partition watermarks merged per subtask (Flink's per-split watermarks).
//!
//! Each partition has its own generator, fed only that partition's records, so
//! that partitions read at different speeds do not make each other's records
//! late. The subtask's watermark is the minimum over its active partitions; a
//! partition without records for the strategy's idleness timeout does not hold
//! it back, and when every partition is idle the subtask is idle.

use std::collections::BTreeMap;

use eddy_core::Timestamp;
use eddy_runtime::operators::{WatermarkGenerator, WatermarkOutput, WatermarkStrategy};

use crate::partition::TopicPartition;

struct Split<T> {
    generator: Box<dyn WatermarkGenerator<T>>,
    watermark: Option<Timestamp>,
    last_record: i64,
}

/// What the merged watermark says after a periodic emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// Event time advanced to this watermark.
    Advanced(Timestamp),
    /// Every partition is idle.
    Idle,
    /// Nothing new.
    Unchanged,
}

/// The watermarks of one subtask's partitions.
pub struct SplitWatermarks<T> {
    strategy: WatermarkStrategy<T>,
    splits: BTreeMap<TopicPartition, Split<T>>,
    emitted: Option<Timestamp>,
    idle: bool,
}

impl<T: 'static> SplitWatermarks<T> {
    /// Watermarks by `strategy`, with no partitions yet.
    pub fn new(strategy: WatermarkStrategy<T>) -> Self {
        SplitWatermarks {
            strategy,
            splits: BTreeMap::new(),
            emitted: None,
            idle: false,
        }
    }

    /// A partition joins (at open, or found by partition discovery), active as of `now`.
    pub fn add(&mut self, partition: TopicPartition, now: i64) {
        let generator = self.strategy.create_generator();
        self.splits.entry(partition).or_insert(Split {
            generator,
            watermark: None,
            last_record: now,
        });
    }

    /// A partition is finished (bounded read): it no longer holds event time back.
    pub fn remove(&mut self, partition: &TopicPartition) {
        self.splits.remove(partition);
    }

    /// The event time of a record of `partition` (the strategy's assigner, else
    /// the Kafka timestamp), and feeds it to the partition's generator.
    pub fn on_record(
        &mut self,
        partition: &TopicPartition,
        value: &T,
        kafka_timestamp: Option<Timestamp>,
        now: i64,
    ) -> Option<Timestamp> {
        let timestamp = self.strategy.timestamp_of(value, kafka_timestamp)?;
        if let Some(split) = self.splits.get_mut(partition) {
            let mut out = WatermarkOutput::default();
            split.generator.on_event(value, timestamp, &mut out);
            split.last_record = now;
            if let Some(w) = take(out) {
                split.watermark = Some(split.watermark.map_or(w, |old| old.max(w)));
            }
        }
        Some(timestamp)
    }

    /// The periodic emit: asks every generator, then merges.
    pub fn on_periodic_emit(&mut self, now: i64) -> Merged {
        let idleness = self.strategy.idleness().map(|d| d.as_millis() as i64);
        let mut min: Option<Timestamp> = None;
        let mut active = 0usize;
        for split in self.splits.values_mut() {
            let mut out = WatermarkOutput::default();
            split.generator.on_periodic_emit(&mut out);
            if let Some(w) = take(out) {
                split.watermark = Some(split.watermark.map_or(w, |old| old.max(w)));
            }
            if idleness.is_some_and(|i| now - split.last_record >= i) {
                continue;
            }
            active += 1;
            let w = split.watermark.unwrap_or(eddy_core::MIN_WATERMARK);
            min = Some(min.map_or(w, |m| m.min(w)));
        }
        if active == 0 {
            if self.idle || idleness.is_none() {
                return Merged::Unchanged;
            }
            self.idle = true;
            return Merged::Idle;
        }
        self.idle = false;
        match min {
            Some(w) if self.emitted.is_none_or(|e| w > e) && w > eddy_core::MIN_WATERMARK => {
                self.emitted = Some(w);
                Merged::Advanced(w)
            }
            _ => Merged::Unchanged,
        }
    }
}

/// The watermark a generator emitted into `out`, if any.
fn take(out: WatermarkOutput) -> Option<Timestamp> {
    out.emitted()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn strategy() -> WatermarkStrategy<i64> {
        WatermarkStrategy::for_monotonous_timestamps()
            .with_timestamp_assigner(|v: &i64, _| *v)
            .with_idleness(Duration::from_millis(100))
    }

    #[test]
    fn slowest_active_partition_holds_the_watermark() {
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        let mut w = SplitWatermarks::new(strategy());
        w.add(a.clone(), 0);
        w.add(b.clone(), 0);
        w.on_record(&a, &1_000, None, 10);
        w.on_record(&b, &500, None, 10);
        assert_eq!(w.on_periodic_emit(20), Merged::Advanced(499));
        w.on_record(&a, &2_000, None, 30);
        assert_eq!(w.on_periodic_emit(40), Merged::Unchanged);
        // b goes quiet: after the idleness timeout only a counts.
        w.on_record(&a, &3_000, None, 150);
        assert_eq!(w.on_periodic_emit(160), Merged::Advanced(2_999));
        assert_eq!(w.on_periodic_emit(400), Merged::Idle);
        assert_eq!(w.on_periodic_emit(500), Merged::Unchanged);
    }

    #[test]
    fn a_removed_partition_no_longer_counts() {
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        let mut w = SplitWatermarks::new(strategy());
        w.add(a.clone(), 0);
        w.add(b.clone(), 0);
        w.on_record(&a, &1_000, None, 1);
        assert_eq!(w.on_periodic_emit(2), Merged::Unchanged);
        w.remove(&b);
        assert_eq!(w.on_periodic_emit(3), Merged::Advanced(999));
    }
}
