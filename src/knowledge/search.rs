//! BM25 search over titles and content (the `bm25` crate with [`KbTokenizer`]), narrowed to the
//! country the question (or else the lead) names, and the short Indonesian answer built from
//! the top entries.
//!
//! Scores: BM25 with the crate defaults (k1 1.2, b 0.75). Titles count twice (they are indexed
//! twice). Promoted destinations get 8 % and each priority point (0-10) 0.2 % on top, so among
//! near-equal matches partners come first (the seed listed promoted first, §8). Ties: promoted,
//! priority, id, so results are deterministic.

use std::collections::HashSet;

use bm25::{Document, SearchEngine, SearchEngineBuilder};
use serde::{Deserialize, Serialize};

use super::countries::{canonical_country, country_token, indonesian_name};
use super::model::{Destination, Entry, FaqEntry, KnowledgeBase};
use super::tokenize::{KbTokenizer, countries_in, tokenize};

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Entry id.
    pub id: String,
    /// BM25 score (higher is better; only comparable within one query).
    pub score: f32,
}

/// What the turn gets for a knowledge question: the ids to log and the text for the LLM (or to
/// send as is). `text` is empty when nothing matched: use the flow's `knowledge_fallback`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeAnswer {
    /// Ids of the entries used, best first.
    pub entry_ids: Vec<String>,
    /// Short answer from those entries, in the knowledge base's own language unless
    /// `language` says otherwise.
    pub text: String,
    /// The language `text` was written in when it is a translation (every entry used had one,
    /// see [`KnowledgeIndex::answer_in`]); `None`: the knowledge base's own language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A knowledge base with its BM25 index; build once per load (cheap: milliseconds for
/// thousands of entries).
pub struct KnowledgeIndex {
    kb: KnowledgeBase,
    engine: Option<SearchEngine<usize, u32, KbTokenizer>>,
    /// Each entry's search terms (as tokenized), for the topic check in [`Self::search`].
    terms: Vec<HashSet<String>>,
    /// Each entry's title terms (as tokenized, every language), for the same check.
    title_terms: Vec<HashSet<String>>,
    /// Each entry's university name tokens ([`name_tokens`]); empty for FAQ entries.
    names: Vec<HashSet<String>>,
}

/// An answer's later entries score at least this share of the best one's (BM25 with boosts);
/// below it they answer something else and are left out. Chosen from the probe dialogues of
/// 2026-12-02, where unrelated runners-up were appended (not tuned on a measured set).
const RUNNER_UP_FLOOR: f32 = 0.5;

/// Topics whose answer depends on the country ("biaya", "visa", "syarat" as concepts): an entry
/// about no country does not answer them for a country the question names ("biaya kuliah di
/// Irlandia" is not the consultancy's own fees).
const COUNTRY_TOPICS: &[&str] = &[
    "biaya", "hidup", "syarat", "visa", "kampus", "jurusan", "daftar",
];

/// Documents a lead asks about ("what should my CV look like?"): a question naming one is
/// answered only by an entry that names one of them too, never by an entry that shares only
/// the country or the application ("a German master's application" is not the DAAD entry).
/// `ielts` is the concept token of the English tests (`tokenize`).
const DOCUMENT_TERMS: &[&str] = &[
    "cv",
    "resume",
    "transkrip",
    "transcript",
    "paspor",
    "passport",
    "ielts",
    "portfolio",
    "portofolio",
    "essay",
    "esai",
];

/// Terms that say a question is about studying abroad but not what about ("kampus", "kuliah"):
/// an entry that shares only these (and the country) with a question does not answer it.
const GENERIC_TERMS: &[&str] = &[
    "kuliah",
    "study",
    "studi",
    "belajar",
    "luar",
    "negeri",
    "abroad",
    "info",
    "informasi",
    "s1",
    "s2",
    "s3",
    "master",
    "masters",
    "bachelor",
    "phd",
    "sekolah",
    "school",
    "mahasiswa",
    "student",
    "students",
    "international",
    "internasional",
    "kak",
    "min",
];

