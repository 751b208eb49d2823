//! The store contract: everything ARI persists goes through [`Store`], shaped by round trips.
//!
//! Each operation is one round trip to the backing store (one SQLite transaction, or one Convex
//! mutation), because the old processor's 17 to 23 sequential round trips per message were a
//! large part of why it never worked. Two implementations sit behind the same contract tests:
//! [`sqlite::SqliteStore`] (embedded default) and, later, a Convex store over its HTTP API.

pub mod sqlite;

use async_trait::async_trait;

use crate::inbox::{EnqueueOutcome, InboxRow, NewDelivery};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or cannot write right now (I/O error, disk full, closed,
    /// locked). Transient: the webhook answers 503 so Kapso retries.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be decoded (a bug or a manual edit).
    #[error("stored data is invalid: {0}")]
    InvalidData(String),
}

/// Durable state of ARI. Implementations are cheap to clone behind an `Arc` and safe to share
/// between tasks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records one webhook delivery and its items in one transaction: claims the delivery's
    /// idempotency key (a second claim returns [`EnqueueOutcome::DuplicateDelivery`] and stores
    /// nothing), and claims each message's `(phone_number_id, wamid)` and each status's
    /// `(phone_number_id, wamid, status)` so the same item under another key is stored once.
    /// Returns only after the rows are durable. One round trip.
    async fn enqueue_inbound(&self, delivery: NewDelivery) -> Result<EnqueueOutcome, StoreError>;

    /// Number of inbox rows waiting for the worker (state `pending`). One round trip.
    async fn inbox_depth(&self) -> Result<u64, StoreError>;

    /// Inbox rows with `id > after_id`, in arrival order, at most `limit`. For the worker,
    /// operators and tests. One round trip.
    async fn list_inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxRow>, StoreError>;

    /// Proves the store accepts writes (`GET /readyz`). One round trip.
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// Flushes and closes the store (graceful shutdown). Later calls fail with
    /// [`StoreError::Unavailable`].
    async fn close(&self) -> Result<(), StoreError>;
}
