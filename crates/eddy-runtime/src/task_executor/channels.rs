//! The channels between the tasks of one TaskExecutor, found by [`ChannelId`].
//!
//! Tasks are deployed one at a time and in any order, so a channel is created by
//! whichever of its two ends is asked for first, and the other end waits here
//! for its task. Both ends taken, the channel is forgotten. (Across processes, a
//! channel whose other end lives in another TaskExecutor is a network connection
//! instead.)

use std::collections::HashMap;
use std::sync::Mutex;

use eddy_core::{Error, Result};

use crate::factory::{AnyBox, EdgeFactory};
use crate::protocol::ChannelId;

/// One channel with at most one end taken.
enum Waiting {
    /// The receiving end, waiting for its consumer task.
    Receiver(AnyBox),
    /// The sending end, waiting for its producer task.
    Sender(AnyBox),
}

/// The channels of one TaskExecutor whose ends are not both taken yet.
#[derive(Default)]
pub struct LocalChannels {
    waiting: Mutex<HashMap<ChannelId, Waiting>>,
    capacity: usize,
}

impl LocalChannels {
    /// A registry whose channels hold `capacity` batches.
    pub fn new(capacity: usize) -> Self {
        LocalChannels {
            waiting: Mutex::default(),
            capacity,
        }
    }

    /// The sending end of channel `id`, of `edge`'s type.
    pub fn sender(&self, id: ChannelId, edge: &dyn EdgeFactory) -> Result<AnyBox> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        match waiting.remove(&id) {
            Some(Waiting::Sender(tx)) => Ok(tx),
            Some(Waiting::Receiver(rx)) => {
                waiting.insert(id, Waiting::Receiver(rx));
                Err(taken_twice(id, "sending"))
            }
            None => {
                let (tx, rx) = edge.channel(self.capacity);
                waiting.insert(id, Waiting::Receiver(rx));
                Ok(tx)
            }
        }
    }

    /// The receiving end of channel `id`, of `edge`'s type.
    pub fn receiver(&self, id: ChannelId, edge: &dyn EdgeFactory) -> Result<AnyBox> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        match waiting.remove(&id) {
            Some(Waiting::Receiver(rx)) => Ok(rx),
            Some(Waiting::Sender(tx)) => {
                waiting.insert(id, Waiting::Sender(tx));
                Err(taken_twice(id, "receiving"))
            }
            None => {
                let (tx, rx) = edge.channel(self.capacity);
                waiting.insert(id, Waiting::Sender(tx));
                Ok(rx)
            }
        }
    }

    /// The batches each channel holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many channels wait for one of their ends.
    pub fn pending(&self) -> usize {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

fn taken_twice(id: ChannelId, end: &str) -> Error {
    Error::InvalidGraph(format!("the {end} end of channel {id} was asked for twice"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{Receiver, Sender};
    use crate::factory::TypedEdge;
    use eddy_core::{Element, StreamRecord};

    type B = Vec<StreamRecord<u32>>;

    #[test]
    fn either_end_first_gives_one_connected_channel() {
        let channels = LocalChannels::new(4);
        let edge = TypedEdge::<B>::new();
        let a = ChannelId {
            edge: 0,
            producer: 0,
            consumer: 1,
        };
        let b = ChannelId { consumer: 2, ..a };
        let tx_a = channels.sender(a, &edge).unwrap();
        let rx_b = channels.receiver(b, &edge).unwrap();
        assert_eq!(channels.pending(), 2);
        let rx_a = channels.receiver(a, &edge).unwrap();
        let tx_b = channels.sender(b, &edge).unwrap();
        assert_eq!(channels.pending(), 0);
        for (tx, rx) in [(tx_a, rx_a), (tx_b, rx_b)] {
            let tx = tx.downcast::<Sender<Element<B>>>().unwrap();
            let rx = rx.downcast::<Receiver<Element<B>>>().unwrap();
            tx.force_send(Element::Watermark(7));
            assert_eq!(rx.len(), 1);
        }
    }

    #[test]
    fn an_end_taken_twice_is_an_error() {
        let channels = LocalChannels::new(4);
        let edge = TypedEdge::<B>::new();
        let id = ChannelId {
            edge: 3,
            producer: 1,
            consumer: 0,
        };
        let _tx = channels.sender(id, &edge).unwrap();
        let err = channels.sender(id, &edge).err().unwrap();
        assert!(err.to_string().contains("e3:1->0"), "{err}");
    }
}
