//! `ari simulate`: a lead's dialogue through the real pipeline, in one process.
//!
//! Each line the lead types becomes a signed Kapso `whatsapp.message.received` delivery posted
//! to the real router (signature check, parsing, inbox), then the real turn runs (store claim,
//! flow core, one commit) with the script's clock, and the replies are read back from the
//! outbox, which a dry-run sender delivers (nothing leaves the machine). The store is SQLite in
//! a temporary directory.
//!
//! Script format: `tests/fixtures/dialogues/README.md`. Exit codes: 0 when `expect` holds, 1
//! when it does not, 2 for a script that cannot be read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::config::flow::FlowConfigHandle;
use crate::config::settings::SignaturePolicy;
use crate::config::workspaces::{DEFAULT_WORKSPACE, Workspaces};
use crate::ingress::IngressState;
use crate::ingress::signature::{WebhookSecrets, sign};
use crate::kapso::Sender;
use crate::kapso::outbox::OutboxSender;
use crate::knowledge::Library;
use crate::server::{AppState, TURN_LEASE_MS, router};
use crate::store::sqlite::SqliteStore;
use crate::store::{ConversationKey, ConversationSummary, Store};
use crate::worker::{TurnDeps, TurnRun, take_turn};

/// A scripted dialogue (`tests/fixtures/dialogues/*.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub name: String,
    /// The clock at the first turn; it moves 1 minute per turn.
    pub now: DateTime<FixedOffset>,
    pub contact: ScriptContact,
    pub turns: Vec<String>,
    pub expect: Expect,
}

/// The lead of a script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptContact {
    /// E.164.
    pub phone: String,
    /// The WhatsApp profile name.
    #[serde(default)]
    pub name: Option<String>,
    /// Lead-form answers that arrived before the chat.
    #[serde(default)]
    pub form_answers: BTreeMap<String, serde_json::Value>,
}

/// What the dialogue must end with.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub final_state: String,
    #[serde(default)]
    pub lead_temperature: Option<String>,
    #[serde(default)]
    pub min_lead_score: Option<i64>,
    #[serde(default)]
    pub max_lead_score: Option<i64>,
    #[serde(default)]
    pub handoff_reason: Option<String>,
    #[serde(default)]
    pub appointments: Option<u32>,
}

/// One turn of the transcript.
#[derive(Debug, Clone, Serialize)]
pub struct TurnRecord {
    pub at: DateTime<FixedOffset>,
    pub lead: String,
    pub replies: Vec<String>,
    /// Consultants (E.164) notified in this turn (a handoff).
    pub consultants_notified: Vec<String>,
    pub state: Option<String>,
    pub lead_score: Option<i64>,
    pub lead_temperature: Option<String>,
    /// The store's round trips of this turn's pipeline: the webhook, the turn, and recording
    /// its sends (the simulator's own read of the replies is not counted).
    pub store_round_trips: u64,
}

/// Where the dialogue ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub final_state: Option<String>,
    pub lead_temperature: Option<String>,
    pub lead_score: Option<i64>,
    pub handoff_reason: Option<String>,
    /// Booked consultations of the lead (read from the store).
    pub appointments: u32,
    /// Their details.
    pub booked: Vec<BookedSlot>,
    /// The lead's CRM status (`hot_lead`, `prospect`, `cold_lead`, `booked`) and tags.
    pub lead_status: Option<String>,
    pub tags: Vec<String>,
}

/// A booked consultation as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BookedSlot {
    pub slot_id: String,
    /// The stored instant, UTC.
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: u32,
    pub consultant: String,
}

/// The whole run, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub turns: Vec<TurnRecord>,
    pub outcome: Outcome,
    pub expect: Expect,
    /// Empty when `expect` holds.
    pub failures: Vec<String>,
    /// The sum of the turns' `store_round_trips`.
    pub store_round_trips: u64,
}

/// A script that cannot be used (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("{path}: not a dialogue script: {cause}")]
    Parse {
        path: String,
        cause: serde_json::Error,
    },
    #[error("{path}: contact.phone {phone:?} is not an E.164 number")]
    Phone { path: String, phone: String },
}

impl Script {
    /// Reads and checks a script file.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| ScriptError::Read {
            path: shown.clone(),
            cause,
        })?;
        let script: Script = serde_json::from_str(&text).map_err(|cause| ScriptError::Parse {
            path: shown.clone(),
            cause,
        })?;
        if crate::ingress::events::normalize_e164(&script.contact.phone).is_none() {
            return Err(ScriptError::Phone {
                path: shown,
                phone: script.contact.phone,
            });
        }
        Ok(script)
    }
}