/// Words of university names that do not tell one university from another ("Technical
/// University of Munich"): never a university's own name token.
const NAME_STOP_WORDS: &[&str] = &[
    "technical",
    "technology",
    "national",
    "state",
    "science",
    "sciences",
    "new",
    "royal",
    "tu",
];

/// The tokens that name a destination's university ("monash", "ucl", "unsw"): its name's
/// tokens that are no concept, country, city, generic or stop word ("biaya hidup di Tokyo"
/// asks about the city, not the University of Tokyo).
fn name_tokens(d: &Destination) -> HashSet<String> {
    let city: HashSet<String> = tokenize(d.city.as_deref().unwrap_or(""))
        .into_iter()
        .collect();
    tokenize(&d.university)
        .into_iter()
        .filter(|t| {
            t.chars().count() >= 3
                && !city.contains(t)
                && !t.starts_with("country:")
                && !GENERIC_TERMS.contains(&t.as_str())
                && !NAME_STOP_WORDS.contains(&t.as_str())
                && !super::tokenize::is_concept(t)
        })
        .collect()
}

/// A destination the question names by its university gets this factor on its score, so that
/// "Monash syarat IELTS brp?" is answered by Monash before the general IELTS entry.
const NAMED_BOOST: f32 = 2.0;

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex")
            .field("entries", &self.kb.len())
            .finish()
    }
}

/// The text indexed for an entry: title twice, then the body.
fn document_text(e: &Entry<'_>) -> String {
    match e {
        Entry::Destination(d) => {
            let title = format!(
                "{} {} {}",
                d.university,
                d.city.as_deref().unwrap_or(""),
                d.country
            );
            format!(
                "{title} {title} kampus {} {}",
                d.programs.join(" "),
                d.notes.as_deref().unwrap_or("")
            )
        }
        Entry::Faq(f) => {
            let translated: Vec<String> = f
                .translations
                .values()
                .map(|t| format!("{} {} {}", t.title, t.title, t.content))
                .collect();
            format!(
                "{} {} {} {} {} {}",
                f.title,
                f.title,
                f.content,
                f.country.as_deref().unwrap_or(""),
                f.keywords.join(" "),
                translated.join(" ")
            )
        }
    }
}

/// An entry's titles (its own and its translations'; a destination's university and city).
fn title_text(e: &Entry<'_>) -> String {
    match e {
        Entry::Destination(d) => format!("{} {}", d.university, d.city.as_deref().unwrap_or("")),
        Entry::Faq(f) => {
            let translated: Vec<&str> = f.translations.values().map(|t| t.title.as_str()).collect();
            format!("{} {}", f.title, translated.join(" "))
        }
    }
}

impl KnowledgeIndex {
    /// Indexes `kb`.
    pub fn new(kb: KnowledgeBase) -> Self {
        let docs: Vec<Document<usize>> = kb
            .entries()
            .enumerate()
            .map(|(i, e)| Document::new(i, document_text(&e)))
            .collect();
        let engine = (!docs.is_empty()).then(|| {
            SearchEngineBuilder::<usize, u32, KbTokenizer>::with_tokenizer_and_documents(
                KbTokenizer,
                docs,
            )
            .build()
        });
        let terms_of = |text: &dyn Fn(&Entry<'_>) -> String| -> Vec<HashSet<String>> {
            kb.entries()
                .map(|e| tokenize(&text(&e)).into_iter().collect())
                .collect()
        };
        let terms = terms_of(&document_text);
        let title_terms = terms_of(&title_text);
        let names = kb
            .entries()
            .map(|e| match e {
                Entry::Destination(d) => name_tokens(d),
                Entry::Faq(_) => HashSet::new(),
            })
            .collect();
        KnowledgeIndex {
            kb,
            engine,
            terms,
            title_terms,
            names,
        }
    }

