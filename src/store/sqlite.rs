//! The embedded store: one SQLite file in WAL mode.
//!
//! All statements run on tokio-rusqlite's single connection thread, which matches SQLite's
//! one-writer model (no `SQLITE_BUSY` storms between our own writers) and makes each operation
//! one closure, one transaction; webhook writes queued together share one transaction (group
//! commit, `src/store/sqlite/group_commit.rs`, issue 17 item 1). `synchronous = FULL`: a
//! webhook is answered 200 only after its rows survive a power cut, not only a process crash.

mod group_commit;

use std::path::Path;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

use super::limits::{Overload, StoreLimits, overloaded};
use super::{
    Appointment, BeginTurn, BookingOutcome, Channel, CommitOutcome, ConversationKey,
    ConversationRecord, ConversationSummary, Direction, DueQuery, DueReport, EraseOutcome,
    EraseReceipt, FailReason, Fallback, NewAppointment, NewReminder, OutboxRow, OutboxState,
    QueuedRow, SendOutcome, SetAside, Store, StoreError, StoredMessage, TOLD_META, TurnClaim,
    TurnCommit, TurnFailure, UNDELIVERED_META, UpcomingAppointment, merge_body,
    model::RECENT_MESSAGES,
};
use crate::inbox::{
    EnqueueOutcome, EventKind, InboundEvent, InboxRow, InboxState, NewDelivery, NewInboxItem,
    enrich,
};

/// Schema migrations, applied in order at start (tracked in `PRAGMA user_version`). Append
/// only, one list: a migration's number is its place here (rebase and renumber before landing
/// when another issue added one; see the module docs of [`crate::store`]).
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
    -- One row per accepted webhook delivery: the atomic claim on its idempotency key.
    CREATE TABLE deliveries (
        idempotency_key TEXT PRIMARY KEY,
        event_header    TEXT,
        request_id      TEXT NOT NULL,
        item_count      INTEGER NOT NULL,
        received_at_ms  INTEGER NOT NULL
    ) STRICT;

    -- One row per item of a delivery, in arrival order (id).
    CREATE TABLE inbox (
        id                    INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_key          TEXT NOT NULL REFERENCES deliveries(idempotency_key),
        kind                  TEXT NOT NULL,
        event_type            TEXT NOT NULL,
        workspace_id          TEXT,
        phone_number_id       TEXT,
        contact_phone         TEXT,
        kapso_conversation_id TEXT,
        wamid                 TEXT,
        status_value          TEXT,
        state                 TEXT NOT NULL,
        event_json            TEXT NOT NULL,
        raw_json              TEXT NOT NULL,
        received_at_ms        INTEGER NOT NULL
    ) STRICT;

    -- The per-message claim: a wamid of a business number is stored once, whichever webhook
    -- (Kapso or Meta kind) or idempotency key delivered it.
    CREATE UNIQUE INDEX inbox_message_claim
        ON inbox (COALESCE(phone_number_id, ''), wamid) WHERE kind = 'message';
    -- A status is an event of its own (sent, delivered, read, failed share one wamid).
    CREATE UNIQUE INDEX inbox_status_claim
        ON inbox (COALESCE(phone_number_id, ''), wamid, status_value) WHERE kind = 'status';
    CREATE INDEX inbox_by_state ON inbox (state, id);

    -- Written by the readiness probe to prove the file accepts writes.
    CREATE TABLE health (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        checked_at_ms INTEGER NOT NULL
    ) STRICT;
    "#,
    ),
    M::up(
        r#"
    -- One row per lead per workspace: the flow snapshot, the version that fences commits, and
    -- the lease that gives one worker the conversation at a time.
    CREATE TABLE conversations (
        id                    INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id          TEXT NOT NULL,
        contact_phone         TEXT NOT NULL,
        contact_name          TEXT,
        phone_number_id       TEXT,
        kapso_conversation_id TEXT,
        snapshot_json         TEXT,
        flow_state            TEXT,
        lead_score            INTEGER,
        lead_temperature      TEXT,
        handoff_reason        TEXT,
        version               INTEGER NOT NULL DEFAULT 0,
        lease_token           TEXT,
        lease_until_ms        INTEGER,
        created_at_ms         INTEGER NOT NULL,
        updated_at_ms         INTEGER NOT NULL,
        UNIQUE (workspace_id, contact_phone)
    ) STRICT;
    CREATE INDEX conversations_by_kapso_id ON conversations (kapso_conversation_id);

    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        direction       TEXT NOT NULL,
        inbox_id        INTEGER,
        wamid           TEXT,
        text            TEXT,
        meta_json       TEXT NOT NULL,
        created_at_ms   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

    CREATE TABLE outbox (
        id                 INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id    INTEGER NOT NULL REFERENCES conversations(id),
        message_id         INTEGER REFERENCES messages(id),
        idempotency_key    TEXT NOT NULL UNIQUE,
        phone_number_id    TEXT NOT NULL,
        to_phone           TEXT NOT NULL,
        body               TEXT NOT NULL,
        state              TEXT NOT NULL,
        attempts           INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        kapso_message_id   TEXT,
        error              TEXT,
        created_at_ms      INTEGER NOT NULL,
        updated_at_ms      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX outbox_by_state ON outbox (state, conversation_id, id);
    CREATE INDEX outbox_by_kapso_id ON outbox (kapso_message_id);

    -- The worker reads a conversation's pending rows.
    CREATE INDEX inbox_by_conversation ON inbox (workspace_id, contact_phone, state, id);
    "#,
    ),
    M::up(
        r#"
    -- Booked consultations. The capacity check and the insert run in one transaction.
    CREATE TABLE appointments (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id        TEXT NOT NULL,
        conversation_id     INTEGER NOT NULL REFERENCES conversations(id),
        slot_id             TEXT NOT NULL,
        starts_at_ms        INTEGER NOT NULL,
        duration_minutes    INTEGER NOT NULL,
        consultant_name     TEXT NOT NULL,
        consultant_whatsapp TEXT NOT NULL,
        status              TEXT NOT NULL,
        notes               TEXT NOT NULL,
        created_at_ms       INTEGER NOT NULL,
        updated_at_ms       INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX appointments_by_slot ON appointments (workspace_id, slot_id, status);
    CREATE INDEX appointments_by_start ON appointments (workspace_id, starts_at_ms);
    -- A conversation holds a slot once: a redone turn finds its booking again.
    CREATE UNIQUE INDEX appointments_one_per_conversation_slot
        ON appointments (conversation_id, slot_id) WHERE status = 'booked';
    "#,
    ),
    M::up(
        r#"
    -- Reminders recorded per appointment: the primary key makes each kind go out once.
    CREATE TABLE appointment_reminders (
        appointment_id INTEGER NOT NULL REFERENCES appointments(id),
        kind           TEXT NOT NULL,
        sent_at_ms     INTEGER NOT NULL,
        PRIMARY KEY (appointment_id, kind)
    ) STRICT;
    "#,
    ),
    M::up(
        r#"
    -- The lead's CRM status (set only when a turn changes it) and tags (only added).
    ALTER TABLE conversations ADD COLUMN lead_status TEXT;
    ALTER TABLE conversations ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
    "#,
    ),
    M::up(
        r#"
    -- How a row is delivered: a WhatsApp text, or a signed CRM webhook call. Order is kept per
    -- conversation and channel.
    ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'whatsapp';
    CREATE INDEX outbox_by_conversation_channel ON outbox (conversation_id, channel, state, id);
    "#,
    ),
    M::up(
        r#"
    -- Knowledge entries admins store (TOML in the knowledge files' format), over the files.
    CREATE TABLE knowledge_entries (
        workspace_id  TEXT NOT NULL,
        entry_id      TEXT NOT NULL,
        toml          TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, entry_id)
    ) STRICT;
    "#,
    ),
    M::up(
        r#"
    -- The conversation's language (id, en), written by every commit from the snapshot, read by
    -- reminders (which do not read snapshots).
    ALTER TABLE conversations ADD COLUMN language TEXT;
    "#,
    ),
    M::up(
        r#"
    -- The body of a delivery verbatim, kept only when ingress repaired it to parse it (lone
    -- UTF-16 surrogate escapes read as U+FFFD), so what Kapso sent is never lost.
    ALTER TABLE deliveries ADD COLUMN original_body TEXT;
    "#,
    ),
    M::up(
        r#"
    -- Dead letters (issue 20): why a row failed for good, and when it was queued or last
    -- requeued by an admin (the age cap counts from it; NULL on older rows: created_at_ms).
    ALTER TABLE outbox ADD COLUMN reason TEXT;
    ALTER TABLE outbox ADD COLUMN queued_at_ms INTEGER;
    "#,
    ),
    M::up(
        r#"
    -- What to queue when a row fails for good (store::Fallback as JSON: the template version,
    -- the team's copy, the CRM event), and the key that keeps such rows to one per
    -- conversation (store::Once).
    ALTER TABLE outbox ADD COLUMN fallback_json TEXT;
    ALTER TABLE outbox ADD COLUMN once_key TEXT;
    CREATE INDEX outbox_by_once_key ON outbox (conversation_id, once_key, id)
        WHERE once_key IS NOT NULL;
    "#,
    ),
    M::up(
        r#"
    -- Issue 19: a reply sent as WhatsApp buttons or a list (Meta's interactive object as JSON);
    -- the row's body is its text fallback.
    ALTER TABLE outbox ADD COLUMN interactive_json TEXT;
    "#,
    ),
    M::up(
        r#"
    -- Issue 18: when the conversation's next follow-up falls due (ms), written by every turn
    -- commit from the snapshot; the follow-up pass reads only the due ones.
    ALTER TABLE conversations ADD COLUMN followup_due_ms INTEGER;
    CREATE INDEX conversations_by_followup_due ON conversations (followup_due_ms)
        WHERE followup_due_ms IS NOT NULL;
    "#,
    ),
    M::up(
        r#"
    -- Issue 21: the body's hash, claimed like the idempotency key: the same bytes under
    -- another key (a replayed signed body with other headers) are a duplicate delivery.
    ALTER TABLE deliveries ADD COLUMN body_hash TEXT;
    CREATE UNIQUE INDEX deliveries_by_body_hash ON deliveries (body_hash)
        WHERE body_hash IS NOT NULL;
    "#,
    ),
    M::up(
        r#"
    -- Issue 16 item 6: a lead's changed number. The number before the move, and, for a
    -- conversation closed because the new number had one already, the one it is linked to.
    ALTER TABLE conversations ADD COLUMN previous_phone TEXT;
    ALTER TABLE conversations ADD COLUMN merged_into_id INTEGER;
    "#,
    ),
    M::up(
        r#"
    -- Issue 17 item 2: the recovery poll reads only what it needs. Pending rows in arrival
    -- order with their conversation key (covering: no table read), and the pending rows that
    -- name no contact yet (workflow events), by age, for the orphan step.
    CREATE INDEX inbox_pending_keys ON inbox (id, workspace_id, contact_phone)
        WHERE state = 'pending' AND contact_phone IS NOT NULL;
    CREATE INDEX inbox_pending_orphans ON inbox (received_at_ms)
        WHERE state = 'pending' AND contact_phone IS NULL;
    "#,
    ),
];

/// The SQLite store. Clone-free: share it behind an `Arc`.
pub struct SqliteStore {
    conn: tokio_rusqlite::Connection,
    /// Operations sent to the connection thread (one transaction each): [`Store::round_trips`].
    round_trips: AtomicU64,
    /// The deadline and queue bound of webhook writes (issue 16 item 8).
    limits: StoreLimits,
    /// One permit per webhook write queued or running on the connection thread.
    queue: Arc<tokio::sync::Semaphore>,
    /// The batches of webhook writes (issue 17 item 1); `None` with `ARI_GROUP_COMMIT=0`, the
    /// bench knob of one transaction per webhook.
    group: Option<Arc<group_commit::GroupCommit>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn call_err(e: tokio_rusqlite::Error<rusqlite::Error>) -> StoreError {
    unavailable(e)
}

impl SqliteStore {
    /// Opens (creating if missing) the database file, sets WAL mode and applies migrations.
    ///
    /// Errors name the file: it cannot be created, is not a database, or its schema is newer
    /// than this binary.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, StoreLimits::unbounded()).await
    }

    /// [`SqliteStore::open`] with these webhook write limits; the busy timeout is
    /// min(5 s, `limits.deadline`), so a locked file fails a write within its deadline.
    pub async fn open_with(path: &Path, limits: StoreLimits) -> Result<Self, StoreError> {
        let busy = limits.deadline.min(std::time::Duration::from_secs(5));
        let shown = path.display().to_string();
        let conn = tokio_rusqlite::Connection::open(path)
            .await
            .map_err(|e| unavailable(format!("cannot open {shown}: {e}")))?;
        conn.call(move |c| -> Result<(), String> {
            c.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| e.to_string())?;
            c.pragma_update(None, "synchronous", "FULL")
                .map_err(|e| e.to_string())?;
            c.pragma_update(None, "foreign_keys", "ON")
                .map_err(|e| e.to_string())?;
            c.busy_timeout(busy).map_err(|e| e.to_string())?;
            Migrations::from_slice(MIGRATIONS)
                .to_latest(c)
                .map_err(|e| format!("migrations failed: {e}"))
        })
        .await
        .map_err(|e| unavailable(format!("{shown}: {e}")))?;
        Ok(SqliteStore {
            conn,
            round_trips: AtomicU64::new(0),
            limits,
            queue: Arc::new(tokio::sync::Semaphore::new(limits.queue.max(1))),
            group: group_commit::enabled_from_env().then(Arc::default),
        })
    }
}

/// The leases [`SqliteStore::take_back_leases`] took back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TakenBack {
    /// Conversations whose turn lease was cleared.
    pub turns: u64,
    /// Outbox rows never attempted whose send lease was cut to now.
    pub sends: u64,
}

impl SqliteStore {
    /// Takes back the leases a previous run left (issue 17 item 4): every conversation's turn
    /// lease is cleared, and every pending outbox row not yet attempted (`attempts = 0`) whose
    /// `next_attempt_at_ms` is later than `now_ms` (Unix ms) is due at `now_ms` again. Such a
    /// row can only be in a send lease: rows are inserted due now or claimed, and a failed
    /// attempt counts in `attempts` (its back-off is kept).
    ///
    /// Only sound while the caller holds the database's lock file (`server::db_lock`), which
    /// shows the previous holder is dead. One transaction. Errors: the store is unavailable.
    pub async fn take_back_leases(&self, now_ms: i64) -> Result<TakenBack, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let turns = tx.execute(
                    "UPDATE conversations SET lease_token = NULL, lease_until_ms = NULL
                     WHERE lease_token IS NOT NULL",
                    [],
                )?;
                let sends = tx.execute(
                    "UPDATE outbox SET next_attempt_at_ms = ?1
                     WHERE state = 'pending' AND attempts = 0 AND next_attempt_at_ms > ?1",
                    params![now_ms],
                )?;
                tx.commit()?;
                Ok(TakenBack {
                    turns: turns as u64,
                    sends: sends as u64,
                })
            })
            .await
            .map_err(call_err)
    }
}

