//! Ingest: signed webhook deliveries with unique idempotency keys (and unique wamids, so every
//! one is a new inbox row) against a spawned `ari serve` on SQLite, at rising concurrency, and
//! beside it, same client, same process, `GET /healthz` as the no-work baseline.
//!
//! Issue 17 item 1: at each concurrency level the old path (one transaction per webhook,
//! `ARI_GROUP_COMMIT=0`) and group commit run side by side, each on a fresh database in the
//! same temp dir (same disk), the order alternating from level to level. Before and after them,
//! the bare SQLite commit rate of the same disk: a rusqlite loop with `synchronous = FULL`
//! committing 1 row, then 10 rows, per transaction.
//!
//! The worker's debounce is one hour, so no turn runs during the measurement (only the ingest
//! path is measured: HMAC, JSON parse, the SQLite write with `synchronous = FULL`, 200).
//!
//! `cargo bench --profile dev --bench ingest`; knobs: ARI_BENCH_REQUESTS (per level, route and
//! path, default 4000), ARI_BENCH_SECONDS (cap per level, route and path, default 10; the bare
//! loops run for at most 5 s each), ARI_BENCH_CONCURRENCY (default 1,8,32,64).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Ari, Delivery, Run, closed_loop, env_list, env_num, phone, print_machine};

/// Webhooks posted to each fresh server before it is measured (connections, page cache).
const WARM_UP: u64 = 200;

/// The two ingest paths compared, as `(label, ARI_GROUP_COMMIT)`.
const PATHS: [(&str, &str); 2] = [("old", "0"), ("group", "1")];

#[tokio::main]
async fn main() {
    print_machine("ingest");
    let requests = env_num("ARI_BENCH_REQUESTS", 4000);
    let seconds = env_num("ARI_BENCH_SECONDS", 10);
    let levels = env_list("ARI_BENCH_CONCURRENCY", &[1, 8, 32, 64]);
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "ari serve ({} build), SQLite (WAL, synchronous=FULL) in {}, RUST_LOG=info, debounce 1 h \
         (no turns); per level: old path (ARI_GROUP_COMMIT=0) and group commit, each on a fresh \
         database, order alternating; {requests} requests per level, route and path, cap \
         {seconds} s",
        if cfg!(debug_assertions) {
            "dev-profile"
        } else {
            "optimized"
        },
        dir.path().display()
    );
    let bare_seconds = seconds.min(5);
    let bare_before = [1, 10].map(|rows| bare_commits(dir.path(), rows, bare_seconds));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    // Contacts cycle over 1,000 numbers; every delivery has its own key and wamid. Each server
    // has a fresh database, so the same list serves them all.
    let deliveries: Arc<Vec<Delivery>> = Arc::new(
        (0..requests + WARM_UP)
            .map(|i| Delivery::text(&phone(i % 1000), &format!("wamid.ING{i}"), "halo kak"))
            .collect(),
    );
    let limit = Duration::from_secs(seconds);
    println!();
    println!(
        "{:>5} {:>6} | {:>9} {:>8} | {:>9} {:>8} {:>8} {:>8} | {:>6} {:>6} | {:>7} | {:>8}",
        "conc",
        "path",
        "health/s",
        "p50 ms",
        "hook/s",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "ratio",
        "errors",
        "hook/tx",
        "group÷old"
    );
    for (n, c) in levels.iter().enumerate() {
        let c = (*c).max(1) as usize;
        let mut order = PATHS.to_vec();
        if n % 2 == 1 {
            order.reverse();
        }
        let mut runs = Vec::new();
        for (label, switch) in order {
            let fresh = dir.path().join(format!("c{c}-{label}"));
            std::fs::create_dir_all(&fresh).expect("fresh dir");
            let ari = Ari::spawn(
                &fresh,
                &fresh.join("ari.db"),
                &[
                    ("ARI_DEBOUNCE_MS", "3600000".into()),
                    ("ARI_GROUP_COMMIT", switch.into()),
                ],
            );
            let base = Arc::new(ari.base_url.clone());
            let warm = webhooks(&client, &base, &deliveries, 0, 8, WARM_UP, limit).await;
            assert_eq!(warm.errors, 0, "warm-up errors");
            let health = healthz(&client, &base, c, requests, limit).await;
            let batches = ari.metric(&client, "ari_store_group_commits_total ").await;
            let hook = webhooks(&client, &base, &deliveries, WARM_UP, c, requests, limit).await;
            let per_commit = match batches {
                Some(before) => {
                    let after = ari.metric(&client, "ari_store_group_commits_total ").await;
                    hook.ok as f64 / (after.unwrap_or(before) - before).max(1.0)
                }
                None => 1.0, // the old path: one transaction per webhook
            };
            drop(ari);
            runs.push((label, health, hook, per_commit));
        }
        runs.sort_by_key(|(label, ..)| *label != "old");
        let old = runs[0].2.per_second();
        for (label, health, hook, per_commit) in &runs {
            let speedup = if *label == "old" {
                String::new()
            } else {
                format!("{:>8.2}", hook.per_second() / old.max(f64::MIN_POSITIVE))
            };
            println!(
                "{c:>5} {label:>6} | {:>9.0} {:>8.2} | {} | {:>6.3} {:>6} | {per_commit:>7.1} | {speedup}",
                health.per_second(),
                health.ms(0.5),
                hook.cells(),
                hook.per_second() / health.per_second(),
                health.errors + hook.errors
            );
        }
    }
    let bare_after = [1, 10].map(|rows| bare_commits(dir.path(), rows, bare_seconds));
    println!();
    println!(
        "bare SQLite on the same disk (rusqlite, WAL, synchronous=FULL), {bare_seconds} s each:"
    );
    for (when, runs) in [("before", bare_before), ("after", bare_after)] {
        for (rows, (commits, per_s)) in [1, 10].iter().zip(runs) {
            println!(
                "  {when:>6}: {rows:>2} row(s) per commit: {commits:>8.0} commits/s, {per_s:>8.0} rows/s"
            );
        }
    }
    println!();
    println!(
        "ratio = webhook requests/s ÷ healthz requests/s at the same concurrency and path; \
         hook/tx = webhooks per SQLite commit (group: from ari_store_group_commits_total; old: 1 \
         by construction); group÷old = webhooks/s of group commit ÷ those of the old path at \
         that level"
    );
}