/// Checks an outcome against an expectation; each failure is one readable line.
pub fn check(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let mut failures = Vec::new();
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    if outcome.final_state.as_deref() != Some(expect.final_state.as_str()) {
        failures.push(format!(
            "final_state: expected {}, got {}",
            expect.final_state,
            shown(&outcome.final_state)
        ));
    }
    if let Some(t) = &expect.lead_temperature
        && outcome.lead_temperature.as_ref() != Some(t)
    {
        failures.push(format!(
            "lead_temperature: expected {t}, got {}",
            shown(&outcome.lead_temperature)
        ));
    }
    let score = outcome.lead_score.unwrap_or(0);
    if let Some(min) = expect.min_lead_score
        && score < min
    {
        failures.push(format!("lead_score: expected at least {min}, got {score}"));
    }
    if let Some(max) = expect.max_lead_score
        && score > max
    {
        failures.push(format!("lead_score: expected at most {max}, got {score}"));
    }
    if let Some(r) = &expect.handoff_reason
        && outcome.handoff_reason.as_ref() != Some(r)
    {
        failures.push(format!(
            "handoff_reason: expected {r}, got {}",
            shown(&outcome.handoff_reason)
        ));
    }
    if let Some(n) = expect.appointments
        && outcome.appointments != n
    {
        failures.push(format!(
            "appointments: expected {n}, got {}",
            outcome.appointments
        ));
    }
    failures
}

/// The pipeline of one simulated lead.
pub struct Simulator {
    router: Router,
    deps: TurnDeps,
    store: Arc<dyn Store>,
    key: ConversationKey,
    name: Option<String>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    secret: &'static str,
    sequence: u32,
    replies_seen: usize,
    last: ConversationSummary,
    _dir: Option<tempfile::TempDir>,
}

const SIM_SECRET: &str = "ari-simulate";
const SIM_PHONE_NUMBER_ID: &str = "100000000000001";

