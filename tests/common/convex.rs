//! The local Convex server for tests (`tests/convex-server/server.mjs`): started once per test
//! binary on a free port, shared by the tests, each test on a deployment of its own
//! (`{url}/i/<name>`) so parallel tests never see each other's data.
//!
//! Node and the npm packages are required: when `node` is missing or `npm ci` was not run, the
//! tests that need the server fail with a message that says so (they never skip).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ari::store::convex::{ConvexOptions, ConvexStore};

/// The deploy key the test server accepts.
pub const TEST_DEPLOY_KEY: &str = "ari-test-deploy-key";

/// A running server. Never dropped (it lives in a static): it exits when this process does,
/// because it watches its stdin, which this struct holds open.
pub struct ConvexServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _child: Child,
    _stdin: ChildStdin,
}

static SERVER: OnceLock<Result<ConvexServer, String>> = OnceLock::new();
static NEXT_DEPLOYMENT: AtomicU64 = AtomicU64::new(0);

/// The shared server, started on first use. Panics with the reason when it cannot start.
pub fn server() -> &'static ConvexServer {
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn start() -> Result<ConvexServer, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    if !std::path::Path::new(root)
        .join("node_modules/convex-test")
        .is_dir()
    {
        return Err(format!(
            "the Convex store tests need the npm packages: run `npm ci` in {root} \
             (scripts/test.sh does it when node_modules is missing)"
        ));
    }
    let mut child = Command::new("node")
        .args(["--import", "tsx", "tests/convex-server/server.mjs"])
        .current_dir(root)
        .env("PORT", "0")
        .env("CONVEX_DEPLOY_KEY", TEST_DEPLOY_KEY)
        .env("EXIT_WITH_STDIN", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "`node` is not installed or not on PATH: the Convex store tests run the local \
                 Convex server on Node 20+ (install Node, then run scripts/test.sh)"
                    .to_string()
            } else {
                format!("cannot start the local Convex server with node: {e}")
            }
        })?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    // Keep the server's stderr (function errors) for the failure message; drain it so the
    // server never blocks on a full pipe.
    let log = Arc::new(Mutex::new(String::new()));
    let log_writer = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut l) = log_writer.lock() {
                l.push_str(&String::from_utf8_lossy(&buf[..n]));
                let excess = l.len().saturating_sub(64 * 1024);
                l.drain(..excess);
            }
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        for _ in lines {}
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line,
        other => {
            let _ = child.kill();
            std::thread::sleep(Duration::from_millis(200));
            let log = log.lock().map(|l| l.clone()).unwrap_or_default();
            return Err(format!(
                "the local Convex server did not print its listening line ({other:?}); its stderr:\n{log}"
            ));
        }
    };
    let parsed: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| format!("unexpected first line from the Convex server {line:?}: {e}"))?;
    let url = parsed["listening"]
        .as_str()
        .ok_or_else(|| format!("no `listening` in {line:?}"))?
        .to_string();
    Ok(ConvexServer {
        url,
        _child: child,
        _stdin: stdin,
    })
}

/// The URL of a new, empty deployment on the shared server.
pub fn fresh_deployment_url() -> String {
    let n = NEXT_DEPLOYMENT.fetch_add(1, Ordering::Relaxed);
    format!("{}/i/t{}-{n}", server().url, std::process::id())
}

/// Small backoff so retry tests stay fast.
pub fn test_options() -> ConvexOptions {
    ConvexOptions {
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        max_attempts: 3,
        backoff: Duration::from_millis(10),
    }
}

/// A connected Convex store on a new, empty deployment.
pub async fn fresh_store() -> ConvexStore {
    ConvexStore::connect_with(&fresh_deployment_url(), TEST_DEPLOY_KEY, test_options())
        .await
        .unwrap_or_else(|e| panic!("connecting to the local Convex server: {e}"))
}

/// `ari serve`'s environment for the Convex store at `url` with the test key.
pub fn serve_env(url: &str) -> Vec<(String, String)> {
    vec![
        ("ARI_CONVEX_URL".to_string(), url.to_string()),
        (
            "ARI_CONVEX_DEPLOY_KEY".to_string(),
            TEST_DEPLOY_KEY.to_string(),
        ),
    ]
}

/// A store on an existing deployment (to read back what a service wrote).
pub async fn store_at(url: &str) -> ConvexStore {
    ConvexStore::connect_with(url, TEST_DEPLOY_KEY, test_options())
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

/// The function calls that reached the deployment at `url`, by path, and by `path=>status` for
/// results with a status (the test server's `_stats` hook).
pub async fn calls(url: &str) -> std::collections::BTreeMap<String, u64> {
    let v: serde_json::Value = reqwest::get(format!("{url}/_stats"))
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET {url}/_stats: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}/_stats: {e}"));
    serde_json::from_value(v["calls"].clone()).unwrap_or_else(|e| panic!("_stats: {e}: {v}"))
}

/// Starts (`true`) or ends (`false`) an outage of the deployment at `url`: its API answers 503
/// meanwhile, its data is kept (the test server's `_outage` hook).
pub async fn set_outage(url: &str, down: bool) {
    reqwest::Client::new()
        .post(format!("{url}/_outage"))
        .json(&serde_json::json!({ "down": down }))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("POST {url}/_outage: {e}"));
}
