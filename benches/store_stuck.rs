//! Answer times of webhooks and `/readyz` while another process holds the SQLite write lock
//! (issue 16 item 8), beside the same load with the lock free, in one run against one spawned
//! `ari serve`.
//!
//! Phases, in order: free (the lock untouched), held (a second connection holds `BEGIN
//! IMMEDIATE` for the whole phase), free again (the service recovers by itself). In each, a
//! closed loop of signed webhooks with unique keys runs at a fixed concurrency and every answer
//! is timed, 200 and 503 alike; `/readyz` is probed every 250 ms beside it.
//!
//! `cargo bench --profile dev --bench store_stuck`; knobs: ARI_BENCH_SECONDS (per phase, default
//! 8), ARI_BENCH_CONCURRENCY (default 8), ARI_BENCH_DEADLINE_MS (`--store-deadline-ms`, default
//! the service's 2000).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use support::{Ari, Delivery, env_num, phone, print_machine};

/// What one phase saw: answer times (µs) by status, and `/readyz` answer times.
struct Phase {
    ok: Histogram<u64>,
    unavailable: Histogram<u64>,
    other: u64,
    ready: Histogram<u64>,
    ready_statuses: Vec<u16>,
}

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("hist")
}

fn cell(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return format!("{:>6} {:>8} {:>8} {:>8}", 0, "-", "-", "-");
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "{:>6} {:>8.1} {:>8.1} {:>8.1}",
        h.len(),
        ms(0.5),
        ms(0.99),
        h.max() as f64 / 1000.0
    )
}

/// Runs `concurrency` webhook posters and one `/readyz` prober for `length`.
async fn phase(
    client: &reqwest::Client,
    base: &Arc<String>,
    next: &Arc<AtomicU64>,
    concurrency: usize,
    length: Duration,
) -> Phase {
    let until = Instant::now() + length;
    let mut posters = Vec::new();
    for _ in 0..concurrency {
        let (client, base, next) = (client.clone(), Arc::clone(base), Arc::clone(next));
        posters.push(tokio::spawn(async move {
            let (mut ok, mut unavailable, mut other) = (histogram(), histogram(), 0);
            while Instant::now() < until {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let d = Delivery::text(&phone(i % 1000), &format!("wamid.STUCK{i}"), "halo kak");
                let t = Instant::now();
                let status = d.request(&client, &base).send().await.map(|r| r.status());
                let us = t.elapsed().as_micros() as u64;
                match status.map(|s| s.as_u16()) {
                    Ok(200) => ok.saturating_record(us),
                    Ok(503) => unavailable.saturating_record(us),
                    _ => other += 1,
                }
            }
            (ok, unavailable, other)
        }));
    }
    let (mut ready, mut ready_statuses) = (histogram(), Vec::new());
    while Instant::now() < until {
        let t = Instant::now();
        let status = client.get(format!("{base}/readyz")).send().await;
        ready.saturating_record(t.elapsed().as_micros() as u64);
        ready_statuses.push(status.map(|r| r.status().as_u16()).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut p = Phase {
        ok: histogram(),
        unavailable: histogram(),
        other: 0,
        ready,
        ready_statuses,
    };
    for poster in posters {
        let (ok, unavailable, other) = poster.await.expect("poster");
        p.ok.add(ok).expect("hist add");
        p.unavailable.add(unavailable).expect("hist add");
        p.other += other;
    }
    p
}

fn print_phase(name: &str, p: &Phase) {
    let ready_503 = p.ready_statuses.iter().filter(|s| **s == 503).count();
    println!(
        "{name:<10} | {} | {} | {:>5} | {} ({ready_503} of them 503)",
        cell(&p.ok),
        cell(&p.unavailable),
        p.other,
        cell(&p.ready)
    );
}

#[tokio::main]
async fn main() {
    print_machine("store_stuck");
    let seconds = env_num("ARI_BENCH_SECONDS", 8);
    let concurrency = env_num("ARI_BENCH_CONCURRENCY", 8).max(1) as usize;
    let deadline_ms = env_num("ARI_BENCH_DEADLINE_MS", 2000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ari.db");
    let ari = Ari::spawn(
        dir.path(),
        &db,
        &[
            ("ARI_DEBOUNCE_MS", "3600000".into()),
            ("ARI_STORE_DEADLINE_MS", deadline_ms.to_string()),
        ],
    );
    let base = Arc::new(ari.base_url.clone());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let next = Arc::new(AtomicU64::new(0));
    let length = Duration::from_secs(seconds);
    println!(
        "ari serve over SQLite (WAL, synchronous=FULL), --store-deadline-ms {deadline_ms}, \
         debounce 1 h (no turns); {concurrency} webhook posters and one /readyz probe every \
         250 ms, {seconds} s per phase; times in ms (p50, p99, max)"
    );
    println!();
    println!(
        "{:<10} | {:>6} {:>8} {:>8} {:>8} | {:>6} {:>8} {:>8} {:>8} | {:>5} | {:>6} {:>8} {:>8} {:>8}",
        "phase",
        "200",
        "p50",
        "p99",
        "max",
        "503",
        "p50",
        "p99",
        "max",
        "other",
        "readyz",
        "p50",
        "p99",
        "max"
    );
    let free = phase(&client, &base, &next, concurrency, length).await;
    print_phase("free", &free);

    let holder = rusqlite::Connection::open(&db).expect("second connection");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let held = phase(&client, &base, &next, concurrency, length).await;
    holder.execute_batch("COMMIT").expect("release the lock");
    print_phase("held", &held);

    let after = phase(&client, &base, &next, concurrency, length).await;
    print_phase("free again", &after);
    let stored = ari
        .metric(&client, "ari_inbox_depth ")
        .await
        .unwrap_or(-1.0);
    let acked = free.ok.len() + held.ok.len() + after.ok.len();
    println!();
    println!(
        "acknowledged (200): {acked}; inbox rows stored (pending, no turn ran): {stored}; \
         \"held\" = another connection holds BEGIN IMMEDIATE for the whole phase"
    );
}
