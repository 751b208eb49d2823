//! The store contract: everything ARI persists goes through [`Store`], shaped by round trips.
//!
//! Each operation is one round trip to the backing store (one SQLite transaction, or one Convex
//! mutation), because the old processor's 17 to 23 sequential round trips per message were a
//! large part of why it never worked. Two implementations sit behind the same contract tests:
//! [`sqlite::SqliteStore`] (embedded default) and [`convex::ConvexStore`] (Convex's HTTP API, for
//! several replicas sharing one deployment). Both count their round trips the same way
//! ([`Store::round_trips`], [`ROUND_TRIPS_METRIC`]), so the cost of a message can be compared.
//!
//! Schema changes: SQLite migrations are appended in order to the one `MIGRATIONS` list of
//! [`sqlite`] (applied at start, tracked in `PRAGMA user_version`, so a migration's number is
//! its place in the list and a landed one never changes). Two issues must not both add
//! "migration N": the second to land rebases and renumbers its migration before landing. The
//! flow snapshot is opaque here; its new fields are `#[serde(default)]` (see
//! [`crate::flow::Snapshot`]), so it needs no migration.

pub mod convex;
pub mod limits;
pub mod model;
pub mod sqlite;

use async_trait::async_trait;

use crate::inbox::{EnqueueOutcome, InboxRow, NewDelivery};
pub use model::{
    Appointment, BeginTurn, BookingOutcome, Channel, CommitOutcome, ConversationKey,
    ConversationRecord, ConversationSummary, Direction, DueQuery, DueReport, EraseOutcome,
    EraseReceipt, FailReason, Fallback, LeadChange, NewAppointment, NewMessage, NewReminder,
    NewWebhook, Once, OutboxRow, OutboxState, QueuedRow, ReminderMessage, SendOutcome, SendRequest,
    SetAside, StoredMessage, TOLD_META, TurnClaim, TurnCommit, TurnFailure, UNDELIVERED_META,
    UpcomingAppointment, merge_body,
};

