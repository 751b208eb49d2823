//! Recovery after a SIGKILL on SQLite (issue 17 items 4 and 5): how long after the restart a
//! lead whose reply was being sent at the kill gets it.
//!
//! Each run: `ari serve` sends its replies to a Kapso API that accepts the connection and never
//! answers, so the reply's send holds its outbox lease (60 s) when the process is killed with
//! SIGKILL. A new `ari serve` on the same file, now with an instant mock Kapso, takes the dead
//! run's leases back at start (it holds the lock file) and sends the reply. Printed: the time
//! from the restart's spawn to the reply's arrival, and from the kill to it. Without the take
//! back the reply would wait out the rest of the 60 s send lease.
//!
//! `cargo bench --profile dev --bench sigkill`; knob: ARI_BENCH_RUNS (default 5).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{Ari, Delivery, MockKapso, env_num, print_machine};

/// A "Kapso API" that accepts connections, counts them and never answers.
async fn silent_kapso() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (format!("http://{addr}"), accepted)
}

/// One run: (restart → reply, kill → reply).
async fn run(i: u64, mock: &MockKapso) -> (Duration, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ari.db");
    let phone = format!("+628125550{i:04}");
    let (silent, accepted) = silent_kapso().await;
    let env = |base: String| {
        vec![
            ("ARI_KAPSO_BASE_URL", base),
            ("ARI_KAPSO_API_KEY", "bench-key".to_string()),
            ("ARI_TYPING_INDICATOR", "false".to_string()),
            ("ARI_DEBOUNCE_MS", "100".to_string()),
        ]
    };
    let first = Ari::spawn(dir.path(), &db, &env(silent));
    let client = reqwest::Client::new();
    let delivery = Delivery::text(&phone, &format!("wamid.KILL{i}"), "halo kak mau tanya");
    let status = delivery
        .request(&client, &first.base_url)
        .send()
        .await
        .expect("post")
        .status();
    assert!(status.is_success(), "webhook: {status}");
    let waited = Instant::now();
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the reply was never sent"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first); // SIGKILL, with the send in flight under its lease
    let killed = Instant::now();
    let reply = mock.expect_reply(phone.trim_start_matches('+'));
    let restarted = Instant::now();
    let second = Ari::spawn(dir.path(), &db, &env(mock.base_url.clone()));
    let arrived = tokio::time::timeout(Duration::from_secs(120), reply)
        .await
        .expect("no reply within 120 s")
        .expect("reply waiter");
    drop(second);
    (arrived - restarted, arrived - killed)
}

#[tokio::main]
async fn main() {
    print_machine("sigkill");
    let runs = env_num("ARI_BENCH_RUNS", 5);
    let mock = MockKapso::start().await;
    println!(
        "SQLite; the reply's send in flight (Kapso never answers) at the SIGKILL; send lease \
         60 s; {runs} runs"
    );
    println!();
    println!(
        "{:>4} | {:>18} | {:>15}",
        "run", "restart → reply ms", "kill → reply ms"
    );
    let mut worst = Duration::ZERO;
    for i in 0..runs {
        let (after_restart, after_kill) = run(i, &mock).await;
        worst = worst.max(after_kill);
        println!(
            "{i:>4} | {:>18.0} | {:>15.0}",
            after_restart.as_secs_f64() * 1000.0,
            after_kill.as_secs_f64() * 1000.0
        );
    }
    println!();
    println!(
        "worst kill → reply: {:.1} s (the send lease is 60 s)",
        worst.as_secs_f64()
    );
}
