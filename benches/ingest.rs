//! Ingest: signed webhook deliveries with unique idempotency keys (and unique wamids, so every
//! one is a new inbox row) against a spawned `ari serve` on SQLite, at rising concurrency, and
//! beside it, same client, same process, `GET /healthz` as the no-work baseline.
//!
//! The worker's debounce is one hour, so no turn runs during the measurement (only the ingest
//! path is measured: HMAC, JSON parse, one SQLite transaction with `synchronous = FULL`, 200).
//!
//! `cargo bench --bench ingest`; knobs: ARI_BENCH_REQUESTS (per level and route, default
//! 4000), ARI_BENCH_SECONDS (cap per level and route, default 10), ARI_BENCH_CONCURRENCY
//! (default 1,8,32,64).

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Ari, Delivery, Run, closed_loop, env_list, env_num, phone, print_machine};

#[tokio::main]
async fn main() {
    print_machine("ingest");
    let requests = env_num("ARI_BENCH_REQUESTS", 4000);
    let seconds = env_num("ARI_BENCH_SECONDS", 10);
    let levels = env_list("ARI_BENCH_CONCURRENCY", &[1, 8, 32, 64]);
    let dir = tempfile::tempdir().expect("tempdir");
    let ari = Ari::spawn(
        dir.path(),
        &dir.path().join("ari.db"),
        &[("ARI_DEBOUNCE_MS", "3600000".into())],
    );
    let base = Arc::new(ari.base_url.clone());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    // Contacts cycle over 1,000 numbers; every delivery has its own key and wamid.
    let total = requests * (levels.len() as u64 + 1);
    let deliveries: Arc<Vec<Delivery>> = Arc::new(
        (0..total)
            .map(|i| Delivery::text(&phone(i % 1000), &format!("wamid.ING{i}"), "halo kak"))
            .collect(),
    );
    println!(
        "ari serve: release binary, SQLite (WAL, synchronous=FULL) in a temp dir, RUST_LOG=info, \
         debounce 1 h (no turns); {requests} requests per level and route, cap {seconds} s"
    );
    // Warm-up: connections, page cache, prepared statements.
    let offset = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let webhook_load = |concurrency: usize| {
        let (client, base, deliveries, offset) = (
            client.clone(),
            Arc::clone(&base),
            Arc::clone(&deliveries),
            Arc::clone(&offset),
        );
        let start = offset.fetch_add(requests, std::sync::atomic::Ordering::SeqCst);
        closed_loop(
            concurrency,
            requests,
            Duration::from_secs(seconds),
            move |i| {
                let (client, base, deliveries) =
                    (client.clone(), Arc::clone(&base), Arc::clone(&deliveries));
                async move {
                    let d = &deliveries[(start + i) as usize];
                    matches!(d.request(&client, &base).send().await, Ok(r) if r.status().is_success())
                }
            },
        )
    };
    let health_load = |concurrency: usize| {
        let (client, base) = (client.clone(), Arc::clone(&base));
        closed_loop(
            concurrency,
            requests,
            Duration::from_secs(seconds),
            move |_| {
                let (client, base) = (client.clone(), Arc::clone(&base));
                async move {
                    matches!(client.get(format!("{base}/healthz")).send().await, Ok(r) if r.status().is_success())
                }
            },
        )
    };
    let warm = webhook_load(8).await;
    let _ = health_load(8).await;
    println!(
        "warm-up: {} webhooks, {} errors",
        warm.ok + warm.errors,
        warm.errors
    );
    println!();
    println!(
        "{:>5} | {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8} | {:>6} {:>6}",
        "conc",
        "health/s",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "hook/s",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "ratio",
        "errors"
    );
    for c in levels {
        let c = c.max(1) as usize;
        let health: Run = health_load(c).await;
        let hook: Run = webhook_load(c).await;
        println!(
            "{c:>5} | {} | {} | {:>6.2} {:>6}",
            health.cells(),
            hook.cells(),
            hook.per_second() / health.per_second(),
            health.errors + hook.errors
        );
    }
    let stored = ari
        .metric(&client, "ari_inbox_depth ")
        .await
        .unwrap_or(-1.0);
    println!();
    println!(
        "ratio = webhook requests/s ÷ healthz requests/s at the same concurrency; \
         inbox rows stored (pending, no turn ran): {stored}"
    );
    drop(ari);
}
