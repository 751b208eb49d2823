//! Knowledge-base entries: destinations (a university in a city, with its requirements) and
//! FAQ entries. Plain data, deserialized from `state-machines/knowledge/*.toml`.
//!
//! The seed kept these in Convex (`ariDestinations`, `ariKnowledgeEntries`, seed §8) and never
//! used the FAQ entries; here both are searched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One university (or campus) in a destination country.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Stable id, logged per turn (`uk-ucl`). Lowercase letters, digits, `-` and `_`.
    pub id: String,
    /// Country; any alias is accepted at load and stored as the canonical English name
    /// ("Inggris" → "United Kingdom").
    pub country: String,
    /// City, if useful ("London").
    #[serde(default)]
    pub city: Option<String>,
    /// University name.
    pub university: String,
    /// Programs offered that the consultancy places leads in.
    #[serde(default)]
    pub programs: Vec<String>,
    /// Minimum IELTS overall band (0-9).
    #[serde(default)]
    pub ielts_min: Option<f32>,
    /// Minimum GPA (IPK) on the Indonesian 4.0 scale.
    #[serde(default)]
    pub gpa_min: Option<f32>,
    /// Yearly tuition plus living cost, lower bound, in rupiah.
    #[serde(default)]
    pub budget_min_idr: Option<u64>,
    /// Yearly tuition plus living cost, upper bound, in rupiah.
    #[serde(default)]
    pub budget_max_idr: Option<u64>,
    /// Application deadline, free text ("15 Januari", "2027-01-15", "rolling").
    #[serde(default)]
    pub deadline: Option<String>,
    /// Partner campus the consultancy promotes (listed first, seed §8 ranking).
    #[serde(default)]
    pub promoted: bool,
    /// Higher first among equals.
    #[serde(default)]
    pub priority: i32,
    /// One or two sentences of extra information (searched and shown).
    #[serde(default)]
    pub notes: Option<String>,
}

/// A free-text answer to a frequent question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    /// Stable id, logged per turn (`faq-beasiswa-lpdp`).
    pub id: String,
    /// Category: `biaya`, `beasiswa`, `bahasa`, `visa`, `layanan`... (free text, shown to admins).
    pub category: String,
    /// Short title (searched with double weight).
    pub title: String,
    /// The answer, WhatsApp-short.
    pub content: String,
    /// Country the entry is about, if any (canonicalized at load like [`Destination::country`]).
    #[serde(default)]
    pub country: Option<String>,
    /// Extra search words that do not read well in the content (synonyms, abbreviations).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The title and content in other languages, by language code (`[faq.translations.en]`):
    /// a conversation in that language is answered from it, and its words are searched too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, EntryText>,
}

/// An entry's title and content in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryText {
    /// Short title (searched with double weight, like the entry's own).
    pub title: String,
    /// The answer, WhatsApp-short.
    pub content: String,
}

impl FaqEntry {
    /// The title and content in `language`, or `None` when the entry has no such translation
    /// (the entry's own text is in the knowledge base's language).
    pub fn text_in(&self, language: &str) -> Option<&EntryText> {
        self.translations.get(language)
    }
}

/// One workspace's knowledge base.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeBase {
    /// Universities.
    #[serde(default, rename = "destination")]
    pub destinations: Vec<Destination>,
    /// FAQ entries.
    #[serde(default, rename = "faq")]
    pub faq: Vec<FaqEntry>,
}

/// A reference to one entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    /// A destination.
    Destination(&'a Destination),
    /// A FAQ entry.
    Faq(&'a FaqEntry),
}

impl Entry<'_> {
    /// The entry id.
    pub fn id(&self) -> &str {
        match self {
            Entry::Destination(d) => &d.id,
            Entry::Faq(f) => &f.id,
        }
    }

    /// The entry's canonical country, if any.
    pub fn country(&self) -> Option<&str> {
        match self {
            Entry::Destination(d) => Some(&d.country),
            Entry::Faq(f) => f.country.as_deref(),
        }
    }

    /// (promoted, priority) for tie-breaking; FAQ entries are neither.
    pub fn rank(&self) -> (bool, i32) {
        match self {
            Entry::Destination(d) => (d.promoted, d.priority),
            Entry::Faq(_) => (false, 0),
        }
    }
}

impl KnowledgeBase {
    /// All entries, destinations first, in file order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.destinations
            .iter()
            .map(Entry::Destination)
            .chain(self.faq.iter().map(Entry::Faq))
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<Entry<'_>> {
        self.entries().find(|e| e.id() == id)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.destinations.len() + self.faq.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `other`'s entries; an entry with an id already present replaces it (a workspace's
    /// entry overrides the default one).
    pub fn overlay(&mut self, other: KnowledgeBase) {
        for d in other.destinations {
            match self.destinations.iter_mut().find(|x| x.id == d.id) {
                Some(x) => *x = d,
                None => self.destinations.push(d),
            }
        }
        for f in other.faq {
            match self.faq.iter_mut().find(|x| x.id == f.id) {
                Some(x) => *x = f,
                None => self.faq.push(f),
            }
        }
    }
}
