//! Test harness: spawns the real `ari` binary on a random port and talks to it over HTTP, the
//! way Kapso does (zero-to-production style: the service is tested from the outside).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod convex;
pub mod kapso_mock;
pub mod llm_mock;
pub mod pipeline;
pub mod store_wrap;

use ari::inbox::InboxRow;
use ari::ingress::signature::sign;
use ari::store::Store;
use ari::store::sqlite::SqliteStore;

/// The secret the spawned service is configured with.
pub const SECRET: &str = "test-webhook-secret";

/// Reads a fixture from `tests/fixtures/kapso/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kapso")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Copies a folder tree (small test fixtures).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copying {}: {e}", entry.path().display()));
        }
    }
}

/// A running `ari serve` process with its own temporary database and flow folder.
pub struct Service {
    child: Child,
    pub base_url: String,
    pub db_path: PathBuf,
    pub flow_dir: PathBuf,
    /// Every line the service logged (stderr), for assertions on logs.
    pub logs: Arc<Mutex<Vec<String>>>,
    pub dir: Arc<tempfile::TempDir>,
}

/// Options for [`Service::spawn_with`].
#[derive(Default)]
pub struct Options {
    /// Value of ARI_WEBHOOK_SECRET; `None` → [`SECRET`].
    pub secret: Option<String>,
    /// Content of `workspaces.toml` in the flow folder, if any.
    pub workspaces_toml: Option<String>,
    /// Extra arguments after `serve`.
    pub extra_args: Vec<String>,
    /// ARI_KAPSO_BASE_URL and ARI_KAPSO_API_KEY (a mock Kapso API); `None` → dry run.
    pub kapso: Option<(String, String)>,
    /// ARI_DEBOUNCE_MS; `None` → 200 ms (tests need not wait the 1.5 s default).
    pub debounce_ms: Option<u64>,
    /// Reuse this directory (database and flow folder) instead of a new one: restart tests.
    pub dir: Option<std::sync::Arc<tempfile::TempDir>>,
    /// Extra environment variables (e.g. ARI_CONVEX_URL and ARI_CONVEX_DEPLOY_KEY).
    pub env: Vec<(String, String)>,
    /// Content of `llm.toml` in the flow folder (LLM arms), if any.
    pub llm_toml: Option<String>,
}

impl Service {
    pub fn spawn() -> Service {
        Self::spawn_with(Options::default())
    }

