//! Model calls per turn (issue 15, "the fewest calls"): a dialogue of `tests/fixtures/dialogues/`
//! (default `hot-lead-books.json`) through `ari simulate`'s pipeline with one LLM arm against an
//! instant mock OpenAI-compatible server on loopback (`tests/common/llm_mock.rs`), counting the
//! requests the mock received during each turn: extraction calls (they carry the JSON schema)
//! and reply calls. Counts, not timings: the figures do not depend on the build profile, so
//! `cargo bench --profile dev --bench llm_calls` (no release build) gives the same table.
//!
//! Knob: ARI_BENCH_DIALOGUE (a file name in tests/fixtures/dialogues/).

#[path = "../tests/common/llm_mock.rs"]
mod llm_mock;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

/// `(extraction, reply)` requests the mock has received so far.
async fn counts(server: &MockServer) -> (usize, usize) {
    let requests = server.received_requests().await.unwrap_or_default();
    let extract = requests
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("json_schema"))
        .count();
    (extract, requests.len() - extract)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = std::env::var("ARI_BENCH_DIALOGUE").unwrap_or_else(|_| "hot-lead-books.json".into());
    let script: Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("tests/fixtures/dialogues").join(&name),
    )?)?;
    let reply = llm_mock::completion("Baik kak, terima kasih! Boleh lanjut?");
    let server = llm_mock::mock_llm(ResponseTemplate::new(200).set_body_json(reply)).await;

    let dir = tempfile::tempdir()?;
    let flow_dir = dir.path().join("state-machines");
    std::fs::create_dir_all(&flow_dir)?;
    std::fs::copy(
        root.join("state-machines/ari.toml"),
        flow_dir.join("ari.toml"),
    )?;
    let toml = format!(
        "[[arm]]\nname = \"mock\"\nbase_url = \"{}/v1\"\nmodel = \"mock-model\"\nweight = 1\ntimeout_ms = 5000\n",
        server.uri()
    );
    std::fs::write(flow_dir.join("llm.toml"), toml)?;

    let start: DateTime<Utc> = script["now"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let phone = script["contact"]["phone"]
        .as_str()
        .unwrap_or("+6281234567890");
    let mut sim =
        ari::simulate::Simulator::new(&flow_dir, phone, None, BTreeMap::new(), start).await?;
    println!("dialogue: {name}");
    println!(
        "{:>4}  {:<36} {:>7} {:>5}  template",
        "turn", "lead", "extract", "reply"
    );
    let (mut extract_total, mut reply_total, mut turns) = (0, 0, 0);
    let mut at = start;
    for (i, turn) in script["turns"].as_array().into_iter().flatten().enumerate() {
        let Some(text) = turn.as_str() else { continue };
        let before = counts(&server).await;
        let record = sim.say(text, at).await?;
        let after = counts(&server).await;
        let (e, r) = (after.0 - before.0, after.1 - before.1);
        let templates: Vec<&str> = record
            .reply_meta
            .iter()
            .filter_map(|m| m["template"].as_str())
            .collect();
        println!(
            "{:>4}  {:<36} {e:>7} {r:>5}  {}",
            i + 1,
            text,
            templates.join(", ")
        );
        extract_total += e;
        reply_total += r;
        turns += 1;
        at += Duration::minutes(1);
    }
    let total = extract_total + reply_total;
    println!(
        "total: {total} calls in {turns} turns ({extract_total} extraction, {reply_total} reply), {:.2} per turn",
        total as f64 / turns.max(1) as f64
    );
    Ok(())
}
