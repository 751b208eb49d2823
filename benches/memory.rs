//! Memory: resident memory (VmRSS, and the peak VmHWM, from /proc/<pid>/status) of a spawned
//! `ari serve` on SQLite with N active conversations (default 10,000), in two states:
//!
//! 1. waiting: every conversation has a message and a worker task waiting out its debounce (one
//!    hour), the most the worker holds in memory per conversation;
//! 2. answered: the same N new conversations each had a turn and its reply was handed to the
//!    sender (dry run: no Kapso key, nothing leaves the machine).
//!
//! `cargo bench --bench memory`; knobs: ARI_BENCH_CONVERSATIONS (default 10000),
//! ARI_BENCH_SECONDS (cap for the deliveries and for draining the turns, default 120).

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Ari, Delivery, closed_loop, env_num, mib, phone, print_machine};

async fn deliver_all(ari: &Ari, n: u64, seconds: u64) -> (u64, u64) {
    let client = reqwest::Client::new();
    let base = Arc::new(ari.base_url.clone());
    let run = closed_loop(32, n, Duration::from_secs(seconds), move |i| {
        let (client, base) = (client.clone(), Arc::clone(&base));
        async move {
            let d = Delivery::text(&phone(i), &format!("wamid.MEM{i}"), "halo kak");
            matches!(d.request(&client, &base).send().await, Ok(r) if r.status().is_success())
        }
    })
    .await;
    (run.ok, run.errors)
}

#[tokio::main]
async fn main() {
    print_machine("memory");
    let n = env_num("ARI_BENCH_CONVERSATIONS", 10_000);
    let seconds = env_num("ARI_BENCH_SECONDS", 120);
    let client = reqwest::Client::new();
    println!("ari serve: release binary, SQLite in a temp dir, RUST_LOG=info, dry-run sender");
    println!();

    // 1. N conversations waiting in the worker.
    let dir = tempfile::tempdir().expect("tempdir");
    let ari = Ari::spawn(
        dir.path(),
        &dir.path().join("ari.db"),
        &[("ARI_DEBOUNCE_MS", "3600000".into())],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, _) = ari.memory_kib();
    let (ok, errors) = deliver_all(&ari, n, seconds).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, hwm) = ari.memory_kib();
    println!(
        "idle after start:                      VmRSS {}",
        mib(idle_rss)
    );
    println!(
        "{ok} conversations waiting (debounce): VmRSS {}  VmHWM {}  ({errors} failed deliveries)",
        mib(rss),
        mib(hwm)
    );
    println!(
        "  per waiting conversation: {:.1} KiB above idle",
        (rss.saturating_sub(idle_rss)) as f64 / ok.max(1) as f64
    );
    drop(ari);

    // 2. N conversations answered.
    let dir = tempfile::tempdir().expect("tempdir");
    let ari = Ari::spawn(
        dir.path(),
        &dir.path().join("ari.db"),
        &[("ARI_DEBOUNCE_MS", "0".into())],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, _) = ari.memory_kib();
    let (ok, errors) = deliver_all(&ari, n, seconds).await;
    let drained = ari
        .wait_inbox_empty(&client, Duration::from_secs(seconds))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, hwm) = ari.memory_kib();
    let turns = ari
        .metric(&client, "ari_turns_total{outcome=\"committed\"} ")
        .await
        .unwrap_or(f64::NAN);
    println!(
        "idle after start:                      VmRSS {}",
        mib(idle_rss)
    );
    println!(
        "{ok} conversations answered:           VmRSS {}  VmHWM {}  ({errors} failed deliveries, \
         {turns} turns committed, inbox drained: {drained})",
        mib(rss),
        mib(hwm)
    );
    drop(ari);
}
