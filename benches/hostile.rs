//! Hostile clients (issue 21): resident memory (VmRSS, peak VmHWM) of a spawned `ari serve`
//! while N connections (default 1,000) each send the headers of a body just under the limit
//! (256 KiB declared), all of it but the last byte, and stall; then after the request timeout
//! closed them. The measurement before the listener limits: 400 such uploads of
//! 1 MiB − 1 took the process from 26 MB to 454 MB, and it stayed there. The figures here are
//! printed, not asserted (tests/hardening.rs asserts the limits themselves).
//!
//! `cargo bench --bench hostile`; knobs: ARI_BENCH_CONNECTIONS (default 1000),
//! ARI_BENCH_TIMEOUT_MS (the service's request timeout, default 5000).

mod support;

use std::time::Duration;

use support::{Ari, env_num, mib, print_machine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() {
    print_machine("hostile");
    let n = env_num("ARI_BENCH_CONNECTIONS", 1000);
    let timeout_ms = env_num("ARI_BENCH_TIMEOUT_MS", 5000);
    let dir = tempfile::tempdir().expect("tempdir");
    let ari = Ari::spawn(
        dir.path(),
        &dir.path().join("ari.db"),
        &[("ARI_REQUEST_TIMEOUT_MS", timeout_ms.to_string())],
    );
    let client = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle, _) = ari.memory_kib();
    let addr = ari.base_url.trim_start_matches("http://").to_string();
    let body_len = 256 * 1024;
    let stallers: Vec<_> = (0..n)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
                let head = format!(
                    "POST /webhooks/kapso HTTP/1.1\r\nHost: ari\r\nContent-Type: application/json\r\n\
                     Content-Length: {body_len}\r\n\r\n"
                );
                s.write_all(head.as_bytes()).await.ok()?;
                let _ = s.write_all(&vec![b' '; body_len - 1]).await;
                let mut answer = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut answer)).await;
                Some(String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_string())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(timeout_ms / 2)).await;
    let (stalled, _) = ari.memory_kib();
    let reading = ari
        .metric(&client, "ari_http_body_reads ")
        .await
        .unwrap_or(-1.0);
    let mut answers = std::collections::BTreeMap::<String, u64>::new();
    for s in stallers {
        let line = s
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "connect failed".into());
        *answers.entry(line).or_default() += 1;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, hwm) = ari.memory_kib();
    let peak = ari
        .metric(&client, "ari_http_body_reads_peak ")
        .await
        .unwrap_or(-1.0);
    println!(
        "{n} stalled uploads of {} KiB − 1 byte, request timeout {timeout_ms} ms",
        body_len / 1024
    );
    println!("idle after start:        VmRSS {}", mib(idle));
    println!(
        "while stalled:           VmRSS {}  (bodies being read: {reading})",
        mib(stalled)
    );
    println!(
        "after they were closed:  VmRSS {}  VmHWM {}  (peak bodies read at once: {peak})",
        mib(after),
        mib(hwm)
    );
    println!("answers: {answers:?}");
}
