//! The outbox sender: delivers committed replies through Kapso, in order per contact.
//!
//! Replies are outbox rows written in the same transaction as their turn, so a reply is never
//! lost after a commit and never sent without one. Two paths feed the sender:
//! - [`OutboxSender::deliver`]: the rows a commit just created (already claimed by this process
//!   for the outbox lease), so the common case costs no extra store read;
//! - rows that are due again (a transient failure's retry time has come, or the process that
//!   claimed them died before finishing): in `ari serve` the worker's due loop claims them when
//!   its `due` read reports them (issue 17 item 3; this sender wakes it through
//!   [`OutboxSender::due_wake`]); [`OutboxSender::spawn_poller`] polls on a fixed interval
//!   instead (the in-process test pipeline and benches).
//!
//! Per contact, a row is sent only after the previous one was accepted: each conversation has
//! one queue drained by one task; a transient failure stops the queue (the rest stay pending in
//! the store, in order) until the poller brings the head row back at its retry time.
//!
//! Exactly-once: each row carries a stable idempotency key (sent as `Idempotency-Key`) and its
//! Kapso message id is recorded when accepted. A crash between Kapso's 200 and that record leaves
//! the row claimed; after the lease it is sent again with the same key. Whether Kapso drops
//! that second copy is not documented (see the `kapso` module docs), so this window (the time of
//! one SQLite commit) can duplicate one message; everywhere else delivery is exactly once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{CODE_WINDOW_CLOSED, SendError, Sender};
use crate::handoff::webhook::CrmWebhook;
use crate::store::{Channel, ConversationKey, FailReason, OutboxRow, SendOutcome, Store};
use crate::telemetry::{mask_phone, names};

/// The body of a `whatsapp_template` row.
#[derive(serde::Deserialize)]
struct TemplateBody {
    name: String,
    language: String,
    #[serde(default)]
    parameters: Vec<String>,
    /// Quick-reply payload ids by button index (issue 19).
    #[serde(default)]
    buttons: Vec<String>,
}

/// How long a claimed row belongs to this sender before another may retry it (ms). Longer than
/// the Kapso client's total retry budget (30 s by default).
pub const OUTBOX_LEASE_MS: i64 = 60_000;

/// When a row that keeps failing with transient errors becomes a dead letter (`failed`, with
/// reason `max_attempts` or `max_age`): service settings (`--outbox-max-attempts`,
/// `--outbox-max-age-minutes`), not flow settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Delivery attempts of one row at most (each attempt is one call of the Kapso client,
    /// with its own short retries). At least 1. Default 8.
    pub max_attempts: u32,
    /// A row still failing this long after it was queued (or requeued) is given up (ms).
    /// Default 1440 minutes.
    pub max_age_ms: i64,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits {
            max_attempts: 8,
            max_age_ms: 1_440 * 60_000,
        }
    }
}

impl OutboxLimits {
    /// Whether a row that has just failed transiently once more is given up, and why: its
    /// attempts (this one included) reached the cap, or it was queued longer than the age cap
    /// ago.
    pub fn give_up(&self, row: &OutboxRow, now_ms: i64) -> Option<FailReason> {
        if row.attempts + 1 >= i64::from(self.max_attempts.max(1)) {
            Some(FailReason::MaxAttempts)
        } else if now_ms - row.queued_at_ms >= self.max_age_ms {
            Some(FailReason::MaxAge)
        } else {
            None
        }
    }
}

/// Why a permanent send error fails the row: 131047 is the 24 h window, anything else a
/// refusal.
fn refusal_reason(e: &SendError) -> FailReason {
    if e.code() == Some(CODE_WINDOW_CLOSED) {
        FailReason::WindowClosed
    } else {
        FailReason::Rejected
    }
}

/// Delay before the next attempt after `attempts` failed ones: 2 s doubling, capped at 5 min.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 16) as u32;
    (2_000_i64 << exp).min(300_000)
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// A queue's identity: order is kept per conversation and channel.
type QueueKey = (i64, Channel);

#[derive(Default)]
struct Queues {
    /// (Conversation, channel) → rows waiting; presence means a task is draining it.
    by_conversation: HashMap<QueueKey, VecDeque<OutboxRow>>,
    /// Rows queued or in flight, so a row claimed twice (commit, then poller) is sent once.
    rows: HashSet<i64>,
}

