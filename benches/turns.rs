//! Turns: conversations driven through the whole pipeline (signed webhook → inbox → worker →
//! flow → one commit → outbox → an instant mock Kapso on loopback) against a spawned `ari
//! serve`, with H conversations already stored. The point: a turn's cost must not grow with the
//! history.
//!
//! The history is written straight into the SQLite file in one transaction (rusqlite, the
//! schema of `src/store/sqlite.rs`): per conversation, the conversation row, a delivery and its
//! inbox row (done), an inbound and an outbound message, and the sent outbox row. Measured
//! turns go to stored conversations spread over the whole history.
//!
//! An instant mock OpenAI-compatible server (wiremock on loopback) is configured as the one LLM
//! arm, so each turn also makes its extraction and wording calls (ARI_BENCH_LLM=0 runs on the
//! templates alone).
//!
//! Latency is from the webhook POST to the reply arriving at the mock (debounce 0, typing
//! indicator on); `ari_turn_seconds` (the service's own timing of claim→commit→hand-off, LLM
//! calls included; its mean per run from the histogram in /metrics) is printed beside it.
//!
//! `cargo bench --bench turns`; knobs: ARI_BENCH_HISTORY (default 1000,1000000),
//! ARI_BENCH_TURNS (per concurrency level, default 400), ARI_BENCH_TURN_CONCURRENCY (default 1,16), ARI_BENCH_SECONDS
//! (cap per run, default 60).

#[path = "../tests/common/llm_mock.rs"]
mod llm_mock;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::params;
use support::{Ari, Delivery, MockKapso, closed_loop, env_list, env_num, phone, print_machine};

/// Writes `n` stored conversations with their history in one transaction.
fn populate(db: &Path, n: u64) -> rusqlite::Result<()> {
    let mut c = rusqlite::Connection::open(db)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "OFF")?;
    let tx = c.transaction()?;
    {
        let event = serde_json::to_string(&ari::inbox::InboundEvent::unknown(
            "whatsapp.message.received",
        ))
        .expect("event json");
        let kind = ari::inbox::EventKind::Unknown.as_str();
        let mut conv = tx.prepare(
            "INSERT INTO conversations (workspace_id, contact_phone, contact_name, phone_number_id,
                kapso_conversation_id, version, created_at_ms, updated_at_ms)
             VALUES ('default', ?1, 'Lead', ?2, ?3, 1, ?4, ?4)",
        )?;
        let mut delivery = tx.prepare(
            "INSERT INTO deliveries (idempotency_key, event_header, request_id, item_count, received_at_ms)
             VALUES (?1, 'whatsapp.message.received', '', 1, ?2)",
        )?;
        let mut inbox = tx.prepare(
            "INSERT INTO inbox (delivery_key, kind, event_type, workspace_id, phone_number_id,
                contact_phone, kapso_conversation_id, wamid, state, event_json, raw_json, received_at_ms)
             VALUES (?1, ?2, 'whatsapp.message.received', 'default', ?3, ?4, ?5, ?6, 'done', ?7, '{}', ?8)",
        )?;
        let mut message = tx.prepare(
            "INSERT INTO messages (conversation_id, direction, inbox_id, wamid, text, meta_json, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, '{\"type\":\"text\"}', ?6)",
        )?;
        let mut outbox = tx.prepare(
            "INSERT INTO outbox (conversation_id, message_id, idempotency_key, phone_number_id,
                to_phone, body, state, attempts, next_attempt_at_ms, kapso_message_id,
                created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'Halo! Ada yang bisa kami bantu?', 'sent', 1, ?6, ?7, ?6, ?6)",
        )?;
        let now = chrono::Utc::now().timestamp_millis() - 86_400_000;
        for i in 0..n {
            let p = phone(i);
            let kapso_id = format!("conv_hist{i}");
            conv.execute(params![p, support::PHONE_NUMBER_ID, kapso_id, now])?;
            let cid = tx.last_insert_rowid();
            let key = format!("hist-{i}");
            delivery.execute(params![key, now])?;
            let wamid_in = format!("wamid.HIST{i}");
            inbox.execute(params![
                key,
                kind,
                support::PHONE_NUMBER_ID,
                p,
                kapso_id,
                wamid_in,
                event,
                now
            ])?;
            let inbox_id = tx.last_insert_rowid();
            message.execute(params![cid, "inbound", inbox_id, wamid_in, "halo", now])?;
            let wamid_out = format!("wamid.HISTOUT{i}");
            message.execute(params![
                cid,
                "outbound",
                Option::<i64>::None,
                wamid_out,
                "Halo! Ada yang bisa kami bantu?",
                now
            ])?;
            let mid = tx.last_insert_rowid();
            outbox.execute(params![
                cid,
                mid,
                format!("ari-{cid}-1-0"),
                support::PHONE_NUMBER_ID,
                p,
                now,
                wamid_out
            ])?;
        }
    }
    tx.commit()?;
    c.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    Ok(())
}

