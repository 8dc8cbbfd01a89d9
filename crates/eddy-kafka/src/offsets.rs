//! Where a source starts reading a partition, and where a bounded source stops.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::{KafkaError, KafkaResult};
use crate::partition::TopicPartition;

/// A rule that picks an offset per partition (Flink's `OffsetsInitializer`):
/// where to start (`scan.startup.mode`) or, for a bounded source, where to stop
/// (`scan.bounded.mode`, exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsInitializer {
    /// The first offset still in the partition (`earliest-offset`).
    Earliest,
    /// The end of the partition when the source opens (`latest-offset`).
    Latest,
    /// The offsets committed by the consumer group (`group-offsets`); a
    /// partition without one starts from the earliest offset.
    Committed,
    /// The first record whose timestamp is at or after this one, in ms
    /// (`timestamp`).
    Timestamp(i64),
    /// Given offsets (`specific-offsets`); partitions not named start from the
    /// earliest offset (or, as a stop, are read to their end when the source opens).
    Specific(BTreeMap<TopicPartition, i64>),
}

impl OffsetsInitializer {
    /// Resolves concrete offsets for `partitions`.
    pub(crate) fn resolve(
        &self,
        consumer: &BaseConsumer,
        partitions: &[TopicPartition],
        timeout: Duration,
        as_stop: bool,
    ) -> KafkaResult<BTreeMap<TopicPartition, i64>> {
        let watermarks = |tp: &TopicPartition| {
            consumer
                .fetch_watermarks(&tp.topic, tp.partition, timeout)
                .map_err(|e| KafkaError::client(format!("reading the offsets of {tp}"), e))
        };
        let mut out = BTreeMap::new();
        match self {
            OffsetsInitializer::Earliest => {
                for tp in partitions {
                    out.insert(tp.clone(), watermarks(tp)?.0);
                }
            }
            OffsetsInitializer::Latest => {
                for tp in partitions {
                    out.insert(tp.clone(), watermarks(tp)?.1);
                }
            }
            OffsetsInitializer::Committed => {
                let mut tpl = TopicPartitionList::new();
                for tp in partitions {
                    tpl.add_partition(&tp.topic, tp.partition);
                }
                let committed = consumer
                    .committed_offsets(tpl, timeout)
                    .map_err(|e| KafkaError::client("reading the group's committed offsets", e))?;
                for tp in partitions {
                    let offset = match committed
                        .find_partition(&tp.topic, tp.partition)
                        .map(|e| e.offset())
                    {
                        Some(Offset::Offset(o)) => o,
                        _ => watermarks(tp)?.0,
                    };
                    out.insert(tp.clone(), offset);
                }
            }
            OffsetsInitializer::Timestamp(ts) => {
                let mut tpl = TopicPartitionList::new();
                for tp in partitions {
                    tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*ts))
                        .map_err(|e| KafkaError::client("looking up offsets by timestamp", e))?;
                }
                let found = consumer
                    .offsets_for_times(tpl, timeout)
                    .map_err(|e| KafkaError::client("looking up offsets by timestamp", e))?;
                for tp in partitions {
                    let offset = match found
                        .find_partition(&tp.topic, tp.partition)
                        .map(|e| e.offset())
                    {
                        Some(Offset::Offset(o)) if o >= 0 => o,
                        // No record that late: the end of the partition.
                        _ => watermarks(tp)?.1,
                    };
                    out.insert(tp.clone(), offset);
                }
            }
            OffsetsInitializer::Specific(offsets) => {
                for tp in partitions {
                    let offset = match offsets.get(tp) {
                        Some(o) => *o,
                        None if as_stop => watermarks(tp)?.1,
                        None => watermarks(tp)?.0,
                    };
                    out.insert(tp.clone(), offset);
                }
            }
        }
        Ok(out)
    }
}

/// Parses Flink's `scan.startup.specific-offsets` /
/// `scan.bounded.specific-offsets`: `partition:0,offset:42;partition:1,offset:300`.
pub fn parse_specific_offsets(
    option: &str,
    topic: &str,
    text: &str,
) -> KafkaResult<BTreeMap<TopicPartition, i64>> {
    let mut out = BTreeMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for field in entry.split(',') {
            let (key, value) = field.split_once(':').ok_or_else(|| {
                KafkaError::option(
                    option,
                    format!("expected 'partition:P,offset:O', got '{entry}'"),
                )
            })?;
            let number = || {
                value.trim().parse::<i64>().map_err(|_| {
                    KafkaError::option(option, format!("'{}' is not a number", value.trim()))
                })
            };
            match key.trim() {
                "partition" => partition = Some(number()? as i32),
                "offset" => offset = Some(number()?),
                other => {
                    return Err(KafkaError::option(
                        option,
                        format!("unknown field '{other}' (expected partition and offset)"),
                    ))
                }
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) => {
                out.insert(TopicPartition::new(topic, p), o);
            }
            _ => {
                return Err(KafkaError::option(
                    option,
                    format!("'{entry}' needs both partition and offset"),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flink_specific_offsets() {
        let parsed =
            parse_specific_offsets("o", "t", "partition:0,offset:42;partition:1,offset:300")
                .expect("valid");
        assert_eq!(parsed.get(&TopicPartition::new("t", 0)), Some(&42));
        assert_eq!(parsed.get(&TopicPartition::new("t", 1)), Some(&300));
        let bad = parse_specific_offsets("o", "t", "partition:0").expect_err("no offset");
        assert!(bad.to_string().contains("'o'"), "{bad}");
    }
}
