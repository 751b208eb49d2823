//! The worker's recovery poll (`Store::pending_conversations`) over a large SQLite backlog,
//! before and after issue 17 item 2, side by side in one run on the same disk.
//!
//! One database is seeded with `ARI_BENCH_PENDING` pending message rows (default 100,000) over
//! 1,000 contacts, plus 500 workflow events that name only an unknown Kapso conversation (the
//! orphan step's rows), and copied (`VACUUM INTO`). On the copy the two partial indexes of
//! migration 16 are dropped and the poll's statements as they were before are run (the orphan
//! updates, then the GROUP BY over every pending row); on the original, the store's own
//! `pending_conversations` (partial indexes, stops at the limit). Both ask for 200
//! conversations, as the worker does; the runs alternate, `ARI_BENCH_RUNS` each (default 20).
//!
//! `cargo bench --profile dev --bench recovery_poll`.

mod support;

use std::path::Path;
use std::time::Instant;

use ari::store::Store;
use ari::store::sqlite::SqliteStore;
use hdrhistogram::Histogram;
use rusqlite::params;
use support::{env_num, phone, print_machine};

/// The poll's statements before issue 17 item 2 (src/store/sqlite.rs at 413cdf3).
const OLD_POLL: [&str; 3] = [
    "UPDATE inbox SET
        workspace_id = (SELECT workspace_id FROM conversations c
                        WHERE c.kapso_conversation_id = inbox.kapso_conversation_id),
        contact_phone = (SELECT contact_phone FROM conversations c
                         WHERE c.kapso_conversation_id = inbox.kapso_conversation_id)
     WHERE state = 'pending' AND contact_phone IS NULL
       AND kapso_conversation_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM conversations c
                   WHERE c.kapso_conversation_id = inbox.kapso_conversation_id)",
    "UPDATE inbox SET state = 'unroutable'
     WHERE state = 'pending' AND contact_phone IS NULL AND received_at_ms < ?1",
    "SELECT workspace_id, contact_phone, MIN(id) AS first FROM inbox
     WHERE state = 'pending' AND workspace_id IS NOT NULL AND contact_phone IS NOT NULL
     GROUP BY workspace_id, contact_phone ORDER BY first LIMIT ?1",
];

const LIMIT: u32 = 200;
const ORPHAN_TTL_MS: i64 = 3_600_000;

/// Inserts `pending` message rows over 1,000 contacts and 500 orphan workflow events.
fn seed(db: &Path, pending: u64, now_ms: i64) {
    let mut conn = rusqlite::Connection::open(db).expect("open for seeding");
    let tx = conn.transaction().expect("seed transaction");
    tx.execute(
        "INSERT INTO deliveries (idempotency_key, request_id, item_count, received_at_ms)
         VALUES ('bench', 'bench', 0, ?1)",
        params![now_ms],
    )
    .expect("delivery");
    {
        let mut row = tx
            .prepare(
                "INSERT INTO inbox (delivery_key, kind, event_type, workspace_id, phone_number_id,
                     contact_phone, kapso_conversation_id, wamid, state, event_json, raw_json,
                     received_at_ms)
                 VALUES ('bench', ?1, ?2, ?3, 'pnid', ?4, ?5, ?6, 'pending', '{}', '{}', ?7)",
            )
            .expect("insert statement");
        for i in 0..pending {
            let wamid = format!("wamid.POLL{i}");
            row.execute(params![
                "message",
                "whatsapp.message.received",
                "default",
                phone(i % 1000),
                None::<String>,
                wamid,
                now_ms
            ])
            .expect("message row");
        }
        for i in 0..500 {
            let kapso = format!("kapso-unknown-{i}");
            row.execute(params![
                "workflow",
                "workflow.execution.handoff",
                None::<String>,
                None::<String>,
                kapso,
                None::<String>,
                now_ms
            ])
            .expect("orphan row");
        }
    }
    tx.commit().expect("seed commit");
}

/// One run of the old statements on `conn`; the keys found.
fn old_poll(conn: &rusqlite::Connection, now_ms: i64) -> usize {
    conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
    conn.execute(OLD_POLL[0], []).expect("attach orphans");
    conn.execute(OLD_POLL[1], params![now_ms - ORPHAN_TTL_MS])
        .expect("expire orphans");
    let mut stmt = conn.prepare_cached(OLD_POLL[2]).expect("group by");
    let keys = stmt
        .query_map(params![LIMIT], |r| r.get::<_, String>(1))
        .expect("keys")
        .count();
    conn.execute_batch("COMMIT").expect("commit");
    keys
}

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("hist")
}

fn cells(h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "{:>9.2} {:>9.2} {:>9.2}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

#[tokio::main]
async fn main() {
    print_machine("recovery_poll");
    let pending = env_num("ARI_BENCH_PENDING", 100_000);
    let runs = env_num("ARI_BENCH_RUNS", 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let (new_db, old_db) = (dir.path().join("new.db"), dir.path().join("old.db"));
    let now_ms = ari::clock::now_ms();
    drop(SqliteStore::open(&new_db).await.expect("create the schema"));
    let seeded = Instant::now();
    seed(&new_db, pending, now_ms);
    let old = rusqlite::Connection::open(&new_db).expect("open");
    old.execute("VACUUM INTO ?1", params![old_db.to_string_lossy()])
        .expect("copy");
    drop(old);
    let old = rusqlite::Connection::open(&old_db).expect("open the copy");
    old.execute_batch("DROP INDEX inbox_pending_keys; DROP INDEX inbox_pending_orphans;")
        .expect("drop the new indexes");
    println!(
        "{pending} pending message rows over 1,000 contacts + 500 orphan workflow events, seeded \
         and copied in {:.1} s; limit {LIMIT}; {runs} runs each, alternating",
        seeded.elapsed().as_secs_f64()
    );
    let store = SqliteStore::open(&new_db).await.expect("open the store");
    let (mut before, mut after) = (histogram(), histogram());
    let (mut keys_before, mut keys_after) = (0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        keys_before = old_poll(&old, now_ms);
        before.saturating_record(t.elapsed().as_micros() as u64);
        let t = Instant::now();
        keys_after = store
            .pending_conversations(LIMIT, now_ms, ORPHAN_TTL_MS)
            .await
            .expect("pending_conversations")
            .len();
        after.saturating_record(t.elapsed().as_micros() as u64);
    }
    println!();
    println!(
        "{:<34} | {:>9} {:>9} {:>9} | {:>5}",
        "poll", "p50 ms", "p99 ms", "max ms", "keys"
    );
    println!(
        "{:<34} | {} | {keys_before:>5}",
        "before (GROUP BY every pending row)",
        cells(&before)
    );
    println!(
        "{:<34} | {} | {keys_after:>5}",
        "after (partial indexes, stops)",
        cells(&after)
    );
    let ratio = before.value_at_quantile(0.5) as f64 / after.value_at_quantile(0.5).max(1) as f64;
    println!();
    println!("p50 before ÷ p50 after: {ratio:.1}");
}
