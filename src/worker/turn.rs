//! One turn of one conversation: claim it, run the flow core over its pending inbox rows,
//! commit the result in one transaction, hand the replies to the outbox sender.
//!
//! Store round trips for an inbound text message: `begin_turn` (1) and `commit_turn` (1) here,
//! plus the webhook's `enqueue_inbound` (1) and the sender's `record_send` (1): 4 in all, the
//! budget DESIGN.md sets.
//!
//! The shell is an interpreter of the core's effects; `run_claimed` reads as the turn's steps:
//!
//! 1. **Plan** (`plan.rs`): the claimed inbox rows become the core's events.
//! 2. **Core**: per event, the core's input (free slots, LLM-read fields), then the pure
//!    [`flow::run_turn`].
//! 3. **Effects**: each [`flow::Effect`] is carried out through the one `match` in
//!    `effects.rs`, by a small function of the module named for it (`booking.rs`,
//!    `knowledge.rs`, `wording.rs`, `notices.rs`, `typing.rs`), into the turn's `TurnWork`; a
//!    booking's result is fed back as the next event.
//! 4. **Commit**: the snapshot, messages, notices, CRM change and webhooks in one
//!    `commit_turn`.
//! 5. **After commit**: transitions logged, replies handed to the sender, delivery failures
//!    recorded.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::effects::{self, Next};
use super::plan::{DeliveryFailure, Plan, from_consultant, lead_wrote, plan};
use super::{booking, extraction, typing, voice};
use crate::config::flow::{FlowConfig, FlowConfigHandle};
use crate::flow::{self, InputEvent, SlotOption, Snapshot, StageId, TurnInput};
use crate::kapso::outbox::{OUTBOX_LEASE_MS, OutboxSender};
use crate::knowledge::{KnowledgeAnswer, Library};
use crate::llm::{ChatMessage, Llm, TurnBudget};
use crate::store::{
    BeginTurn, Channel, CommitOutcome, ConversationKey, ConversationSummary, Direction, LeadChange,
    NewMessage, NewWebhook, OutboxRow, SendRequest, Store, StoreError, TurnClaim, TurnCommit,
};
use crate::telemetry::names;

/// The clock turns read (the flow core never reads one itself). `ari simulate` injects the
/// script's clock; the service uses the system clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(crate::clock::now)
}

/// Lead-form answers of a contact (seed §5.1: a form filled before the chat), merged into the
/// flow every turn. The service has no form source yet (empty); `ari simulate` supplies the
/// script's.
pub type FormAnswers = Arc<dyn Fn(&ConversationKey) -> BTreeMap<String, String> + Send + Sync>;

/// No form answers for anyone.
pub fn no_form_answers() -> FormAnswers {
    Arc::new(|_| BTreeMap::new())
}

/// What a turn needs from the rest of the service. Cheap to clone (shared handles).
#[derive(Clone)]
pub struct TurnDeps {
    pub store: Arc<dyn Store>,
    pub flow: Arc<FlowConfigHandle>,
    pub outbox: Arc<OutboxSender>,
    pub clock: Clock,
    /// How long a claimed conversation is ours (ms); a turn taking longer loses it and its
    /// commit is rejected (then redone).
    pub lease_ms: i64,
    /// Mark the lead's message read with a typing indicator when a reply is coming.
    pub mark_read: bool,
    pub form_answers: FormAnswers,
    /// The knowledge bases questions are answered from.
    pub knowledge: Arc<Library>,
    /// The LLM that words replies and helps extraction; `None`: template replies.
    pub llm: Option<Arc<Llm>>,
    /// The CRM webhook URL each handoff is posted to (through the outbox); `None`: no CRM.
    pub crm_webhook_url: Option<String>,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnRun {
    /// Committed at `version` with this many replies queued; `summary` is the conversation
    /// after the turn (state, score, temperature, handoff reason).
    Committed {
        version: i64,
        replies: usize,
        summary: Box<ConversationSummary>,
        /// What the core did over the turn's events (edges, rules, detected language).
        trace: crate::flow::TurnTrace,
    },
    /// Nothing was pending.
    Idle,
    /// Another worker holds the conversation.
    Busy,
    /// The conversation moved on while we worked: nothing written; redo from `begin_turn`.
    Stale,
    /// A newer message of the lead arrived during the LLM call: the call was dropped, nothing
    /// was written and the lease released; the next turn answers both messages.
    Superseded,
    /// The newest lead message is a voice note without transcript, and Kapso's copy (with one)
    /// may still come (`--meta-webhook`): nothing was written, the lease was released, and the
    /// turn waits until `until_ms` (the note's receipt plus the grace, ms since the epoch) or
    /// the copy's arrival (issue 14).
    AwaitingTranscript { until_ms: i64 },
}

/// A turn failure (the inbox rows stay pending and are retried).
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("conversation {conversation_id}: stored flow snapshot unreadable: {message}")]
    Snapshot {
        conversation_id: i64,
        message: String,
    },
}

