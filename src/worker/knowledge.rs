//! Knowledge: the answer to the lead's question from the workspace's knowledge base, or the
//! destinations that fit the lead. Kept for the turn's next `AskLlm` (see `wording.rs`).

use super::turn::Turn;
use crate::flow::Snapshot;
use crate::knowledge::{KnowledgeAnswer, KnowledgeIndex};

/// [`crate::flow::Effect::SearchKnowledge`]: the knowledge base's answer to `query` (two best
/// entries, narrowed to `country`, in the conversation's `language` when the entries have it),
/// or with `recommend` the destinations that fit the lead. `None` when the workspace has no
/// knowledge base.
pub(super) fn search(
    turn: &Turn<'_>,
    snapshot: &Snapshot,
    language: &str,
    query: &str,
    country: Option<&str>,
    recommend: bool,
) -> Option<KnowledgeAnswer> {
    let answer = turn.deps.knowledge.index(&turn.key.workspace_id).map(|i| {
        if recommend {
            recommendations(&i, snapshot, country)
        } else {
            i.answer_in(query, country, 2, Some(language))
        }
    });
    if let Some(a) = &answer {
        tracing::info!(entries = ?a.entry_ids, conversation = turn.claim.conversation_id, "knowledge search");
    }
    answer
}

/// Destinations that fit what the lead told (country, IELTS, yearly budget), best first, as a
/// knowledge answer (seed §8 `findMatchingDestinations`, which the old processor never used).
fn recommendations(
    index: &KnowledgeIndex,
    snapshot: &Snapshot,
    country: Option<&str>,
) -> KnowledgeAnswer {
    use crate::knowledge::{
        LeadProfile, parse_budget_idr, parse_ielts, recommend, recommendation_text,
    };
    let profile = LeadProfile {
        country: country
            .map(str::to_string)
            .or_else(|| snapshot.field("country").map(str::to_string)),
        ielts: snapshot.field("english_level").and_then(parse_ielts),
        budget_idr: snapshot.field("budget").and_then(parse_budget_idr),
    };
    let picks = recommend(&index.kb().destinations, &profile, 3);
    KnowledgeAnswer {
        entry_ids: picks.iter().map(|d| d.id.clone()).collect(),
        text: recommendation_text(&picks, &profile),
        language: None,
    }
}
