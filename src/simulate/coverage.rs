//! `ari test --coverage`: what a suite exercised of the flow, and what it never did.
//!
//! Three lists, each from the code or config the core runs, so none can drift:
//!
//! - the flow edges ([`crate::flow::EDGES`], the table `ari flow graph` prints), from the
//!   edges each turn's core reports in its trace;
//! - the reply text keys per language (`stages.*.texts.*` and the field and document
//!   questions), from the `template`, `pending` and `language` in each reply's meta;
//! - the named extraction rules of [`crate::flow::extract`], from the trace.
//!
//! An edge or text key no dialogue reaches must be listed, with its reason, in the suite's
//! `unreachable.toml`; [`Coverage::missing`] names the rest. Extraction rules are reported,
//! not required. Pending dialogues do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::check::{language_of, pending_of, template_of};
use super::suite::{SuiteResult, Verdict};
use crate::config::flow::FlowConfig;

/// The file, beside the dialogues, naming what no dialogue can reach and why.
pub const UNREACHABLE_FILE: &str = "unreachable.toml";

/// `unreachable.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreachable {
    #[serde(default)]
    pub edge: Vec<UnreachableEdge>,
    #[serde(default)]
    pub text: Vec<UnreachableText>,
}

/// An edge no dialogue can take (named as in [`crate::flow::graph::edge_name`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnreachableEdge {
    pub name: String,
    pub reason: String,
}

/// A text key no dialogue can make the bot send, in `language` (all languages when absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnreachableText {
    pub key: String,
    #[serde(default)]
    pub language: Option<String>,
    pub reason: String,
}

impl Unreachable {
    /// Reads `path`; a missing file lists nothing.
    pub fn load(path: &Path) -> anyhow::Result<Unreachable> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Unreachable::default()),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    fn edge_reason(&self, name: &str) -> Option<&str> {
        self.edge
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.reason.as_str())
    }

    fn text_reason(&self, key: &str, language: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|t| t.key == key && t.language.as_deref().is_none_or(|l| l == language))
            .map(|t| t.reason.as_str())
    }
}

/// One item of a coverage list.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    /// Dialogues (non-pending) that exercised it.
    pub hits: usize,
    /// Why no dialogue can, from `unreachable.toml`.
    pub unreachable: Option<String>,
}

/// The three lists.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub edges: Vec<Item>,
    /// `key [language]`.
    pub texts: Vec<Item>,
    pub rules: Vec<Item>,
}

/// The reply text keys of a flow: every stage text except the LLM instructions (prompts, not
/// replies), then `fields.<key>.question` for the required fields and
/// `documents.<key>.question` for the documents.
pub fn text_keys(cfg: &FlowConfig) -> Vec<String> {
    let mut keys = Vec::new();
    for stage in crate::flow::StageId::ALL.map(crate::flow::StageId::as_str) {
        let Some(s) = cfg.stages.get(stage).filter(|s| s.enabled) else {
            continue;
        };
        for key in s.texts.keys() {
            if !key.ends_with("_instruction") {
                keys.push(format!("{stage}.{key}"));
            }
        }
    }
    for f in &cfg.qualification.required_fields {
        keys.push(format!("fields.{f}.question"));
    }
    for d in &cfg.qualification.document_order {
        keys.push(format!("documents.{d}.question"));
    }
    keys
}

/// What one dialogue exercised: edge names, `key [language]` pairs, rule names.
#[derive(Debug, Default)]
struct Seen {
    edges: BTreeSet<String>,
    texts: BTreeSet<String>,
    rules: BTreeSet<String>,
}

fn seen_in(report: &super::Report, cfg: &FlowConfig) -> Seen {
    let mut seen = Seen::default();
    for turn in &report.turns {
        seen.edges.extend(turn.trace.edges.iter().cloned());
        seen.rules.extend(turn.trace.rules.iter().cloned());
        for meta in &turn.reply_meta {
            let language = language_of(meta).unwrap_or(&cfg.persona.language);
            if let Some(t) = template_of(meta) {
                seen.texts.insert(format!("{t} [{language}]"));
            }
            if let Some(p) = pending_of(meta) {
                let table = if cfg.documents.contains_key(p) {
                    "documents"
                } else {
                    "fields"
                };
                seen.texts
                    .insert(format!("{table}.{p}.question [{language}]"));
            }
        }
    }
    seen
}