/// What every step of one claimed turn reads; fixed for the whole turn.
pub(super) struct Turn<'a> {
    pub(super) deps: &'a TurnDeps,
    pub(super) key: &'a ConversationKey,
    pub(super) claim: &'a TurnClaim,
    /// The workspace's flow config, one snapshot for the whole turn (a reload applies from the
    /// next turn).
    pub(super) config: &'a FlowConfig,
    /// The turn's clock reading (every step uses this one).
    pub(super) now: DateTime<Utc>,
    /// Where the lead's replies go; `None` when the conversation's business number is unknown
    /// (replies are then stored, not sent).
    pub(super) send: Option<SendRequest>,
    /// The conversation as the LLM sees it: recent messages, then this turn's.
    pub(super) history: Vec<ChatMessage>,
    /// The newest inbound wamid (for the read receipt and typing indicator).
    pub(super) last_inbound_wamid: Option<String>,
    /// The ad referral the turn's lead messages carried (the core keeps the first ever).
    pub(super) lead_source: Option<crate::flow::LeadSource>,
    /// The slot ids offered by the message the newest lead message replies to
    /// ([`crate::flow::TurnInput::replied_to_slots`]), found among the claim's recent messages.
    pub(super) replied_to_slots: Vec<String>,
    /// The claimed rows hold a lead message that is not a reaction (the read mark and
    /// "typing…" go out before a model call only then).
    pub(super) lead_wrote: bool,
    /// The one deadline of every model call of this turn (`turn_budget_ms` from the turn's
    /// first model call; [`Turn::llm_budget`]).
    llm_budget: std::sync::OnceLock<TurnBudget>,
}

impl<'a> Turn<'a> {
    fn new(
        deps: &'a TurnDeps,
        key: &'a ConversationKey,
        claim: &'a TurnClaim,
        config: &'a FlowConfig,
        now: DateTime<Utc>,
        plan: &Plan,
        budget: Option<TurnBudget>,
    ) -> Self {
        let send = claim.phone_number_id.as_ref().map(|pnid| SendRequest {
            phone_number_id: pnid.clone(),
            to: key.contact_phone.clone(),
            fallback: None,
            channel: Channel::Whatsapp,
            interactive: None,
        });
        Turn {
            deps,
            key,
            claim,
            config,
            now,
            send,
            history: history(claim, &plan.messages),
            last_inbound_wamid: plan.last_inbound_wamid.clone(),
            lead_source: plan.lead_source.clone(),
            replied_to_slots: offered_by(claim, plan.reply_context.as_deref()),
            lead_wrote: lead_wrote(&plan.events),
            llm_budget: budget.map_or_else(std::sync::OnceLock::new, std::sync::OnceLock::from),
        }
    }
}

impl Turn<'_> {
    /// The turn's model-call budget, started by the first caller (the turn's first model call):
    /// every later call of the turn shares its deadline.
    pub(super) fn llm_budget(&self, llm: &Llm) -> TurnBudget {
        *self.llm_budget.get_or_init(|| llm.turn_budget())
    }
}