/// [`Store::due`] on the connection thread (issue 17 item 3): indexed reads, no write. The
/// outbox heads and the next booked start are scans of the pending outbox rows and of the
/// appointments (both small); the rest use the state, follow-up and primary-key indexes.
fn due_local(c: &mut rusqlite::Connection, q: &DueQuery) -> Result<DueReport, rusqlite::Error> {
    let pending_rows: i64 = c.query_row(
        "SELECT count(*) FROM inbox WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    let (pending, orphans_due) = if q.with_pending {
        due_pending(c, q)?
    } else {
        (Vec::new(), false)
    };
    let (outbox_due, next_outbox_ms): (i64, Option<i64>) = c.query_row(
        "SELECT count(*) FILTER (WHERE o.next_attempt_at_ms <= ?1),
                min(o.next_attempt_at_ms) FILTER (WHERE o.next_attempt_at_ms > ?1)
         FROM outbox AS o
         WHERE o.state = 'pending'
           AND o.id = (SELECT MIN(id) FROM outbox
                       WHERE conversation_id = o.conversation_id
                         AND channel = o.channel AND state = 'pending')",
        params![q.now_ms],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let next_reminder_ms = next_reminder(c, q.reminders_after_ms)?;
    let next_followup_ms: Option<i64> = c.query_row(
        "SELECT min(followup_due_ms) FROM conversations WHERE followup_due_ms IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    let knowledge_version: i64 = c.query_row(
        "SELECT coalesce(max(updated_at_ms), 0) + count(*) FROM knowledge_entries",
        [],
        |r| r.get(0),
    )?;
    Ok(DueReport {
        pending,
        orphans_due,
        pending_rows: pending_rows.max(0) as u64,
        outbox_due: outbox_due.max(0) as u64,
        next_outbox_ms,
        next_reminder_ms,
        next_followup_ms,
        knowledge_version,
    })
}

/// The conversations with pending rows (at most `q.limit`), and whether an orphan row can be
/// attached or set aside (as [`Store::pending_conversations`] would).
fn due_pending(
    c: &mut rusqlite::Connection,
    q: &DueQuery,
) -> Result<(Vec<ConversationKey>, bool), rusqlite::Error> {
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT workspace_id, contact_phone FROM inbox
         WHERE state = 'pending' AND workspace_id IS NOT NULL AND contact_phone IS NOT NULL
         LIMIT ?1",
    )?;
    let keys = stmt
        .query_map(params![q.limit], |r| {
            Ok(ConversationKey {
                workspace_id: r.get(0)?,
                contact_phone: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let orphans: i64 = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM inbox AS i
             WHERE i.state = 'pending' AND i.contact_phone IS NULL
               AND (i.received_at_ms < ?1 OR EXISTS (SELECT 1 FROM conversations AS v
                    WHERE v.kapso_conversation_id = i.kapso_conversation_id)))",
        params![q.now_ms - q.orphan_ttl_ms],
        |r| r.get(0),
    )?;
    Ok((keys, orphans != 0))
}

/// The earliest reminder time (a booked start minus 24 h or 2 h) after `after_ms`.
fn next_reminder(
    c: &mut rusqlite::Connection,
    after_ms: i64,
) -> Result<Option<i64>, rusqlite::Error> {
    const DAY_MS: i64 = 24 * 3_600_000;
    const TWO_HOURS_MS: i64 = 2 * 3_600_000;
    let first_start = |c: &mut rusqlite::Connection,
                       after: i64|
     -> Result<Option<i64>, rusqlite::Error> {
        c.query_row(
            "SELECT min(starts_at_ms) FROM appointments WHERE status = 'booked' AND starts_at_ms > ?1",
            params![after],
            |r| r.get(0),
        )
    };
    let two_hours =
        first_start(c, after_ms.saturating_add(TWO_HOURS_MS))?.map(|s| s - TWO_HOURS_MS);
    let day = first_start(c, after_ms.saturating_add(DAY_MS))?.map(|s| s - DAY_MS);
    Ok(two_hours.into_iter().chain(day).min())
}

impl SqliteStore {
    /// Counts one round trip (one operation on the connection thread).
    fn trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(super::ROUND_TRIPS_METRIC, "store" => "sqlite").increment(1);
    }
}

impl SqliteStore {
    /// Writes one webhook on the connection thread: in a group commit batch
    /// ([`group_commit`]), or in its own transaction with `ARI_GROUP_COMMIT=0`. `None`: its
    /// `deadline` passed before its write started, so it was dropped, the database untouched.
    /// Holds `permit` (its queue slot) until the write is done.
    async fn write_delivery(
        &self,
        delivery: NewDelivery,
        deadline: std::time::Instant,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<Option<EnqueueOutcome>, StoreError> {
        let Some(group) = &self.group else {
            return self
                .conn
                .call(move |c| {
                    let _permit = permit;
                    if std::time::Instant::now() >= deadline {
                        return Ok(None); // expired in the queue: dropped
                    }
                    enqueue_tx(c, &delivery).map(Some)
                })
                .await
                .map_err(call_err);
        };
        // Pushed and posted in the same poll: no job sits in the queue without its closure.
        let (seq, answer) = group.push(delivery, deadline, Some(permit));
        let group = Arc::clone(group);
        self.conn
            .call(move |c| {
                group.run_until(c, seq);
                Ok::<(), rusqlite::Error>(())
            })
            .await
            .map_err(call_err)?;
        match answer.await {
            Ok(answer) => answer.map_err(unavailable),
            Err(_) => Err(unavailable("webhook write dropped unanswered")),
        }
    }
}

/// One webhook in its own transaction: the path without group commit (`ARI_GROUP_COMMIT=0`).
fn enqueue_tx(
    c: &mut rusqlite::Connection,
    delivery: &NewDelivery,
) -> Result<EnqueueOutcome, rusqlite::Error> {
    let tx = c.transaction()?;
    let outcome = enqueue_in(&tx, delivery)?;
    tx.commit()?;
    Ok(outcome)
}

/// The statements of one webhook inside the caller's transaction (its own, or its savepoint
/// in a group commit batch): claims the idempotency key, then each item's claim, completing
/// an already stored message with what a later copy adds.
fn enqueue_in(
    tx: &rusqlite::Transaction<'_>,
    delivery: &NewDelivery,
) -> Result<EnqueueOutcome, rusqlite::Error> {
    let claimed = tx.execute(
        "INSERT INTO deliveries (idempotency_key, event_header, request_id, item_count,
             received_at_ms, original_body, body_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            delivery.idempotency_key,
            delivery.event_header,
            delivery.request_id,
            delivery.items.len() as i64,
            delivery.received_at_ms,
            delivery.original_body,
            delivery.body_hash
        ],
    )?;
    if claimed == 0 {
        return Ok(EnqueueOutcome::DuplicateDelivery);
    }
    let mut stored = 0;
    let mut duplicates = 0;
    let mut enriched = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO inbox (delivery_key, kind, event_type, workspace_id, phone_number_id,
                 contact_phone, kapso_conversation_id, wamid, status_value, state, event_json,
                 raw_json, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT DO NOTHING",
        )?;
        for item in &delivery.items {
            let e = &item.event;
            let event_json = serde_json::to_string(e)
                .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
            let n = insert.execute(params![
                delivery.idempotency_key,
                e.kind.as_str(),
                e.event_type,
                item.workspace_id,
                e.phone_number_id,
                e.contact_phone,
                e.kapso_conversation_id,
                e.wamid(),
                e.status.as_ref().map(|s| s.status.as_str()),
                item.state.as_str(),
                event_json,
                item.raw.to_string(),
                delivery.received_at_ms
            ])?;
            if n == 0 {
                duplicates += 1;
                if e.kind == EventKind::Message && enrich_tx(tx, delivery, item)? {
                    enriched += 1;
                }
            } else {
                stored += 1;
            }
        }
    }
    Ok(EnqueueOutcome::Accepted {
        stored,
        duplicates,
        enriched,
    })
}

