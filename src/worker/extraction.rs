//! LLM extraction: the lead fields a model reads in a batch of the lead's messages, before the
//! core decides (the rules' own reading happens inside the core and wins; see
//! [`crate::llm::merge`]). The call runs within the turn's budget, with the read mark and
//! "typing…" shown before it, and only when the rules left something to read
//! ([`crate::llm::need`]).

use std::collections::BTreeMap;

use super::plan::texts_of;
use super::turn::{Arrivals, Raced, Turn, TurnWork, race};
use super::typing;
use crate::flow::{InputEvent, Snapshot};
use crate::llm::metrics::{CallKind, record_skip};
use crate::llm::{ExtractRequest, need};
use crate::store::Direction;

/// The skip reason of a call not made because the contact writes too fast.
pub(super) const CONTACT_RATE: &str = "contact_rate";

/// The contact sent more lead messages in the last minute (by the turn's clock: the recent
/// inbound messages of the claim and this turn's) than `max_messages_per_minute` of
/// `llm.toml`: the turn makes no model call and sends templates only (issue 21 item 7, cost).
/// False without an LLM.
pub(super) fn over_rate(turn: &Turn<'_>, work: &TurnWork) -> bool {
    let Some(llm) = &turn.deps.llm else {
        return false;
    };
    let since_ms = turn.now.timestamp_millis() - 60_000;
    let earlier = turn
        .claim
        .recent
        .iter()
        .filter(|m| m.direction == Direction::Inbound && m.created_at_ms > since_ms)
        .count();
    let now = work
        .messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .count();
    let over = earlier + now > llm.max_messages_per_minute() as usize;
    if over {
        tracing::info!(
            messages = earlier + now,
            limit = llm.max_messages_per_minute(),
            "the contact writes faster than the model limit: templates only this turn"
        );
    }
    over
}

/// Lead fields the LLM read in a batch of the lead's messages. Empty without an LLM, for
/// other events, for a batch with no text, and when the call fails or the turn budget is spent
/// (the rules alone then). `Interrupted` when a newer message arrived during the call.
pub(super) async fn llm_fields(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    snapshot: &Snapshot,
    event: &InputEvent,
    arrivals: &mut Arrivals,
) -> Raced<BTreeMap<String, String>> {
    let (Some(llm), InputEvent::Messages { messages: batch }) = (&turn.deps.llm, event) else {
        return Raced::Done(BTreeMap::new());
    };
    let latest = texts_of(batch);
    if latest.is_empty() {
        return Raced::Done(BTreeMap::new());
    }
    let pending = snapshot.lead.pending.as_ref();
    let skip = need::extraction_skipped_for(snapshot)
        .or_else(|| need::extraction_needed(&latest, pending, turn.config, turn.now));
    work.short_answer = skip == Some(need::NoExtraction::ShortAnswer);
    if over_rate(turn, work) {
        record_skip(
            llm.arm_for(&turn.key.contact_phone),
            CallKind::Extract,
            CONTACT_RATE,
        );
        return Raced::Done(BTreeMap::new());
    }
    if !llm.extraction_enabled() {
        return Raced::Done(BTreeMap::new());
    }
    if let Some(reason) = skip {
        record_skip(
            llm.arm_for(&turn.key.contact_phone),
            CallKind::Extract,
            reason.as_str(),
        );
        tracing::debug!(
            reason = reason.as_str(),
            "no extraction call: the rules read the text"
        );
        return Raced::Done(BTreeMap::new());
    }
    work.extraction_called = true;
    let req = ExtractRequest::for_turn(
        &turn.key.contact_phone,
        snapshot,
        turn.config,
        turn.history.clone(),
        latest,
        turn.now,
    );
    typing::before_llm_call(turn, work, snapshot);
    let budget = turn.llm_budget(llm);
    match race(llm.extract_within(&req, &budget), arrivals).await {
        Raced::Interrupted => Raced::Interrupted,
        Raced::Done(Ok(found)) => Raced::Done(found.fields),
        Raced::Done(Err(e)) => {
            tracing::warn!(error = %e, kind = e.kind(), "LLM extraction failed; rules only");
            Raced::Done(BTreeMap::new())
        }
    }
}