/// The slot ids (`offered_slots` in its meta) of the outbound message `context` (a wamid)
/// among the claim's recent messages: no extra store read (issue 16 item 7). Empty when none.
fn offered_by(claim: &TurnClaim, context: Option<&str>) -> Vec<String> {
    let Some(context) = context else {
        return Vec::new();
    };
    claim
        .recent
        .iter()
        .find(|m| m.direction == Direction::Outbound && m.wamid.as_deref() == Some(context))
        .and_then(|m| m.meta.get(OFFERED_SLOTS_META)?.as_array().cloned())
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect()
}

/// The meta key of a reply that offered slots: their ids, in the order shown (issue 16 item 7).
pub(super) const OFFERED_SLOTS_META: &str = "offered_slots";

/// The conversation as the LLM sees it: the claim's recent messages, then this turn's inbound
/// ones.
fn history(claim: &TurnClaim, messages: &[NewMessage]) -> Vec<ChatMessage> {
    claim
        .recent
        .iter()
        .filter_map(|m| {
            let text = m.text.clone()?;
            Some(match m.direction {
                Direction::Inbound => ChatMessage::lead(text),
                Direction::Outbound => ChatMessage::assistant(text),
            })
        })
        .chain(
            messages
                .iter()
                .filter(|m| m.direction == Direction::Inbound)
                .filter_map(|m| m.text.clone().map(ChatMessage::lead)),
        )
        .collect()
}

/// What the effects of a turn add up to, written by one `commit_turn`. Plain data: each
/// effect's function adds to it, nothing here does I/O.
pub(super) struct TurnWork {
    /// The conversation's new messages: the inbox rows' messages, then the lead's replies in
    /// the order the core gave them.
    pub(super) messages: Vec<NewMessage>,
    /// Consultant notifications, queued after the lead's replies.
    pub(super) notices: Vec<NewMessage>,
    /// CRM changes of this turn (status only when set, tags only added).
    pub(super) lead: LeadChange,
    /// CRM webhook calls of this turn (one per handoff).
    pub(super) webhooks: Vec<NewWebhook>,
    /// The knowledge answer found for this turn's question, used by the next `AskLlm`.
    pub(super) knowledge: Option<KnowledgeAnswer>,
    /// The slot booked in this turn (its consultant gets the lead).
    pub(super) booked_slot: Option<SlotOption>,
    /// Replies to the lead queued so far.
    pub(super) replies: usize,
    /// The typing indicator was shown already (before an LLM call).
    pub(super) typing_shown: bool,
    /// An extraction call was made in this turn (the reply is then worded only with enough
    /// turn budget left).
    pub(super) extraction_called: bool,
    /// The lead's text was a short yes/no or number answer: template replies go as written.
    pub(super) short_answer: bool,
    /// Stage changes, in order (logged after the commit).
    pub(super) transitions: Vec<(StageId, StageId)>,
    /// The core's traces of this turn's events, joined.
    pub(super) trace: crate::flow::TurnTrace,
    /// The language and pending question the lead's replies are written for (every reply's
    /// meta records them), as the latest core step left them.
    pub(super) speaking: super::wording::Speaking,
    /// Undelivered messages a notice or relay of this turn listed: marked told in the commit.
    pub(super) told_undelivered: Vec<i64>,
}

impl TurnWork {
    fn new(messages: Vec<NewMessage>) -> Self {
        TurnWork {
            messages,
            notices: Vec::new(),
            lead: LeadChange::default(),
            webhooks: Vec::new(),
            knowledge: None,
            booked_slot: None,
            replies: 0,
            typing_shown: false,
            extraction_called: false,
            short_answer: false,
            transitions: Vec::new(),
            trace: crate::flow::TurnTrace::default(),
            speaking: super::wording::Speaking::default(),
            told_undelivered: Vec::new(),
        }
    }

    /// The reply this turn queued last, if the newest message is one (an outbound message
    /// with a send).
    pub(super) fn last_reply(&mut self) -> Option<&mut NewMessage> {
        self.messages
            .last_mut()
            .filter(|m| m.direction == Direction::Outbound && m.send.is_some())
    }

