//! `ari simulate` and `ari test`: a lead's dialogue through the real pipeline, in one process.
//!
//! Each thing the lead does becomes a signed Kapso webhook posted to the real router (signature
//! check, parsing, inbox), then the real turn runs (store claim, flow core, one commit) with the
//! script's clock, and the replies are read back from the conversation's messages and outbox,
//! which a dry-run sender delivers (nothing leaves the machine). The store is SQLite in a
//! temporary directory.
//!
//! - [`script`]: the script format (`tests/fixtures/dialogues/README.md`);
//! - [`payload`]: the webhook bodies a lead, a person or a workflow produce;
//! - [`check`]: the expectations, per turn, at the end, and over the whole conversation;
//! - [`suite`]: `ari test`, many dialogues at once, with JSON and JUnit output;
//! - [`coverage`]: the flow edges, text keys and extraction rules a suite exercised.
//!
//! Exit codes of `ari simulate --script`: 0 when `expect` holds, 1 when it does not, 2 for a
//! script that cannot be read.

pub mod check;
pub mod coverage;
pub mod payload;
pub mod script;
pub mod suite;
mod transcript;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::Serialize;
use tower::ServiceExt;

use crate::config::flow::FlowConfigHandle;
use crate::config::settings::SignaturePolicy;
use crate::config::workspaces::{DEFAULT_WORKSPACE, Workspaces};
use crate::flow::Snapshot;
use crate::ingress::IngressState;
use crate::ingress::signature::{WebhookSecrets, sign};
use crate::kapso::Sender;
use crate::kapso::outbox::OutboxSender;
use crate::knowledge::Library;
use crate::server::{AppState, TURN_LEASE_MS, router};
use crate::store::sqlite::SqliteStore;
use crate::store::{ConversationKey, ConversationSummary, Direction, NewAppointment, Store};
use crate::worker::{TurnDeps, TurnRun, take_turn};

pub use check::check;
pub use payload::{LeadMessage, PHONE_NUMBER_ID};
pub use script::{Action, Expect, Script, ScriptError};
pub use transcript::print_transcript;

/// One turn of the transcript.
#[derive(Debug, Clone, Serialize)]
pub struct TurnRecord {
    pub at: DateTime<FixedOffset>,
    /// What happened: the lead's text, or a bracketed description of media, a tap, the clock
    /// moving, a person or a workflow.
    pub lead: String,
    /// Whether the lead sent something (text, media, tap) that needs an answer.
    pub lead_message: bool,
    /// The texts sent to the lead in this turn (replies, reminders).
    pub replies: Vec<String>,
    /// The meta of each of those messages, in order (`template`, `pending`, `language`...).
    pub reply_meta: Vec<serde_json::Value>,
    /// Consultants (E.164) sent a message in this turn (a handoff notice, a relay...).
    pub consultants_notified: Vec<String>,
    /// The texts of those messages, in the same order.
    pub notices: Vec<String>,
    /// The meta of the lead's inbound messages of this turn (`type`, the core's `trace`...).
    pub inbound_meta: Vec<serde_json::Value>,
    /// What the core did (edges, extraction rules, detected language).
    pub trace: crate::flow::TurnTrace,
    /// The flow state before the turn.
    pub state_before: Option<String>,
    pub state: Option<String>,
    pub lead_score: Option<i64>,
    pub lead_temperature: Option<String>,
    pub handoff_reason: Option<String>,
    /// The store's round trips of this turn's pipeline: the webhook, the turn, and recording
    /// its sends (the simulator's own reads are not counted).
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
    /// Lead fields from the stored snapshot: the value, or `?` when recorded as not given.
    pub fields: BTreeMap<String, String>,
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
    /// Empty when every expectation holds; each is one line, a turn's naming its number.
    pub failures: Vec<String>,
    /// The sum of the turns' `store_round_trips`.
    pub store_round_trips: u64,
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
    messages_seen: usize,
    last: ConversationSummary,
    /// The core's trace of the turns run for the current action.
    trace: crate::flow::TurnTrace,
    /// What the bot sent back to a consultant who wrote in the current action.
    side_replies: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    _flow_dir: Option<tempfile::TempDir>,
}