/// Closed-loop webhook POSTs of `deliveries[start..start + total]` at `concurrency`.
async fn webhooks(
    client: &reqwest::Client,
    base: &Arc<String>,
    deliveries: &Arc<Vec<Delivery>>,
    start: u64,
    concurrency: usize,
    total: u64,
    limit: Duration,
) -> Run {
    let (client, base, deliveries) = (client.clone(), Arc::clone(base), Arc::clone(deliveries));
    closed_loop(concurrency, total, limit, move |i| {
        let (client, base, deliveries) =
            (client.clone(), Arc::clone(&base), Arc::clone(&deliveries));
        async move {
            let d = &deliveries[(start + i) as usize];
            matches!(d.request(&client, &base).send().await, Ok(r) if r.status().is_success())
        }
    })
    .await
}

/// Closed-loop `GET /healthz` at `concurrency`.
async fn healthz(
    client: &reqwest::Client,
    base: &Arc<String>,
    concurrency: usize,
    total: u64,
    limit: Duration,
) -> Run {
    let (client, base) = (client.clone(), Arc::clone(base));
    closed_loop(concurrency, total, limit, move |_| {
        let (client, base) = (client.clone(), Arc::clone(&base));
        async move {
            matches!(client.get(format!("{base}/healthz")).send().await, Ok(r) if r.status().is_success())
        }
    })
    .await
}

/// The disk's bare commit rate: for `seconds`, transactions of `rows` single-row inserts on a
/// fresh database in `dir` (WAL, `synchronous = FULL`). Returns `(commits/s, rows/s)`.
fn bare_commits(dir: &Path, rows: u64, seconds: u64) -> (f64, f64) {
    let path = dir.join(format!("bare-{rows}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut c = rusqlite::Connection::open(&path).expect("bare db");
    c.pragma_update(None, "journal_mode", "WAL").expect("wal");
    c.pragma_update(None, "synchronous", "FULL").expect("full");
    c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .expect("table");
    let started = Instant::now();
    let mut commits = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let tx = c.transaction().expect("begin");
        for _ in 0..rows {
            tx.execute("INSERT INTO t (body) VALUES (?1)", ["halo kak"])
                .expect("insert");
        }
        tx.commit().expect("commit");
        commits += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(c);
    let _ = std::fs::remove_file(&path);
    (commits as f64 / elapsed, (commits * rows) as f64 / elapsed)
}