    /// Records in the last reply's meta the ids of the slots it offered ([`OFFERED_SLOTS_META`]),
    /// so a later lead message quoting it is read against these slots (issue 16 item 7).
    pub(super) fn record_offered(&mut self, slots: &[crate::flow::SlotOption]) {
        if let Some(meta) = self.last_reply().and_then(|m| m.meta.as_object_mut()) {
            let ids: Vec<&str> = slots.iter().map(|s| s.id.as_str()).collect();
            meta.insert(OFFERED_SLOTS_META.into(), serde_json::json!(ids));
        }
    }

    /// Queues a reply to the lead, `(text, meta)`, to `send` (stored only when `None`).
    pub(super) fn queue_reply(
        &mut self,
        (text, meta): (String, serde_json::Value),
        send: &Option<SendRequest>,
    ) {
        self.replies += 1;
        self.messages.push(NewMessage {
            direction: Direction::Outbound,
            inbox_id: None,
            wamid: None,
            text: Some(text),
            meta,
            send: send.clone(),
        });
    }

    /// The commit of this work: the lead's replies, then the notices; the snapshot and summary
    /// as the core left them.
    fn into_commit(
        mut self,
        turn: &Turn<'_>,
        snapshot: &Snapshot,
        summary: ConversationSummary,
    ) -> Result<TurnCommit, TurnError> {
        lead_reply_fallbacks(turn, snapshot, &mut self.messages);
        self.messages.append(&mut self.notices);
        let claim = turn.claim;
        Ok(TurnCommit {
            conversation_id: claim.conversation_id,
            version: claim.version,
            lease_token: claim.lease_token.clone(),
            consumed_inbox_ids: claim.inbound.iter().map(|r| r.id).collect(),
            snapshot: serde_json::to_value(snapshot).map_err(|e| TurnError::Snapshot {
                conversation_id: claim.conversation_id,
                message: e.to_string(),
            })?,
            summary,
            messages: self.messages,
            now_ms: turn.now.timestamp_millis(),
            outbox_lease_ms: OUTBOX_LEASE_MS,
            lead: self.lead,
            webhooks: self.webhooks,
            told_undelivered: self.told_undelivered,
            move_to: None,
        })
    }
}

/// Issue 20 item 4: while the lead is handed off to a consultant (as the turn leaves it), a
/// reply the lead never gets tells that consultant (one notice per handoff; later misses are
/// merged into it or listed in the next notice or relay).
fn lead_reply_fallbacks(turn: &Turn<'_>, snapshot: &Snapshot, messages: &mut [NewMessage]) {
    let crate::flow::turn::StageSnapshot::Handoff(handoff) = &snapshot.stage else {
        return;
    };
    let Some(assignee) = &handoff.assignee else {
        return;
    };
    let notices = super::notices::notices_of(turn);
    for m in messages.iter_mut() {
        let Some(send) = m.send.as_mut() else {
            continue;
        };
        if m.direction != Direction::Outbound
            || send.to != turn.key.contact_phone
            || send.fallback.is_some()
        {
            continue;
        }
        let text = m.text.as_deref().unwrap_or_default();
        send.fallback =
            Some(notices.lead_reply(&assignee.whatsapp, handoff.at.timestamp_millis(), text));
    }
}

/// The newer-message signal of a turn (see [`take_turn`]): its LLM calls race against
/// `arrivals` until `until`, the debounce ceiling. After it, a newer message no longer drops
/// the call (a lead who keeps writing would otherwise never be answered); the next turn
/// answers it.
pub struct Interrupts {
    /// Changes whenever a newer message of this lead arrives.
    pub arrivals: watch::Receiver<u64>,
    /// The last instant a newer message may supersede the turn.
    pub until: tokio::time::Instant,
    /// With a Meta-format webhook configured (`--meta-webhook`): how long after its receipt a
    /// voice note without transcript waits for Kapso's copy (`--voice-grace-ms`); `None`: no
    /// copy to wait for.
    pub voice_grace: Option<std::time::Duration>,
}

/// A turn's interrupts, if any (the simulator and tests run turns without).
pub(super) type Arrivals = Option<Interrupts>;