/// Sends outbox rows through a [`Sender`] and records each outcome in the store.
pub struct OutboxSender {
    store: Arc<dyn Store>,
    sender: Sender,
    /// Delivers `webhook` rows; `None`: such rows fail (no CRM configured any more).
    crm: Option<CrmWebhook>,
    limits: OutboxLimits,
    queues: Mutex<Queues>,
    /// Wakes the worker's due loop ([`crate::worker::due`]) when the store may have rows due
    /// sooner than its next poll: a retry was scheduled, or held rows may now lead their line.
    due_wake: Arc<tokio::sync::Notify>,
    /// A commit left rows behind an older undelivered one ([`OutboxSender::note_held`]).
    held: std::sync::atomic::AtomicBool,
    /// Wakes the worker for a conversation this sender queued a control row for (a 131050
    /// opt-out), so its turn runs now rather than at the next recovery poll (60 s on SQLite).
    /// `None` in the in-process pipelines, whose pollers find the row.
    arrivals: Option<mpsc::UnboundedSender<ConversationKey>>,
}

impl OutboxSender {
    /// A sender over `store` delivering with `sender` (live or dry-run).
    pub fn new(store: Arc<dyn Store>, sender: Sender) -> Arc<Self> {
        Self::with_crm(store, sender, None)
    }

    /// A sender that also delivers CRM webhook rows through `crm`.
    pub fn with_crm(store: Arc<dyn Store>, sender: Sender, crm: Option<CrmWebhook>) -> Arc<Self> {
        Self::configured(store, sender, crm, OutboxLimits::default(), None)
    }

    /// A sender with CRM webhook rows and the dead-letter `limits` of `ari serve`'s settings,
    /// which wakes the worker through `arrivals` when it queues a control row.
    pub fn configured(
        store: Arc<dyn Store>,
        sender: Sender,
        crm: Option<CrmWebhook>,
        limits: OutboxLimits,
        arrivals: Option<mpsc::UnboundedSender<ConversationKey>>,
    ) -> Arc<Self> {
        Arc::new(OutboxSender {
            store,
            sender,
            crm,
            limits,
            queues: Mutex::new(Queues::default()),
            due_wake: Arc::new(tokio::sync::Notify::new()),
            held: std::sync::atomic::AtomicBool::new(false),
            arrivals,
        })
    }

    /// Whether replies are only logged (no Kapso API key).
    pub fn is_dry_run(&self) -> bool {
        self.sender.is_dry_run()
    }

    /// The live Kapso client (for inbound media); `None` in a dry run.
    pub fn kapso(&self) -> Option<&super::KapsoClient> {
        match &self.sender {
            Sender::Live(client) => Some(client),
            Sender::DryRun => None,
        }
    }

