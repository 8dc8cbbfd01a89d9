//! The checkpointed position of a source subtask: the next offset of each of
//! its partitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{KafkaError, KafkaResult};
use crate::partition::TopicPartition;

/// Next offsets by partition, as stored in a checkpoint.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SourcePosition {
    /// The next offset to read of every partition the subtask owned.
    pub offsets: Vec<(TopicPartition, i64)>,
}

impl SourcePosition {
    pub fn encode(&self) -> KafkaResult<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| KafkaError::State(format!("encoding offsets: {e}")))
    }

    /// Merges the positions of every subtask of the checkpointed run (a union)
    /// into one map; a partition listed twice keeps its furthest offset.
    pub fn merge(positions: &[Vec<u8>]) -> KafkaResult<BTreeMap<TopicPartition, i64>> {
        let mut out = BTreeMap::new();
        for bytes in positions.iter().filter(|b| !b.is_empty()) {
            let position: SourcePosition = postcard::from_bytes(bytes)
                .map_err(|e| KafkaError::State(format!("decoding checkpointed offsets: {e}")))?;
            for (tp, offset) in position.offsets {
                let entry = out.entry(tp).or_insert(offset);
                *entry = (*entry).max(offset);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_subtask_positions() {
        let a = SourcePosition {
            offsets: vec![(TopicPartition::new("t", 0), 5)],
        };
        let b = SourcePosition {
            offsets: vec![(TopicPartition::new("t", 1), 7)],
        };
        let merged =
            SourcePosition::merge(&[a.encode().expect("a"), Vec::new(), b.encode().expect("b")])
                .expect("merge");
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[&TopicPartition::new("t", 1)], 7);
        assert!(SourcePosition::merge(&[vec![0xff, 0xff, 0xff]]).is_err());
    }
}