/// The outcome of a future raced against a newer message of the lead.
pub(super) enum Raced<T> {
    Done(T),
    Interrupted,
}

/// Runs `work` unless a newer message arrives first (`arrivals` changes) before the ceiling.
/// Without `arrivals`, past the ceiling, or once nobody can signal any more, `work` simply
/// runs to the end.
pub(super) async fn race<T>(
    work: impl std::future::Future<Output = T>,
    arrivals: &mut Arrivals,
) -> Raced<T> {
    let Some(Interrupts {
        arrivals: rx,
        until,
        ..
    }) = arrivals.as_mut()
    else {
        return Raced::Done(work.await);
    };
    let until = *until;
    if tokio::time::Instant::now() >= until {
        return Raced::Done(work.await);
    }
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        out = &mut work => Raced::Done(out),
        () = tokio::time::sleep_until(until) => Raced::Done(work.await),
        changed = rx.changed() => match changed {
            Ok(()) => Raced::Interrupted,
            Err(_) => Raced::Done(work.await),
        },
    }
}

/// Ends an interrupted turn: nothing is written, the lease is released so the next turn (with
/// the newer message) starts at once.
async fn supersede(deps: &TurnDeps, claim: &TurnClaim) -> Result<TurnRun, TurnError> {
    tracing::info!(
        conversation = claim.conversation_id,
        "a newer message arrived during the LLM call: the turn starts again with it"
    );
    deps.store
        .release_turn(claim.conversation_id, &claim.lease_token)
        .await?;
    Ok(TurnRun::Superseded)
}

/// Runs one turn for `key`. See the module docs.
///
/// `arrivals`, when given, signals newer messages of this lead; an LLM call in flight is then
/// dropped and the turn ends as [`TurnRun::Superseded`], unless the debounce ceiling
/// (`Interrupts::until`) has passed.
pub async fn take_turn(
    deps: &TurnDeps,
    key: &ConversationKey,
    mut arrivals: Option<Interrupts>,
) -> Result<TurnRun, TurnError> {
    let now = (deps.clock)();
    let claim = match deps
        .store
        .begin_turn(key, now.timestamp_millis(), deps.lease_ms)
        .await?
    {
        BeginTurn::Claimed(claim) => *claim,
        BeginTurn::Idle => return Ok(TurnRun::Idle),
        BeginTurn::Busy { .. } => return Ok(TurnRun::Busy),
    };
    if let Some(i) = arrivals.as_mut() {
        // Arrivals up to now are in this claim (or in the next turn's): only newer ones count.
        i.arrivals.borrow_and_update();
    }
    let started = Instant::now();
    let result = run_claimed(deps, key, &claim, now, arrivals).await;
    metrics::histogram!(names::TURN_SECONDS).record(started.elapsed().as_secs_f64());
    if let Err(TurnError::Snapshot { .. }) = &result {
        // The stored snapshot cannot be read: no retry needs to wait out this lease (the
        // worker counts the attempts, [`super::poison`]).
        deps.store
            .release_turn(claim.conversation_id, &claim.lease_token)
            .await?;
    }
    result
}

/// Ends the turn as [`TurnRun::AwaitingTranscript`] (nothing written, the lease released)
/// when its newest lead message is a voice note still without words that Kapso's copy may
/// complete (see [`awaiting_transcript`]); `None`: run the turn now.
async fn wait_for_transcript(
    deps: &TurnDeps,
    claim: &TurnClaim,
    rows: &[crate::inbox::InboxRow],
    now: DateTime<Utc>,
    arrivals: &Arrivals,
) -> Result<Option<TurnRun>, TurnError> {
    let grace = arrivals.as_ref().and_then(|i| i.voice_grace);
    let Some(until_ms) = awaiting_transcript(rows, now.timestamp_millis(), grace) else {
        return Ok(None);
    };
    tracing::info!(
        conversation = claim.conversation_id,
        wait_ms = until_ms - now.timestamp_millis(),
        "the newest message is a voice note without transcript: waiting for Kapso's copy"
    );
    deps.store
        .release_turn(claim.conversation_id, &claim.lease_token)
        .await?;
    Ok(Some(TurnRun::AwaitingTranscript { until_ms }))
}

