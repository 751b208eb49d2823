//! The outbox sender: delivers committed replies through Kapso, in order per contact.
//!
//! Replies are outbox rows written in the same transaction as their turn, so a reply is never
//! lost after a commit and never sent without one. Two paths feed the sender:
//! - [`OutboxSender::deliver`]: the rows a commit just created (already claimed by this process
//!   for the outbox lease), so the common case costs no extra store read;
//! - [`OutboxSender::spawn_poller`]: every few seconds, rows that are due again (a transient
//!   failure's retry time has come, or the process that claimed them died before finishing).
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

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Sender;
use crate::handoff::webhook::CrmWebhook;
use crate::store::{Channel, OutboxRow, SendOutcome, Store};
use crate::telemetry::{mask_phone, names};

/// The body of a `whatsapp_template` row.
#[derive(serde::Deserialize)]
struct TemplateBody {
    name: String,
    language: String,
    #[serde(default)]
    parameters: Vec<String>,
}

/// How long a claimed row belongs to this sender before another may retry it (ms). Longer than
/// the Kapso client's total retry budget (30 s by default).
pub const OUTBOX_LEASE_MS: i64 = 60_000;

/// Delay before the next attempt after `attempts` failed ones: 2 s doubling, capped at 5 min.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 16) as u32;
    (2_000_i64 << exp).min(300_000)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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
    queues: Mutex<Queues>,
}

impl OutboxSender {
    /// A sender over `store` delivering with `sender` (live or dry-run).
    pub fn new(store: Arc<dyn Store>, sender: Sender) -> Arc<Self> {
        Self::with_crm(store, sender, None)
    }

    /// A sender that also delivers CRM webhook rows through `crm`.
    pub fn with_crm(store: Arc<dyn Store>, sender: Sender, crm: Option<CrmWebhook>) -> Arc<Self> {
        Arc::new(OutboxSender {
            store,
            sender,
            crm,
            queues: Mutex::new(Queues::default()),
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
                            &t.name,
                            &t.language,
                            &t.parameters,
                            &row.idempotency_key,
                        )
                        .await
                }
                Err(_) => Err(super::SendError::InvalidRequest("malformed template row")),
            },
            _ => {
                self.sender
                    .send_text(
                        &row.phone_number_id,
                        &row.to,
                        &row.body,
                        &row.idempotency_key,
                    )
                    .await
            }
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
            Err(e) if e.is_retryable() => {
                let next = now + retry_delay_ms(row.attempts);
                tracing::warn!(outbox_id = row.id, attempts = row.attempts + 1, error = %e, "reply not delivered yet; will retry");
                (
                    SendOutcome::Retry {
                        error: e.to_string(),
                        next_attempt_at_ms: next,
                    },
                    false,
                    "retry",
                )
            }
            Err(e) => {
                tracing::error!(outbox_id = row.id, to = %mask_phone(&row.to), error = %e, "reply refused by Kapso; recorded as failed");
                (
                    SendOutcome::Failed {
                        error: e.to_string(),
                    },
                    true,
                    "failed",
                )
            }
        };
        metrics::counter!(names::OUTBOX_SENDS, "outcome" => label).increment(1);
        if let Err(e) = self.store.record_send(row.id, outcome, now).await {
            // The row stays claimed; after the lease the poller sends it again (same key).
            tracing::error!(outbox_id = row.id, error = %e, "cannot record the send outcome");
            return false;
        }
        proceed
    }

    /// Delivers one CRM webhook row and records the outcome (as [`Self::send_one`]).
    async fn call_webhook(&self, row: OutboxRow) -> bool {
        let now = now_ms();
        let (outcome, proceed, label) = match &self.crm {
            None => (
                SendOutcome::Failed {
                    error: "no CRM webhook configured".into(),
                },
                true,
                "failed",
            ),
            Some(crm) => match crm.post(&row.to, &row.body, &row.idempotency_key).await {
                Ok(()) => (SendOutcome::Delivered, true, "delivered"),
                Err(e) if e.retryable => {
                    tracing::warn!(outbox_id = row.id, error = %e, "CRM webhook not delivered yet; will retry");
                    (
                        SendOutcome::Retry {
                            error: e.to_string(),
                            next_attempt_at_ms: now + retry_delay_ms(row.attempts),
                        },
                        false,
                        "retry",
                    )
                }
                Err(e) => {
                    tracing::error!(outbox_id = row.id, error = %e, "CRM webhook refused; recorded as failed");
                    (
                        SendOutcome::Failed {
                            error: e.to_string(),
                        },
                        true,
                        "failed",
                    )
                }
            },
        };
        metrics::counter!(names::OUTBOX_SENDS, "outcome" => label, "channel" => "webhook")
            .increment(1);
        if let Err(e) = self.store.record_send(row.id, outcome, now).await {
            tracing::error!(outbox_id = row.id, error = %e, "cannot record the webhook outcome");
            return false;
        }
        proceed
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
