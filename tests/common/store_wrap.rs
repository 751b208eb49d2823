//! A [`Store`] wrapper that counts every call (one call = one round trip to the backing store)
//! and can be told to fail: the whole store down, or the next `n` calls of one operation.
//! Failures are [`StoreError::Unavailable`], what a full disk, a locked file or an unreachable
//! Convex gives.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use ari::inbox::{EnqueueOutcome, InboxRow, NewDelivery};
use ari::store::{
    Appointment, BeginTurn, BookingOutcome, CommitOutcome, ConversationKey, ConversationRecord,
    FailReason, NewAppointment, NewReminder, OutboxRow, OutboxState, SendOutcome, Store,
    StoreError, StoredMessage, TurnCommit, UpcomingAppointment,
};

/// See the module docs.
pub struct WrappedStore {
    inner: Arc<dyn Store>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    failed: AtomicU64,
    down: AtomicBool,
    fail_next: Mutex<HashMap<&'static str, u32>>,
}

impl WrappedStore {
    pub fn new(inner: Arc<dyn Store>) -> Arc<WrappedStore> {
        Arc::new(WrappedStore {
            inner,
            calls: Mutex::new(BTreeMap::new()),
            failed: AtomicU64::new(0),
            down: AtomicBool::new(false),
            fail_next: Mutex::new(HashMap::new()),
        })
    }

    /// Every call fails while `down`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The next `n` calls of `op` (a [`Store`] method name) fail.
    pub fn fail_next(&self, op: &'static str, n: u32) {
        self.fail_next.lock().unwrap().insert(op, n);
    }

    /// Calls per operation, failed ones included.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().unwrap().clone()
    }

    /// Forgets the counts.
    pub fn reset_calls(&self) {
        self.calls.lock().unwrap().clear();
    }

    /// Calls that were made to fail.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }

    fn enter(&self, op: &'static str) -> Result<(), StoreError> {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        let injected = self.down.load(Ordering::SeqCst) || {
            let mut next = self.fail_next.lock().unwrap();
            match next.get_mut(op) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        };
        if injected {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(format!("injected failure in {op}")));
        }
        Ok(())
    }
}

#[async_trait]
impl Store for WrappedStore {
    async fn enqueue_inbound(&self, delivery: NewDelivery) -> Result<EnqueueOutcome, StoreError> {
        self.enter("enqueue_inbound")?;
        self.inner.enqueue_inbound(delivery).await
    }