const SIM_SECRET: &str = "ari-simulate";
/// The admin token of the simulated service (admin turns use it).
const SIM_ADMIN_TOKEN: &str = "ari-simulate-admin";

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
                max_batch_items: crate::ingress::DEFAULT_MAX_BATCH_ITEMS,
            },
            metrics: crate::telemetry::metrics_handle(),
            admin_token: Some(crate::config::settings::AdminToken::new(SIM_ADMIN_TOKEN)),
            knowledge: None,
            llm: None,
            probes: crate::server::Probes::default(),
            outbox_wake: None,
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
            messages_seen: 0,
            last: ConversationSummary::default(),
            trace: crate::flow::TurnTrace::default(),
            side_replies: Vec::new(),
            _dir: None,
            _flow_dir: None,
        })
    }

    /// The lead sends `text` at `at`: deliver it, run the turn, return the replies.
    pub async fn say(&mut self, text: &str, at: DateTime<Utc>) -> anyhow::Result<TurnRecord> {
        self.act(&Action::Text(text.to_string()), None, at).await
    }

    /// Carries out one script action at `at` (for a lead's message, `reply_to` counts back from
    /// the last bot message) and returns what it produced.
    pub async fn act(
        &mut self,
        action: &Action,
        reply_to: Option<i32>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<TurnRecord> {
        let state_before = self.last.flow_state.clone();
        let trips_before = self.store.round_trips();
        match action {
            Action::After(_) | Action::At(_) => self.advance(at).await?,
            Action::Person(text) => {
                self.set_clock(at);
                let env = self.envelope(at, None);
                let body = payload::business_app_sent(&env, text);
                self.post("whatsapp.message.sent", body).await?;
                self.run_turn().await?;
            }
            Action::WorkflowHandoff => {
                self.set_clock(at);
                self.sequence += 1;
                let body = payload::workflow_handoff(at, &format!("exec-{}", self.sequence));
                self.post("workflow.execution.handoff", body).await?;
                // The event names only the Kapso conversation: the worker's recovery poll
                // attaches it to the lead's conversation, as in the service.
                self.store
                    .pending_conversations(100, at.timestamp_millis(), crate::worker::ORPHAN_TTL_MS)
                    .await?;
                self.run_turn().await?;
            }
            Action::AdminClose | Action::AdminResume => {
                self.set_clock(at);
                let command = if *action == Action::AdminClose {
                    "close"
                } else {
                    "resume"
                };
                self.admin(command).await?;
                self.run_turn().await?;
            }
            Action::Ended { by_agent } => {
                self.set_clock(at);
                let env = self.envelope(at, None);
                let body = payload::conversation_ended(&env, *by_agent);
                self.post("whatsapp.conversation.ended", body).await?;
                self.run_turn().await?;
            }
            Action::Consultant { from, text } => {
                self.set_clock(at);
                self.side_replies = self.consultant_writes(from, text, at).await?;
            }
            lead => {
                self.set_clock(at);
                let context = self.quoted(reply_to).await?;
                let message = self.lead_message(lead).await?;
                let env = self.envelope(at, context);
                let body = payload::received(&env, &message.as_message());
                self.post("whatsapp.message.received", body).await?;
                self.run_turn().await?;
            }
        }
        self.wait_for_sender().await;
        let store_round_trips = self.store.round_trips().saturating_sub(trips_before);
        self.record(action, at, state_before, store_round_trips)
            .await
    }

    fn set_clock(&self, at: DateTime<Utc>) {
        if let Ok(mut clock) = self.clock.lock() {
            *clock = at;
        }
    }

    fn envelope(&mut self, at: DateTime<Utc>, context_id: Option<String>) -> payload::Envelope<'_> {
        self.sequence += 1;
        payload::Envelope {
            phone: &self.key.contact_phone,
            name: self.name.as_deref(),
            wamid: format!(
                "wamid.SIM{}.{}",
                self.key.contact_phone.trim_start_matches('+'),
                self.sequence
            ),
            at,
            first: self.sequence == 1,
            context_id,
        }
    }

    /// The wamid (or, unsent in a dry run, the message id) of the Nth-last bot message.
    async fn quoted(&self, reply_to: Option<i32>) -> anyhow::Result<Option<String>> {
        let Some(back) = reply_to else {
            return Ok(None);
        };
        let messages = self.store.conversation_messages(&self.key).await?;
        let bot: Vec<_> = messages
            .iter()
            .filter(|m| m.direction == Direction::Outbound && check::is_lead_facing(&m.meta))
            .collect();
        let index = bot.len() as i64 + i64::from(back);
        let m = usize::try_from(index)
            .ok()
            .and_then(|i| bot.get(i))
            .with_context(|| {
                format!(
                    "reply_to {back}: the bot has sent only {} messages",
                    bot.len()
                )
            })?;
        Ok(Some(
            m.wamid
                .clone()
                .unwrap_or_else(|| format!("wamid.ARI{}", m.id)),
        ))
    }

    /// What a lead action sends; a tap is resolved against the last interactive message.
    async fn lead_message(&self, action: &Action) -> anyhow::Result<OwnedMessage> {
        Ok(match action {
            Action::Text(t) => OwnedMessage::Text(t.clone()),
            Action::Media {
                kind,
                filename,
                caption,
                transcript,
            } => OwnedMessage::Media {
                kind: kind.clone(),
                filename: filename.clone(),
                caption: caption.clone(),
                transcript: transcript.clone(),
            },
            Action::Tap { button, row } => self.resolve_tap(button.as_deref(), *row).await?,
            other => anyhow::bail!("{} is not a lead message", other.label()),
        })
    }

    /// A tap on the newest message to the lead that went as buttons or a list (its outbox
    /// row's interactive message, Meta's object: replies, reminders alike).
    async fn resolve_tap(
        &self,
        button: Option<&str>,
        row: Option<usize>,
    ) -> anyhow::Result<OwnedMessage> {
        let outbox = self.store.conversation_outbox(&self.key).await?;
        let interactive: serde_json::Value = outbox
            .iter()
            .rev()
            .filter(|o| o.to == self.key.contact_phone)
            .find_map(|o| serde_json::from_str(o.interactive.as_deref()?).ok())
            .context("tap: the bot has sent no interactive message (buttons or a list) to tap")?;
        let choices = |key: &str| -> Vec<(String, String)> {
            let pick = |c: &serde_json::Value| {
                Some((
                    c.get("id")?.as_str()?.to_string(),
                    c.get("title")?.as_str()?.to_string(),
                ))
            };
            let action = &interactive["action"];
            match key {
                "buttons" => action["buttons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| pick(&b["reply"]))
                    .collect(),
                _ => action["sections"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                    .filter_map(|r| pick(&r))
                    .collect(),
            }
        };
        let (id, title, list) = match (button, row) {
            (Some(b), _) => {
                let found = choices("buttons")
                    .into_iter()
                    .find(|(id, title)| id == b || title.eq_ignore_ascii_case(b))
                    .with_context(|| {
                        format!("tap: no button {b:?} on the last interactive message")
                    })?;
                (found.0, found.1, false)
            }
            (None, Some(n)) => {
                let rows = choices("rows");
                let found = n
                    .checked_sub(1)
                    .and_then(|i| rows.get(i).cloned())
                    .with_context(|| format!("tap: row {n} of {} rows", rows.len()))?;
                (found.0, found.1, true)
            }
            (None, None) => anyhow::bail!("tap needs a button or a row"),
        };
        Ok(OwnedMessage::Interactive { id, title, list })
    }

    /// `POST /admin/conversations/{id}/<command>` for the lead's conversation, with the admin
    /// token, through the router.
    async fn admin(&self, command: &str) -> anyhow::Result<()> {
        let record = self
            .store
            .conversation_record(&self.key)
            .await?
            .context("admin: the lead has no conversation yet")?;
        let request = Request::post(format!(
            "/admin/conversations/{}/{command}",
            record.conversation_id
        ))
        .header("authorization", format!("Bearer {SIM_ADMIN_TOKEN}"))
        .body(Body::empty())?;
        let response = self.router.clone().oneshot(request).await?;
        anyhow::ensure!(
            response.status().is_success(),
            "the admin API answered {}",
            response.status()
        );
        Ok(())
    }

    /// A consultant writes to the business number from `from`: delivered and run like any
    /// message, in that number's own conversation. Returns what the bot sent back to `from` in
    /// that conversation (a consultant is never a lead: nothing).
    async fn consultant_writes(
        &mut self,
        from: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Vec<String>> {
        let key = ConversationKey {
            workspace_id: self.key.workspace_id.clone(),
            contact_phone: from.to_string(),
        };
        self.sequence += 1;
        let env = payload::Envelope {
            phone: from,
            name: None,
            wamid: format!(
                "wamid.SIMC{}.{}",
                from.trim_start_matches('+'),
                self.sequence
            ),
            at,
            first: false,
            context_id: None,
        };
        let body = payload::received(&env, &LeadMessage::Text(text));
        self.post("whatsapp.message.received", body).await?;
        for _ in 0..3 {
            match take_turn(&self.deps, &key, None).await? {
                TurnRun::Stale | TurnRun::Superseded => continue,
                _ => break,
            }
        }
        self.wait_for_sender().await;
        Ok(self
            .store
            .conversation_outbox(&key)
            .await?
            .into_iter()
            .filter(|o| o.to == from)
            .map(|o| o.body)
            .collect())
    }

    async fn post(&self, event: &str, body: serde_json::Value) -> anyhow::Result<()> {
        let payload = serde_json::to_vec(&body)?;
        let request = Request::post("/webhooks/kapso")
            .header("content-type", "application/json")
            .header("x-webhook-event", event)
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
        Ok(())
    }

    async fn run_turn(&mut self) -> anyhow::Result<()> {
        for _ in 0..3 {
            match take_turn(&self.deps, &self.key, None).await? {
                TurnRun::Committed { summary, trace, .. } => {
                    self.last = *summary;
                    self.trace.extend(trace);
                    break;
                }
                TurnRun::Stale | TurnRun::Superseded => continue,
                // No interrupts, so no voice-note wait: a simulated turn never waits.
                TurnRun::Idle | TurnRun::Busy | TurnRun::AwaitingTranscript { .. } => break,
            }
        }
        Ok(())
    }

    /// Moves the clock to `to` a minute at a time, running the reminder and follow-up passes at
    /// each step as the service does every minute (and once at `to`).
    async fn advance(&mut self, to: DateTime<Utc>) -> anyhow::Result<()> {
        let mut now = (self.deps.clock)();
        // The pass only matters once this conversation's follow-up is due: one read per
        // follow-up instead of a pass per minute.
        let mut followup_due = self.followup_due().await?;
        while now < to {
            now = (now + Duration::minutes(1)).min(to);
            self.set_clock(now);
            self.remind(now).await?;
            if followup_due.is_some_and(|due| due <= now.timestamp_millis()) {
                self.follow_up(now).await?;
                followup_due = self.followup_due().await?;
            }
        }
        self.set_clock(to);
        Ok(())
    }

    /// The replies are recorded by the sender's tasks: wait for them (bounded) so they count in
    /// this turn.
    async fn wait_for_sender(&self) {
        for _ in 0..500 {
            if self.deps.outbox.is_idle() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    async fn record(
        &mut self,
        action: &Action,
        at: DateTime<Utc>,
        state_before: Option<String>,
        store_round_trips: u64,
    ) -> anyhow::Result<TurnRecord> {
        let outbox = self.store.conversation_outbox(&self.key).await?;
        let new_rows = outbox.iter().skip(self.replies_seen);
        // Rows to other numbers are consultant messages, not replies to the lead.
        let (replies, notices): (Vec<_>, Vec<_>) =
            new_rows.partition(|o| o.to == self.key.contact_phone);
        // Buttons and lists read as their text with the choices' ids (issue 19).
        let mut replies: Vec<String> = replies.into_iter().map(shown_as_text).collect();
        // A consultant's turn: what went back to the consultant's number.
        replies.append(&mut self.side_replies);
        let notified: Vec<String> = notices.iter().map(|o| o.to.clone()).collect();
        let notices: Vec<String> = notices.into_iter().map(|o| o.body.clone()).collect();
        self.replies_seen = outbox.len();
        let messages = self.store.conversation_messages(&self.key).await?;
        let new_messages = messages.iter().skip(self.messages_seen);
        let mut reply_meta = Vec::new();
        let mut inbound_meta = Vec::new();
        for m in new_messages {
            match m.direction {
                Direction::Inbound => inbound_meta.push(m.meta.clone()),
                Direction::Outbound if check::is_lead_facing(&m.meta) => {
                    reply_meta.push(m.meta.clone())
                }
                Direction::Outbound => {}
            }
        }
        self.messages_seen = messages.len();
        Ok(TurnRecord {
            at: at.with_timezone(&chrono_tz::Asia::Jakarta).fixed_offset(),
            lead: action.label(),
            lead_message: action.is_lead_message(),
            replies,
            reply_meta,
            consultants_notified: notified,
            notices,
            inbound_meta,
            trace: std::mem::take(&mut self.trace),
            state_before,
            state: self.last.flow_state.clone(),
            lead_score: self.last.lead_score,
            lead_temperature: self.last.lead_temperature.clone(),
            handoff_reason: self.last.handoff_reason.clone(),
            store_round_trips,
        })
    }

    /// When this dialogue's conversation's next follow-up falls due (ms), if one is scheduled.
    async fn followup_due(&self) -> anyhow::Result<Option<i64>> {
        let record = self.store.conversation_record(&self.key).await?;
        Ok(record.and_then(|r| r.summary.followup_due_ms))
    }

    /// Runs the follow-up pass as the service does every minute, at `at`, and the turn of this
    /// dialogue's conversation when its follow-up was queued (issue 18).
    async fn follow_up(&mut self, at: DateTime<Utc>) -> anyhow::Result<()> {
        let keys = crate::worker::followups::run_once(&self.deps, at).await?;
        if keys.contains(&self.key) {
            self.run_turn().await?;
            self.wait_for_sender().await;
        }
        Ok(())
    }

    /// Runs the reminder pass as the service does every minute, at `at`; returns how many
    /// reminders were queued (for tests of reminder timing with the script's clock).
    pub async fn remind(&self, at: DateTime<Utc>) -> anyhow::Result<usize> {
        Ok(crate::worker::reminders::run_once(&self.deps, at).await?)
    }

    /// Fills each slot starting at one of `starts` to its capacity with other leads' bookings,
    /// so the dialogue meets a calendar that is already partly taken.
    pub async fn prebook(
        &mut self,
        starts: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if starts.is_empty() {
            return Ok(());
        }
        let config = self
            .deps
            .flow
            .current()
            .for_workspace(&self.key.workspace_id);
        let slots = crate::scheduling::free_slots(&config.scheduling, now, &Default::default());
        for (n, start) in starts.iter().enumerate() {
            let slot = slots
                .iter()
                .find(|s| s.start == *start)
                .with_context(|| format!("booked: no bookable slot starts at {start}"))?;
            let capacity = crate::scheduling::capacity_for(&config.scheduling, slot);
            for c in 0..capacity {
                let conversation_id = self.filler_conversation(n, c, now).await?;
                self.store
                    .book_slot(NewAppointment {
                        conversation_id,
                        workspace_id: self.key.workspace_id.clone(),
                        slot_id: slot.id.clone(),
                        starts_at_ms: slot.start.timestamp_millis(),
                        duration_minutes: slot.duration_minutes,
                        consultant_name: slot.consultant_name.clone(),
                        consultant_whatsapp: slot.consultant_whatsapp.clone(),
                        capacity,
                        notes: "booked by another lead (script)".into(),
                        now_ms: now.timestamp_millis(),
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Another lead's conversation (its first message answered, nothing more).
    async fn filler_conversation(
        &mut self,
        n: usize,
        c: u32,
        at: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        let phone = format!("+6280000{:03}{:03}", n % 1000, c % 1000);
        self.sequence += 1;
        let env = payload::Envelope {
            phone: &phone,
            name: None,
            wamid: format!("wamid.FILL{n}.{c}"),
            at,
            first: true,
            context_id: None,
        };
        let body = payload::received(&env, &LeadMessage::Text("halo"));
        self.post("whatsapp.message.received", body).await?;
        let key = ConversationKey {
            workspace_id: self.key.workspace_id.clone(),
            contact_phone: phone,
        };
        // Its first turn stores the conversation (its greeting goes to that lead, not ours),
        // with template replies: another lead's calls are no part of this dialogue's (the
        // calls and cost per dialogue, benches/llm_cost.rs).
        let deps = TurnDeps {
            llm: None,
            ..self.deps.clone()
        };
        take_turn(&deps, &key, None).await?;
        let record = self.store.conversation_record(&key).await?;
        Ok(record
            .context("the other lead's conversation was not stored")?
            .conversation_id)
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
        let fields = record
            .as_ref()
            .and_then(|r| r.snapshot.as_ref())
            .map(lead_fields)
            .unwrap_or_default();
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
            fields,
        })
    }
}

/// An outbox row as the transcript shows it: the text, or an interactive message's body with
/// its buttons or rows and their ids ([`crate::kapso::interactive::as_text`]).
fn shown_as_text(row: &crate::store::OutboxRow) -> String {
    row.interactive
        .as_deref()
        .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
        .map_or_else(
            || row.body.clone(),
            |i| crate::kapso::interactive::as_text(&i),
        )
}

/// What a lead action sends, owned (a tap is resolved first).
enum OwnedMessage {
    Text(String),
    Media {
        kind: String,
        filename: Option<String>,
        caption: Option<String>,
        transcript: Option<String>,
    },
    Interactive {
        id: String,
        title: String,
        list: bool,
    },
}

impl OwnedMessage {
    fn as_message(&self) -> LeadMessage<'_> {
        match self {
            OwnedMessage::Text(t) => LeadMessage::Text(t),
            OwnedMessage::Media {
                kind,
                filename,
                caption,
                transcript,
            } => LeadMessage::Media {
                kind,
                filename: filename.as_deref(),
                caption: caption.as_deref(),
                transcript: transcript.as_deref(),
            },
            OwnedMessage::Interactive { id, title, list } => LeadMessage::Interactive {
                id,
                title,
                list: *list,
            },
        }
    }
}

/// The lead fields of a stored snapshot: value, or `?` when recorded as not given.
fn lead_fields(snapshot: &serde_json::Value) -> BTreeMap<String, String> {
    let Ok(s) = Snapshot::from_json(&snapshot.to_string()) else {
        return BTreeMap::new();
    };
    s.lead
        .fields
        .iter()
        .map(|(k, v)| {
            let shown = match v {
                crate::flow::FieldValue::Known(v) => v.clone(),
                crate::flow::FieldValue::Unknown => "?".to_string(),
            };
            (k.clone(), shown)
        })
        .collect()
}

/// Runs a script with the flow in `flow_dir`; returns the report.
pub async fn run_script(script: &Script, flow_dir: &Path) -> anyhow::Result<Report> {
    let turns = script.checked_turns(&script.name)?;
    let overridden = match &script.flow_overrides {
        Some(o) => Some(overlay_flow_dir(flow_dir, o)?),
        None => None,
    };
    let flow_dir = overridden.as_ref().map(|d| d.path()).unwrap_or(flow_dir);
    let start = script.now.with_timezone(&Utc);
    let mut sim = Simulator::new(
        flow_dir,
        &script.contact.phone,
        script.contact.name.clone(),
        script.form_answers(),
        start,
    )
    .await?;
    sim._flow_dir = overridden;
    let booked: Vec<DateTime<Utc>> = script
        .booked
        .iter()
        .map(|b| b.with_timezone(&Utc))
        .collect();
    sim.prebook(&booked, start).await?;
    let mut records = Vec::new();
    let mut failures = Vec::new();
    let mut at = start;
    for (i, turn) in turns.iter().enumerate() {
        at = match &turn.action {
            Action::After(d) => at + *d,
            Action::At(t) => t.with_timezone(&Utc),
            _ if i == 0 => at,
            _ => at + Duration::minutes(1),
        };
        let record = sim
            .act(&turn.action, turn.reply_to, at)
            .await
            .with_context(|| format!("turn {}", i + 1))?;
        if let Some(e) = &turn.expect {
            failures.extend(check::turn(i + 1, e, &record));
        }
        records.push(record);
    }
    let outcome = sim.outcome().await?;
    let mut all = check::conversation(&script.expect, &records);
    all.extend(failures);
    // The first unmet expectation in the conversation's order comes first; end checks last.
    all.sort_by_key(|f| check::turn_number(f).unwrap_or(usize::MAX));
    all.extend(check(&script.expect, &outcome));
    let store_round_trips = records.iter().map(|t| t.store_round_trips).sum();
    Ok(Report {
        name: script.name.clone(),
        turns: records,
        outcome,
        expect: script.expect.clone(),
        failures: all,
        store_round_trips,
    })
}

/// A temporary copy of `flow_dir` whose `workspaces/default.toml` also holds `overrides`
/// (merged over the file's own keys like any workspace override).
fn overlay_flow_dir(
    flow_dir: &Path,
    overrides: &serde_json::Value,
) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir().context("creating a temporary flow directory")?;
    copy_dir(flow_dir, dir.path())
        .with_context(|| format!("copying {} for the flow overrides", flow_dir.display()))?;
    let ws = dir.path().join(crate::config::flow::load::WORKSPACES_DIR);
    std::fs::create_dir_all(&ws)?;
    let file = ws.join(format!("{DEFAULT_WORKSPACE}.toml"));
    let mut merged = match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::to_value(toml::from_str::<toml::Table>(&text)?)?,
        Err(_) => serde_json::json!({}),
    };
    merge_json(&mut merged, overrides);
    let text = toml::to_string(&merged).context("flow_overrides cannot be written as TOML")?;
    std::fs::write(&file, text)?;
    Ok(dir)
}

/// Tables merge key by key; anything else (lists too) replaces.
fn merge_json(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                merge_json(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Copies the folder tree `from` to `to` (a flow folder, for scripts with `flow_overrides` and
/// for benches that add an `llm.toml`).
///
/// # Errors
/// The first I/O error.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// An interactive chat: each line typed is the lead's message (real clock); after each turn
/// the replies, the state, score, temperature and handoff reason; at Ctrl-D the outcome and
/// the consultant notice.
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
        transcript::print_interactive_turn(&turn);
    }
    let outcome = sim.outcome().await?;
    transcript::print_outcome(&outcome);
    transcript::print_consultant_notices(&sim.store.conversation_messages(&sim.key).await?);
    Ok(())
}

/// Where `ari simulate` looks for the flow by default.
pub fn default_flow_dir() -> PathBuf {
    PathBuf::from("state-machines")
}