/// A stored inbox row of a message claim (the original or its enrichment row).
struct ClaimedRow {
    id: i64,
    state: String,
    event_json: String,
    workspace_id: Option<String>,
    contact_phone: Option<String>,
}

fn claimed_row(
    tx: &rusqlite::Transaction<'_>,
    pnid: &str,
    claim: &str,
) -> Result<Option<ClaimedRow>, rusqlite::Error> {
    tx.query_row(
        "SELECT id, state, event_json, workspace_id, contact_phone FROM inbox
         WHERE kind = 'message' AND COALESCE(phone_number_id, '') = ?1 AND wamid = ?2",
        params![pnid, claim],
        |r| {
            Ok(ClaimedRow {
                id: r.get(0)?,
                state: r.get(1)?,
                event_json: r.get(2)?,
                workspace_id: r.get(3)?,
                contact_phone: r.get(4)?,
            })
        },
    )
    .optional()
}

/// Whether a turn holds the row's conversation at `now_ms` (it may be reading the row now).
fn taken_by_turn(
    tx: &rusqlite::Transaction<'_>,
    row: &ClaimedRow,
    now_ms: i64,
) -> Result<bool, rusqlite::Error> {
    let (Some(ws), Some(phone)) = (&row.workspace_id, &row.contact_phone) else {
        return Ok(false);
    };
    let until: Option<Option<i64>> = tx
        .query_row(
            "SELECT lease_until_ms FROM conversations
             WHERE workspace_id = ?1 AND contact_phone = ?2 AND lease_token IS NOT NULL",
            params![ws, phone],
            |r| r.get(0),
        )
        .optional()?;
    Ok(until.flatten().is_some_and(|u| u > now_ms))
}

fn update_event(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    event: &serde_json::Value,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "UPDATE inbox SET event_json = ?2,
            kapso_conversation_id = COALESCE(kapso_conversation_id, ?3)
         WHERE id = ?1",
        params![
            id,
            event.to_string(),
            event.get("kapso_conversation_id").and_then(|v| v.as_str())
        ],
    )?;
    Ok(())
}

/// A copy of an already stored message (its claim conflicted): completes the stored message
/// with what the copy adds ([`crate::inbox::enrich`]). Returns whether anything was completed.
fn enrich_tx(
    tx: &rusqlite::Transaction<'_>,
    delivery: &NewDelivery,
    item: &NewInboxItem,
) -> Result<bool, rusqlite::Error> {
    let fills = enrich::fills_of(&item.event);
    let (Some(wamid), false) = (item.event.wamid(), fills.is_empty()) else {
        return Ok(false);
    };
    let pnid = item.event.phone_number_id.as_deref().unwrap_or("");
    let claim = enrich::enrichment_claim(wamid);
    let parse = |row: &ClaimedRow| -> Result<serde_json::Value, rusqlite::Error> {
        serde_json::from_str(&row.event_json).map_err(to_sql_err)
    };
    // An enrichment row already queued: completed while pending, never a second one.
    if let Some(row) = claimed_row(tx, pnid, &claim)? {
        let mut event = parse(&row)?;
        let applied = enrich::apply_fills(&mut event, &fills);
        if row.state == InboxState::Pending.as_str() && applied.filled {
            update_event(tx, row.id, &event)?;
            return Ok(true);
        }
        return Ok(false);
    }
    let Some(original) = claimed_row(tx, pnid, wamid)? else {
        return Ok(false);
    };
    let mut event = parse(&original)?;
    let applied = enrich::apply_fills(&mut event, &fills);
    if !applied.filled {
        return Ok(false);
    }
    let pending = original.state == InboxState::Pending.as_str();
    let readable = pending || original.state == InboxState::Done.as_str();
    if pending && !taken_by_turn(tx, &original, delivery.received_at_ms)? {
        update_event(tx, original.id, &event)?;
        return Ok(true);
    }
    if !(applied.content && readable && item.state == InboxState::Pending) {
        // Metadata only, or a row no turn will read: the record is completed, no turn queued.
        update_event(tx, original.id, &event)?;
        return Ok(true);
    }
    let kind = EventKind::Message.as_str();
    tx.execute(
        "INSERT INTO inbox (delivery_key, kind, event_type, workspace_id, phone_number_id,
             contact_phone, kapso_conversation_id, wamid, status_value, state, event_json,
             raw_json, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, 'pending', ?9, ?10, ?11)",
        params![
            delivery.idempotency_key,
            kind,
            item.event.event_type,
            item.workspace_id
                .as_ref()
                .or(original.workspace_id.as_ref()),
            item.event.phone_number_id,
            item.event
                .contact_phone
                .as_ref()
                .or(original.contact_phone.as_ref()),
            event.get("kapso_conversation_id").and_then(|v| v.as_str()),
            claim,
            event.to_string(),
            item.raw.to_string(),
            delivery.received_at_ms
        ],
    )?;
    Ok(true)
}

fn row_to_inbox(row: &rusqlite::Row<'_>) -> Result<Result<InboxRow, String>, rusqlite::Error> {
    let id: i64 = row.get(0)?;
    let kind: String = row.get(2)?;
    let state: String = row.get(5)?;
    let event_json: String = row.get(6)?;
    let raw_json: String = row.get(7)?;
    let decoded = (|| {
        let event: InboundEvent =
            serde_json::from_str(&event_json).map_err(|e| format!("inbox {id}: event: {e}"))?;
        let raw = serde_json::from_str(&raw_json).map_err(|e| format!("inbox {id}: raw: {e}"))?;
        let state =
            InboxState::parse(&state).ok_or_else(|| format!("inbox {id}: state {state:?}"))?;
        if event.kind.as_str() != kind {
            return Err(format!(
                "inbox {id}: kind {kind:?} does not match its event"
            ));
        }
        Ok((event, raw, state))
    })();
    Ok(match decoded {
        Ok((event, raw, state)) => Ok(InboxRow {
            id,
            delivery_key: row.get(1)?,
            kind: event.kind,
            event_type: row.get(3)?,
            workspace_id: row.get(4)?,
            state,
            event,
            raw,
            received_at_ms: row.get(8)?,
        }),
        Err(e) => Err(e),
    })
}

/// Columns of `inbox` that [`row_to_inbox`] reads, in its order.
const INBOX_COLUMNS: &str =
    "id, delivery_key, kind, event_type, workspace_id, state, event_json, raw_json, received_at_ms";

/// Columns of `outbox` that [`row_to_outbox`] reads, in its order.
const OUTBOX_COLUMNS: &str = "id, conversation_id, idempotency_key, phone_number_id, to_phone, body, state, attempts, next_attempt_at_ms, kapso_message_id, error, channel, reason, COALESCE(queued_at_ms, created_at_ms), interactive_json";

fn row_to_outbox(row: &rusqlite::Row<'_>) -> Result<OutboxRow, rusqlite::Error> {
    let state: String = row.get(6)?;
    let channel: String = row.get(11)?;
    Ok(OutboxRow {
        channel: Channel::parse(&channel).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                11,
                rusqlite::types::Type::Text,
                format!("outbox channel {channel:?}").into(),
            )
        })?,
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        idempotency_key: row.get(2)?,
        phone_number_id: row.get(3)?,
        to: row.get(4)?,
        body: row.get(5)?,
        state: OutboxState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                6,
                rusqlite::types::Type::Text,
                format!("outbox state {state:?}").into(),
            )
        })?,
        attempts: row.get(7)?,
        next_attempt_at_ms: row.get(8)?,
        kapso_message_id: row.get(9)?,
        error: row.get(10)?,
        reason: match row.get::<_, Option<String>>(12)? {
            None => None,
            Some(r) => Some(FailReason::parse(&r).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    12,
                    rusqlite::types::Type::Text,
                    format!("outbox reason {r:?}").into(),
                )
            })?),
        },
        queued_at_ms: row.get(13)?,
        interactive: row.get(14)?,
    })
}

fn row_to_message(row: &rusqlite::Row<'_>) -> Result<StoredMessage, rusqlite::Error> {
    let direction: String = row.get(1)?;
    let meta: String = row.get(4)?;
    let bad = |i: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
    };
    Ok(StoredMessage {
        id: row.get(0)?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| bad(1, format!("direction {direction:?}")))?,
        text: row.get(2)?,
        wamid: row.get(3)?,
        meta: serde_json::from_str(&meta).map_err(|e| bad(4, e.to_string()))?,
        created_at_ms: row.get(5)?,
    })
}

fn to_sql_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// A row's fallback as stored (`None` when it queues nothing).
fn fallback_json(fallback: Option<&Fallback>) -> Result<Option<String>, rusqlite::Error> {
    match fallback {
        Some(f) if !f.is_empty() => serde_json::to_string(f).map(Some).map_err(to_sql_err),
        _ => Ok(None),
    }
}

fn begin_turn_tx(
    c: &mut rusqlite::Connection,
    key: &ConversationKey,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Result<BeginTurn, StoreError>, rusqlite::Error> {
    let tx = c.transaction()?;
    let inbound = pending_rows_tx(&tx, key)?;
    if inbound.is_empty() {
        return Ok(Ok(BeginTurn::Idle));
    }
    let inbound = match inbound.into_iter().collect::<Result<Vec<_>, String>>() {
        Ok(rows) => rows,
        Err(e) => return Ok(Err(StoreError::InvalidData(e))),
    };
    let existing = tx
        .query_row(
            "SELECT id, lease_token, lease_until_ms FROM conversations
             WHERE workspace_id = ?1 AND contact_phone = ?2",
            params![key.workspace_id, key.contact_phone],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            },
        )
        .optional()?;
    if let Some((_, Some(_), Some(until))) = &existing
        && *until > now_ms
    {
        return Ok(Ok(BeginTurn::Busy {
            lease_until_ms: *until,
        }));
    }
    let lease = Lease {
        token: uuid::Uuid::new_v4().to_string(),
        until_ms: now_ms + lease_ms,
    };
    let conversation_id = lease_conversation_tx(
        &tx,
        key,
        existing.map(|(id, ..)| id),
        &inbound,
        &lease,
        now_ms,
    )?;
    let (version, snapshot, contact_name, phone_number_id) = tx.query_row(
        "SELECT version, snapshot_json, contact_name, phone_number_id FROM conversations WHERE id = ?1",
        params![conversation_id],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )?;
    let snapshot = match snapshot.map(|s| serde_json::from_str(&s)).transpose() {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(StoreError::InvalidSnapshot(format!(
                "conversation {conversation_id}: snapshot: {e}"
            ))));
        }
    };
    let recent = recent_messages_tx(&tx, conversation_id)?;
    tx.commit()?;
    Ok(Ok(BeginTurn::Claimed(Box::new(TurnClaim {
        conversation_id,
        version,
        lease_token: lease.token,
        snapshot,
        contact_name,
        phone_number_id,
        inbound,
        recent,
    }))))
}

/// A turn lease being taken: its token and end (ms since the epoch).
struct Lease {
    token: String,
    until_ms: i64,
}