    /// The question's own topic terms: not a country, not a [`GENERIC_TERMS`] word.
    fn topic_terms(query: &str) -> HashSet<String> {
        tokenize(query)
            .into_iter()
            .filter(|t| !t.starts_with("country:") && !GENERIC_TERMS.contains(&t.as_str()))
            .collect()
    }

    /// The indexed knowledge base.
    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// Entries matching `query`, best first, at most `limit`. When the query names countries
    /// only entries about them (or about no country) are kept; otherwise `lead_country` (any
    /// alias or canonical name, e.g. the lead's `country` field) narrows the same way and is
    /// added to the query. An entry about no country must then share a topic term with the
    /// question (not only a [`GENERIC_TERMS`] word): "ranking kampus di Korea" finds nothing
    /// rather than the IELTS entry that also says "kampus".
    pub fn search(&self, query: &str, lead_country: Option<&str>, limit: usize) -> Vec<Hit> {
        let Some(engine) = &self.engine else {
            return Vec::new();
        };
        let mut wanted = countries_in(query);
        let mut q = query.to_string();
        let entries: Vec<Entry<'_>> = self.kb.entries().collect();
        // A university named by its own name ("Monash", "UCL") says the country: the lead's
        // country does not narrow the search away from it.
        let asked: HashSet<String> = tokenize(query).into_iter().collect();
        let named: HashSet<usize> = (0..entries.len())
            .filter(|&i| self.names.get(i).is_some_and(|n| !n.is_disjoint(&asked)))
            .collect();
        if wanted.is_empty() {
            for i in &named {
                if let Some(c) = entries.get(*i).and_then(|e| e.country()) {
                    wanted.push(country_token(c));
                }
            }
        }
        if wanted.is_empty()
            && let Some(c) = lead_country.and_then(canonical_country)
        {
            wanted.push(country_token(c));
            q.push(' ');
            q.push_str(c);
        }
        // With a country asked about, an entry about no country must name in its title a topic
        // of the question that does not depend on the country: the country's own entries
        // answer "kampus di Jepang"; the IELTS entry does not answer "ranking kampus di Korea"
        // for sharing "kampus", nor LPDP "biaya hidup di Malaysia" for sharing "biaya".
        // An entry about the country must still share a topic with the question ("does my
        // passport need to be valid?" is not answered with a Canadian university).
        let topic = Self::topic_terms(query);
        let shares = |terms: &[HashSet<String>], i: usize, skip: &[&str]| {
            terms.get(i).is_some_and(|t| {
                topic
                    .iter()
                    .any(|w| !skip.contains(&w.as_str()) && t.contains(w))
            })
        };
        let documents: Vec<&String> = topic
            .iter()
            .filter(|t| DOCUMENT_TERMS.contains(&t.as_str()))
            .collect();
        let on_topic = |i: usize| {
            let names_document = self
                .terms
                .get(i)
                .is_some_and(|t| documents.iter().any(|d| t.contains(*d)));
            if named.contains(&i) {
                return true;
            }
            if !documents.is_empty() && !names_document {
                return false;
            }
            if wanted.is_empty() {
                return true;
            }
            match entries.get(i).and_then(|e| e.country()) {
                Some(_) => topic.is_empty() || shares(&self.terms, i, &[]),
                None => shares(&self.title_terms, i, COUNTRY_TOPICS),
            }
        };
        let mut hits: Vec<(Entry<'_>, f32)> = engine
            .search(&q, None)
            .into_iter()
            .filter(|r| r.score > 0.0 && on_topic(r.document.id))
            .filter_map(|r| {
                let factor = if named.contains(&r.document.id) {
                    NAMED_BOOST
                } else {
                    1.0
                };
                entries
                    .get(r.document.id)
                    .map(|e| (*e, boosted(e, r.score) * factor))
            })
            .filter(|(e, _)| {
                wanted.is_empty()
                    || e.country()
                        .is_none_or(|c| wanted.contains(&country_token(c)))
            })
            .collect();
        hits.sort_by(|(a, sa), (b, sb)| {
            sb.total_cmp(sa)
                .then_with(|| b.rank().cmp(&a.rank()))
                .then_with(|| a.id().cmp(b.id()))
        });
        hits.into_iter()
            .take(limit)
            .map(|(e, score)| Hit {
                id: e.id().to_string(),
                score,
            })
            .collect()
    }

    /// The answer to a question: the top `limit` entries (2 keeps it WhatsApp-short; a later
    /// one only when it scores at least half the best) rendered in the knowledge base's own
    /// language, and their ids.
    pub fn answer(&self, query: &str, lead_country: Option<&str>, limit: usize) -> KnowledgeAnswer {
        self.answer_in(query, lead_country, limit, None)
    }

    /// [`KnowledgeIndex::answer`] in `language` when the best entry found has a translation
    /// to it: then the answer holds the found entries that have one, and
    /// `KnowledgeAnswer::language` says so. Otherwise it is in the knowledge base's own
    /// language, so that a template reply can tell it cannot be sent as is.
    pub fn answer_in(
        &self,
        query: &str,
        lead_country: Option<&str>,
        limit: usize,
        language: Option<&str>,
    ) -> KnowledgeAnswer {
        let mut hits = self.search(query, lead_country, limit);
        // A weak runner-up is another topic ("a visa question also got the part-time entry").
        let best = hits.first().map_or(0.0, |h| h.score);
        hits.retain(|h| h.score >= best * RUNNER_UP_FLOOR);
        let entries: Vec<Entry<'_>> = hits.iter().filter_map(|h| self.kb.get(&h.id)).collect();
        let text_in = |e: &Entry<'_>, l: &str| match e {
            Entry::Faq(f) => f.text_in(l).map(|t| entry_text(&t.title, &t.content)),
            Entry::Destination(d) => (l == "en").then(|| destination_text_en(d)),
        };
        // In the asked language when the best entry has it: then only the entries that do.
        if let Some(l) = language
            && let Some(first) = entries.first()
            && text_in(first, l).is_some()
        {
            let (ids, parts): (Vec<String>, Vec<String>) = entries
                .iter()
                .filter_map(|e| text_in(e, l).map(|t| (e.id().to_string(), t)))
                .unzip();
            return KnowledgeAnswer {
                entry_ids: ids,
                text: parts.join("\n\n"),
                language: Some(l.to_string()),
            };
        }
        let parts: Vec<String> = entries
            .iter()
            .map(|e| match e {
                Entry::Destination(d) => destination_text(d),
                Entry::Faq(f) => faq_text(f),
            })
            .collect();
        KnowledgeAnswer {
            entry_ids: hits.into_iter().map(|h| h.id).collect(),
            text: parts.join("\n\n"),
            language: None,
        }
    }
}

