//! Bounded channels between two subtasks.
//!
//! One channel connects one producing subtask to one consuming subtask. Its capacity
//! (in batches and control elements) is the credit the producer has: when the channel
//! is full the producer waits, which is how backpressure travels back to the sources.
//! Both ends are polled, so a task can wait on many inputs and outputs at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct State<T> {
    queue: VecDeque<T>,
    capacity: usize,
    receiver_waker: Option<Waker>,
    sender_waker: Option<Waker>,
    sender_alive: bool,
    receiver_alive: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // critical section is a single push or pop), so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The producing end of a channel.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The consuming end of a channel.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// Why a send did not go through.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError<T> {
    /// The channel is full; the item is handed back and the task will be woken when
    /// there is room.
    Full(T),
    /// The receiver is gone (its task ended or failed).
    Closed(T),
}

/// Creates a channel that holds at most `capacity` items.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
            receiver_waker: None,
            sender_waker: None,
            sender_alive: true,
            receiver_alive: true,
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// Sends `item` if there is room; otherwise registers the task to be woken when
    /// there is and hands the item back.
    pub fn poll_send(&self, cx: &mut Context<'_>, item: T) -> Result<(), SendError<T>> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(SendError::Closed(item));
        }
        if state.queue.len() >= state.capacity {
            state.sender_waker = Some(cx.waker().clone());
            return Err(SendError::Full(item));
        }
        state.queue.push_back(item);
        if let Some(waker) = state.receiver_waker.take() {
            drop(state);
            waker.wake();
        }
        Ok(())
    }

    /// Sends `item`, ignoring the capacity (used for the final control elements of a
    /// failing or cancelled task, which must never block).
    pub fn force_send(&self, item: T) {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return;
        }
        state.queue.push_back(item);
        if let Some(waker) = state.receiver_waker.take() {
            drop(state);
            waker.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.sender_alive = false;
        if let Some(waker) = state.receiver_waker.take() {
            drop(state);
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item; `Ready(None)` once the sender is gone and the queue is empty.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.shared.lock();
        if let Some(item) = state.queue.pop_front() {
            if let Some(waker) = state.sender_waker.take() {
                drop(state);
                waker.wake();
            }
            return Poll::Ready(Some(item));
        }
        if !state.sender_alive {
            return Poll::Ready(None);
        }
        state.receiver_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The number of items waiting in the channel.
    pub fn len(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        state.queue.clear();
        if let Some(waker) = state.sender_waker.take() {
            drop(state);
            waker.wake();
        }
    }
}