/// The conversation's pending inbox rows, oldest first, at most 100 (one turn's worth); a row
/// that cannot be decoded is an `Err` with why.
fn pending_rows_tx(
    tx: &rusqlite::Transaction<'_>,
    key: &ConversationKey,
) -> rusqlite::Result<Vec<Result<InboxRow, String>>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {INBOX_COLUMNS} FROM inbox
         WHERE workspace_id = ?1 AND contact_phone = ?2 AND state = 'pending'
         ORDER BY id LIMIT 100"
    ))?;
    stmt.query_map(params![key.workspace_id, key.contact_phone], row_to_inbox)?
        .collect()
}

/// Takes `lease` on the conversation `existing` (its id), or creates it under the lease, with
/// the identity details (contact name, business number, Kapso conversation id) of the newest
/// `inbound` row that carries each. Returns the conversation id.
fn lease_conversation_tx(
    tx: &rusqlite::Transaction<'_>,
    key: &ConversationKey,
    existing: Option<i64>,
    inbound: &[InboxRow],
    lease: &Lease,
    now_ms: i64,
) -> rusqlite::Result<i64> {
    let newest = |f: &dyn Fn(&InboundEvent) -> Option<String>| {
        inbound.iter().rev().find_map(|r| f(&r.event))
    };
    let name = newest(&|e| e.contact_name.clone());
    let pnid = newest(&|e| e.phone_number_id.clone());
    let kapso_id = newest(&|e| e.kapso_conversation_id.clone());
    if let Some(id) = existing {
        tx.execute(
            "UPDATE conversations SET lease_token = ?2, lease_until_ms = ?3,
                contact_name = COALESCE(?4, contact_name),
                phone_number_id = COALESCE(?5, phone_number_id),
                kapso_conversation_id = COALESCE(?6, kapso_conversation_id)
             WHERE id = ?1",
            params![id, lease.token, lease.until_ms, name, pnid, kapso_id],
        )?;
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO conversations (workspace_id, contact_phone, contact_name,
            phone_number_id, kapso_conversation_id, lease_token, lease_until_ms,
            created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            key.workspace_id,
            key.contact_phone,
            name,
            pnid,
            kapso_id,
            lease.token,
            lease.until_ms,
            now_ms
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The conversation's last [`RECENT_MESSAGES`] messages, oldest first.
fn recent_messages_tx(
    tx: &rusqlite::Transaction<'_>,
    conversation_id: i64,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, direction, text, wamid, meta_json, created_at_ms FROM messages
         WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let mut recent = stmt
        .query_map(
            params![conversation_id, RECENT_MESSAGES as i64],
            row_to_message,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    recent.reverse();
    Ok(recent)
}

fn commit_turn_tx(
    c: &mut rusqlite::Connection,
    commit: &TurnCommit,
) -> Result<CommitOutcome, rusqlite::Error> {
    let tx = c.transaction()?;
    if !fence_conversation_tx(&tx, commit)? {
        return Ok(CommitOutcome::Stale);
    }
    let version = commit.version + 1;
    apply_lead_change_tx(&tx, commit)?;
    // Replies queued behind an older undelivered reply of this contact (waiting for a retry,
    // or in flight) are not handed out for direct delivery: the poller sends them head-of-line,
    // so a contact's messages never overtake each other.
    let behind_older = pending_in_channel_tx(&tx, commit.conversation_id, "whatsapp")?;
    let hooks_behind_older = pending_in_channel_tx(&tx, commit.conversation_id, "webhook")?;
    {
        let mut done = tx.prepare_cached(
            "UPDATE inbox SET state = 'done' WHERE id = ?1 AND state = 'pending'",
        )?;
        for id in &commit.consumed_inbox_ids {
            done.execute(params![id])?;
        }
    }
    for id in &commit.told_undelivered {
        mark_told_tx(&tx, commit.conversation_id, *id)?;
    }
    let mut outbox = insert_messages_tx(&tx, commit, version, behind_older)?;
    outbox.extend(insert_webhooks_tx(
        &tx,
        commit,
        version,
        hooks_behind_older,
    )?);
    if let Some(to) = &commit.move_to {
        move_number_tx(&tx, commit.conversation_id, to)?;
    }
    tx.commit()?;
    Ok(CommitOutcome::Committed { version, outbox })
}

/// [`TurnCommit::move_to`]: moves the conversation `id` to the number `to` (E.164). Its pending
/// replies (not CRM calls) and not yet turned inbox rows follow. When `to` has no conversation,
/// this one takes the number and records the old one (`previous_phone`); when it has one, this
/// one is closed and linked to it (`merged_into_id`, no follow-up) and its appointments move to
/// it (a slot both hold stays with the old one).
fn move_number_tx(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    to: &str,
) -> Result<(), rusqlite::Error> {
    let (workspace_id, from): (String, String) = tx.query_row(
        "SELECT workspace_id, contact_phone FROM conversations WHERE id = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if from == to {
        return Ok(());
    }
    let target = conversation_id(
        tx,
        &ConversationKey {
            workspace_id: workspace_id.clone(),
            contact_phone: to.to_string(),
        },
    )?;
    tx.execute(
        "UPDATE outbox SET to_phone = ?2, conversation_id = ?3
         WHERE conversation_id = ?1 AND state = 'pending' AND channel != 'webhook'",
        params![id, to, target.unwrap_or(id)],
    )?;
    tx.execute(
        "UPDATE inbox SET contact_phone = ?3
         WHERE workspace_id = ?1 AND contact_phone = ?2 AND state = 'pending'",
        params![workspace_id, from, to],
    )?;
    match target {
        None => tx.execute(
            "UPDATE conversations SET contact_phone = ?2, previous_phone = ?3 WHERE id = ?1",
            params![id, to, from],
        )?,
        Some(target) => {
            tx.execute(
                "UPDATE OR IGNORE appointments SET conversation_id = ?2 WHERE conversation_id = ?1",
                params![id, target],
            )?;
            tx.execute(
                "UPDATE conversations SET merged_into_id = ?2, followup_due_ms = NULL WHERE id = ?1",
                params![id, target],
            )?;
            tx.execute(
                "UPDATE conversations SET previous_phone = ?2 WHERE id = ?1",
                params![target, from],
            )?
        }
    };
    Ok(())
}

/// Writes the snapshot and summary when the commit's version and lease still hold (and
/// releases the lease); `false`: stale, nothing written.
fn fence_conversation_tx(
    tx: &rusqlite::Transaction<'_>,
    commit: &TurnCommit,
) -> Result<bool, rusqlite::Error> {
    let snapshot = serde_json::to_string(&commit.snapshot).map_err(to_sql_err)?;
    let fenced = tx.execute(
        "UPDATE conversations SET version = version + 1, snapshot_json = ?4, flow_state = ?5,
            lead_score = ?6, lead_temperature = ?7, handoff_reason = ?8,
            lease_token = NULL, lease_until_ms = NULL, updated_at_ms = ?9, language = ?10,
            followup_due_ms = ?11
         WHERE id = ?1 AND version = ?2 AND lease_token = ?3",
        params![
            commit.conversation_id,
            commit.version,
            commit.lease_token,
            snapshot,
            commit.summary.flow_state,
            commit.summary.lead_score,
            commit.summary.lead_temperature,
            commit.summary.handoff_reason,
            commit.now_ms,
            commit.summary.language,
            commit.summary.followup_due_ms
        ],
    )?;
    Ok(fenced > 0)
}

/// [`Store::erase_contact`] in one transaction.
fn erase_contact_tx(
    tx: &rusqlite::Transaction<'_>,
    key: &ConversationKey,
    now_ms: i64,
) -> Result<EraseOutcome, rusqlite::Error> {
    let Some((id, lease_until)) = tx
        .query_row(
            "SELECT id, lease_until_ms FROM conversations WHERE workspace_id = ?1 AND contact_phone = ?2",
            params![key.workspace_id, key.contact_phone],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
        )
        .optional()?
    else {
        return Ok(EraseOutcome::NotFound);
    };
    if lease_until.is_some_and(|until| until > now_ms) {
        return Ok(EraseOutcome::Busy);
    }
    let erased_phone = format!("erased:{id}");
    let erased_event =
        serde_json::to_string(&InboundEvent::unknown("erased")).map_err(to_sql_err)?;
    tx.execute(
        "UPDATE deliveries SET original_body = NULL WHERE idempotency_key IN
            (SELECT delivery_key FROM inbox WHERE workspace_id = ?1 AND contact_phone = ?2)",
        params![key.workspace_id, key.contact_phone],
    )?;
    let inbox_rows = tx.execute(
        "UPDATE inbox SET raw_json = '{}', contact_phone = ?4,
            event_json = json_set(?3, '$.kind', kind, '$.event_type', event_type,
                '$.contact_phone', ?4),
            state = CASE state WHEN 'pending' THEN 'done' ELSE state END
         WHERE workspace_id = ?1 AND contact_phone = ?2",
        params![
            key.workspace_id,
            key.contact_phone,
            erased_event,
            erased_phone
        ],
    )?;
    let messages = tx.execute(
        "UPDATE messages SET text = NULL, meta_json = '{}' WHERE conversation_id = ?1",
        params![id],
    )?;
    let outbox_rows = tx.execute(
        "UPDATE outbox SET body = '', to_phone = ?2, fallback_json = NULL, updated_at_ms = ?3,
            state = CASE state WHEN 'pending' THEN 'failed' ELSE state END,
            error = CASE state WHEN 'pending' THEN 'erased' ELSE error END
         WHERE conversation_id = ?1",
        params![id, erased_phone, now_ms],
    )?;
    let appointments = tx.execute(
        "UPDATE appointments SET notes = '', status = 'erased', updated_at_ms = ?2
         WHERE conversation_id = ?1",
        params![id, now_ms],
    )?;
    tx.execute(
        "UPDATE conversations SET contact_phone = ?2, contact_name = NULL, snapshot_json = NULL,
            flow_state = NULL, lead_score = NULL, lead_temperature = NULL, handoff_reason = NULL,
            lead_status = NULL, tags_json = '[]', language = NULL, followup_due_ms = NULL,
            kapso_conversation_id = NULL, lease_token = NULL, lease_until_ms = NULL,
            version = version + 1, updated_at_ms = ?3
         WHERE id = ?1",
        params![id, erased_phone, now_ms],
    )?;
    let count = |n: usize| n as u64;
    Ok(EraseOutcome::Erased(EraseReceipt {
        conversation_id: id,
        messages: count(messages),
        appointments: count(appointments),
        outbox_rows: count(outbox_rows),
        inbox_rows: count(inbox_rows),
        erased_at_ms: now_ms,
    }))
}

/// A control row to queue: an operator's command or a due follow-up.
struct ControlRow<'a> {
    /// Its delivery's idempotency key (`control:<uuid>`, `followup:<id>:<due ms>`).
    delivery_key: String,
    event_type: &'a str,
    key: &'a ConversationKey,
    raw: serde_json::Value,
    now_ms: i64,
}

/// Queues `row` as a pending `control` inbox row under its own delivery; `false` (nothing
/// written) when that delivery key was queued before.
fn insert_control_row_tx(
    tx: &rusqlite::Transaction<'_>,
    row: &ControlRow<'_>,
) -> Result<bool, rusqlite::Error> {
    let fresh = tx.execute(
        "INSERT INTO deliveries (idempotency_key, event_header, request_id, item_count, received_at_ms)
         VALUES (?1, ?2, '', 1, ?3) ON CONFLICT DO NOTHING",
        params![row.delivery_key, row.event_type, row.now_ms],
    )? > 0;
    if !fresh {
        return Ok(false);
    }
    let mut event = InboundEvent::unknown(row.event_type);
    event.kind = crate::inbox::EventKind::Control;
    event.contact_phone = Some(row.key.contact_phone.clone());
    let event_json = serde_json::to_string(&event).map_err(to_sql_err)?;
    tx.execute(
        "INSERT INTO inbox (delivery_key, kind, event_type, workspace_id, contact_phone,
             state, event_json, raw_json, received_at_ms)
         VALUES (?1, 'control', ?2, ?3, ?4, 'pending', ?5, ?6, ?7)",
        params![
            row.delivery_key,
            row.event_type,
            row.key.workspace_id,
            row.key.contact_phone,
            event_json,
            row.raw.to_string(),
            row.now_ms
        ],
    )?;
    Ok(true)
}

/// [`Store::queue_due_followups`] in one transaction: for each conversation whose follow-up is
/// due, a `followup_due` control row carrying the due time (delivery key
/// `followup:<conversation>:<due ms>`, so a due time is queued once), and the due time cleared
/// (the next turn's commit writes the next one).
fn queue_due_followups_tx(
    tx: &rusqlite::Transaction<'_>,
    now_ms: i64,
    limit: u32,
) -> Result<Vec<ConversationKey>, rusqlite::Error> {
    let due: Vec<(i64, i64, ConversationKey)> = tx
        .prepare_cached(
            "SELECT id, followup_due_ms, workspace_id, contact_phone FROM conversations
             WHERE followup_due_ms IS NOT NULL AND followup_due_ms <= ?1
             ORDER BY followup_due_ms LIMIT ?2",
        )?
        .query_map(params![now_ms, limit], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                ConversationKey {
                    workspace_id: r.get(2)?,
                    contact_phone: r.get(3)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut queued = Vec::new();
    for (id, due_ms, key) in due {
        let event_type = crate::inbox::FOLLOWUP_DUE_EVENT;
        let raw =
            serde_json::json!({"conversation_id": id, "event": event_type, "due_at_ms": due_ms});
        let control = ControlRow {
            delivery_key: format!("followup:{id}:{due_ms}"),
            event_type,
            key: &key,
            raw,
            now_ms,
        };
        if insert_control_row_tx(tx, &control)? {
            queued.push(key);
        }
        tx.execute(
            "UPDATE conversations SET followup_due_ms = NULL WHERE id = ?1 AND followup_due_ms = ?2",
            params![id, due_ms],
        )?;
    }
    Ok(queued)
}

/// [`Store::set_aside_turn`] in one transaction.
fn set_aside_turn_tx(
    tx: &rusqlite::Transaction<'_>,
    key: &ConversationKey,
    failure: &TurnFailure,
) -> Result<SetAside, rusqlite::Error> {
    let pending: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT id, event_type FROM inbox
             WHERE workspace_id = ?1 AND contact_phone = ?2 AND state = 'pending' ORDER BY id",
        )?
        .query_map(params![key.workspace_id, key.contact_phone], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, _) in &pending {
        tx.execute(
            "UPDATE inbox SET state = ?2 WHERE id = ?1",
            params![id, InboxState::SetAside.as_str()],
        )?;
    }
    let conversation = conversation_id(tx, key)?;
    let mut snapshot: Option<String> = None;
    if let Some(id) = conversation {
        if failure.reset_snapshot {
            snapshot = tx.query_row(
                "SELECT snapshot_json FROM conversations WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )?;
        }
        tx.execute(
            "UPDATE conversations SET lease_token = NULL, lease_until_ms = NULL,
                followup_due_ms = NULL, updated_at_ms = ?3,
                snapshot_json = CASE WHEN ?2 THEN NULL ELSE snapshot_json END,
                version = version + CASE WHEN ?2 THEN 1 ELSE 0 END
             WHERE id = ?1",
            params![id, failure.reset_snapshot, failure.now_ms],
        )?;
    }
    let stuck_again = pending
        .iter()
        .any(|(_, t)| t == crate::inbox::TURN_STUCK_EVENT);
    let queued = !stuck_again && {
        let ids: Vec<i64> = pending.iter().map(|(id, _)| *id).collect();
        let raw = serde_json::json!({
            "conversation_id": conversation,
            "event": crate::inbox::TURN_STUCK_EVENT,
            "error": failure.error,
            "attempts": failure.attempts,
            "set_aside": ids,
            "snapshot": snapshot,
        });
        let control = ControlRow {
            delivery_key: format!("control:{}", uuid::Uuid::new_v4()),
            event_type: crate::inbox::TURN_STUCK_EVENT,
            key,
            raw,
            now_ms: failure.now_ms,
        };
        insert_control_row_tx(tx, &control)?
    };
    Ok(SetAside {
        conversation_id: conversation,
        rows: pending.len() as u64,
        queued,
    })
}

/// The turn's CRM change: the status when set, the tags added (never removed).
fn apply_lead_change_tx(
    tx: &rusqlite::Transaction<'_>,
    commit: &TurnCommit,
) -> Result<(), rusqlite::Error> {
    if let Some(status) = &commit.lead.status {
        tx.execute(
            "UPDATE conversations SET lead_status = ?2 WHERE id = ?1",
            params![commit.conversation_id, status],
        )?;
    }
    if !commit.lead.add_tags.is_empty() {
        let json: String = tx.query_row(
            "SELECT tags_json FROM conversations WHERE id = ?1",
            params![commit.conversation_id],
            |r| r.get(0),
        )?;
        let mut tags: Vec<String> = serde_json::from_str(&json).unwrap_or_default();
        for t in &commit.lead.add_tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        tx.execute(
            "UPDATE conversations SET tags_json = ?2 WHERE id = ?1",
            params![
                commit.conversation_id,
                serde_json::to_string(&tags).map_err(to_sql_err)?
            ],
        )?;
    }
    Ok(())
}

/// Whether the conversation has a pending outbox row on `channel` (`whatsapp`, `webhook`).
fn pending_in_channel_tx(
    tx: &rusqlite::Transaction<'_>,
    conversation_id: i64,
    channel: &str,
) -> Result<bool, rusqlite::Error> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox
                        WHERE conversation_id = ?1 AND channel = ?2 AND state = 'pending')",
        params![conversation_id, channel],
        |r| r.get(0),
    )
}

/// The turn's messages, and an outbox row for each one to send; the rows handed to the
/// committer (claimed for `outbox_lease_ms`), none when `behind_older`.
fn insert_messages_tx(
    tx: &rusqlite::Transaction<'_>,
    commit: &TurnCommit,
    version: i64,
    behind_older: bool,
) -> Result<Vec<OutboxRow>, rusqlite::Error> {
    let claimed_until = if behind_older {
        commit.now_ms
    } else {
        commit.now_ms + commit.outbox_lease_ms
    };
    let mut outbox = Vec::new();
    {
        let mut insert_message = tx.prepare_cached(
            "INSERT INTO messages (conversation_id, direction, inbox_id, wamid, text, meta_json, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut insert_outbox = tx.prepare_cached(&format!(
            "INSERT INTO outbox (conversation_id, message_id, idempotency_key, phone_number_id,
                to_phone, body, state, next_attempt_at_ms, created_at_ms, updated_at_ms,
                fallback_json, channel, interactive_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?8, ?7, ?7, ?9, ?10, ?11)
             RETURNING {OUTBOX_COLUMNS}"
        ))?;
        for (n, m) in commit.messages.iter().enumerate() {
            let meta = serde_json::to_string(&m.meta).map_err(to_sql_err)?;
            insert_message.execute(params![
                commit.conversation_id,
                m.direction.as_str(),
                m.inbox_id,
                m.wamid,
                m.text,
                meta,
                commit.now_ms
            ])?;
            let message_id = tx.last_insert_rowid();
            if let Some(send) = &m.send {
                let key = format!("ari-{}-{}-{}", commit.conversation_id, version, n);
                let row = insert_outbox.query_row(
                    params![
                        commit.conversation_id,
                        message_id,
                        key,
                        send.phone_number_id,
                        send.to,
                        m.text.as_deref().unwrap_or_default(),
                        commit.now_ms,
                        claimed_until,
                        fallback_json(send.fallback.as_ref())?,
                        send.channel.as_str(),
                        send.interactive
                    ],
                    row_to_outbox,
                )?;
                if !behind_older {
                    outbox.push(row);
                }
            }
        }
    }
    Ok(outbox)
}

