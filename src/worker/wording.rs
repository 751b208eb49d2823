//! The lead's replies: a template reply sent as written, or worded by the LLM (`AskLlm`), with
//! the template (or the knowledge answer) as the fallback. Every lead-facing reply's meta is
//! built by [`reply_meta`], so a field every reply carries is added in one place.

use serde_json::{Map, Value};

use super::turn::{Arrivals, Raced, Turn, TurnWork, race};
use super::typing;
use crate::config::flow::FlowConfig;
use crate::flow::extract::Pending;
use crate::flow::turn::StageSnapshot;
use crate::flow::{Effect, Reply, SlotOption, Snapshot};
use crate::knowledge::KnowledgeAnswer;
use crate::llm::{LlmReply, ReplyRequest, TYPING_REFRESH, keep_typing};
use crate::store::{Channel, SendRequest};
use crate::telemetry::mask_phone;

/// Where a reply's text came from, beyond its template (what [`reply_meta`] records).
pub(super) enum Source<'a> {
    /// The template's text, as the core rendered it.
    Template,
    /// The knowledge base's answer: the entries it was made from.
    Knowledge(&'a [String]),
    /// The LLM's wording: model, arm, tokens and latency.
    Llm(&'a LlmReply),
}

/// What every lead-facing reply of a turn is written for: the conversation's language and,
/// while qualifying, the pending field or document the reply asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Speaking {
    /// `id`, `en`...
    pub(crate) language: String,
    /// The pending field or document key (qualifying only).
    pub(crate) pending: Option<String>,
}

impl Speaking {
    /// As `snapshot` stands after a core step, for a flow whose own language is `config`'s.
    pub(crate) fn of(snapshot: &Snapshot, config: &FlowConfig) -> Self {
        let pending = match (&snapshot.stage, &snapshot.lead.pending) {
            (StageSnapshot::Qualifying, Some(Pending::Field(k) | Pending::Document(k))) => {
                Some(k.clone())
            }
            _ => None,
        };
        Speaking {
            language: snapshot
                .lead
                .language
                .clone()
                .unwrap_or_else(|| config.persona.language.clone()),
            pending,
        }
    }
}

/// The meta logged with a lead-facing reply: `{"template", "language", "pending"}` plus what
/// `source` adds (`knowledge_ids`, or `llm`). The one place a reply's meta is built.
pub(super) fn reply_meta(template: &str, speaking: &Speaking, source: Source<'_>) -> Value {
    let mut meta = Map::new();
    meta.insert("template".into(), template.into());
    meta.insert("language".into(), speaking.language.clone().into());
    if let Some(p) = &speaking.pending {
        meta.insert("pending".into(), p.clone().into());
    }
    match source {
        Source::Template => {}
        Source::Knowledge(entry_ids) => {
            meta.insert("knowledge_ids".into(), entry_ids.into());
        }
        Source::Llm(r) => {
            meta.insert(
                "llm".into(),
                serde_json::json!({"model": r.model, "arm": r.arm,
                        "prompt_tokens": r.prompt_tokens,
                        "completion_tokens": r.completion_tokens,
                        "latency_ms": r.latency_ms}),
            );
        }
    }
    Value::Object(meta)
}

/// Whether a template reply may be worded by the LLM: the conversational stages' replies.
/// Booking, scheduling and handoff texts carry exact dates, slot lists and confirmations, and
/// are sent as written so a model can never alter them.
fn worded_by_llm(template: &str) -> bool {
    matches!(
        template.split('.').next(),
        Some("greeting" | "qualifying" | "scoring" | "completed")
    )
}

/// With an LLM, conversational template replies are worded by the model (the template is the
/// fallback); replies with exact facts, replies to a short yes/no or number answer
/// (`short_answer`, issue 15: nothing for a model to word), and every effect without an LLM,
/// stay as they are.
pub(super) fn route(effect: Effect, has_llm: bool, short_answer: bool) -> Effect {
    match effect {
        Effect::Reply(r) if has_llm && !short_answer && worded_by_llm(&r.template) => {
            Effect::AskLlm {
                instruction: String::new(),
                fallback: r,
            }
        }
        other => other,
    }
}

/// [`Effect::Reply`]: the template's text, sent as written.
pub(super) fn reply(turn: &Turn<'_>, work: &mut TurnWork, r: Reply) {
    let mut meta = reply_meta(&r.template, &work.speaking, Source::Template);
    if r.template.starts_with("followups.") {
        // A nudge to a quiet lead: a proactive message (issue 18).
        meta["proactive"] = "followup".into();
    }
    send(turn, work, (r.text, meta));
}

/// [`Effect::Template`]: an approved template to the lead (the follow-up after the 24 h window,
/// issue 18), queued on the `whatsapp_template` channel with its body JSON as the text.
pub(super) fn template(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    name: &str,
    language: &str,
    parameters: &[String],
) {
    let t = crate::config::flow::TemplateRef {
        name: name.to_string(),
        language: language.to_string(),
        quick_replies: Vec::new(),
    };
    let body = crate::handoff::fallback::template_body(&t, parameters);
    let mut meta = reply_meta("followups.template", &work.speaking, Source::Template);
    meta["proactive"] = "followup".into();
    let send = turn.send.clone().map(|s| SendRequest {
        channel: Channel::WhatsappTemplate,
        ..s
    });
    if send.is_none() {
        tracing::error!(contact = %mask_phone(&turn.key.contact_phone), "no business number known for this conversation; template stored, not sent");
    }
    work.queue_reply((body, meta), &send);
}