    pub fn spawn_with(opts: Options) -> Service {
        let dir = match &opts.dir {
            Some(d) => Arc::clone(d),
            None => Arc::new(tempfile::tempdir().expect("tempdir")),
        };
        let db_path = dir.path().join("ari.db");
        let flow_dir = dir.path().join("state-machines");
        std::fs::create_dir_all(&flow_dir).expect("flow dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml");
        if !flow_dir.join("ari.toml").exists() {
            std::fs::copy(&shipped, flow_dir.join("ari.toml")).expect("copy ari.toml");
        }
        // The shipped knowledge base (answers to the leads' questions).
        let knowledge = flow_dir.join("knowledge");
        if !knowledge.exists() {
            copy_dir(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/knowledge"),
                &knowledge,
            );
        }
        if let Some(llm) = &opts.llm_toml {
            std::fs::write(flow_dir.join("llm.toml"), llm).expect("llm.toml");
        }
        if let Some(ws) = &opts.workspaces_toml {
            std::fs::write(flow_dir.join("workspaces.toml"), ws).expect("workspaces.toml");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ari"));
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
            .arg("--database")
            .arg(&db_path)
            .arg("--flow-dir")
            .arg(&flow_dir)
            .args(&opts.extra_args)
            .env_remove("ARI_KAPSO_API_KEY")
            .env_remove("ARI_KAPSO_BASE_URL")
            .env_remove("ARI_INSECURE_NO_SIGNATURE")
            .env_remove("ARI_CONVEX_URL")
            .env_remove("ARI_CONVEX_DEPLOY_KEY")
            .env(
                "ARI_DEBOUNCE_MS",
                opts.debounce_ms.unwrap_or(200).to_string(),
            )
            .env(
                "ARI_WEBHOOK_SECRET",
                opts.secret.as_deref().unwrap_or(SECRET),
            )
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some((url, key)) = &opts.kapso {
            cmd.env("ARI_KAPSO_BASE_URL", url)
                .env("ARI_KAPSO_API_KEY", key);
        }
        let mut child = cmd.spawn().expect("spawning ari serve");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "listening"
                    && let (Some(tx), Some(addr)) = (tx.take(), v["addr"].as_str())
                {
                    let _ = tx.send(addr.to_string());
                }
                sink.lock().expect("logs lock").push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "ari serve did not log 'listening' in 30 s; logs:\n{}",
                    logs.lock().expect("logs").join("\n")
                );
            }
        };
        Service {
            child,
            base_url: format!("http://{addr}"),
            db_path,
            flow_dir,
            logs,
            dir,
        }
    }

    /// The service's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// POSTs a body signed with [`SECRET`] as Kapso does.
    pub async fn post_signed(
        &self,
        client: &reqwest::Client,
        body: &[u8],
        event: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut req = client
            .post(self.url("/webhooks/kapso"))
            .header("content-type", "application/json")
            .header("x-webhook-signature", sign(SECRET.as_bytes(), body));
        if let Some(e) = event {
            req = req.header("x-webhook-event", e);
        }
        if let Some(k) = idempotency_key {
            req = req.header("x-idempotency-key", k);
        }
        req.body(body.to_vec()).send().await.expect("POST webhook")
    }

    /// Like [`Service::post_signed`], but a connection error (service down) is returned.
    pub async fn post_signed_result(
        &self,
        client: &reqwest::Client,
        body: &[u8],
        event: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<reqwest::StatusCode, reqwest::Error> {
        let mut req = client
            .post(self.url("/webhooks/kapso"))
            .header("content-type", "application/json")
            .header("x-webhook-signature", sign(SECRET.as_bytes(), body));
        if let Some(e) = event {
            req = req.header("x-webhook-event", e);
        }
        if let Some(k) = idempotency_key {
            req = req.header("x-idempotency-key", k);
        }
        req.body(body.to_vec()).send().await.map(|r| r.status())
    }

    /// Posts a signed text message from `phone` (E.164) as Kapso's v2 webhook delivers it and
    /// checks that it was accepted (200).
    pub async fn say(&self, client: &reqwest::Client, phone: &str, wamid: &str, text: &str) {
        let body = text_payload(phone, wamid, text);
        let r = self
            .post_signed(client, &body, Some("whatsapp.message.received"), None)
            .await;
        assert_eq!(r.status(), reqwest::StatusCode::OK, "posting {wamid}");
    }

    /// Reads the inbox through the store contract (a second connection to the same file).
    pub async fn inbox(&self) -> Vec<InboxRow> {
        let store = SqliteStore::open(&self.db_path).await.expect("open store");
        let rows = store.list_inbox(0, 10_000).await.expect("list inbox");
        store.close().await.expect("close");
        rows
    }

    /// Waits (up to 60 s) until no inbox row is pending any more, then returns the rows.
    pub async fn wait_processed(&self) -> Vec<InboxRow> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self.inbox().await;
            if rows
                .iter()
                .all(|r| r.state != ari::inbox::InboxState::Pending)
            {
                return rows;
            }
            assert!(Instant::now() < deadline, "inbox still pending after 60 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A conversation's outbox rows, read through the store contract.
    pub async fn outbox(&self, contact_phone: &str) -> Vec<ari::store::OutboxRow> {
        let store = SqliteStore::open(&self.db_path).await.expect("open store");
        let key = ari::store::ConversationKey {
            workspace_id: "default".into(),
            contact_phone: contact_phone.into(),
        };
        let rows = store.conversation_outbox(&key).await.expect("outbox");
        store.close().await.expect("close");
        rows
    }

    /// A conversation's outbox rows once none is pending any more (up to 60 s).
    pub async fn outbox_settled(&self, contact_phone: &str) -> Vec<ari::store::OutboxRow> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self.outbox(contact_phone).await;
            if rows
                .iter()
                .all(|r| r.state != ari::store::OutboxState::Pending)
            {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "outbox still pending after 60 s: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends SIGKILL (no cleanup at all) and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ari serve ignored SIGTERM for 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs_text(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }

    /// Waits (up to 10 s) until a logged line contains `needle`: the log reader runs on its own
    /// thread, so a line may arrive just after the response that caused it.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.logs_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
                         "phone_number_id": "106540352242922", "kapso": {"contact_name": "Lead"}},
        "is_new_conversation": false,
        "phone_number_id": "106540352242922"
    }))
    .expect("json")
}

/// A Meta-format (`whatsapp_business_account`) delivery of one voice note from +62 812-3456-7890
/// to business number 106540352242922: no transcript, no media URL, media id
/// [`VOICE_MEDIA_ID`] (what a Meta-kind webhook delivers).
pub fn meta_voice_note(wamid: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988",
                         "phone_number_id": "106540352242922"},
            "contacts": [{"wa_id": "6281234567890", "profile": {"name": "Budi Santoso"}}],
            "messages": [{"from": "6281234567890", "id": wamid,
                          "timestamp": "1763605022", "type": "audio",
                          "audio": {"id": VOICE_MEDIA_ID,
                                    "mime_type": "audio/ogg; codecs=opus", "voice": true}}]
        }}]}]
    }))
    .expect("json")
}

/// The media id of [`meta_voice_note`]'s audio.
pub const VOICE_MEDIA_ID: &str = "2249017763541230";

/// A contact's replies reached Kapso in the order their turns committed them, each once, and
/// every row is recorded as sent.
pub fn assert_in_commit_order_once(mock: &kapso_mock::MockKapso, outbox: &[ari::store::OutboxRow]) {
    let accepted: Vec<_> = mock
        .accepted()
        .into_iter()
        .filter(|a| {
            outbox
                .iter()
                .any(|o| o.idempotency_key == a.idempotency_key)
        })
        .map(|a| a.idempotency_key)
        .collect();
    let committed: Vec<_> = outbox.iter().map(|o| o.idempotency_key.clone()).collect();
    assert_eq!(
        accepted, committed,
        "replies out of commit order or missing"
    );
    let unique: std::collections::HashSet<_> = accepted.iter().collect();
    assert_eq!(unique.len(), accepted.len(), "a reply was delivered twice");
    assert!(
        outbox
            .iter()
            .all(|o| o.state == ari::store::OutboxState::Sent),
        "{outbox:#?}"
    );
}
