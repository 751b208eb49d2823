//! LLM extraction: the lead fields a model reads in a batch of the lead's messages, before the
//! core decides (the rules' own reading happens inside the core and wins; see
//! [`crate::llm::merge`]). The call runs within the turn's budget, with the read mark and
//! "typing…" shown before it.

use std::collections::BTreeMap;

use super::plan::texts_of;
use super::turn::{Arrivals, Raced, Turn, TurnWork, race};
use super::typing;
use crate::flow::{InputEvent, Snapshot};
use crate::llm::ExtractRequest;

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
    let (Some(llm), Some(budget), InputEvent::Messages { messages: batch }) =
        (&turn.deps.llm, &turn.llm_budget, event)
    else {
        return Raced::Done(BTreeMap::new());
    };
    let latest = texts_of(batch);
    if latest.is_empty() {
        return Raced::Done(BTreeMap::new());
    }
    let req = ExtractRequest::for_turn(
        &turn.key.contact_phone,
        snapshot,
        turn.config,
        turn.history.clone(),
        latest,
        turn.now,
    );
    typing::before_llm_call(turn, work, snapshot);
    match race(llm.extract_within(&req, budget), arrivals).await {
        Raced::Interrupted => Raced::Interrupted,
        Raced::Done(Ok(found)) => Raced::Done(found.fields),
        Raced::Done(Err(e)) => {
            tracing::warn!(error = %e, kind = e.kind(), "LLM extraction failed; rules only");
            Raced::Done(BTreeMap::new())
        }
    }
}