#[tokio::main]
async fn main() {
    print_machine("turns");
    let histories = env_list("ARI_BENCH_HISTORY", &[1_000, 1_000_000]);
    let turns = env_num("ARI_BENCH_TURNS", 400);
    let levels = env_list("ARI_BENCH_TURN_CONCURRENCY", &[1, 16]);
    let seconds = env_num("ARI_BENCH_SECONDS", 60);
    let with_llm = env_num("ARI_BENCH_LLM", 1) != 0;
    let llm = if with_llm {
        // Extraction calls get `{}`, wording calls a short Indonesian reply, both at once.
        Some(
            llm_mock::mock_llm(wiremock::ResponseTemplate::new(200).set_body_json(
                llm_mock::completion(
                    "Halo kak! Terima kasih sudah menghubungi kami. Boleh tau nama lengkapnya?",
                ),
            ))
            .await,
        )
    } else {
        None
    };
    println!(
        "ari serve: release binary, SQLite in a temp dir, RUST_LOG=info, debounce 0, typing \
         indicator on, instant mock Kapso, {}; {turns} turns per run at each concurrency \
         {levels:?} (each task drives one conversation at a time), cap {seconds} s",
        if with_llm {
            "instant mock LLM arm (extraction + wording)"
        } else {
            "no LLM (templates)"
        }
    );
    println!();
    println!(
        "{:>9} | {:>8} {:>8} | {:>4} | {:>9} {:>8} {:>8} {:>8} | {:>13} | {:>6}",
        "history",
        "fill s",
        "db MiB",
        "conc",
        "turns/s",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "svc mean ms",
        "errors"
    );
    for history in histories {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("ari.db");
        // Create the schema through the store itself, then fill it.
        let store = ari::store::sqlite::SqliteStore::open(&db)
            .await
            .expect("open store");
        ari::store::Store::close(&store).await.expect("close");
        let t = Instant::now();
        populate(&db, history).expect("populate");
        let fill = t.elapsed();
        // The fill ran with synchronous = OFF: flush it to disk now, so the kernel's write-back
        // of a gigabyte does not slow the fsyncs of the measured turns.
        std::fs::File::open(&db)
            .and_then(|f| f.sync_all())
            .expect("sync the filled database");
        let _ = std::process::Command::new("sync").status();
        let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);

        let mock = Arc::new(MockKapso::start().await);
        if let Some(llm) = &llm {
            let flow_dir = dir.path().join("state-machines");
            std::fs::create_dir_all(&flow_dir).expect("flow dir");
            std::fs::write(
                flow_dir.join("llm.toml"),
                format!(
                    "[[arm]]\nname = \"mock\"\nbase_url = \"{}/v1\"\nmodel = \"mock-model\"\n\
                     api_key_env = \"ARI_BENCH_LLM_KEY\"\nweight = 1\ntimeout_ms = 5000\n",
                    llm.uri()
                ),
            )
            .expect("llm.toml");
        }
        let ari = Ari::spawn(
            dir.path(),
            &db,
            &[
                ("ARI_DEBOUNCE_MS", "0".into()),
                ("ARI_KAPSO_BASE_URL", mock.base_url.clone()),
                ("ARI_KAPSO_API_KEY", "bench-key".into()),
                ("ARI_BENCH_LLM_KEY", "sk-bench".into()),
            ],
        );
        let client = reqwest::Client::new();
        let base = Arc::new(ari.base_url.clone());
        // Every measured turn goes to its own stored contact, spread evenly over the history.
        let warm = (turns / 10).max(10);
        let slots = warm + turns * levels.len() as u64;
        let stride = (history / slots).max(1);
        let mut next_slot = 0u64;
        let mut run_turns = |count: u64, concurrency: usize| {
            let first = next_slot;
            next_slot += count;
            let (client, base, mock) = (client.clone(), Arc::clone(&base), Arc::clone(&mock));
            closed_loop(concurrency, count, Duration::from_secs(seconds), move |i| {
                let (client, base, mock) = (client.clone(), Arc::clone(&base), Arc::clone(&mock));
                async move {
                    let slot = first + i;
                    let p = phone((slot * stride) % history);
                    let reply = mock.expect_reply(p.trim_start_matches('+'));
                    let d = Delivery::text(&p, &format!("wamid.T{slot}"), "halo kak");
                    let sent = d.request(&client, &base).send().await;
                    if !matches!(sent, Ok(ref s) if s.status().is_success()) {
                        return false;
                    }
                    matches!(
                        tokio::time::timeout(Duration::from_secs(30), reply).await,
                        Ok(Ok(_))
                    )
                }
            })
        };
        let _ = run_turns(warm, 4).await;
        // The service's own turn time: ari_turn_seconds is a histogram, so its mean over one
        // run is the change in _sum over the change in _count.
        let svc_totals = async || {
            let sum = ari.metric(&client, "ari_turn_seconds_sum ").await;
            let count = ari.metric(&client, "ari_turn_seconds_count ").await;
            (sum.unwrap_or(f64::NAN), count.unwrap_or(f64::NAN))
        };
        for &c in &levels {
            let (sum0, count0) = svc_totals().await;
            let run = run_turns(turns, c.max(1) as usize).await;
            let (sum1, count1) = svc_totals().await;
            let svc_mean_ms = (sum1 - sum0) / (count1 - count0) * 1000.0;
            println!(
                "{history:>9} | {:>8.1} {:>8.1} | {c:>4} | {} | {svc_mean_ms:>13.2} | {:>6}",
                fill.as_secs_f64(),
                size as f64 / 1_048_576.0,
                run.cells(),
                run.errors
            );
        }
        drop(ari);
    }
    if let Some(llm) = &llm {
        let calls = llm.received_requests().await.map_or(0, |r| r.len());
        println!();
        println!("mock LLM: {calls} chat-completion calls in all runs (warm-ups included)");
    }
    println!();
    println!(
        "latency: POST → reply at the mock; svc: the service's ari_turn_seconds (claim → commit → \
         replies handed to the sender, LLM calls included), mean over the run from the histogram's \
         _sum and _count"
    );
}
