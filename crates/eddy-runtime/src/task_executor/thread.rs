//! A task runs on a thread of its own, as in Flink, with the TaskExecutor's
//! runtime as the context of its I/O and timers.
//!
//! On the runtime's worker threads, a task that hands a batch to the next one
//! wakes it into the same worker's next slot, so a producer and its consumer
//! take turns on one core while the other core idles. On their own threads
//! they run side by side, and a task that blocks (a database sink waiting for
//! its commit) holds no worker.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use eddy_core::{Error, Result};
use tokio::sync::oneshot;

use crate::mini_cluster::TASK_STACK;

/// Runs `task` to its end on a new thread; a panic in it resumes here, so the
/// TaskExecutor reports it as it reports a panicked task.
pub(super) async fn on_own_thread<F>(task: F) -> Result<()>
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    let (done, outcome) = oneshot::channel();
    std::thread::Builder::new()
        .name("eddy-task".into())
        // Operators evaluate user expressions recursively; the stack is
        // reserved, not committed.
        .stack_size(TASK_STACK)
        .spawn(move || {
            let ended = std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(task)));
            let _ = done.send(ended);
        })
        .map_err(|e| Error::Other(format!("cannot start a task thread: {e}")))?;
    match outcome.await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(Error::Other(
            "a task thread ended without its result".into(),
        )),
    }
}
