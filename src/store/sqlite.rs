//! The embedded store: one SQLite file in WAL mode.
//!
//! All statements run on tokio-rusqlite's single connection thread, which matches SQLite's
//! one-writer model (no `SQLITE_BUSY` storms between our own writers) and makes each operation
//! one closure, one transaction. `synchronous = FULL`: a webhook is answered 200 only after its
//! rows survive a power cut, not only a process crash.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::params;
use rusqlite_migration::{M, Migrations};

use super::{Store, StoreError};
use crate::inbox::{EnqueueOutcome, InboundEvent, InboxRow, InboxState, NewDelivery};

/// Schema migrations, applied in order at start (tracked in `PRAGMA user_version`).
const MIGRATIONS: &[M<'static>] = &[M::up(
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
)];

/// The SQLite store. Clone-free: share it behind an `Arc`.
pub struct SqliteStore {
    conn: tokio_rusqlite::Connection,
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
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            Migrations::from_slice(MIGRATIONS)
                .to_latest(c)
                .map_err(|e| format!("migrations failed: {e}"))
        })
        .await
        .map_err(|e| unavailable(format!("{shown}: {e}")))?;
        Ok(SqliteStore { conn })
    }
}

fn enqueue_tx(
    c: &mut rusqlite::Connection,
    delivery: &NewDelivery,
) -> Result<EnqueueOutcome, rusqlite::Error> {
    let tx = c.transaction()?;
    let claimed = tx.execute(
        "INSERT INTO deliveries (idempotency_key, event_header, request_id, item_count, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![
            delivery.idempotency_key,
            delivery.event_header,
            delivery.request_id,
            delivery.items.len() as i64,
            delivery.received_at_ms
        ],
    )?;
    if claimed == 0 {
        return Ok(EnqueueOutcome::DuplicateDelivery);
    }
    let mut stored = 0;
    let mut duplicates = 0;
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
            } else {
                stored += 1;
            }
        }
    }
    tx.commit()?;
    Ok(EnqueueOutcome::Accepted { stored, duplicates })
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

#[async_trait]
impl Store for SqliteStore {
    async fn enqueue_inbound(&self, delivery: NewDelivery) -> Result<EnqueueOutcome, StoreError> {
        self.conn
            .call(move |c| enqueue_tx(c, &delivery))
            .await
            .map_err(call_err)
    }

    async fn inbox_depth(&self) -> Result<u64, StoreError> {
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

    async fn list_inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxRow>, StoreError> {
        let rows = self
            .conn
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT id, delivery_key, kind, event_type, workspace_id, state, event_json,
                            raw_json, received_at_ms
                     FROM inbox WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
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

    async fn check_writable(&self) -> Result<(), StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
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

    async fn close(&self) -> Result<(), StoreError> {
        self.conn
            .clone()
            .close()
            .await
            .map_err(|e| unavailable(format!("closing the database: {e}")))
    }
}