/// Counter of the store's round trips (one SQLite transaction or one Convex HTTP request each),
/// labelled `store="sqlite"` or `store="convex"`.
pub const ROUND_TRIPS_METRIC: &str = "ari_store_round_trips_total";

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
    /// A conversation's stored flow snapshot is not JSON: every turn of it fails the same way
    /// until it is set aside ([`Store::set_aside_turn`], issue 16 item 9).
    #[error("stored flow snapshot is invalid: {0}")]
    InvalidSnapshot(String),
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

    /// The original body of the delivery with this idempotency key, when ingress kept it (it
    /// repaired the body to parse it: [`crate::inbox::NewDelivery::original_body`]); `None`
    /// otherwise or for an unknown key. For operators and tests. One round trip.
    async fn delivery_original_body(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Number of inbox rows waiting for the worker (state `pending`). One round trip, which
    /// loads no row: SQLite counts (`COUNT(*)` on the state index); Convex, which has no
    /// COUNT, reads at most 1,000 (`DEPTH_SCAN` in `convex/inbox.ts`) and says 1,000 past it.
    async fn inbox_depth(&self) -> Result<u64, StoreError>;

    /// Inbox rows with `id > after_id`, in arrival order, at most `limit`. For the worker,
    /// operators and tests. One round trip.
    async fn list_inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxRow>, StoreError>;

    /// Conversations with pending inbox rows, the one waiting longest first, at most `limit`.
    /// The worker's recovery poll (after a restart, or rows another replica ingested). First it
    /// attaches pending rows that name only a Kapso conversation id (workflow events) to the
    /// conversation with that id; such rows still unmatched after `orphan_ttl_ms` become
    /// unroutable. One round trip.
    async fn pending_conversations(
        &self,
        limit: u32,
        now_ms: i64,
        orphan_ttl_ms: i64,
    ) -> Result<Vec<ConversationKey>, StoreError>;

    /// What the worker has to do now (issue 17 item 3), in one read that writes nothing: the
    /// conversations with pending rows (when asked), whether orphans or outbox heads are due,
    /// the next retry, reminder and follow-up times, the knowledge version. The worker calls
    /// the specific pass only when this says there is work. One round trip (SQLite: a few
    /// indexed local queries; Convex: the `worker:due` query).
    async fn due(&self, query: DueQuery) -> Result<DueReport, StoreError>;

    /// Queues an operator's command (e.g. [`crate::inbox::RESUME_EVENT`]) for the conversation
    /// with this id, as an inbox row processed in order with the lead's messages. Returns the
    /// conversation's key, or `None` when no conversation has that id. One round trip.
    async fn enqueue_control(
        &self,
        conversation_id: i64,
        event_type: &str,
        now_ms: i64,
    ) -> Result<Option<ConversationKey>, StoreError>;

    /// Queues the follow-ups due at `now_ms` (issue 18): for at most `limit` conversations whose
    /// [`ConversationSummary::followup_due_ms`] has come, soonest first, one
    /// [`crate::inbox::FOLLOWUP_DUE_EVENT`] control row carrying the due time (raw
    /// `{"due_at_ms"}`), queued once per due time, and the due time cleared, in one transaction.
    /// Returns the conversations that got a row (to wake the worker). One round trip.
    async fn queue_due_followups(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<ConversationKey>, StoreError>;

    /// Claims a conversation for one turn and reads everything the turn needs: the snapshot,
    /// the version, the pending inbox rows in order, the recent messages. Creates the
    /// conversation on its first message. Takes a lease until `now_ms + lease_ms`; an unexpired
    /// lease of another worker gives [`BeginTurn::Busy`]. One round trip.
    async fn begin_turn(
        &self,
        key: &ConversationKey,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<BeginTurn, StoreError>;

    /// Applies one turn in one transaction, fenced by the claimed version and lease: the
    /// messages, the new snapshot, the outbox rows, and the consumed inbox rows marked done.
    /// A moved version or lost lease gives [`CommitOutcome::Stale`] and writes nothing. The new
    /// outbox rows come back claimed by the caller for [`TurnCommit::outbox_lease_ms`].
    /// One round trip.
    async fn commit_turn(&self, commit: TurnCommit) -> Result<CommitOutcome, StoreError>;

    /// Gives up a claimed turn without writing anything (a newer message interrupted it): the
    /// lease is cleared when `lease_token` still holds it, so the next turn can start at once.
    /// One round trip.
    async fn release_turn(&self, conversation_id: i64, lease_token: &str)
    -> Result<(), StoreError>;

    /// Claims outbox rows due for a delivery attempt: per conversation only the oldest
    /// unfinished row (a contact's messages go out one after the other), due at `now_ms`. The
    /// claimed rows are not due again for `lease_ms` (so two senders never send one row at
    /// once); a crashed sender's rows come back after the lease. One round trip.
    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// Records the outcome of a delivery attempt of one outbox row. One round trip.
    async fn record_send(
        &self,
        outbox_id: i64,
        outcome: SendOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Records that WhatsApp reported a sent message as failed (`whatsapp.message.failed`,
    /// e.g. 131047 outside the 24 h window: `reason` [`FailReason::WindowClosed`], else
    /// [`FailReason::ReportedFailed`]), matched by Kapso's message id. A row already failed is
    /// left as it is. Returns the outbox row's id, or `None` when no row has that id. One round
    /// trip.
    async fn record_delivery_failure(
        &self,
        kapso_message_id: &str,
        error: &str,
        reason: FailReason,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Outbox rows of every conversation in `state` with `id > after_id`, oldest first, at
    /// most `limit` (`GET /admin/outbox?state=failed`). One round trip.
    async fn list_outbox(
        &self,
        state: OutboxState,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// Requeues a row that failed for good ([`OutboxState::is_failure`]): pending again, due at
    /// `now_ms`, its attempts and age counted afresh from `now_ms`, its failure reason cleared
    /// (the last error is kept). Returns the row after the call (unchanged when it had not
    /// failed), or `None` when no row has that id (`POST /admin/outbox/{id}/retry`). One round
    /// trip.
    async fn requeue_outbox(
        &self,
        outbox_id: i64,
        now_ms: i64,
    ) -> Result<Option<OutboxRow>, StoreError>;

    /// Books a consultation atomically: in one transaction, counts the slot's booked
    /// appointments and inserts one only while fewer than `capacity`, so two leads can never
    /// overbook a slot. Idempotent per conversation and slot: a redone turn gets the same
    /// appointment back. One round trip.
    async fn book_slot(&self, booking: NewAppointment) -> Result<BookingOutcome, StoreError>;

    /// Moves a booked consultation to another slot in one transaction (the lead rescheduled and
    /// confirmed the new slot): books `to` and cancels appointment `from_appointment_id` of the
    /// same conversation together, or changes nothing. Capacity is checked as in
    /// [`Store::book_slot`], except that the lead's own old booking is never counted against
    /// it; a full slot gives [`BookingOutcome::Full`] and the old booking stays booked.
    /// Idempotent per conversation, old appointment and new slot: a redone turn (or a retried
    /// request) finds the new slot already held and gets the same appointment back, with the
    /// old one cancelled. Moving to the slot the lead already holds returns that appointment and
    /// cancels nothing. A `from` that is no longer booked (cancelled meanwhile) only books `to`.
    /// One round trip.
    async fn move_appointment(
        &self,
        from_appointment_id: i64,
        to: NewAppointment,
    ) -> Result<BookingOutcome, StoreError>;

    /// Cancels a booked consultation of this conversation (the lead asked to cancel or to
    /// move it); the place becomes free again. Returns whether a booked appointment was
    /// cancelled (false when it was already cancelled or is not this conversation's). One round
    /// trip.
    async fn cancel_appointment(
        &self,
        conversation_id: i64,
        appointment_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Booked appointments per slot id of a workspace, for slots starting in
    /// `[from_ms, to_ms)`: the shell offers only slots with room left. One round trip.
    async fn booked_slots(
        &self,
        workspace_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::HashMap<String, u32>, StoreError>;

    /// Booked (not cancelled) appointments starting in `[from_ms, until_ms)`, soonest first, at
    /// most `limit`, with the reminders already recorded. One round trip.
    async fn upcoming_appointments(
        &self,
        from_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<UpcomingAppointment>, StoreError>;

    /// Records a reminder once: in one transaction, marks its kind sent for the appointment
    /// and queues its messages in the conversation's outbox (rows returned claimed, as in
    /// `commit_turn`, or left to `claim_outbox` behind an older undelivered reply). `None` when
    /// this kind was already recorded or the appointment is no longer booked. One round trip.
    async fn record_reminder(
        &self,
        reminder: NewReminder,
    ) -> Result<Option<Vec<OutboxRow>>, StoreError>;

    /// A conversation's appointments, oldest first (operators, `ari simulate`, tests).
    async fn conversation_appointments(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<Appointment>, StoreError>;

    /// Knowledge entries an admin stored for a workspace, as `(entry id, TOML text)` pairs in
    /// the knowledge files' format (`[[faq]] ...` or `[[destination]] ...`). One round trip.
    async fn knowledge_entries(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Stores (or replaces) one knowledge entry's TOML text for a workspace; an empty text
    /// removes its content. The caller validates the text first. One round trip.
    async fn put_knowledge_entry(
        &self,
        workspace_id: &str,
        entry_id: &str,
        toml: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Sets a conversation's turn aside after it failed the same way `failure.attempts` times
    /// (issue 16 item 9), in one transaction: the contact's pending inbox rows become
    /// [`crate::inbox::InboxState::SetAside`] (kept, never processed again); the lease is
    /// released and the follow-up cleared; with `failure.reset_snapshot` the stored snapshot is
    /// cleared (the version moves) and its text kept in the queued row; and one
    /// [`crate::inbox::TURN_STUCK_EVENT`] control row is queued, unless such a row was among the
    /// rows set aside (a conversation whose stuck turn fails too is not retried for ever).
    /// One round trip.
    async fn set_aside_turn(
        &self,
        key: &ConversationKey,
        failure: &TurnFailure,
    ) -> Result<SetAside, StoreError>;

    /// Erases a contact's personal data (issue 18, UU PDP), in one transaction that holds the
    /// conversation's lease (an unexpired lease of a running turn gives
    /// [`EraseOutcome::Busy`]; the version moves, so no turn commits over it): the messages'
    /// texts and meta, the snapshot, name, lead fields and tags, the appointments (released:
    /// status `erased`, notes cleared), the outbox bodies and recipients (pending rows fail as
    /// `erased`), the inbox rows' raw payloads and events (pending ones done), the deliveries'
    /// kept bodies. The contact's phone is replaced by `erased:<id>` everywhere, so a later
    /// message from the number starts a new conversation. Row counts stay. One round trip.
    async fn erase_contact(
        &self,
        key: &ConversationKey,
        now_ms: i64,
    ) -> Result<EraseOutcome, StoreError>;

    /// The key (workspace, contact) of the conversation with this id, or `None` when unknown
    /// (operators' routes name conversations by id). One round trip.
    async fn conversation_key(
        &self,
        conversation_id: i64,
    ) -> Result<Option<ConversationKey>, StoreError>;

    /// A conversation's record (summary, lead status, tags), or `None` when unknown. One round
    /// trip.
    async fn conversation_record(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<ConversationRecord>, StoreError>;

    /// A conversation's messages, oldest first (operators, `ari simulate`, tests).
    async fn conversation_messages(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// A conversation's outbox rows, oldest first (operators, tests).
    async fn conversation_outbox(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// Proves the store accepts writes (`GET /readyz`). One round trip.
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// When the store's latest call succeeded, if no call failed since (`/readyz` answers from
    /// it while it is under 30 s old, issue 17 item 3); `None`: not tracked (SQLite, whose
    /// check is a local write) or nothing succeeded since the last failure. Costs nothing.
    fn healthy_since(&self) -> Option<std::time::Instant> {
        None
    }

    /// Round trips made since the store was opened: calls of the other methods that reached the
    /// backing store (one SQLite transaction, or one Convex HTTP request: a retried Convex call
    /// counts each attempt, and [`convex::ConvexStore::connect`]'s key check counts one). Also
    /// exported as [`ROUND_TRIPS_METRIC`]. Costs no round trip itself.
    fn round_trips(&self) -> u64;

    /// Flushes and closes the store (graceful shutdown). Later calls fail with
    /// [`StoreError::Unavailable`].
    async fn close(&self) -> Result<(), StoreError>;
}
