//! Topic partitions and which subtask reads each one.
//!
//! A partition is a split of the source. Assignment is a pure function of the
//! topic, the partition and the parallelism (the same as Flink's Kafka source
//! enumerator): every subtask computes its own share without talking to the
//! others, and a restore at another parallelism redistributes the partitions.

use serde::{Deserialize, Serialize};

/// A partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl TopicPartition {
    /// `kafka://<topic>/<partition>`: where a record of it came from, as a
    /// reader's [`splits`](eddy_runtime::SourceReader::splits) name it.
    pub fn uri(&self) -> String {
        split_uri(&self.topic, self.partition)
    }
}

/// `kafka://<topic>/<partition>` (see [`TopicPartition::uri`]).
pub fn split_uri(topic: &str, partition: i32) -> String {
    format!("kafka://{topic}/{partition}")
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Java's `String.hashCode`, so that partitions land on the subtasks Flink
/// would pick.
fn java_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31)
            .wrapping_add(i32::from(unit as i16) & 0xFFFF)
    })
}

/// The subtask (of `parallelism`) that reads `partition` of `topic`: the
/// topic's partitions go round-robin from a start index the topic's name picks.
pub fn owner(topic: &str, partition: i32, parallelism: usize) -> usize {
    let parallelism = parallelism.max(1);
    let start = (java_hash(topic).wrapping_mul(31) & 0x7FFF_FFFF) as usize % parallelism;
    (start + partition.max(0) as usize) % parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        assert_eq!(java_hash("topic"), 110_546_223);
    }

    #[test]
    fn partitions_of_a_topic_spread_round_robin() {
        let owners: Vec<usize> = (0..6).map(|p| owner("events", p, 3)).collect();
        for (p, o) in owners.iter().enumerate() {
            assert_eq!(*o, (owners[0] + p) % 3);
        }
        assert!((0..4).all(|p| owner("x", p, 1) == 0));
    }
}
