//! Shared pieces of the benches: the machine report, a spawned `ari serve` (the release binary
//! cargo builds for `cargo bench`), a bounded closed-loop load generator on reqwest with
//! HdrHistogram percentiles, and an instant mock Kapso send API on loopback.
//!
//! Every load is bounded in requests and in time and goes to 127.0.0.1 only.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::oneshot;

/// The secret the spawned service verifies.
pub const SECRET: &str = "bench-webhook-secret";
/// Business number of every generated message.
pub const PHONE_NUMBER_ID: &str = "106540352242922";

/// A number from the environment, else `default` (lets a quick run shrink the bench).
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A list of numbers from the environment (`1000,1000000`), else `default`.
pub fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// Prints the machine the figures come from: CPU, cores, memory, load, rustc, commit.
pub fn print_machine(bench: &str) {
    let cpu = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = proc_field("/proc/meminfo", "MemTotal").unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let commit = first_line("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    println!("== ari bench: {bench}");
    println!("machine: {cpu}; {cores} cores; MemTotal {mem}");
    println!(
        "load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "rustc: {}; ari commit {commit}{}; profile: {}",
        first_line("rustc", &["--version"]),
        if dirty { " (+ local changes)" } else { "" },
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}

/// A Kapso v2 `whatsapp.message.received` payload with one text message.
pub fn text_payload(phone: &str, wamid: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "message": {
            "id": wamid, "timestamp": "1763604907", "type": "text", "text": {"body": text},
            "kapso": {"direction": "inbound", "status": "received", "origin": "cloud_api",
                      "has_media": false, "content": text}
        },
        "conversation": {"id": format!("conv_{phone}"), "phone_number": phone, "status": "active",
                         "phone_number_id": PHONE_NUMBER_ID, "kapso": {"contact_name": "Lead"}},
        "is_new_conversation": false,
        "phone_number_id": PHONE_NUMBER_ID
    }))
    .expect("json")
}

/// The E.164 phone of generated contact `i`.
pub fn phone(i: u64) -> String {
    format!("+62810{i:08}")
}

/// A signed webhook request, ready to send.
#[derive(Clone)]
pub struct Delivery {
    pub body: Vec<u8>,
    pub signature: String,
    pub key: String,
}

impl Delivery {
    pub fn text(phone: &str, wamid: &str, text: &str) -> Delivery {
        let body = text_payload(phone, wamid, text);
        let signature = ari::ingress::signature::sign(SECRET.as_bytes(), &body);
        Delivery {
            body,
            signature,
            key: format!("bench-{wamid}"),
        }
    }

    pub fn request(&self, client: &reqwest::Client, base_url: &str) -> reqwest::RequestBuilder {
        client
            .post(format!("{base_url}/webhooks/kapso"))
            .header("content-type", "application/json")
            .header("x-webhook-signature", &self.signature)
            .header("x-webhook-event", "whatsapp.message.received")
            .header("x-idempotency-key", &self.key)
            .body(self.body.clone())
    }
}

/// A spawned `ari serve`.
pub struct Ari {
    child: Child,
    pub base_url: String,
    pub db_path: PathBuf,
    pub log_path: PathBuf,
}