/// Until when (ms since the epoch) the turn waits for a transcript, or `None` to run now.
///
/// Issue 14's order for a voice note: a transcript from any copy of the message (the store
/// completes a stored message with a later copy's, [`crate::inbox::enrich`]); else
/// transcription by an LLM arm that has it configured ([`super::voice`], which has run by now:
/// only a note it could not transcribe waits); else, with a Meta-format webhook configured
/// (`grace`), up to the grace after the note's receipt for Kapso's copy; else the flow asks
/// the lead to type (`voice_unreadable`). Only the newest lead message counts: a text after a
/// voice note answers the batch at once.
fn awaiting_transcript(
    rows: &[crate::inbox::InboxRow],
    now_ms: i64,
    grace: Option<std::time::Duration>,
) -> Option<i64> {
    let grace_ms = i64::try_from(grace?.as_millis()).unwrap_or(i64::MAX);
    let newest = rows
        .iter()
        .rev()
        .find(|r| r.kind == crate::inbox::EventKind::Message && r.event.message.is_some())?;
    let m = newest.event.message.as_ref()?;
    let voice = m.message_type == crate::inbox::MessageType::Audio && m.text.is_none();
    let until_ms = newest.received_at_ms.saturating_add(grace_ms);
    (voice && until_ms > now_ms).then_some(until_ms)
}

/// The steps of a claimed turn: plan, core, effects, commit, after commit (module docs).
async fn run_claimed(
    deps: &TurnDeps,
    key: &ConversationKey,
    claim: &TurnClaim,
    now: DateTime<Utc>,
    mut arrivals: Arrivals,
) -> Result<TurnRun, TurnError> {
    let mut snapshot = decode_snapshot(claim)?;
    let config = deps.flow.current().for_workspace(&key.workspace_id);
    let consultant = from_consultant(&config, &key.contact_phone);

    // Voice notes without words: transcribed first, or waited for (Kapso's copy).
    let voice = if consultant {
        voice::Voice::default()
    } else {
        voice::transcribe(deps, key, claim, &snapshot).await
    };
    let rows = voice.rows.as_deref().unwrap_or(&claim.inbound);
    if let Some(waiting) = wait_for_transcript(deps, claim, rows, now, &arrivals).await? {
        return Ok(waiting);
    }

    // Plan: what the claimed inbox rows mean for the core.
    let mut plan = plan(rows);
    voice.annotate(&mut plan.messages);
    if consultant {
        // A consultant's own number is not a lead: its messages are recorded, never greeted,
        // qualified or scored.
        tracing::info!(
            conversation = claim.conversation_id,
            "a consultant's number wrote: recorded, not run through the flow"
        );
        plan.events.clear();
    }
    let turn = Turn::new(deps, key, claim, &config, now, &plan, voice.budget);
    let mut work = TurnWork::new(plan.messages);
    work.typing_shown = voice.typing_shown;
    if claim.snapshot.is_none()
        && !consultant
        && let Some(llm) = &deps.llm
    {
        llm.record_new_lead(&key.contact_phone);
    }

    let mut events: VecDeque<InputEvent> = plan.events.into();
    while let Some(event) = events.pop_front() {
        // Core: one pure step per event.
        let raced = core_input(&turn, &mut work, &snapshot, event, &mut arrivals).await?;
        let Raced::Done(input) = raced else {
            return supersede(deps, claim).await;
        };
        let out = flow::run_turn(&snapshot, &input, &config);
        snapshot = out.snapshot;
        work.transitions.extend(out.transitions);
        work.trace.extend(out.trace);
        work.speaking = super::wording::Speaking::of(&snapshot, &config);

        // Effects: carried out in order; a booking's result is the next event.
        for effect in out.effects {
            let next = effects::apply(&turn, &mut work, &mut arrivals, &snapshot, &input, effect);
            match next.await? {
                Next::Continue => {}
                Next::Feed(event) => events.push_front(event),
                Next::Superseded => return supersede(deps, claim).await,
            }
        }
    }

    // Commit: everything the turn did, in one transaction.
    typing::before_commit(&turn, &work);
    let summary = if consultant {
        ConversationSummary::default()
    } else {
        summary_of(&snapshot)
    };
    let replies = work.replies;
    let transitions = std::mem::take(&mut work.transitions);
    let trace = std::mem::take(&mut work.trace);
    let mut commit = work.into_commit(&turn, &snapshot, summary.clone())?;
    commit.move_to = plan.number_change.clone();
    // Rows the store leaves unclaimed behind an older undelivered one come back fewer: the
    // outbox's due loop then claims them once the older row is done (issue 17 item 3).
    let queued =
        commit.messages.iter().filter(|m| m.send.is_some()).count() + commit.webhooks.len();
    match deps.store.commit_turn(commit).await? {
        CommitOutcome::Committed { version, outbox } => {
            if outbox.len() < queued {
                deps.outbox.note_held();
            }
            // After commit: nothing here can undo the turn.
            count_followups(&trace);
            after_commit(&turn, &transitions, outbox, plan.delivery_failures).await;
            Ok(TurnRun::Committed {
                version,
                replies,
                summary: Box::new(summary),
                trace,
            })
        }
        CommitOutcome::Stale => Ok(TurnRun::Stale),
    }
}