/// [`Effect::AskLlm`]: the LLM words the core's decision (with the knowledge answer found for
/// this turn, if any), the typing indicator showing meanwhile; without an LLM, or when it
/// fails, the template reply goes instead. `Interrupted`: a newer message arrived during the
/// call (nothing was queued).
pub(super) async fn ask_llm(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    arrivals: &mut Arrivals,
    snapshot: &Snapshot,
    free_slots: Option<&[SlotOption]>,
    instruction: &str,
    fallback: Reply,
) -> Raced<()> {
    // The knowledge answer is used by this reply only.
    let knowledge = work.knowledge.take();
    let template_reply = template_reply(turn, &work.speaking, knowledge.as_ref(), &fallback);
    let Some(llm) = &turn.deps.llm else {
        // Queued without the unsent-reply log of `send` (as the shell always did).
        work.queue_reply(template_reply, &turn.send);
        return Raced::Done(());
    };
    if super::extraction::over_rate(turn, work) {
        crate::llm::metrics::record_skip(
            llm.arm_for(&turn.key.contact_phone),
            crate::llm::metrics::CallKind::Reply,
            super::extraction::CONTACT_RATE,
        );
        work.queue_reply(template_reply, &turn.send);
        return Raced::Done(());
    }
    let req = ReplyRequest::for_ask_llm(
        &turn.key.contact_phone,
        snapshot,
        turn.config,
        instruction,
        &fallback,
        knowledge,
        free_slots,
        turn.history.clone(),
        turn.now,
    );
    let budget = turn.llm_budget(llm);
    if work.extraction_called && !llm.may_word_after_extraction(&turn.key.contact_phone, &budget) {
        send(turn, work, template_reply);
        return Raced::Done(());
    }
    typing::before_llm_call(turn, work, snapshot);
    let call = keep_typing(llm.reply_within(&req, &budget), TYPING_REFRESH, || {
        typing::refresh(turn);
        std::future::ready(())
    });
    let worded = match race(call, arrivals).await {
        Raced::Interrupted => return Raced::Interrupted,
        Raced::Done(Ok(r)) => {
            let meta = reply_meta(&fallback.template, &work.speaking, Source::Llm(&r));
            (r.text, meta)
        }
        Raced::Done(Err(e)) => {
            tracing::warn!(error = %e, kind = e.kind(), "LLM reply failed; template reply sent");
            template_reply
        }
    };
    send(turn, work, worded);
    Raced::Done(())
}

/// The reply without the LLM: the knowledge base's answer (if any) and the core's pending
/// question (after the greeting's opening on a first message), or else the core's template
/// fallback. The knowledge base is written in the
/// workspace's own language; a conversation in another language gets the entries' translations
/// when they have one (`[faq.translations.<lang>]`), else the fallback (in its language: a
/// consultant will give the detail) rather than an answer it cannot read.
fn template_reply(
    turn: &Turn<'_>,
    speaking: &Speaking,
    knowledge: Option<&KnowledgeAnswer>,
    fallback: &Reply,
) -> (String, Value) {
    match knowledge {
        Some(k) if readable(k, speaking, turn) && !k.text.trim().is_empty() => {
            let question = fallback.values.get("question").cloned().unwrap_or_default();
            let text = [greeting_opening(fallback, &question), &k.text, &question]
                .into_iter()
                .filter(|part| !part.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n\n");
            (
                text,
                reply_meta("knowledge", speaking, Source::Knowledge(&k.entry_ids)),
            )
        }
        _ => (
            fallback.text.clone(),
            reply_meta(&fallback.template, speaking, Source::Template),
        ),
    }
}

/// A first message that asks something is still greeted: the greeting's text before its
/// `question` ("Good morning! I'm ARI..."), to open the answer; empty for any other reply.
fn greeting_opening<'a>(fallback: &'a Reply, question: &str) -> &'a str {
    if !fallback.template.starts_with("greeting.") {
        return "";
    }
    fallback
        .text
        .strip_suffix(question)
        .map_or("", str::trim_end)
}

/// True when the knowledge answer is in the conversation's language.
fn readable(k: &KnowledgeAnswer, speaking: &Speaking, turn: &Turn<'_>) -> bool {
    match &k.language {
        Some(l) => *l == speaking.language,
        None => speaking.language == turn.config.persona.language,
    }
}

/// Queues a reply to the lead; one that cannot be sent (no business number known) is logged.
fn send(turn: &Turn<'_>, work: &mut TurnWork, reply: (String, Value)) {
    if turn.send.is_none() {
        tracing::error!(contact = %mask_phone(&turn.key.contact_phone), "no business number known for this conversation; reply stored, not sent");
    }
    work.queue_reply(reply, &turn.send);
}