/// The turn's CRM webhook calls as outbox rows; claimed for the committer unless
/// `hooks_behind_older`.
fn insert_webhooks_tx(
    tx: &rusqlite::Transaction<'_>,
    commit: &TurnCommit,
    version: i64,
    hooks_behind_older: bool,
) -> Result<Vec<OutboxRow>, rusqlite::Error> {
    let mut outbox = Vec::new();
    for (n, hook) in commit.webhooks.iter().enumerate() {
        let key = format!("ari-{}-{}-hook-{}", commit.conversation_id, version, n);
        let until = if hooks_behind_older {
            commit.now_ms
        } else {
            commit.now_ms + commit.outbox_lease_ms
        };
        let row = tx.query_row(
            &format!(
                "INSERT INTO outbox (conversation_id, idempotency_key, phone_number_id, to_phone,
                    body, state, next_attempt_at_ms, created_at_ms, updated_at_ms, channel)
                 VALUES (?1, ?2, '', ?3, ?4, 'pending', ?5, ?6, ?6, 'webhook')
                 RETURNING {OUTBOX_COLUMNS}"
            ),
            params![
                commit.conversation_id,
                key,
                hook.url,
                hook.body,
                until,
                commit.now_ms
            ],
            row_to_outbox,
        )?;
        if !hooks_behind_older {
            outbox.push(row);
        }
    }
    Ok(outbox)
}

fn record_send_tx(
    c: &mut rusqlite::Connection,
    outbox_id: i64,
    outcome: &SendOutcome,
    now_ms: i64,
) -> Result<(), rusqlite::Error> {
    let tx = c.transaction()?;
    match outcome {
        SendOutcome::Sent { kapso_message_id } => {
            tx.execute(
                "UPDATE outbox SET state = 'sent', kapso_message_id = ?2, attempts = attempts + 1,
                    error = NULL, updated_at_ms = ?3 WHERE id = ?1",
                params![outbox_id, kapso_message_id, now_ms],
            )?;
            tx.execute(
                "UPDATE messages SET wamid = ?2
                 WHERE id = (SELECT message_id FROM outbox WHERE id = ?1)",
                params![outbox_id, kapso_message_id],
            )?;
        }
        SendOutcome::Delivered => {
            tx.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, error = NULL,
                    updated_at_ms = ?2 WHERE id = ?1",
                params![outbox_id, now_ms],
            )?;
        }
        SendOutcome::DryRun => {
            tx.execute(
                "UPDATE outbox SET state = 'dry_run', attempts = attempts + 1, updated_at_ms = ?2
                 WHERE id = ?1",
                params![outbox_id, now_ms],
            )?;
        }
        SendOutcome::Retry {
            error,
            next_attempt_at_ms,
        } => {
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, error = ?2, next_attempt_at_ms = ?3,
                    updated_at_ms = ?4 WHERE id = ?1 AND state = 'pending'",
                params![outbox_id, error, next_attempt_at_ms, now_ms],
            )?;
        }
        SendOutcome::Failed { error, reason } => {
            fail_tx(&tx, outbox_id, error, *reason, now_ms, true)?;
        }
    }
    tx.commit()
}