impl Simulator {
    /// A fresh pipeline (its own temporary SQLite file) for one lead.
    pub async fn new(
        flow_dir: &Path,
        phone: &str,
        name: Option<String>,
        form_answers: BTreeMap<String, String>,
        start: DateTime<Utc>,
    ) -> anyhow::Result<Simulator> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("simulate.db"))
                .await
                .context("opening the temporary store")?,
        );
        let mut sim = Self::with_store(store, flow_dir, phone, name, form_answers, start).await?;
        sim._dir = Some(dir);
        Ok(sim)
    }

    /// A pipeline for one lead over a given store (several simulated leads may share one, e.g.
    /// to race for the same slot).
    pub async fn with_store(
        store: Arc<dyn Store>,
        flow_dir: &Path,
        phone: &str,
        name: Option<String>,
        form_answers: BTreeMap<String, String>,
        start: DateTime<Utc>,
    ) -> anyhow::Result<Simulator> {
        let flow = FlowConfigHandle::load(flow_dir).map_err(|d| {
            anyhow::anyhow!("the flow config in {} is invalid:\n{d}", flow_dir.display())
        })?;
        let knowledge =
            Library::open(flow_dir.join("knowledge")).context("loading the knowledge base")?;
        let llm_path = flow_dir.join(crate::llm::CONFIG_FILE);
        let llm = crate::llm::Llm::load(&llm_path)
            .with_context(|| format!("loading the LLM config {}", llm_path.display()))?;
        let clock = Arc::new(Mutex::new(start));
        let read_clock = Arc::clone(&clock);
        let contact = crate::ingress::events::normalize_e164(phone)
            .with_context(|| format!("{phone:?} is not an E.164 number"))?;
        let deps = TurnDeps {
            store: Arc::clone(&store),
            flow: Arc::new(flow),
            outbox: OutboxSender::new(Arc::clone(&store), Sender::DryRun),
            clock: Arc::new(move || read_clock.lock().map(|t| *t).unwrap_or_else(|_| Utc::now())),
            lease_ms: TURN_LEASE_MS,
            mark_read: false,
            form_answers: Arc::new(move |_| form_answers.clone()),
            knowledge: Arc::new(knowledge),
            llm: llm.map(Arc::new),
            crm_webhook_url: None,
        };
        let router = router(AppState {
            ingress: IngressState {
                store: Arc::clone(&store),
                signature: SignaturePolicy::Verify(WebhookSecrets::parse(SIM_SECRET)?),
                workspaces: Arc::new(Workspaces::default()),
                arrivals: None,
            },
            metrics: crate::telemetry::metrics_handle(),
            admin_token: None,
            knowledge: None,
        });
        Ok(Simulator {
            router,
            deps,
            store,
            key: ConversationKey {
                workspace_id: DEFAULT_WORKSPACE.to_string(),
                contact_phone: contact,
            },
            name,
            clock,
            secret: SIM_SECRET,
            sequence: 0,
            replies_seen: 0,
            last: ConversationSummary::default(),
            _dir: None,
        })
    }

    /// The lead sends `text` at `at`: deliver it, run the turn, return the replies.
    pub async fn say(&mut self, text: &str, at: DateTime<Utc>) -> anyhow::Result<TurnRecord> {
        if let Ok(mut clock) = self.clock.lock() {
            *clock = at;
        }
        self.sequence += 1;
        let trips_before = self.store.round_trips();
        let payload = serde_json::to_vec(&serde_json::json!({
            "message": {
                "id": format!("wamid.SIM{}.{}", self.key.contact_phone.trim_start_matches('+'), self.sequence),
                "timestamp": at.timestamp().to_string(),
                "type": "text", "text": {"body": text},
                "kapso": {"direction": "inbound", "status": "received", "origin": "cloud_api",
                          "has_media": false, "content": text}
            },
            "conversation": {"id": "conv_simulate", "phone_number": self.key.contact_phone,
                             "status": "active", "phone_number_id": SIM_PHONE_NUMBER_ID,
                             "kapso": {"contact_name": self.name}},
            "is_new_conversation": self.sequence == 1,
            "phone_number_id": SIM_PHONE_NUMBER_ID
        }))?;
        let request = Request::post("/webhooks/kapso")
            .header("content-type", "application/json")
            .header("x-webhook-event", "whatsapp.message.received")
            .header(
                "x-idempotency-key",
                format!("simulate-{}-{}", self.key.contact_phone, self.sequence),
            )
            .header(
                "x-webhook-signature",
                sign(self.secret.as_bytes(), &payload),
            )
            .body(Body::from(payload))?;
        let response = self.router.clone().oneshot(request).await?;
        anyhow::ensure!(
            response.status().is_success(),
            "the webhook answered {}",
            response.status()
        );
        for _ in 0..3 {
            match take_turn(&self.deps, &self.key, None).await? {
                TurnRun::Committed { summary, .. } => {
                    self.last = summary;
                    break;
                }
                TurnRun::Stale | TurnRun::Superseded => continue,
                TurnRun::Idle | TurnRun::Busy => break,
            }
        }
        // The replies are recorded by the sender's tasks: wait for them (bounded) so they count
        // in this turn.
        for _ in 0..500 {
            if self.deps.outbox.is_idle() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let store_round_trips = self.store.round_trips().saturating_sub(trips_before);
        let outbox = self.store.conversation_outbox(&self.key).await?;
        let new_rows = outbox.iter().skip(self.replies_seen);
        // Rows to other numbers are consultant notifications, not replies to the lead.
        let (replies, notices): (Vec<_>, Vec<_>) =
            new_rows.partition(|o| o.to == self.key.contact_phone);
        let replies: Vec<String> = replies.into_iter().map(|o| o.body.clone()).collect();
        let notified: Vec<String> = notices.into_iter().map(|o| o.to.clone()).collect();
        self.replies_seen = outbox.len();
        Ok(TurnRecord {
            at: at.with_timezone(&chrono_tz::Asia::Jakarta).fixed_offset(),
            lead: text.to_string(),
            replies,
            consultants_notified: notified,
            state: self.last.flow_state.clone(),
            lead_score: self.last.lead_score,
            lead_temperature: self.last.lead_temperature.clone(),
            store_round_trips,
        })
    }

    /// Runs the reminder pass as the service does every minute, at `at`; returns how many
    /// reminders were queued (for tests of reminder timing with the script's clock).
    pub async fn remind(&self, at: DateTime<Utc>) -> anyhow::Result<usize> {
        Ok(crate::worker::reminders::run_once(&self.deps, at).await?)
    }

    /// Where the conversation stands now.
    pub async fn outcome(&self) -> anyhow::Result<Outcome> {
        let booked: Vec<BookedSlot> = self
            .store
            .conversation_appointments(&self.key)
            .await?
            .into_iter()
            .filter(|a| a.status == "booked")
            .map(|a| BookedSlot {
                slot_id: a.slot_id,
                starts_at: DateTime::from_timestamp_millis(a.starts_at_ms).unwrap_or_default(),
                duration_minutes: a.duration_minutes,
                consultant: a.consultant_name,
            })
            .collect();
        let appointments = booked.len();
        let record = self.store.conversation_record(&self.key).await?;
        let (lead_status, tags) = record.map(|r| (r.lead_status, r.tags)).unwrap_or_default();
        Ok(Outcome {
            final_state: self.last.flow_state.clone(),
            lead_temperature: self.last.lead_temperature.clone(),
            lead_score: self.last.lead_score,
            handoff_reason: self.last.handoff_reason.clone(),
            appointments: u32::try_from(appointments).unwrap_or(u32::MAX),
            booked,
            lead_status,
            tags,
        })
    }
}