/// The coverage of a run's passing and failing (not pending) dialogues, for `languages`.
pub fn measure(
    suite: &SuiteResult,
    cfg: &FlowConfig,
    languages: &[String],
    unreachable: &Unreachable,
) -> Coverage {
    let mut edges: BTreeMap<String, usize> = crate::flow::EDGES
        .iter()
        .map(|e| (crate::flow::graph::edge_name(e), 0))
        .collect();
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for key in text_keys(cfg) {
        for l in languages {
            texts.insert(format!("{key} [{l}]"), 0);
        }
    }
    let mut rules: BTreeMap<String, usize> = crate::flow::extract::RULES
        .iter()
        .map(|r| ((*r).to_string(), 0))
        .collect();
    for r in suite.results.iter().filter(|r| r.verdict != Verdict::Skip) {
        let Some(report) = &r.report else { continue };
        let seen = seen_in(report, cfg);
        for (list, names) in [
            (&mut edges, &seen.edges),
            (&mut texts, &seen.texts),
            (&mut rules, &seen.rules),
        ] {
            for n in names {
                if let Some(hits) = list.get_mut(n) {
                    *hits += 1;
                }
            }
        }
    }
    let items = |list: BTreeMap<String, usize>, reason: &dyn Fn(&str) -> Option<String>| {
        list.into_iter()
            .map(|(name, hits)| Item {
                unreachable: reason(&name),
                name,
                hits,
            })
            .collect()
    };
    Coverage {
        edges: items(edges, &|n| unreachable.edge_reason(n).map(str::to_string)),
        texts: items(texts, &|n| {
            let (key, lang) = split_text_item(n);
            unreachable.text_reason(key, lang).map(str::to_string)
        }),
        rules: items(rules, &|_| None),
    }
}

/// `"scheduling.booked [id]"` → `("scheduling.booked", "id")`.
fn split_text_item(item: &str) -> (&str, &str) {
    match item.rsplit_once(" [") {
        Some((key, lang)) => (key, lang.trim_end_matches(']')),
        None => (item, ""),
    }
}

impl Coverage {
    /// Edges and text keys no dialogue exercised and `unreachable.toml` does not explain.
    pub fn missing(&self) -> Vec<String> {
        let open = |items: &[Item], what: &str| -> Vec<String> {
            items
                .iter()
                .filter(|i| i.hits == 0 && i.unreachable.is_none())
                .map(|i| format!("{what} {}", i.name))
                .collect()
        };
        let mut out = open(&self.edges, "edge");
        out.extend(open(&self.texts, "text"));
        out
    }

    /// Items listed as unreachable that a dialogue did exercise (the list is out of date).
    pub fn stale_unreachable(&self) -> Vec<String> {
        self.edges
            .iter()
            .chain(&self.texts)
            .filter(|i| i.hits > 0 && i.unreachable.is_some())
            .map(|i| i.name.clone())
            .collect()
    }

    /// The report `ari test --coverage` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (title, items) in [
            ("flow edges", &self.edges),
            ("reply text keys", &self.texts),
            ("extraction rules", &self.rules),
        ] {
            let hit = items.iter().filter(|i| i.hits > 0).count();
            let _ = writeln!(out, "{title}: {hit} of {} exercised", items.len());
            for i in items.iter().filter(|i| i.hits == 0) {
                match &i.unreachable {
                    Some(reason) => {
                        let _ = writeln!(out, "  unreachable  {}  ({reason})", i.name);
                    }
                    None => {
                        let _ = writeln!(out, "  never        {}", i.name);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_items_split_into_key_and_language() {
        assert_eq!(
            split_text_item("scheduling.booked [en]"),
            ("scheduling.booked", "en")
        );
        assert_eq!(
            split_text_item("fields.name.question [id]"),
            ("fields.name.question", "id")
        );
    }

    #[test]
    fn an_unreachable_text_without_language_covers_every_language() {
        let u: Unreachable = toml::from_str(
            "[[text]]\nkey = \"handoff.resumed\"\nreason = \"r\"\n[[edge]]\nname = \"e\"\nreason = \"x\"\n",
        )
        .unwrap();
        assert_eq!(u.text_reason("handoff.resumed", "en"), Some("r"));
        assert_eq!(u.text_reason("handoff.other", "en"), None);
        assert_eq!(u.edge_reason("e"), Some("x"));
    }
}
