//! Model calls, tokens and cost per dialogue of the corpus (issue 15, "cost in figures"):
//! every dialogue of `tests/fixtures/dialogues/` through `ari test`'s runner
//! ([`ari::simulate::run_script`]) with one LLM arm against an instant mock OpenAI-compatible
//! server on loopback. The mock prices nothing itself: it counts the requests (extraction
//! requests carry the JSON schema) and answers each with a `usage` of its own estimate, one
//! token per 4 bytes of the request body (prompt) and of its answer (completion), the rule of
//! thumb for English and Indonesian text, not a tokenizer. Its answers have a typical length: a
//! 240-character reply, an extraction object of eight nulls.
//!
//! The cost is ARI's own arithmetic ([`ari::llm::config::Price::micro_usd`], the function
//! behind `ari_llm_cost_micro_usd_total`) at the prices `ARI_BENCH_PRICE_IN` and
//! `ARI_BENCH_PRICE_OUT` (USD per million tokens; default 0.15 and 0.60, illustrative). Cost per
//! booked consultation is the corpus's whole cost divided by the dialogues that end with a
//! booking: what the corpus's mix of leads costs per booking, not a single lead's cost.
//!
//! Counts, not timings: `cargo bench --profile dev --bench llm_cost` gives the same table as a
//! release build. Knob: `ARI_BENCH_DIALOGUES` (a comma-separated list of file names; default
//! all).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ari::llm::config::Price;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A reply of a typical WhatsApp length (240 characters).
const REPLY: &str = "Baik kak, terima kasih infonya! Untuk S2 di Australia biasanya butuh IELTS \
minimal 6.5 dan ijazah S1. Boleh aku tau rencana berangkatnya kapan kak? Nanti konsultan \
kami bantu cek kampus yang cocok dengan budget kakak ya 😊";

/// An extraction answer: every field null.
const EXTRACTION: &str = r#"{"name":null,"email":null,"destination":null,"program":null,"english_score":null,"budget":null,"timeline":null,"documents":null}"#;

/// Tokens by the mock's estimate: one per 4 bytes, rounded up.
fn tokens(bytes: usize) -> u64 {
    bytes.div_ceil(4) as u64
}

/// What the mock saw: calls and estimated tokens.
#[derive(Default)]
struct Tally {
    extract: AtomicU64,
    reply: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

impl Tally {
    fn read(&self) -> [u64; 4] {
        [
            self.extract.load(Ordering::SeqCst),
            self.reply.load(Ordering::SeqCst),
            self.prompt_tokens.load(Ordering::SeqCst),
            self.completion_tokens.load(Ordering::SeqCst),
        ]
    }
}

struct Responder(Arc<Tally>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let extraction = String::from_utf8_lossy(&request.body).contains("json_schema");
        let content = if extraction { EXTRACTION } else { REPLY };
        let counter = if extraction {
            &self.0.extract
        } else {
            &self.0.reply
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let (p, c) = (tokens(request.body.len()), tokens(content.len()));
        self.0.prompt_tokens.fetch_add(p, Ordering::SeqCst);
        self.0.completion_tokens.fetch_add(c, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_764_000_000,
            "model": "mock-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        }))
    }
}

fn price_from_env(var: &str, default: f64) -> f64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The flow folder: the shipped flow and knowledge, one arm against `server`.
fn flow_dir(root: &Path, dir: &Path, server: &MockServer) -> anyhow::Result<std::path::PathBuf> {
    let flow = dir.join("state-machines");
    std::fs::create_dir_all(&flow)?;
    for entry in std::fs::read_dir(root.join("state-machines"))? {
        let entry = entry?;
        let to = flow.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            ari::simulate::copy_dir(&entry.path(), &to)?;
        } else if entry.file_name() != "llm.toml" {
            std::fs::copy(entry.path(), to)?;
        }
    }
    let toml = format!(
        "[[arm]]\nname = \"mock\"\nbase_url = \"{}/v1\"\nmodel = \"mock-model\"\nweight = 1\ntimeout_ms = 5000\n",
        server.uri()
    );
    std::fs::write(flow.join("llm.toml"), toml)?;
    Ok(flow)
}

/// The dialogue files to run.
fn dialogues(root: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let all = ari::simulate::suite::collect(&[root.join("tests/fixtures/dialogues")])?;
    Ok(match std::env::var("ARI_BENCH_DIALOGUES") {
        Ok(list) => all
            .into_iter()
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().to_string());
                list.split(',').any(|w| Some(w.trim().to_string()) == name)
            })
            .collect(),
        Err(_) => all,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let price = Price {
        per_mtok_in: price_from_env("ARI_BENCH_PRICE_IN", 0.15),
        per_mtok_out: price_from_env("ARI_BENCH_PRICE_OUT", 0.60),
    };
    let tally = Arc::new(Tally::default());
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(Responder(Arc::clone(&tally)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir()?;
    let flow = flow_dir(root, dir.path(), &server)?;

    println!(
        "prices: ${} / ${} per million prompt / completion tokens",
        price.per_mtok_in, price.per_mtok_out
    );
    println!(
        "{:<70} {:>5} {:>7} {:>5} {:>8} {:>7} {:>9} booked",
        "dialogue", "turns", "extract", "reply", "prompt", "compl", "cost_usd"
    );
    let (mut sum, mut turns, mut booked, mut runs) = ([0u64; 4], 0usize, 0usize, 0usize);
    for file in dialogues(root)? {
        let script = ari::simulate::script::Script::load(&file)?;
        if script.pending.is_some() {
            println!("{:<70} skipped (pending)", script.name);
            continue;
        }
        let before = tally.read();
        let report = ari::simulate::run_script(&script, &flow).await?;
        let after = tally.read();
        let d: Vec<u64> = (0..4).map(|i| after[i] - before[i]).collect();
        let cost = price.micro_usd(d[2], d[3]) as f64 / 1e6;
        let did_book = report.outcome.appointments > 0;
        println!(
            "{:<70} {:>5} {:>7} {:>5} {:>8} {:>7} {:>9.6} {}",
            script.name.chars().take(70).collect::<String>(),
            report.turns.len(),
            d[0],
            d[1],
            d[2],
            d[3],
            cost,
            if did_book { "yes" } else { "no" }
        );
        for (s, x) in sum.iter_mut().zip(&d) {
            *s += x;
        }
        turns += report.turns.len();
        booked += usize::from(did_book);
        runs += 1;
    }
    print_totals(&price, sum, turns, booked, runs);
    Ok(())
}

fn print_totals(price: &Price, sum: [u64; 4], turns: usize, booked: usize, runs: usize) {
    let cost = price.micro_usd(sum[2], sum[3]) as f64 / 1e6;
    let calls = sum[0] + sum[1];
    println!(
        "total: {runs} dialogues, {turns} turns, {calls} calls ({} extraction, {} reply), {:.2} calls per turn",
        sum[0],
        sum[1],
        calls as f64 / turns.max(1) as f64
    );
    println!(
        "tokens: {} prompt, {} completion; {:.0} per dialogue",
        sum[2],
        sum[3],
        (sum[2] + sum[3]) as f64 / runs.max(1) as f64
    );
    println!(
        "cost: ${cost:.4} in all, ${:.6} per dialogue; {booked} dialogues booked: ${:.6} per booked consultation",
        cost / runs.max(1) as f64,
        if booked > 0 {
            cost / booked as f64
        } else {
            f64::NAN
        }
    );
}