/// The BM25 score with the promotion bonus.
fn boosted(e: &Entry<'_>, score: f32) -> f32 {
    let (promoted, priority) = e.rank();
    let bonus = if promoted { 0.08 } else { 0.0 } + 0.002 * priority.clamp(0, 10) as f32;
    score * (1.0 + bonus)
}

/// `Rp400 juta`, `Rp1,2 miliar` (the seed printed "Rp400-Rp600", §8).
pub fn rupiah_short(v: u64) -> String {
    if v >= 1_000_000_000 {
        let tenths = (v + 50_000_000) / 100_000_000;
        if tenths.is_multiple_of(10) {
            format!("Rp{} miliar", tenths / 10)
        } else {
            format!("Rp{},{} miliar", tenths / 10, tenths % 10)
        }
    } else {
        format!("Rp{} juta", (v + 500_000) / 1_000_000)
    }
}

/// `Rp400–600 juta/tahun`, `mulai Rp400 juta/tahun`, `sampai Rp1 miliar/tahun`.
pub fn budget_range(min: Option<u64>, max: Option<u64>) -> Option<String> {
    Some(match (min, max) {
        (Some(a), Some(b)) if a == b => format!("{}/tahun", rupiah_short(a)),
        (Some(a), Some(b)) => {
            let (sa, sb) = (rupiah_short(a), rupiah_short(b));
            // Same unit: "Rp400–600 juta".
            match (sa.strip_suffix(" juta"), sb.strip_suffix(" juta")) {
                (Some(x), Some(y)) => format!("{x}–{} juta/tahun", y.trim_start_matches("Rp")),
                _ => format!("{sa}–{}/tahun", sb.trim_start_matches("Rp")),
            }
        }
        (Some(a), None) => format!("mulai {}/tahun", rupiah_short(a)),
        (None, Some(b)) => format!("sampai {}/tahun", rupiah_short(b)),
        (None, None) => return None,
    })
}