/// The claim's stored snapshot, or a new conversation's.
fn decode_snapshot(claim: &TurnClaim) -> Result<Snapshot, TurnError> {
    match &claim.snapshot {
        Some(value) => Snapshot::from_json(&value.to_string()).map_err(|e| TurnError::Snapshot {
            conversation_id: claim.conversation_id,
            message: e.to_string(),
        }),
        None => Ok(Snapshot::new()),
    }
}

/// The core's input for one event: the free slots when the stage needs them (one store read,
/// only in booking and scheduling turns) and the fields an LLM read in the lead's messages.
/// `Interrupted` when a newer message arrived during the LLM call.
async fn core_input(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    snapshot: &Snapshot,
    event: InputEvent,
    arrivals: &mut Arrivals,
) -> Result<Raced<TurnInput>, TurnError> {
    let free_slots = if flow::needs_free_slots(snapshot) {
        Some(booking::free_slots(turn).await?)
    } else {
        None
    };
    let read = extraction::llm_fields(turn, work, snapshot, &event, arrivals).await;
    let Raced::Done(llm_fields) = read else {
        return Ok(Raced::Interrupted);
    };
    Ok(Raced::Done(TurnInput {
        now: turn.now,
        event,
        form_answers: (turn.deps.form_answers)(turn.key),
        free_slots,
        llm_fields,
        conversation_id: turn.claim.conversation_id,
        lead_source: turn.lead_source.clone(),
        replied_to_slots: turn.replied_to_slots.clone(),
    }))
}

/// [`names::FOLLOWUPS`] for the due follow-ups this committed turn decided.
fn count_followups(trace: &crate::flow::TurnTrace) {
    for rule in &trace.rules {
        if let Some(outcome) = rule.strip_prefix("followup_") {
            metrics::counter!(crate::telemetry::names::FOLLOWUPS, "outcome" => outcome.to_string())
                .increment(1);
        }
    }
}

/// The conversation after the turn, as operators list it.
fn summary_of(snapshot: &Snapshot) -> ConversationSummary {
    let score = snapshot.lead.score.as_ref();
    ConversationSummary {
        flow_state: Some(snapshot.stage_id().as_str().to_string()),
        lead_score: score.map(|s| i64::from(s.total)),
        lead_temperature: score.map(|s| s.temperature.as_str().to_string()),
        handoff_reason: snapshot.handoff_reason().map(|r| r.as_str().to_string()),
        language: snapshot.lead.language.clone(),
        followup_due_ms: snapshot.lead.followup.due.map(|d| d.at.timestamp_millis()),
    }
}

