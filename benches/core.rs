//! Core: the pure flow core's turn time (`flow::run_turn`: normalising, language detection,
//! extraction, the state machine, the replies), with no store, network or LLM, over scripted
//! lead chats in Indonesian and English. The issue asks for this figure before and after the
//! understanding work; the file compiles against older trees too (it uses only `load_dir`,
//! `TurnInput::text`, `Snapshot::new` and `run_turn`), so both can be built and run side by
//! side (docs/BENCHMARKS.md says how).
//!
//! `cargo bench --bench core`; knobs: ARI_BENCH_ROUNDS (chats run per script, default 200).

use std::path::Path;
use std::time::{Duration, Instant};

use ari::config::flow::load_dir;
use ari::flow::{Snapshot, TurnInput, run_turn};
use chrono::{TimeZone, Utc};

/// Lead chats, one message per turn, as leads write them.
const CHATS: &[&[&str]] = &[
    &[
        "halo kak, mau tanya2 kuliah S2 di luar negeri dong",
        "aku Rina Kartika",
        "rina.kartika@gmail.com",
        "ielts 6.5 kak",
        "kisaran 400jt per taun",
        "rencana berangkat taun depan",
        "pengen ke australia atau inggris",
        "paspor udh ada",
        "cv blm kak",
        "blm tes ielts resmi, baru prediksi",
        "transkrip ada",
        "mau kak",
    ],
    &[
        "Hi, I'm interested in doing a master's abroad. Can you help?",
        "Sure, my name is Olivia Hartono",
        "olivia.hartono@gmail.com",
        "I got 7.5 on IELTS last month",
        "Around 800 million rupiah in total",
        "September 2027 intake",
        "UK, ideally London or Edinburgh",
        "Yes I have a passport",
        "Yes, my CV is ready",
        "Yes, I have the IELTS certificate",
        "Yes, and my transcript too",
        "Yes please",
    ],
    &[
        "kak ada beasiswa ga buat S2 di jerman?",
        "nama saya Budi Santoso, lulusan teknik sipil",
        "ga punya email kak",
        "inggris aku masih pemula bgt",
        "belum tau budgetnya",
        "mungkin 3 taun lagi",
        "jerman",
        "paspor, cv, sama transkrip belum ada semua",
        "ok makasih kak",
    ],
];

fn main() {
    let rounds: usize = std::env::var("ARI_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines");
    let set = load_dir(&dir).expect("the shipped flow loads");
    let cfg = set.default.as_ref();
    let start = Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap();
    let mut times: Vec<Duration> = Vec::new();
    // One warm-up chat each, so lazily built models and regexes are not measured.
    for chat in CHATS {
        run_chat(chat, cfg, start, &mut Vec::new());
    }
    for _ in 0..rounds {
        for chat in CHATS {
            run_chat(chat, cfg, start, &mut times);
        }
    }
    times.sort();
    let n = times.len();
    let total: Duration = times.iter().sum();
    let pct = |p: f64| times[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "core turns: {n} over {rounds} rounds of {} chats; mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        CHATS.len(),
        total.as_secs_f64() * 1e6 / n as f64,
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        times[n - 1].as_secs_f64() * 1e6,
    );
}

/// Runs one chat from a new conversation, one turn per message, timing `run_turn` only.
fn run_chat(
    chat: &[&str],
    cfg: &ari::config::flow::FlowConfig,
    start: chrono::DateTime<Utc>,
    times: &mut Vec<Duration>,
) {
    let mut snapshot = Snapshot::new();
    for (i, text) in chat.iter().enumerate() {
        let input = TurnInput::text(start + chrono::Duration::minutes(i as i64), text);
        let t = Instant::now();
        let out = run_turn(&snapshot, &input, cfg);
        times.push(t.elapsed());
        snapshot = out.snapshot;
    }
}