/// Cuts at a word boundary near `max` characters, with "…".
fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':']))
}

/// `6.5`, `7.0`, `2.75`: up to two decimals, at least one.
fn score(v: f32) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

/// One destination as WhatsApp text.
pub fn destination_text(d: &Destination) -> String {
    let place = match &d.city {
        Some(c) => format!("{c}, {}", indonesian_name(&d.country)),
        None => indonesian_name(&d.country).to_string(),
    };
    let mut lines = vec![format!("🎓 {} ({place})", d.university)];
    if !d.programs.is_empty() {
        lines.push(format!("• Program: {}", d.programs.join(", ")));
    }
    let mut req = Vec::new();
    if let Some(v) = d.ielts_min {
        req.push(format!("IELTS min {}", score(v)));
    }
    if let Some(v) = d.gpa_min {
        req.push(format!("IPK min {}", score(v)));
    }
    if !req.is_empty() {
        lines.push(format!("• Syarat: {}", req.join(", ")));
    }
    if let Some(b) = budget_range(d.budget_min_idr, d.budget_max_idr) {
        lines.push(format!("• Biaya: ±{b} (kuliah + hidup)"));
    }
    if let Some(dl) = &d.deadline {
        lines.push(format!("• Deadline: {dl}"));
    }
    if let Some(n) = &d.notes {
        lines.push(format!("• {}", shorten(n, 160)));
    }
    lines.join("\n")
}

/// One destination as WhatsApp text in English: the same facts with English labels and the
/// country's English name; the deadline and notes are free text in the knowledge base's own
/// language, so they are left out.
pub fn destination_text_en(d: &Destination) -> String {
    let place = match &d.city {
        Some(c) => format!("{c}, {}", d.country),
        None => d.country.clone(),
    };
    let mut lines = vec![format!("🎓 {} ({place})", d.university)];
    if !d.programs.is_empty() {
        lines.push(format!("• Programs: {}", d.programs.join(", ")));
    }
    let mut req = Vec::new();
    if let Some(v) = d.ielts_min {
        req.push(format!("IELTS min {}", score(v)));
    }
    if let Some(v) = d.gpa_min {
        req.push(format!("GPA min {}", score(v)));
    }
    if !req.is_empty() {
        lines.push(format!("• Requirements: {}", req.join(", ")));
    }
    if let Some(b) = budget_range(d.budget_min_idr, d.budget_max_idr) {
        let b = b
            .replace(" miliar", " billion")
            .replace(" juta", " million")
            .replace("/tahun", " a year")
            .replace("mulai ", "from ")
            .replace("sampai ", "up to ");
        lines.push(format!("• Cost: ±{b} (tuition + living)"));
    }
    lines.join("\n")
}

/// One FAQ entry as WhatsApp text: bold title, content cut near 350 characters.
pub fn faq_text(f: &FaqEntry) -> String {
    entry_text(&f.title, &f.content)
}

/// A title and content as WhatsApp text (bold title, content cut near 350 characters).
fn entry_text(title: &str, content: &str) -> String {
    format!("*{title}*\n{}", shorten(content, 350))
}