    async fn delivery_original_body(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<String>, StoreError> {
        self.enter("delivery_original_body")?;
        self.inner.delivery_original_body(idempotency_key).await
    }

    async fn inbox_depth(&self) -> Result<u64, StoreError> {
        self.enter("inbox_depth")?;
        self.inner.inbox_depth().await
    }

    async fn due(&self, query: ari::store::DueQuery) -> Result<ari::store::DueReport, StoreError> {
        self.enter("due")?;
        self.inner.due(query).await
    }

    async fn list_inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxRow>, StoreError> {
        self.enter("list_inbox")?;
        self.inner.list_inbox(after_id, limit).await
    }

    async fn pending_conversations(
        &self,
        limit: u32,
        now_ms: i64,
        orphan_ttl_ms: i64,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        self.enter("pending_conversations")?;
        self.inner
            .pending_conversations(limit, now_ms, orphan_ttl_ms)
            .await
    }

    async fn set_aside_turn(
        &self,
        key: &ConversationKey,
        failure: &ari::store::TurnFailure,
    ) -> Result<ari::store::SetAside, StoreError> {
        self.enter("set_aside_turn")?;
        self.inner.set_aside_turn(key, failure).await
    }

    async fn erase_contact(
        &self,
        key: &ConversationKey,
        now_ms: i64,
    ) -> Result<ari::store::EraseOutcome, StoreError> {
        self.enter("erase_contact")?;
        self.inner.erase_contact(key, now_ms).await
    }

    async fn conversation_key(
        &self,
        conversation_id: i64,
    ) -> Result<Option<ConversationKey>, StoreError> {
        self.enter("conversation_key")?;
        self.inner.conversation_key(conversation_id).await
    }

    async fn queue_due_followups(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        self.enter("queue_due_followups")?;
        self.inner.queue_due_followups(now_ms, limit).await
    }

    async fn enqueue_control(
        &self,
        conversation_id: i64,
        event_type: &str,
        now_ms: i64,
    ) -> Result<Option<ConversationKey>, StoreError> {
        self.enter("enqueue_control")?;
        self.inner
            .enqueue_control(conversation_id, event_type, now_ms)
            .await
    }

    async fn begin_turn(
        &self,
        key: &ConversationKey,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<BeginTurn, StoreError> {
        self.enter("begin_turn")?;
        self.inner.begin_turn(key, now_ms, lease_ms).await
    }

    async fn commit_turn(&self, commit: TurnCommit) -> Result<CommitOutcome, StoreError> {
        self.enter("commit_turn")?;
        self.inner.commit_turn(commit).await
    }

    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.enter("claim_outbox")?;
        self.inner.claim_outbox(now_ms, lease_ms, limit).await
    }

    async fn record_send(
        &self,
        outbox_id: i64,
        outcome: SendOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.enter("record_send")?;
        self.inner.record_send(outbox_id, outcome, now_ms).await
    }

    async fn record_delivery_failure(
        &self,
        kapso_message_id: &str,
        error: &str,
        reason: FailReason,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.enter("record_delivery_failure")?;
        self.inner
            .record_delivery_failure(kapso_message_id, error, reason, now_ms)
            .await
    }

    async fn list_outbox(
        &self,
        state: OutboxState,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.enter("list_outbox")?;
        self.inner.list_outbox(state, after_id, limit).await
    }

    async fn requeue_outbox(
        &self,
        outbox_id: i64,
        now_ms: i64,
    ) -> Result<Option<OutboxRow>, StoreError> {
        self.enter("requeue_outbox")?;
        self.inner.requeue_outbox(outbox_id, now_ms).await
    }

    async fn book_slot(&self, booking: NewAppointment) -> Result<BookingOutcome, StoreError> {
        self.enter("book_slot")?;
        self.inner.book_slot(booking).await
    }

    async fn booked_slots(
        &self,
        workspace_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::HashMap<String, u32>, StoreError> {
        self.enter("booked_slots")?;
        self.inner.booked_slots(workspace_id, from_ms, to_ms).await
    }

    async fn conversation_appointments(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<Appointment>, StoreError> {
        self.enter("conversation_appointments")?;
        self.inner.conversation_appointments(key).await
    }

    async fn conversation_messages(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.enter("conversation_messages")?;
        self.inner.conversation_messages(key).await
    }

    async fn conversation_outbox(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.enter("conversation_outbox")?;
        self.inner.conversation_outbox(key).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.enter("check_writable")?;
        self.inner.check_writable().await
    }

    async fn release_turn(
        &self,
        conversation_id: i64,
        lease_token: &str,
    ) -> Result<(), StoreError> {
        self.enter("release_turn")?;
        self.inner.release_turn(conversation_id, lease_token).await
    }

    async fn move_appointment(
        &self,
        from_appointment_id: i64,
        to: NewAppointment,
    ) -> Result<BookingOutcome, StoreError> {
        self.enter("move_appointment")?;
        self.inner.move_appointment(from_appointment_id, to).await
    }

    async fn cancel_appointment(
        &self,
        conversation_id: i64,
        appointment_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.enter("cancel_appointment")?;
        self.inner
            .cancel_appointment(conversation_id, appointment_id, now_ms)
            .await
    }

    async fn upcoming_appointments(
        &self,
        from_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<UpcomingAppointment>, StoreError> {
        self.enter("upcoming_appointments")?;
        self.inner
            .upcoming_appointments(from_ms, until_ms, limit)
            .await
    }

    async fn record_reminder(
        &self,
        reminder: NewReminder,
    ) -> Result<Option<Vec<OutboxRow>>, StoreError> {
        self.enter("record_reminder")?;
        self.inner.record_reminder(reminder).await
    }

    async fn knowledge_entries(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.enter("knowledge_entries")?;
        self.inner.knowledge_entries(workspace_id).await
    }

    async fn put_knowledge_entry(
        &self,
        workspace_id: &str,
        entry_id: &str,
        toml: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.enter("put_knowledge_entry")?;
        self.inner
            .put_knowledge_entry(workspace_id, entry_id, toml, now_ms)
            .await
    }

    async fn conversation_record(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        self.enter("conversation_record")?;
        self.inner.conversation_record(key).await
    }

    /// The backing store's own count (the wrapper's per-operation counts are in [`calls`]).
    fn round_trips(&self) -> u64 {
        self.inner.round_trips()
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}