/// Records a row's final failure inside the caller's transaction: `failed` (or
/// `needs_template`) with its error and reason (an attempt counted when `attempted`), the rows
/// of its [`Fallback`] queued, and its message marked `undelivered` (and `told` when a queued
/// row tells someone). A row that already failed for good is left as it is (a repeated
/// report, or a retried request).
fn fail_tx(
    tx: &rusqlite::Transaction<'_>,
    outbox_id: i64,
    error: &str,
    reason: FailReason,
    now_ms: i64,
    attempted: bool,
) -> Result<(), rusqlite::Error> {
    /// What the failure needs of the row.
    struct Failing {
        conversation_id: i64,
        key: String,
        phone_number_id: String,
        state: String,
        fallback: Option<String>,
        message_id: Option<i64>,
    }
    let row = tx
        .query_row(
            "SELECT conversation_id, idempotency_key, phone_number_id, state, fallback_json,
                message_id FROM outbox WHERE id = ?1",
            params![outbox_id],
            |r| {
                Ok(Failing {
                    conversation_id: r.get(0)?,
                    key: r.get(1)?,
                    phone_number_id: r.get(2)?,
                    state: r.get(3)?,
                    fallback: r.get(4)?,
                    message_id: r.get(5)?,
                })
            },
        )
        .optional()?;
    let Some(Failing {
        conversation_id,
        key,
        phone_number_id: pnid,
        state,
        fallback,
        message_id,
    }) = row
    else {
        return Ok(());
    };
    if OutboxState::parse(&state).is_some_and(OutboxState::is_failure) {
        return Ok(());
    }
    let fallback: Fallback = match fallback.as_deref().map(serde_json::from_str) {
        None => Fallback::default(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            tracing::error!(outbox_id, error = %e, "unreadable outbox fallback; nothing queued");
            Fallback::default()
        }
    };
    let (state, queue, tag) = fallback.on_failure(reason);
    tx.execute(
        "UPDATE outbox SET state = ?6, attempts = attempts + ?5, error = ?2, reason = ?3,
            updated_at_ms = ?4
         WHERE id = ?1",
        params![
            outbox_id,
            error,
            reason.as_str(),
            now_ms,
            i64::from(attempted),
            state.as_str()
        ],
    )?;
    let mut told = false;
    for (n, queued) in queue.iter().enumerate() {
        let key = format!("{key}-{tag}{n}");
        told |= queue_fallback_tx(tx, conversation_id, &key, &pnid, queued, now_ms)?;
    }
    if let Some(message_id) = message_id {
        mark_undelivered_tx(tx, message_id, told)?;
    }
    Ok(())
}

