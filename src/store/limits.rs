//! Fast answers when the store is stuck (issue 16 item 8): the deadline of a webhook's store
//! write and the bound of the queue in front of the SQLite connection thread.
//!
//! A write that has not finished within [`StoreLimits::deadline`] fails with
//! [`StoreError::Unavailable`] (the webhook answers 503; the write may still complete, and the
//! redelivery is then a duplicate). A write queued when [`StoreLimits::queue`] writes already
//! wait fails at once; a queued write whose deadline passed before it started is dropped
//! without touching the database. Each such failure is counted in [`OVERLOAD_METRIC`] by
//! reason and logged at WARN.

use std::time::Duration;

use super::StoreError;

/// Counter of store writes refused for overload, labelled `reason="deadline"` (not finished,
/// or not started, within the deadline) or `reason="queue_full"` (refused at once).
pub const OVERLOAD_METRIC: &str = "ari_store_overload_total";

/// The deadline and queue bound of webhook writes (`--store-deadline-ms`, `--store-queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// How long a webhook's store write may take, queueing included (default 2 s). SQLite's
    /// busy timeout is capped to it.
    pub deadline: Duration,
    /// Webhook writes waiting for or running on the SQLite connection thread at once; one
    /// more is refused at once (default 256). At least 1.
    pub queue: usize,
}

impl StoreLimits {
    /// No deadline in practice (a year) and no queue bound worth the name: what
    /// [`super::sqlite::SqliteStore::open`] uses, for tools and tests that open the file outside
    /// `ari serve` (a short timer would also fire at once under tokio's paused test clock).
    pub fn unbounded() -> Self {
        StoreLimits {
            deadline: Duration::from_secs(365 * 86_400),
            queue: tokio::sync::Semaphore::MAX_PERMITS,
        }
    }
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            deadline: Duration::from_millis(2_000),
            queue: 256,
        }
    }
}

/// Why a write was refused for overload: the label of [`OVERLOAD_METRIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overload {
    /// Not finished (or not started) within the deadline.
    Deadline,
    /// The queue in front of the store was full.
    QueueFull,
}

impl Overload {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Overload::Deadline => "deadline",
            Overload::QueueFull => "queue_full",
        }
    }
}

/// Counts and logs one refused write and returns the error the caller answers 503 for.
pub fn overloaded(reason: Overload, limits: &StoreLimits) -> StoreError {
    metrics::counter!(OVERLOAD_METRIC, "reason" => reason.label()).increment(1);
    let deadline_ms = limits.deadline.as_millis() as u64;
    match reason {
        Overload::Deadline => tracing::warn!(
            deadline_ms,
            "store write not done within the deadline (store locked or slow); answering 503"
        ),
        Overload::QueueFull => tracing::warn!(
            queue = limits.queue,
            "store queue full; answering 503 at once"
        ),
    }
    StoreError::Unavailable(format!("store overloaded: {}", reason.label()))
}

/// The gate of a store whose writes are plain futures (the Convex store's HTTP calls): at most
/// [`StoreLimits::queue`] webhook writes in flight, each cut off at [`StoreLimits::deadline`].
/// The SQLite store has its own, since its queue is the connection thread's.
#[derive(Debug, Clone)]
pub struct WriteGate {
    limits: StoreLimits,
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

impl WriteGate {
    /// A gate with these limits.
    pub fn new(limits: StoreLimits) -> Self {
        WriteGate {
            limits,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(
                limits.queue.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// Runs `write` through the gate. Errors: [`StoreError::Unavailable`] ("store overloaded:
    /// queue_full") at once when the gate is full, ("store overloaded: deadline") when `write`
    /// has not finished within the deadline (it is dropped: an HTTP request in flight may still
    /// reach the store, and the redelivery is then a duplicate); else `write`'s own result.
    pub async fn run<T>(
        &self,
        write: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Ok(_permit) = self.in_flight.try_acquire() else {
            return Err(overloaded(Overload::QueueFull, &self.limits));
        };
        if self.limits.deadline >= StoreLimits::unbounded().deadline {
            // No timer at all: a year-long one still fires at once under tokio's paused clock.
            return write.await;
        }
        match tokio::time::timeout(self.limits.deadline, write).await {
            Ok(answer) => answer,
            Err(_) => Err(overloaded(Overload::Deadline, &self.limits)),
        }
    }
}