/// After the commit: the stage changes are logged, the claimed outbox rows go to the sender,
/// and the delivery failures WhatsApp reported are recorded (one store call each; a failure to
/// record is logged, the turn is committed anyway).
async fn after_commit(
    turn: &Turn<'_>,
    transitions: &[(StageId, StageId)],
    outbox: Vec<OutboxRow>,
    delivery_failures: Vec<DeliveryFailure>,
) {
    for (from, to) in transitions {
        tracing::info!(
            from = from.as_str(),
            to = to.as_str(),
            conversation = turn.claim.conversation_id,
            "flow transition"
        );
    }
    turn.deps.outbox.deliver(outbox);
    for DeliveryFailure {
        wamid,
        error,
        reason,
    } in delivery_failures
    {
        let now_ms = turn.now.timestamp_millis();
        match turn
            .deps
            .store
            .record_delivery_failure(&wamid, &error, reason, now_ms)
            .await
        {
            Ok(Some(id)) => {
                metrics::counter!(names::OUTBOX_FAILED, "channel" => "whatsapp", "reason" => reason.as_str())
                    .increment(1);
                tracing::warn!(outbox_id = id, %error, reason = reason.as_str(), "WhatsApp reported a reply as failed")
            }
            Ok(None) => {
                tracing::info!(%error, "a message we did not send was reported failed")
            }
            Err(e) => tracing::warn!(error = %e, "cannot record a delivery failure"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::{Instant, sleep};

    /// An LLM call of 3 s; a newer message arrives 1 s into it.
    async fn raced_with_a_message_at_1s(ceiling_in: Duration) -> Raced<()> {
        let (tx, rx) = watch::channel(0u64);
        let mut arrivals = Some(Interrupts {
            arrivals: rx,
            until: Instant::now() + ceiling_in,
            voice_grace: None,
        });
        let signal = tokio::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            tx.send_modify(|n| *n += 1);
            sleep(Duration::from_secs(10)).await;
        });
        let out = race(sleep(Duration::from_secs(3)), &mut arrivals).await;
        signal.abort();
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_message_before_the_ceiling_supersedes_the_llm_call() {
        let out = raced_with_a_message_at_1s(Duration::from_secs(5)).await;
        assert!(matches!(out, Raced::Interrupted));
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_ceiling_a_newer_message_waits_for_the_next_turn() {
        let start = Instant::now();
        let out = raced_with_a_message_at_1s(Duration::from_millis(500)).await;
        assert!(matches!(out, Raced::Done(())));
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(3),
            "the call ran to its end"
        );
    }
}

#[cfg(test)]
mod reply_context_tests {
    use super::*;
    use crate::store::StoredMessage;

    fn stored(direction: Direction, wamid: &str, meta: serde_json::Value) -> StoredMessage {
        StoredMessage {
            id: 1,
            direction,
            text: None,
            wamid: Some(wamid.into()),
            meta,
            created_at_ms: 0,
        }
    }

    /// Issue 16 item 7: the quoted message's offered slots come from the claim's recent
    /// messages (no store read); any other quote offers none.
    #[test]
    fn the_quoted_reply_gives_the_slots_it_offered() {
        let claim = TurnClaim {
            conversation_id: 1,
            version: 3,
            lease_token: "t".into(),
            snapshot: None,
            contact_name: None,
            phone_number_id: None,
            inbound: Vec::new(),
            recent: vec![
                stored(
                    Direction::Outbound,
                    "wamid.list1",
                    serde_json::json!({"offered_slots": ["a", "b"]}),
                ),
                stored(Direction::Outbound, "wamid.text", serde_json::json!({})),
                stored(
                    Direction::Inbound,
                    "wamid.lead",
                    serde_json::json!({"offered_slots": ["x"]}),
                ),
            ],
        };
        assert_eq!(offered_by(&claim, Some("wamid.list1")), ["a", "b"]);
        assert!(offered_by(&claim, Some("wamid.text")).is_empty());
        assert!(
            offered_by(&claim, Some("wamid.lead")).is_empty(),
            "only our replies"
        );
        assert!(offered_by(&claim, Some("wamid.unknown")).is_empty());
        assert!(offered_by(&claim, None).is_empty());
    }
}