/// Queues one row of a failed row's [`Fallback`] (see [`QueuedRow`], [`Once`]). Returns whether
/// it tells someone: queued, or merged into a waiting row of its key (false when a row of its
/// key stands for it).
fn queue_fallback_tx(
    tx: &rusqlite::Transaction<'_>,
    conversation_id: i64,
    key: &str,
    phone_number_id: &str,
    queued: &QueuedRow,
    now_ms: i64,
) -> Result<bool, rusqlite::Error> {
    if let Some(once) = &queued.once {
        /// A row of the same key, newest first.
        struct Same {
            id: i64,
            waiting: bool,
            body: String,
            channel: String,
            queued_at_ms: i64,
        }
        let same: Vec<Same> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, state = 'pending' AND attempts = 0 AND next_attempt_at_ms <= ?3,
                    body, channel, COALESCE(queued_at_ms, created_at_ms)
                 FROM outbox WHERE conversation_id = ?1 AND once_key = ?2 ORDER BY id DESC",
            )?;
            stmt.query_map(params![conversation_id, once.key, now_ms], |r| {
                Ok(Same {
                    id: r.get(0)?,
                    waiting: r.get(1)?,
                    body: r.get(2)?,
                    channel: r.get(3)?,
                    queued_at_ms: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        // Waiting and never tried (no sender holds it): it takes this one in.
        if let Some(row) = same.iter().find(|r| r.waiting) {
            let channel = Channel::parse(&row.channel).unwrap_or(Channel::Whatsapp);
            tx.execute(
                "UPDATE outbox SET body = ?2, updated_at_ms = ?3 WHERE id = ?1",
                params![row.id, merge_body(channel, &row.body, &once.merge), now_ms],
            )?;
            return Ok(true);
        }
        if let Some(newest) = same.first()
            && once
                .window_ms
                .is_none_or(|w| newest.queued_at_ms > now_ms - w)
        {
            return Ok(false);
        }
    }
    let fallback = match &queued.fallback {
        Some(f) if !f.is_empty() => Some(serde_json::to_string(f).map_err(to_sql_err)?),
        _ => None,
    };
    let pnid = if queued.channel == Channel::Webhook {
        ""
    } else {
        phone_number_id
    };
    tx.execute(
        "INSERT INTO outbox (conversation_id, idempotency_key, phone_number_id, to_phone, body,
            state, next_attempt_at_ms, created_at_ms, updated_at_ms, queued_at_ms, channel,
            fallback_json, once_key)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6, ?6, ?7, ?8, ?9)
         ON CONFLICT (idempotency_key) DO NOTHING",
        params![
            conversation_id,
            key,
            pnid,
            queued.to,
            queued.body,
            now_ms,
            queued.channel.as_str(),
            fallback,
            queued.once.as_ref().map(|o| o.key.as_str())
        ],
    )?;
    Ok(true)
}

/// Marks an undelivered message of this conversation told (a notice or relay listed it).
fn mark_told_tx(
    tx: &rusqlite::Transaction<'_>,
    conversation_id: i64,
    message_id: i64,
) -> Result<(), rusqlite::Error> {
    set_meta_flags_tx(tx, message_id, Some(conversation_id), &[TOLD_META])
}

/// Marks a message whose outbox row failed for good: `undelivered`, and `told` when a
/// fallback row tells someone about it (else the next notice or relay lists it).
fn mark_undelivered_tx(
    tx: &rusqlite::Transaction<'_>,
    message_id: i64,
    told: bool,
) -> Result<(), rusqlite::Error> {
    let flags: &[&str] = if told {
        &[UNDELIVERED_META, TOLD_META]
    } else {
        &[UNDELIVERED_META]
    };
    set_meta_flags_tx(tx, message_id, None, flags)
}

/// Sets each of `flags` to `true` in a message's meta (of `conversation_id`'s messages only,
/// when given); nothing for an unknown message, an unreadable meta becomes `{}` first.
fn set_meta_flags_tx(
    tx: &rusqlite::Transaction<'_>,
    message_id: i64,
    conversation_id: Option<i64>,
    flags: &[&str],
) -> Result<(), rusqlite::Error> {
    let meta: Option<String> = tx
        .query_row(
            "SELECT meta_json FROM messages WHERE id = ?1 AND (?2 IS NULL OR conversation_id = ?2)",
            params![message_id, conversation_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(meta) = meta else {
        return Ok(());
    };
    let mut value: serde_json::Value =
        serde_json::from_str(&meta).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = value.as_object_mut() {
        for flag in flags {
            map.insert((*flag).into(), true.into());
        }
    }
    tx.execute(
        "UPDATE messages SET meta_json = ?2 WHERE id = ?1",
        params![message_id, value.to_string()],
    )?;
    Ok(())
}

fn conversation_id(
    c: &rusqlite::Connection,
    key: &ConversationKey,
) -> Result<Option<i64>, rusqlite::Error> {
    c.query_row(
        "SELECT id FROM conversations WHERE workspace_id = ?1 AND contact_phone = ?2",
        params![key.workspace_id, key.contact_phone],
        |r| r.get(0),
    )
    .optional()
}

#[async_trait]
impl Store for SqliteStore {
    async fn enqueue_inbound(&self, delivery: NewDelivery) -> Result<EnqueueOutcome, StoreError> {
        let limits = self.limits;
        let Ok(permit) = Arc::clone(&self.queue).try_acquire_owned() else {
            return Err(overloaded(Overload::QueueFull, &limits));
        };
        self.trip();
        let deadline = std::time::Instant::now() + limits.deadline;
        let call = self.write_delivery(delivery, deadline, permit);
        let answer = if limits.deadline < StoreLimits::unbounded().deadline {
            tokio::time::timeout(limits.deadline, call).await.ok()
        } else {
            // No deadline (tools and tests, [`StoreLimits::unbounded`]): no timer at all, which
            // tokio's paused test clock would otherwise run out at once.
            Some(call.await)
        };
        match answer {
            Some(Ok(Some(outcome))) => Ok(outcome),
            Some(Ok(None)) | None => Err(overloaded(Overload::Deadline, &limits)),
            Some(Err(e)) => Err(e),
        }
    }

    async fn delivery_original_body(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<String>, StoreError> {
        self.trip();
        let key = idempotency_key.to_string();
        self.conn
            .call(move |c| {
                c.query_row(
                    "SELECT original_body FROM deliveries WHERE idempotency_key = ?1",
                    params![key],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()
                .map(Option::flatten)
            })
            .await
            .map_err(call_err)
    }

    async fn inbox_depth(&self) -> Result<u64, StoreError> {
        self.trip();
        self.conn
            .call(|c| {
                c.query_row(
                    "SELECT count(*) FROM inbox WHERE state = 'pending'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .await
            .map(|n| n.max(0) as u64)
            .map_err(call_err)
    }

    async fn due(&self, query: DueQuery) -> Result<DueReport, StoreError> {
        self.trip();
        self.conn
            .call(move |c| due_local(c, &query))
            .await
            .map_err(call_err)
    }

    async fn list_inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxRow>, StoreError> {
        self.trip();
        let rows = self
            .conn
            .call(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {INBOX_COLUMNS} FROM inbox WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?;
                let rows = stmt
                    .query_map(params![after_id, limit], row_to_inbox)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)?;
        rows.into_iter()
            .map(|r| r.map_err(StoreError::InvalidData))
            .collect()
    }

    async fn pending_conversations(
        &self,
        limit: u32,
        now_ms: i64,
        orphan_ttl_ms: i64,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                attach_orphans_tx(&tx, now_ms - orphan_ttl_ms)?;
                let keys = pending_keys_tx(&tx, limit)?;
                tx.commit()?;
                Ok(keys)
            })
            .await
            .map_err(call_err)
    }

    async fn enqueue_control(
        &self,
        conversation_id: i64,
        event_type: &str,
        now_ms: i64,
    ) -> Result<Option<ConversationKey>, StoreError> {
        self.trip();
        let event_type = event_type.to_string();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let Some(key) = tx
                    .query_row(
                        "SELECT workspace_id, contact_phone FROM conversations WHERE id = ?1",
                        params![conversation_id],
                        |r| {
                            Ok(ConversationKey {
                                workspace_id: r.get(0)?,
                                contact_phone: r.get(1)?,
                            })
                        },
                    )
                    .optional()?
                else {
                    return Ok(None);
                };
                let raw =
                    serde_json::json!({"conversation_id": conversation_id, "event": event_type});
                let control = ControlRow {
                    delivery_key: format!("control:{}", uuid::Uuid::new_v4()),
                    event_type: &event_type,
                    key: &key,
                    raw,
                    now_ms,
                };
                insert_control_row_tx(&tx, &control)?;
                tx.commit()?;
                Ok(Some(key))
            })
            .await
            .map_err(call_err)
    }

    async fn queue_due_followups(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let due = queue_due_followups_tx(&tx, now_ms, limit)?;
                tx.commit()?;
                Ok(due)
            })
            .await
            .map_err(call_err)
    }

    async fn begin_turn(
        &self,
        key: &ConversationKey,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<BeginTurn, StoreError> {
        self.trip();
        let key = key.clone();
        self.conn
            .call(move |c| begin_turn_tx(c, &key, now_ms, lease_ms))
            .await
            .map_err(call_err)?
    }

    async fn commit_turn(&self, commit: TurnCommit) -> Result<CommitOutcome, StoreError> {
        self.trip();
        self.conn
            .call(move |c| commit_turn_tx(c, &commit))
            .await
            .map_err(call_err)
    }

    async fn release_turn(
        &self,
        conversation_id: i64,
        lease_token: &str,
    ) -> Result<(), StoreError> {
        self.trip();
        let token = lease_token.to_string();
        self.conn
            .call(move |c| {
                c.execute(
                    "UPDATE conversations SET lease_token = NULL, lease_until_ms = NULL
                     WHERE id = ?1 AND lease_token = ?2",
                    params![conversation_id, token],
                )
                .map(|_| ())
            })
            .await
            .map_err(call_err)
    }

    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let rows = {
                    let mut stmt = tx.prepare_cached(&format!(
                        "SELECT {OUTBOX_COLUMNS} FROM outbox AS o
                         WHERE o.state = 'pending' AND o.next_attempt_at_ms <= ?1
                           AND o.id = (SELECT MIN(id) FROM outbox
                                       WHERE conversation_id = o.conversation_id
                                         AND channel = o.channel AND state = 'pending')
                         ORDER BY o.id LIMIT ?2"
                    ))?;
                    stmt.query_map(params![now_ms, limit], row_to_outbox)?
                        .collect::<Result<Vec<_>, _>>()?
                };
                {
                    let mut lease = tx.prepare_cached(
                        "UPDATE outbox SET next_attempt_at_ms = ?2 WHERE id = ?1",
                    )?;
                    for row in &rows {
                        lease.execute(params![row.id, now_ms + lease_ms])?;
                    }
                }
                tx.commit()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn record_send(
        &self,
        outbox_id: i64,
        outcome: SendOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.trip();
        self.conn
            .call(move |c| record_send_tx(c, outbox_id, &outcome, now_ms))
            .await
            .map_err(call_err)
    }

    async fn record_delivery_failure(
        &self,
        kapso_message_id: &str,
        error: &str,
        reason: FailReason,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.trip();
        let (id, error) = (kapso_message_id.to_string(), error.to_string());
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let ids: Vec<i64> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT id FROM outbox WHERE kapso_message_id = ?1 ORDER BY id",
                    )?;
                    stmt.query_map(params![id], |r| r.get(0))?
                        .collect::<Result<_, _>>()?
                };
                for row in &ids {
                    fail_tx(&tx, *row, &error, reason, now_ms, false)?;
                }
                tx.commit()?;
                Ok(ids.first().copied())
            })
            .await
            .map_err(call_err)
    }

    async fn list_outbox(
        &self,
        state: OutboxState,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = ?1 AND id > ?2
                     ORDER BY id LIMIT ?3"
                ))?;
                let rows = stmt
                    .query_map(params![state.as_str(), after_id, limit], row_to_outbox)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn requeue_outbox(
        &self,
        outbox_id: i64,
        now_ms: i64,
    ) -> Result<Option<OutboxRow>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "UPDATE outbox SET state = 'pending', attempts = 0, reason = NULL,
                        next_attempt_at_ms = ?2, queued_at_ms = ?2, updated_at_ms = ?2
                     WHERE id = ?1 AND state IN ('failed', 'needs_template')",
                    params![outbox_id, now_ms],
                )?;
                let row = tx
                    .query_row(
                        &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"),
                        params![outbox_id],
                        row_to_outbox,
                    )
                    .optional()?;
                tx.commit()?;
                Ok(row)
            })
            .await
            .map_err(call_err)
    }

    async fn book_slot(&self, booking: NewAppointment) -> Result<BookingOutcome, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let outcome = book_in(&tx, &booking, None)?;
                tx.commit()?;
                Ok(outcome)
            })
            .await
            .map_err(call_err)
    }

    async fn move_appointment(
        &self,
        from_appointment_id: i64,
        to: NewAppointment,
    ) -> Result<BookingOutcome, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let outcome = book_in(&tx, &to, Some(from_appointment_id))?;
                if let BookingOutcome::Booked { appointment_id } = outcome
                    && appointment_id != from_appointment_id
                {
                    tx.execute(
                        "UPDATE appointments SET status = 'cancelled', updated_at_ms = ?3
                         WHERE id = ?1 AND conversation_id = ?2 AND status = 'booked'",
                        params![from_appointment_id, to.conversation_id, to.now_ms],
                    )?;
                }
                tx.commit()?;
                Ok(outcome)
            })
            .await
            .map_err(call_err)
    }

    async fn cancel_appointment(
        &self,
        conversation_id: i64,
        appointment_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                c.execute(
                    "UPDATE appointments SET status = 'cancelled', updated_at_ms = ?3
                     WHERE id = ?1 AND conversation_id = ?2 AND status = 'booked'",
                    params![appointment_id, conversation_id, now_ms],
                )
                .map(|n| n > 0)
            })
            .await
            .map_err(call_err)
    }

    async fn booked_slots(
        &self,
        workspace_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::HashMap<String, u32>, StoreError> {
        self.trip();
        let ws = workspace_id.to_string();
        self.conn
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT slot_id, count(*) FROM appointments
                     WHERE workspace_id = ?1 AND status = 'booked'
                       AND starts_at_ms >= ?2 AND starts_at_ms < ?3
                     GROUP BY slot_id",
                )?;
                let rows = stmt
                    .query_map(params![ws, from_ms, to_ms], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
                    })?
                    .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn upcoming_appointments(
        &self,
        from_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<UpcomingAppointment>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT a.id, a.conversation_id, a.slot_id, a.starts_at_ms, a.duration_minutes,
                            a.consultant_name, a.consultant_whatsapp, a.status, a.notes,
                            c.workspace_id, c.contact_phone, c.phone_number_id, c.contact_name,
                            a.created_at_ms,
                            (SELECT group_concat(kind) FROM appointment_reminders r
                             WHERE r.appointment_id = a.id),
                            (SELECT max(created_at_ms) FROM messages m
                             WHERE m.conversation_id = a.conversation_id AND m.direction = 'inbound'),
                            c.language
                     FROM appointments a JOIN conversations c ON c.id = a.conversation_id
                     WHERE a.status = 'booked' AND a.starts_at_ms >= ?1 AND a.starts_at_ms < ?2
                     ORDER BY a.starts_at_ms LIMIT ?3",
                )?;
                let rows = stmt
                    .query_map(params![from_ms, until_ms, limit], |r| {
                        let sent: Option<String> = r.get(14)?;
                        Ok(UpcomingAppointment {
                            appointment: Appointment {
                                id: r.get(0)?,
                                conversation_id: r.get(1)?,
                                slot_id: r.get(2)?,
                                starts_at_ms: r.get(3)?,
                                duration_minutes: r.get(4)?,
                                consultant_name: r.get(5)?,
                                consultant_whatsapp: r.get(6)?,
                                status: r.get(7)?,
                                notes: r.get(8)?,
                            },
                            key: ConversationKey {
                                workspace_id: r.get(9)?,
                                contact_phone: r.get(10)?,
                            },
                            phone_number_id: r.get(11)?,
                            contact_name: r.get(12)?,
                            booked_at_ms: r.get(13)?,
                            reminders_sent: sent
                                .map(|s| s.split(',').map(str::to_string).collect())
                                .unwrap_or_default(),
                            last_inbound_ms: r.get(15)?,
                            language: r.get(16)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn record_reminder(
        &self,
        reminder: NewReminder,
    ) -> Result<Option<Vec<OutboxRow>>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let booked: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM appointments WHERE id = ?1 AND status = 'booked')",
                    params![reminder.appointment_id],
                    |r| r.get(0),
                )?;
                if !booked {
                    return Ok(None);
                }
                let fresh = tx.execute(
                    "INSERT INTO appointment_reminders (appointment_id, kind, sent_at_ms)
                     VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![reminder.appointment_id, reminder.kind, reminder.now_ms],
                )?;
                if fresh == 0 {
                    return Ok(None);
                }
                let behind_older: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM outbox
                                    WHERE conversation_id = ?1 AND channel = 'whatsapp' AND state = 'pending')",
                    params![reminder.conversation_id],
                    |r| r.get(0),
                )?;
                let claimed_until = if behind_older {
                    reminder.now_ms
                } else {
                    reminder.now_ms + reminder.outbox_lease_ms
                };
                let mut rows = Vec::new();
                for (n, m) in reminder.messages.iter().enumerate() {
                    let message_id: Option<i64> = if m.to == reminder.contact_phone
                        && m.channel == Channel::Whatsapp
                    {
                        tx.execute(
                            "INSERT INTO messages (conversation_id, direction, text, meta_json, created_at_ms)
                             VALUES (?1, 'outbound', ?2, ?3, ?4)",
                            params![
                                reminder.conversation_id,
                                m.body,
                                serde_json::json!({"reminder": reminder.kind, "language": reminder.language}).to_string(),
                                reminder.now_ms
                            ],
                        )?;
                        Some(tx.last_insert_rowid())
                    } else {
                        None
                    };
                    let key = format!("ari-reminder-{}-{}-{}", reminder.appointment_id, reminder.kind, n);
                    let row = tx.query_row(
                        &format!(
                            "INSERT INTO outbox (conversation_id, message_id, idempotency_key, phone_number_id,
                                to_phone, body, state, next_attempt_at_ms, created_at_ms, updated_at_ms, channel,
                                fallback_json, interactive_json)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8, ?9, ?10, ?11)
                             RETURNING {OUTBOX_COLUMNS}"
                        ),
                        params![
                            reminder.conversation_id,
                            message_id,
                            key,
                            reminder.phone_number_id,
                            m.to,
                            m.body,
                            claimed_until,
                            reminder.now_ms,
                            m.channel.as_str(),
                            fallback_json(m.fallback.as_ref())?,
                            m.interactive
                        ],
                        row_to_outbox,
                    )?;
                    rows.push(row);
                }
                tx.commit()?;
                Ok(Some(if behind_older { Vec::new() } else { rows }))
            })
            .await
            .map_err(call_err)
    }

    async fn conversation_appointments(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<Appointment>, StoreError> {
        self.trip();
        let key = key.clone();
        self.conn
            .call(move |c| {
                let Some(id) = conversation_id(c, &key)? else {
                    return Ok(Vec::new());
                };
                let mut stmt = c.prepare_cached(
                    "SELECT id, conversation_id, slot_id, starts_at_ms, duration_minutes,
                            consultant_name, consultant_whatsapp, status, notes
                     FROM appointments WHERE conversation_id = ?1 ORDER BY id",
                )?;
                let rows = stmt
                    .query_map(params![id], |r| {
                        Ok(Appointment {
                            id: r.get(0)?,
                            conversation_id: r.get(1)?,
                            slot_id: r.get(2)?,
                            starts_at_ms: r.get(3)?,
                            duration_minutes: r.get(4)?,
                            consultant_name: r.get(5)?,
                            consultant_whatsapp: r.get(6)?,
                            status: r.get(7)?,
                            notes: r.get(8)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn knowledge_entries(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.trip();
        let ws = workspace_id.to_string();
        self.conn
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT entry_id, toml FROM knowledge_entries WHERE workspace_id = ?1
                     ORDER BY entry_id",
                )?;
                let rows = stmt
                    .query_map(params![ws], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn put_knowledge_entry(
        &self,
        workspace_id: &str,
        entry_id: &str,
        toml: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.trip();
        let (ws, id, text) = (
            workspace_id.to_string(),
            entry_id.to_string(),
            toml.to_string(),
        );
        self.conn
            .call(move |c| {
                c.execute(
                    "INSERT INTO knowledge_entries (workspace_id, entry_id, toml, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (workspace_id, entry_id)
                     DO UPDATE SET toml = excluded.toml, updated_at_ms = excluded.updated_at_ms",
                    params![ws, id, text, now_ms],
                )
                .map(|_| ())
            })
            .await
            .map_err(call_err)
    }

    async fn set_aside_turn(
        &self,
        key: &ConversationKey,
        failure: &TurnFailure,
    ) -> Result<SetAside, StoreError> {
        self.trip();
        let key = key.clone();
        let failure = failure.clone();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let done = set_aside_turn_tx(&tx, &key, &failure)?;
                tx.commit()?;
                Ok(done)
            })
            .await
            .map_err(call_err)
    }

    async fn erase_contact(
        &self,
        key: &ConversationKey,
        now_ms: i64,
    ) -> Result<EraseOutcome, StoreError> {
        let key = key.clone();
        self.trip();
        self.conn
            .call(move |c| {
                let tx = c.transaction()?;
                let out = erase_contact_tx(&tx, &key, now_ms)?;
                tx.commit()?;
                Ok(out)
            })
            .await
            .map_err(call_err)
    }

    async fn conversation_key(
        &self,
        conversation_id: i64,
    ) -> Result<Option<ConversationKey>, StoreError> {
        self.trip();
        self.conn
            .call(move |c| {
                c.query_row(
                    "SELECT workspace_id, contact_phone FROM conversations WHERE id = ?1",
                    params![conversation_id],
                    |r| {
                        Ok(ConversationKey {
                            workspace_id: r.get(0)?,
                            contact_phone: r.get(1)?,
                        })
                    },
                )
                .optional()
            })
            .await
            .map_err(call_err)
    }

    async fn conversation_record(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let key = key.clone();
        self.trip();
        self.conn
            .call(move |c| {
                c.query_row(
                    "SELECT id, version, flow_state, lead_score, lead_temperature, handoff_reason,
                            lead_status, tags_json, snapshot_json, language, followup_due_ms,
                            previous_phone
                     FROM conversations WHERE workspace_id = ?1 AND contact_phone = ?2",
                    params![key.workspace_id, key.contact_phone],
                    |r| {
                        let tags: String = r.get(7)?;
                        Ok(ConversationRecord {
                            conversation_id: r.get(0)?,
                            version: r.get(1)?,
                            summary: ConversationSummary {
                                flow_state: r.get(2)?,
                                lead_score: r.get(3)?,
                                lead_temperature: r.get(4)?,
                                handoff_reason: r.get(5)?,
                                language: r.get(9)?,
                                followup_due_ms: r.get(10)?,
                            },
                            lead_status: r.get(6)?,
                            tags: serde_json::from_str(&tags).unwrap_or_default(),
                            snapshot: r
                                .get::<_, Option<String>>(8)?
                                .and_then(|s| serde_json::from_str(&s).ok()),
                            previous_phone: r.get(11)?,
                        })
                    },
                )
                .optional()
            })
            .await
            .map_err(call_err)
    }

    async fn conversation_messages(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.trip();
        let key = key.clone();
        self.conn
            .call(move |c| {
                let Some(id) = conversation_id(c, &key)? else {
                    return Ok(Vec::new());
                };
                let mut stmt = c.prepare_cached(
                    "SELECT id, direction, text, wamid, meta_json, created_at_ms FROM messages
                     WHERE conversation_id = ?1 ORDER BY id",
                )?;
                let rows = stmt
                    .query_map(params![id], row_to_message)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn conversation_outbox(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.trip();
        let key = key.clone();
        self.conn
            .call(move |c| {
                let Some(id) = conversation_id(c, &key)? else {
                    return Ok(Vec::new());
                };
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE conversation_id = ?1 ORDER BY id"
                ))?;
                let rows = stmt
                    .query_map(params![id], row_to_outbox)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(call_err)
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.trip();
        let now = crate::clock::now_ms();
        self.conn
            .call(move |c| {
                c.execute(
                    "INSERT INTO health (id, checked_at_ms) VALUES (1, ?1)
                     ON CONFLICT (id) DO UPDATE SET checked_at_ms = excluded.checked_at_ms",
                    params![now],
                )
                .map(|_| ())
            })
            .await
            .map_err(call_err)
    }

    fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.conn
            .clone()
            .close()
            .await
            .map_err(|e| unavailable(format!("closing the database: {e}")))
    }
}

/// The booking step of [`SqliteStore::book_slot`] and [`SqliteStore::move_appointment`], inside
/// the caller's transaction: the conversation's own booking of the slot comes back (a redone
/// turn); otherwise one is inserted while the slot's booked appointments, not counting
/// `moving_from` (the lead's own booking being moved), are fewer than its capacity.
fn book_in(
    tx: &rusqlite::Transaction<'_>,
    booking: &NewAppointment,
    moving_from: Option<i64>,
) -> rusqlite::Result<BookingOutcome> {
    let mine: Option<i64> = tx
        .query_row(
            "SELECT id FROM appointments
             WHERE conversation_id = ?1 AND slot_id = ?2 AND status = 'booked'",
            params![booking.conversation_id, booking.slot_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(appointment_id) = mine {
        return Ok(BookingOutcome::Booked { appointment_id });
    }
    let taken: i64 = tx.query_row(
        "SELECT count(*) FROM appointments
         WHERE workspace_id = ?1 AND slot_id = ?2 AND status = 'booked' AND id != ?3",
        params![
            booking.workspace_id,
            booking.slot_id,
            moving_from.unwrap_or(-1)
        ],
        |r| r.get(0),
    )?;
    if taken >= i64::from(booking.capacity) {
        return Ok(BookingOutcome::Full);
    }
    tx.execute(
        "INSERT INTO appointments (workspace_id, conversation_id, slot_id, starts_at_ms,
            duration_minutes, consultant_name, consultant_whatsapp, status, notes,
            created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'booked', ?8, ?9, ?9)",
        params![
            booking.workspace_id,
            booking.conversation_id,
            booking.slot_id,
            booking.starts_at_ms,
            booking.duration_minutes,
            booking.consultant_name,
            booking.consultant_whatsapp,
            booking.notes,
            booking.now_ms
        ],
    )?;
    Ok(BookingOutcome::Booked {
        appointment_id: tx.last_insert_rowid(),
    })
}

/// Pending rows the recovery poll reads at most to find `limit` distinct conversations, as
/// `PENDING_SCAN` in `convex/inbox.ts` (issue 17 item 2): its cost is bounded by this, not by
/// the backlog. A conversation whose rows all lie past it is found once those before it are
/// turned (or at once by the arrival signal of its next message).
const PENDING_SCAN: u32 = 4096;

/// The recovery poll's orphan step: pending rows that name only a Kapso conversation id
/// (workflow events) take the key of the conversation with that id; those still unmatched and
/// received before `orphan_before_ms` become `unroutable`. Both statements read only the
/// `inbox_pending_orphans` partial index (migration 16), so they cost O(orphans).
fn attach_orphans_tx(
    tx: &rusqlite::Transaction<'_>,
    orphan_before_ms: i64,
) -> rusqlite::Result<()> {
    tx.execute(ATTACH_ORPHANS, [])?;
    tx.execute(UNROUTABLE_ORPHANS, params![orphan_before_ms])?;
    Ok(())
}

/// The orphan step's attach statement (see [`attach_orphans_tx`]).
const ATTACH_ORPHANS: &str = "UPDATE inbox INDEXED BY inbox_pending_orphans SET
        workspace_id = (SELECT workspace_id FROM conversations c
                        WHERE c.kapso_conversation_id = inbox.kapso_conversation_id),
        contact_phone = (SELECT contact_phone FROM conversations c
                         WHERE c.kapso_conversation_id = inbox.kapso_conversation_id)
     WHERE state = 'pending' AND contact_phone IS NULL
       AND kapso_conversation_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM conversations c
                   WHERE c.kapso_conversation_id = inbox.kapso_conversation_id)";

/// The orphan step's expiry statement; `?1` = received before (ms).
const UNROUTABLE_ORPHANS: &str = "UPDATE inbox INDEXED BY inbox_pending_orphans
     SET state = 'unroutable'
     WHERE state = 'pending' AND contact_phone IS NULL AND received_at_ms < ?1";

/// The pending rows' keys in arrival order; `?1` = rows read at most.
const PENDING_KEYS: &str = "SELECT workspace_id, contact_phone FROM inbox
     INDEXED BY inbox_pending_keys
     WHERE state = 'pending' AND contact_phone IS NOT NULL
     ORDER BY id LIMIT ?1";

/// The conversations of the oldest pending rows, in the order of their first pending row, at
/// most `limit`, reading at most [`PENDING_SCAN`] rows of the `inbox_pending_keys` covering
/// index (migration 16) and stopping at the `limit`-th distinct conversation.
fn pending_keys_tx(
    tx: &rusqlite::Transaction<'_>,
    limit: u32,
) -> rusqlite::Result<Vec<ConversationKey>> {
    let mut stmt = tx.prepare_cached(PENDING_KEYS)?;
    let mut rows = stmt.query(params![PENDING_SCAN])?;
    let mut keys: Vec<ConversationKey> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while keys.len() < limit as usize {
        let Some(row) = rows.next()? else { break };
        let workspace_id: Option<String> = row.get(0)?;
        let (Some(workspace_id), contact_phone) = (workspace_id, row.get::<_, String>(1)?) else {
            continue;
        };
        if seen.insert((workspace_id.clone(), contact_phone.clone())) {
            keys.push(ConversationKey {
                workspace_id,
                contact_phone,
            });
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod poll_tests {
    use super::*;

    /// Issue 17 item 2: each statement of the recovery poll reads a partial index of pending
    /// rows, never a scan of the whole inbox or of every pending row.
    #[test]
    fn the_recovery_poll_reads_only_partial_indexes() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory db");
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .expect("migrations");
        for (sql, index) in [
            (ATTACH_ORPHANS, "inbox_pending_orphans"),
            (UNROUTABLE_ORPHANS, "inbox_pending_orphans"),
            (PENDING_KEYS, "inbox_pending_keys"),
        ] {
            let mut plan = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let args: &[i64] = if sql.contains("?1") { &[0] } else { &[] };
            let details: Vec<String> = plan
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .expect("plan rows")
                .collect::<Result<_, _>>()
                .expect("plan");
            let inbox_steps: Vec<&String> = details
                .iter()
                .filter(|d| d.contains(" inbox ") || d.ends_with(" inbox"))
                .collect();
            assert!(!inbox_steps.is_empty(), "no inbox step in {details:?}");
            for step in inbox_steps {
                assert!(step.contains(index), "{sql}\nreads the inbox by {step}");
            }
        }
    }
}