/// Runs a script; returns the report.
pub async fn run_script(script: &Script, flow_dir: &Path) -> anyhow::Result<Report> {
    let form: BTreeMap<String, String> = script
        .contact
        .form_answers
        .iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    let start = script.now.with_timezone(&Utc);
    let mut sim = Simulator::new(
        flow_dir,
        &script.contact.phone,
        script.contact.name.clone(),
        form,
        start,
    )
    .await?;
    let mut turns = Vec::new();
    for (i, text) in script.turns.iter().enumerate() {
        let at = start + Duration::minutes(i as i64);
        turns.push(sim.say(text, at).await?);
    }
    let outcome = sim.outcome().await?;
    let failures = check(&script.expect, &outcome);
    let store_round_trips = turns.iter().map(|t| t.store_round_trips).sum();
    Ok(Report {
        name: script.name.clone(),
        turns,
        outcome,
        expect: script.expect.clone(),
        failures,
        store_round_trips,
    })
}

/// Prints a transcript for people.
pub fn print_transcript(report: &Report) {
    println!("== {}", report.name);
    for (i, t) in report.turns.iter().enumerate() {
        println!(
            "[{:>2}] {}  lead: {}",
            i + 1,
            t.at.format("%a %d %b %H:%M WIB"),
            t.lead
        );
        for reply in &t.replies {
            let mut lines = reply.lines();
            if let Some(first) = lines.next() {
                println!("      ari: {first}");
            }
            for line in lines {
                println!("           {line}");
            }
        }
        for to in &t.consultants_notified {
            println!("      (consultant {to} notified)");
        }
        println!(
            "      -> state {}, score {}{}",
            t.state.as_deref().unwrap_or("-"),
            t.lead_score.map(|s| s.to_string()).unwrap_or("-".into()),
            t.lead_temperature
                .as_ref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
        );
    }
    let o = &report.outcome;
    println!(
        "outcome: state {}, temperature {}, score {}, handoff {}, appointments {}",
        o.final_state.as_deref().unwrap_or("-"),
        o.lead_temperature.as_deref().unwrap_or("-"),
        o.lead_score.map(|s| s.to_string()).unwrap_or("-".into()),
        o.handoff_reason.as_deref().unwrap_or("-"),
        o.appointments
    );
    if report.failures.is_empty() {
        println!("expect: met");
    } else {
        println!("expect: NOT met");
        for f in &report.failures {
            println!("  - {f}");
        }
    }
}

/// An interactive chat: each line typed is the lead's message (real clock), replies printed.
pub async fn interactive(flow_dir: &Path, phone: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut sim = Simulator::new(
        flow_dir,
        phone,
        Some("Lead".into()),
        BTreeMap::new(),
        Utc::now(),
    )
    .await?;
    println!("Chat with ARI as the lead {phone}. Type a message and press Enter; Ctrl-D to quit.");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let turn = sim.say(line, Utc::now()).await?;
        for reply in &turn.replies {
            println!("ari> {}", reply.replace('\n', "\n     "));
        }
        println!(
            "     [state {}, score {}]",
            turn.state.as_deref().unwrap_or("-"),
            turn.lead_score.map(|s| s.to_string()).unwrap_or("-".into())
        );
    }
    Ok(())
}

/// Where `ari simulate` looks for the flow by default.
pub fn default_flow_dir() -> PathBuf {
    PathBuf::from("state-machines")
}