impl Ari {
    /// Starts the release binary on a free loopback port over `db_path`, logging (info, JSON) to
    /// a file beside the database, with the shipped `ari.toml` and knowledge base copied into
    /// `dir/state-machines` (an `llm.toml` written there before the call is kept). `env` adds
    /// ARI_* settings.
    pub fn spawn(dir: &Path, db_path: &Path, env: &[(&str, String)]) -> Ari {
        let flow_dir = dir.join("state-machines");
        std::fs::create_dir_all(&flow_dir).expect("flow dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines");
        std::fs::copy(shipped.join("ari.toml"), flow_dir.join("ari.toml")).expect("ari.toml");
        // The shipped knowledge base, so questions are answered as in production.
        let knowledge = flow_dir.join("knowledge");
        std::fs::create_dir_all(&knowledge).expect("knowledge dir");
        for entry in std::fs::read_dir(shipped.join("knowledge")).expect("shipped knowledge") {
            let path = entry.expect("knowledge entry").path();
            if let Some(name) = path.file_name().filter(|_| path.is_file()) {
                std::fs::copy(&path, knowledge.join(name)).expect("copy knowledge file");
            }
        }
        let log_path = dir.join(format!(
            "ari-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ari"));
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
            .arg("--database")
            .arg(db_path)
            .arg("--flow-dir")
            .arg(&flow_dir)
            .env_remove("ARI_KAPSO_API_KEY")
            .env_remove("ARI_KAPSO_BASE_URL")
            .env_remove("ARI_INSECURE_NO_SIGNATURE")
            .env("ARI_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawning ari serve");
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let found = text.lines().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["message"] == "listening").then(|| v["addr"].as_str().map(str::to_string))?
            });
            if let Some(a) = found {
                break a;
            }
            assert!(Instant::now() < deadline, "ari serve did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        };
        Ari {
            child,
            base_url: format!("http://{addr}"),
            db_path: db_path.to_path_buf(),
            log_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `(VmRSS, VmHWM)` in KiB from /proc/<pid>/status.
    pub fn memory_kib(&self) -> (u64, u64) {
        let file = format!("/proc/{}/status", self.pid());
        let kib = |key: &str| {
            proc_field(&file, key)
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
                .unwrap_or(0)
        };
        (kib("VmRSS"), kib("VmHWM"))
    }

    /// The value of an unlabelled metric line (`name value`) or a labelled one (`name{..} value`).
    pub async fn metric(&self, client: &reqwest::Client, line_prefix: &str) -> Option<f64> {
        let text = client
            .get(format!("{}/metrics", self.base_url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find(|l| l.starts_with(line_prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Waits (bounded) until `ari_inbox_depth` is 0.
    pub async fn wait_inbox_empty(&self, client: &reqwest::Client, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.metric(client, "ari_inbox_depth ").await == Some(0.0) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Ari {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Result of one load run.
pub struct Run {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub hist: Histogram<u64>,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn ms(&self, quantile: f64) -> f64 {
        self.hist.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// `rps  p50  p99  p99.9` cells.
    pub fn cells(&self) -> String {
        format!(
            "{:>9.0} {:>8.2} {:>8.2} {:>8.2}",
            self.per_second(),
            self.ms(0.5),
            self.ms(0.99),
            self.ms(0.999)
        )
    }
}

/// Closed-loop load: `concurrency` tasks each run `op(i)` for the next `i` until `total`
/// operations started or `limit` elapsed. `op` returns whether the operation succeeded.
pub async fn closed_loop<F, Fut>(concurrency: usize, total: u64, limit: Duration, op: F) -> Run
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (op, next, errors) = (Arc::clone(&op), Arc::clone(&next), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("hist");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    return hist;
                }
                let t = Instant::now();
                if op(i).await {
                    hist.saturating_record(t.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("hist");
    for t in tasks {
        hist.add(t.await.expect("load task")).expect("hist add");
    }
    Run {
        ok: hist.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        hist,
    }
}

/// An instant mock of Kapso's send API on loopback: answers every send 200 with a message id
/// at once, mark-read requests 200, and tells whoever waits for a reply to a number that it came.
pub struct MockKapso {
    pub base_url: String,
    waiters: Arc<Mutex<HashMap<String, oneshot::Sender<Instant>>>>,
    pub sends: Arc<AtomicUsize>,
    pub reads: Arc<AtomicUsize>,
}

impl MockKapso {
    pub async fn start() -> MockKapso {
        use axum::Json;
        use axum::extract::State;
        use axum::routing::post;

        type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Instant>>>>;
        let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
        let sends = Arc::new(AtomicUsize::new(0));
        let reads = Arc::new(AtomicUsize::new(0));
        let state = (Arc::clone(&waiters), Arc::clone(&sends), Arc::clone(&reads));
        let app = axum::Router::new()
            .route(
                "/meta/whatsapp/v24.0/{pnid}/messages",
                post(
                    |State((waiters, sends, reads)): State<(
                        Waiters,
                        Arc<AtomicUsize>,
                        Arc<AtomicUsize>,
                    )>,
                     Json(body): Json<serde_json::Value>| async move {
                        if body["status"] == "read" {
                            reads.fetch_add(1, Ordering::Relaxed);
                            return Json(serde_json::json!({"success": true}));
                        }
                        let n = sends.fetch_add(1, Ordering::Relaxed);
                        let to = body["to"].as_str().unwrap_or("").to_string();
                        if let Some(tx) = waiters.lock().expect("waiters").remove(&to) {
                            let _ = tx.send(Instant::now());
                        }
                        Json(serde_json::json!({
                            "messaging_product": "whatsapp",
                            "contacts": [{"input": to, "wa_id": to}],
                            "messages": [{"id": format!("wamid.BENCH{n}")}]
                        }))
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockKapso {
            base_url: format!("http://{addr}"),
            waiters,
            sends,
            reads,
        }
    }

    /// Resolves with the arrival time of the next reply to `to` (digits only).
    pub fn expect_reply(&self, to: &str) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .expect("waiters")
            .insert(to.to_string(), tx);
        rx
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