    /// Marks an inbound message read and shows the typing indicator (best effort: a failure
    /// is logged, never retried; the indicator disappears by itself after 25 s).
    pub fn mark_read(self: &Arc<Self>, phone_number_id: String, wamid: String) {
        if self.sender.is_dry_run() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = this
                .sender
                .mark_read_with_typing(&phone_number_id, &wamid)
                .await
            {
                tracing::debug!(error = %e, "mark-read/typing indicator failed");
            }
        });
    }

    /// Queues rows for delivery (rows claimed by this process: a commit's new rows, or the
    /// poller's). Rows of one conversation are sent in the order given, after any already
    /// queued.
    pub fn deliver(self: &Arc<Self>, rows: Vec<OutboxRow>) {
        let mut start = Vec::new();
        {
            let Ok(mut q) = self.queues.lock() else {
                tracing::error!("outbox queue lock poisoned; rows stay pending for the poller");
                return;
            };
            for row in rows {
                if !q.rows.insert(row.id) {
                    continue;
                }
                let qk = (row.conversation_id, row.channel);
                match q.by_conversation.get_mut(&qk) {
                    Some(queue) => queue.push_back(row),
                    None => {
                        q.by_conversation.insert(qk, VecDeque::from([row]));
                        start.push(qk);
                    }
                }
            }
        }
        for qk in start {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.drain(qk).await });
        }
    }

    /// The signal the worker's due loop waits on besides its timer: a send was scheduled for a
    /// retry, or rows a commit held back may lead their line now (issue 17 item 3).
    pub fn due_wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.due_wake)
    }

    /// A commit stored rows behind an older undelivered row of the contact, unclaimed: the due
    /// loop is woken now and again when a queue of this sender finishes, so they are claimed
    /// without waiting for its idle poll.
    pub fn note_held(&self) {
        self.held.store(true, std::sync::atomic::Ordering::Release);
        self.due_wake.notify_one();
    }

    /// Whether nothing is queued or in flight (for shutdown and tests).
    pub fn is_idle(&self) -> bool {
        self.queues
            .lock()
            .map(|q| q.rows.is_empty())
            .unwrap_or(true)
    }

    async fn drain(self: Arc<Self>, cid: QueueKey) {
        loop {
            let row = {
                let Ok(mut q) = self.queues.lock() else {
                    return;
                };
                match q
                    .by_conversation
                    .get_mut(&cid)
                    .and_then(VecDeque::pop_front)
                {
                    Some(row) => row,
                    None => {
                        q.by_conversation.remove(&cid);
                        if self.held.swap(false, std::sync::atomic::Ordering::AcqRel) {
                            self.due_wake.notify_one();
                        }
                        return;
                    }
                }
            };
            let row_id = row.id;
            let proceed = self.send_one(row).await;
            let Ok(mut q) = self.queues.lock() else {
                return;
            };
            q.rows.remove(&row_id);
            if !proceed {
                // Keep order: drop the rest of this conversation's queue; the rows stay pending
                // in the store and come back through the poller after the head row's retry.
                if let Some(rest) = q.by_conversation.remove(&cid) {
                    for r in rest {
                        q.rows.remove(&r.id);
                    }
                }
                // The due loop learns the retry time (or a failed record's lease end).
                self.due_wake.notify_one();
                return;
            }
        }
    }

    /// Sends one row and records the outcome. Returns whether the conversation's next row may
    /// go (false after a transient failure, to keep the order).
    async fn send_one(&self, row: OutboxRow) -> bool {
        if row.channel == Channel::Webhook {
            return self.call_webhook(row).await;
        }
        let result = match row.channel {
            Channel::WhatsappTemplate => match serde_json::from_str::<TemplateBody>(&row.body) {
                Ok(t) => {
                    self.sender
                        .send_template(
                            &row.phone_number_id,
                            &row.to,
                            &super::Template {
                                name: &t.name,
                                language: &t.language,
                                parameters: &t.parameters,
                                buttons: &t.buttons,
                            },
                            &row.idempotency_key,
                        )
                        .await
                }
                Err(_) => Err(super::SendError::InvalidRequest("malformed template row")),
            },
            _ => match row.interactive.as_deref() {
                Some(interactive) => self.send_interactive(&row, interactive).await,
                None => {
                    self.sender
                        .send_text(
                            &row.phone_number_id,
                            &row.to,
                            &row.body,
                            &row.idempotency_key,
                        )
                        .await
                }
            },
        };
        let now = now_ms();
        let (outcome, proceed, label) = match result {
            Ok(sent) if sent.dry_run => (SendOutcome::DryRun, true, "dry_run"),
            Ok(sent) => (
                SendOutcome::Sent {
                    kapso_message_id: sent.message_id,
                },
                true,
                "sent",
            ),
            Err(e) if e.is_retryable() => self.retry_or_give_up(&row, e.to_string(), now),
            Err(e) => {
                if e.code() == Some(super::CODE_MARKETING_STOPPED) {
                    self.record_marketing_stop(&row, now).await;
                }
                let reason = refusal_reason(&e);
                tracing::error!(outbox_id = row.id, to = %mask_phone(&row.to), error = %e, reason = reason.as_str(), "reply refused by Kapso; recorded as failed");
                (
                    SendOutcome::Failed {
                        error: e.to_string(),
                        reason,
                    },
                    true,
                    "failed",
                )
            }
        };
        metrics::counter!(names::OUTBOX_SENDS, "outcome" => label).increment(1);
        self.record(&row, outcome, now).await && proceed
    }

    /// WhatsApp refused a send with 131050 (the user stopped marketing messages): queues
    /// [`crate::inbox::MARKETING_STOPPED_EVENT`] for the conversation, so its next turn records
    /// the consent change in order with the lead's messages. A failure to queue is logged (the
    /// row is recorded failed either way).
    async fn record_marketing_stop(&self, row: &OutboxRow, now: i64) {
        let event = crate::inbox::MARKETING_STOPPED_EVENT;
        match self
            .store
            .enqueue_control(row.conversation_id, event, now)
            .await
        {
            Ok(key) => {
                tracing::info!(conversation = row.conversation_id, to = %mask_phone(&row.to),
                    "the lead stopped marketing messages (131050): recorded as an opt-out");
                if let (Some(key), Some(arrivals)) = (key, &self.arrivals) {
                    let _ = arrivals.send(key);
                }
            }
            Err(e) => tracing::warn!(conversation = row.conversation_id, error = %e,
                "131050: the opt-out could not be queued"),
        }
    }

    /// Sends a row's interactive message (issue 19); when WhatsApp refuses it for good for any
    /// reason but the closed 24 h window (an unsupported type, a parameter it rejects: the text
    /// would not pass 131047 either), the row's body, its text fallback, goes instead, under
    /// the key `<row key>-text` (the refused request's key may be remembered with its refusal).
    /// Counted in `ari_interactive_sends_total{outcome}` (`sent`, `text_fallback`).
    async fn send_interactive(
        &self,
        row: &OutboxRow,
        interactive: &str,
    ) -> Result<super::SentMessage, SendError> {
        let sent = match serde_json::from_str::<serde_json::Value>(interactive) {
            Ok(meta) => {
                self.sender
                    .send_interactive(&row.phone_number_id, &row.to, &meta, &row.idempotency_key)
                    .await
            }
            Err(_) => Err(SendError::InvalidRequest("malformed interactive row")),
        };
        match sent {
            Err(e) if !e.is_retryable() && e.code() != Some(CODE_WINDOW_CLOSED) => {
                tracing::warn!(outbox_id = row.id, to = %mask_phone(&row.to), error = %e,
                    "interactive message refused; its text goes instead");
                metrics::counter!(names::INTERACTIVE_SENDS, "outcome" => "text_fallback")
                    .increment(1);
                let key = format!("{}-text", row.idempotency_key);
                self.sender
                    .send_text(&row.phone_number_id, &row.to, &row.body, &key)
                    .await
            }
            other => {
                if other.is_ok() {
                    metrics::counter!(names::INTERACTIVE_SENDS, "outcome" => "sent").increment(1);
                }
                other
            }
        }
    }

    /// A transient failure: retried later (the conversation's later rows wait), or, past the
    /// attempt or age cap, a dead letter (`failed`, its last error kept; later rows go on).
    fn retry_or_give_up(
        &self,
        row: &OutboxRow,
        error: String,
        now: i64,
    ) -> (SendOutcome, bool, &'static str) {
        if let Some(reason) = self.limits.give_up(row, now) {
            tracing::error!(outbox_id = row.id, channel = row.channel.as_str(), attempts = row.attempts + 1, %error, reason = reason.as_str(),
                "still failing at the outbox's cap; recorded as failed (a dead letter)");
            return (SendOutcome::Failed { error, reason }, true, "failed");
        }
        tracing::warn!(outbox_id = row.id, channel = row.channel.as_str(), attempts = row.attempts + 1, %error, "not delivered yet; will retry");
        (
            SendOutcome::Retry {
                error,
                next_attempt_at_ms: now + retry_delay_ms(row.attempts),
            },
            false,
            "retry",
        )
    }

    /// Records one attempt's outcome; a final failure is counted in
    /// `ari_outbox_failed_total{channel,reason}`. False when it could not be recorded: the row
    /// stays claimed, and after the lease the poller sends it again (same key).
    async fn record(&self, row: &OutboxRow, outcome: SendOutcome, now: i64) -> bool {
        let failed = match &outcome {
            SendOutcome::Failed { reason, .. } => Some(*reason),
            _ => None,
        };
        if let Err(e) = self.store.record_send(row.id, outcome, now).await {
            tracing::error!(outbox_id = row.id, error = %e, "cannot record the send outcome");
            return false;
        }
        if let Some(reason) = failed {
            metrics::counter!(names::OUTBOX_FAILED, "channel" => row.channel.as_str(), "reason" => reason.as_str())
                .increment(1);
        }
        true
    }

    /// Delivers one CRM webhook row and records the outcome (as [`Self::send_one`]).
    async fn call_webhook(&self, row: OutboxRow) -> bool {
        let now = now_ms();
        let (outcome, proceed, label) = match &self.crm {
            None => (
                SendOutcome::Failed {
                    error: "no CRM webhook configured".into(),
                    reason: FailReason::NoCrm,
                },
                true,
                "failed",
            ),
            Some(crm) => match crm.post(&row.to, &row.body, &row.idempotency_key).await {
                Ok(()) => (SendOutcome::Delivered, true, "delivered"),
                Err(e) if e.retryable => self.retry_or_give_up(&row, e.to_string(), now),
                Err(e) => {
                    tracing::error!(outbox_id = row.id, error = %e, "CRM webhook refused; recorded as failed");
                    (
                        SendOutcome::Failed {
                            error: e.to_string(),
                            reason: FailReason::Rejected,
                        },
                        true,
                        "failed",
                    )
                }
            },
        };
        metrics::counter!(names::OUTBOX_SENDS, "outcome" => label, "channel" => "webhook")
            .increment(1);
        self.record(&row, outcome, now).await && proceed
    }

    /// Every `interval`, claims rows that are due again and queues them, until `shutdown`.
    pub fn spawn_poller(
        self: &Arc<Self>,
        interval: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => return,
                }
                if *shutdown.borrow() {
                    return;
                }
                match this
                    .store
                    .claim_outbox(now_ms(), OUTBOX_LEASE_MS, 100)
                    .await
                {
                    Ok(rows) if !rows.is_empty() => {
                        tracing::debug!(rows = rows.len(), "outbox rows due again");
                        this.deliver(rows);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "outbox poll failed"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempts: i64, queued_at_ms: i64) -> OutboxRow {
        OutboxRow {
            id: 1,
            conversation_id: 1,
            channel: Channel::Whatsapp,
            idempotency_key: "k".into(),
            phone_number_id: "p".into(),
            to: "+62".into(),
            body: "x".into(),
            state: crate::store::OutboxState::Pending,
            attempts,
            next_attempt_at_ms: 0,
            kapso_message_id: None,
            error: None,
            reason: None,
            queued_at_ms,
            interactive: None,
        }
    }

    #[test]
    fn a_row_is_given_up_at_the_attempt_or_age_cap() {
        let limits = OutboxLimits {
            max_attempts: 3,
            max_age_ms: 60_000,
        };
        // Attempts 1 and 2 failed: the third is the last.
        assert_eq!(limits.give_up(&row(0, 0), 1_000), None);
        assert_eq!(limits.give_up(&row(1, 0), 1_000), None);
        assert_eq!(
            limits.give_up(&row(2, 0), 1_000),
            Some(FailReason::MaxAttempts)
        );
        assert_eq!(limits.give_up(&row(0, 0), 60_000), Some(FailReason::MaxAge));
        assert_eq!(limits.give_up(&row(0, 10_000), 60_000), None);
        // A cap of 0 attempts means 1.
        let once = OutboxLimits {
            max_attempts: 0,
            ..limits
        };
        assert_eq!(once.give_up(&row(0, 0), 0), Some(FailReason::MaxAttempts));
        assert_eq!(OutboxLimits::default().max_attempts, 8);
        assert_eq!(OutboxLimits::default().max_age_ms, 86_400_000);
    }

    #[test]
    fn window_closed_is_its_own_reason() {
        let e = |code| SendError::Rejected {
            status: 400,
            code,
            title: None,
            message: "x".into(),
            details: None,
        };
        assert_eq!(refusal_reason(&e(Some(131_047))), FailReason::WindowClosed);
        assert_eq!(refusal_reason(&e(Some(131_026))), FailReason::Rejected);
        assert_eq!(
            refusal_reason(&SendError::InvalidRequest("x")),
            FailReason::Rejected
        );
    }

    #[test]
    fn retry_delay_doubles_and_caps() {
        assert_eq!(retry_delay_ms(0), 2_000);
        assert_eq!(retry_delay_ms(1), 4_000);
        assert_eq!(retry_delay_ms(3), 16_000);
        assert_eq!(retry_delay_ms(10), 300_000);
        assert_eq!(retry_delay_ms(1_000), 300_000);
        assert_eq!(retry_delay_ms(-5), 2_000);
    }
}
