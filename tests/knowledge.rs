//! Knowledge base: the default files load, questions find the expected entry first, country
//! synonyms match whole words only (seed §8 substring bugs), recommendations filter, and files
//! with mistakes fail with errors that name the file and the entry.

use std::path::{Path, PathBuf};

use ari::knowledge::{
    KnowledgeBase, KnowledgeError, KnowledgeIndex, LeadProfile, canonical_country, load_dir,
    load_for_workspace, parse_budget_idr, parse_file, parse_ielts, recommend, recommendation_text,
    tokenize,
};
use proptest::prelude::*;

fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/knowledge")
}

fn index() -> KnowledgeIndex {
    KnowledgeIndex::new(load_dir(&default_dir()).expect("default knowledge base loads"))
}

#[test]
fn default_knowledge_base_loads_with_enough_entries() {
    let kb = load_dir(&default_dir()).unwrap();
    assert!(kb.destinations.len() >= 10, "{}", kb.destinations.len());
    assert!(kb.faq.len() >= 10, "{}", kb.faq.len());
    let countries: std::collections::BTreeSet<&str> =
        kb.destinations.iter().map(|d| d.country.as_str()).collect();
    for c in [
        "United Kingdom",
        "Australia",
        "Netherlands",
        "Japan",
        "Germany",
        "Canada",
        "United States",
        "Singapore",
    ] {
        assert!(countries.contains(c), "no destination in {c}");
    }
}

/// (question, lead's country, expected first entry id)
const QUESTIONS: &[(&str, Option<&str>, &str)] = &[
    ("berapa biaya kuliah di Inggris?", None, "faq-biaya-inggris"),
    ("Berapa biaya kuliah di UK?", None, "faq-biaya-inggris"),
    (
        "how much is the tuition in the UK?",
        None,
        "faq-biaya-inggris",
    ),
    ("ada beasiswa ke Belanda?", None, "faq-beasiswa-belanda"),
    ("syarat IELTS Melbourne?", None, "au-unimelb"),
    (
        "what are the requirements for Japan?",
        None,
        "faq-syarat-jepang",
    ),
    ("info beasiswa LPDP dong kak", None, "faq-beasiswa-lpdp"),
    ("Chevening itu apa ya?", None, "faq-beasiswa-chevening"),
    ("berapa biaya konsultasi di sini?", None, "faq-layanan"),
    (
        "gimana cara apply visa pelajar Australia?",
        None,
        "faq-visa-australia",
    ),
    ("kuliah di Jerman gratis ya?", None, "faq-biaya-jerman"),
    ("universitas di australia apa aja", None, "au-unimelb"),
    ("kampus di jepang yang bagus apa?", None, "jp-utokyo"),
    ("MEXT scholarship requirements?", None, "faq-beasiswa-mext"),
    (
        "boleh kerja part time sambil kuliah?",
        None,
        "faq-kerja-part-time",
    ),
    (
        "dokumen apa saja yang perlu disiapkan?",
        None,
        "faq-dokumen",
    ),
    ("TU Delft syaratnya apa?", None, "nl-tudelft"),
    ("skor IELTS minimal berapa untuk S2?", None, "faq-ielts"),
    (
        "beasiswa Australia Awards gimana?",
        None,
        "faq-beasiswa-aas",
    ),
    ("biaya hidup di Tokyo berapa?", None, "faq-biaya-jepang"),
    ("NUS Singapura biayanya berapa?", None, "sg-nus"),
    (
        "I want to study in the US, which universities?",
        None,
        "us-bu",
    ),
    ("beasiswa DAAD", None, "faq-beasiswa-daad"),
    ("visa UK gimana prosesnya?", None, "faq-visa-uk"),
    // The lead's known country narrows a question that names none.
    (
        "ada beasiswa apa aja?",
        Some("Netherlands"),
        "faq-beasiswa-belanda",
    ),
    ("berapa biayanya?", Some("Inggris"), "faq-biaya-inggris"),
    ("ada beasiswa?", Some("Jepang"), "faq-beasiswa-mext"),
];

#[test]
fn questions_return_the_expected_entry_first() {
    let idx = index();
    let mut failures = Vec::new();
    for (q, country, want) in QUESTIONS {
        let hits = idx.search(q, *country, 3);
        let got: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        if got.first() != Some(want) {
            failures.push(format!(
                "{q:?} (country {country:?}): want {want}, got {got:?}"
            ));
        }
    }
    assert!(QUESTIONS.len() >= 15);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_question_about_one_country_gets_no_other_countrys_entries() {
    let idx = index();
    let kb = idx.kb();
    for hit in idx.search("beasiswa ke Belanda", None, 10) {
        let country = kb
            .get(&hit.id)
            .and_then(|e| e.country().map(str::to_string));
        assert!(
            country.is_none() || country.as_deref() == Some("Netherlands"),
            "{} is about {country:?}",
            hit.id
        );
    }
    // The question's country beats the lead's.
    let hits = idx.search("biaya kuliah di Jepang", Some("United Kingdom"), 1);
    assert_eq!(hits[0].id, "faq-biaya-jepang");
}

#[test]
fn a_university_named_in_the_question_answers_before_the_leads_country() {
    let idx = index();
    for (question, lead_country, expected) in [
        ("kak syarat IELTS buat Monash brp ya?", None, "au-monash"),
        (
            "what does UCL require for computer science?",
            Some("Japan"),
            "uk-ucl",
        ),
        (
            "biaya di UNSW berapa kak?",
            Some("United Kingdom"),
            "au-unsw",
        ),
    ] {
        let hits = idx.search(question, lead_country, 2);
        assert_eq!(
            hits.first().map(|h| h.id.as_str()),
            Some(expected),
            "{question}: {hits:?}"
        );
    }
    // A question naming no university is not narrowed by one.
    let hits = idx.search("syarat kuliah di Jepang", None, 1);
    assert_eq!(hits[0].id, "faq-syarat-jepang");
}

#[test]
fn answer_has_ids_and_short_indonesian_text() {
    let idx = index();
    let a = idx.answer("berapa biaya kuliah di Inggris?", None, 2);
    assert_eq!(a.entry_ids.len(), 2);
    assert_eq!(a.entry_ids[0], "faq-biaya-inggris");
    assert!(
        a.text.starts_with("*Biaya kuliah di Inggris*"),
        "{}",
        a.text
    );
    assert!(a.text.chars().count() < 1000, "{}", a.text.chars().count());

    let d = idx.answer("syarat IELTS Melbourne", None, 1);
    assert_eq!(d.entry_ids, ["au-unimelb"]);
    assert!(
        d.text.contains("Syarat: IELTS min 6.5, IPK min 3.0"),
        "{}",
        d.text
    );
    let monash = idx.answer("Monash University", None, 1);
    assert!(monash.text.contains("IPK min 2.75"), "{}", monash.text);
    assert!(d.text.contains("Melbourne, Australia"), "{}", d.text);
    // Budget printed once per side ("Rp850 juta–1,2 miliar"), never "Rp..-Rp.." (seed §8).
    assert!(
        d.text.contains("±Rp850 juta–1,2 miliar/tahun"),
        "{}",
        d.text
    );

    let none = idx.answer("zzzz qqqq", None, 2);
    assert!(none.entry_ids.is_empty() && none.text.is_empty());
}

/// English questions find the entries through their `[faq.translations.en]` words and are
/// answered in English; an answer whose best entry has no English text stays in the knowledge
/// base's language and says so (the template reply then sends the translated fallback).
#[test]
fn english_questions_get_the_english_translation() {
    let idx = index();
    for (q, country, want, words) in [
        (
            "How much does a master's there cost per year?",
            Some("United Kingdom"),
            "faq-biaya-inggris",
            "£20,000",
        ),
        (
            "Are there any scholarships for Indonesians in the UK?",
            None,
            "faq-beasiswa-chevening",
            "Chevening",
        ),
        (
            "What do I need for an Australian student visa?",
            None,
            "faq-visa-australia",
            "subclass 500",
        ),
        (
            "Can I work part-time while studying?",
            None,
            "faq-kerja-part-time",
            "hours",
        ),
    ] {
        let a = idx.answer_in(q, country, 2, Some("en"));
        assert_eq!(a.entry_ids.first().map(String::as_str), Some(want), "{q}");
        assert_eq!(a.language.as_deref(), Some("en"), "{q}");
        assert!(a.text.contains(words), "{q}: {}", a.text);
    }
    let uni = idx.answer_in("Monash University", None, 1, Some("en"));
    assert_eq!(uni.entry_ids, ["au-monash"]);
    assert_eq!(
        uni.language.as_deref(),
        Some("en"),
        "destinations in English labels"
    );
    assert!(
        uni.text.contains("Requirements: IELTS min 6.5"),
        "{}",
        uni.text
    );
    assert!(uni.text.contains("million a year"), "{}", uni.text);
    assert!(!uni.text.contains("Syarat"), "{}", uni.text);
    let id = idx.answer_in("berapa biaya kuliah di Inggris?", None, 2, Some("id"));
    assert_eq!(id.language, None, "no `id` translation: the base text");
    assert!(id.text.starts_with("*Biaya kuliah di Inggris*"));
}

/// A question about a country the knowledge base does not cover is not answered with an entry
/// that only shares a generic word with it; the country's own entries still answer loosely
/// worded questions.
#[test]
fn entries_about_no_country_must_share_the_questions_topic() {
    let idx = index();
    for q in [
        "kak kalau ranking kampus di Korea gimana ya?",
        "kuliah di Korea Selatan bagus ga?",
        "university rankings in Canada?",
    ] {
        let hits = idx.search(q, None, 2);
        assert!(
            hits.iter().all(|h| !h.id.starts_with("faq-ielts")),
            "{q}: {hits:?}"
        );
    }
    let jp = idx.search("kampus di jepang yang bagus apa?", None, 1);
    assert_eq!(jp.first().map(|h| h.id.as_str()), Some("jp-utokyo"));
    let lpdp = idx.search("beasiswa LPDP bisa buat kuliah di Belanda?", None, 3);
    assert!(lpdp.iter().any(|h| h.id == "faq-beasiswa-lpdp"), "{lpdp:?}");
}

#[test]
fn empty_knowledge_base_answers_nothing() {
    let idx = KnowledgeIndex::new(KnowledgeBase::default());
    assert!(idx.search("biaya kuliah di Inggris", None, 3).is_empty());
}

// --- Country synonyms: whole words only -------------------------------------------------------

fn country_tokens(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(|t| t.starts_with("country:"))
        .collect()
}

#[test]
fn seed_substring_bugs_are_gone() {
    // Seed §8: "us" inside "australia", "kampus", "bagus"; "au" inside "mau".
    assert_eq!(
        country_tokens("universitas di australia apa aja"),
        ["country:australia"]
    );
    assert_eq!(country_tokens("kampus di jepang"), ["country:japan"]);
    assert!(country_tokens("program apa yang bagus").is_empty());
    assert!(country_tokens("Saya mau kuliah").is_empty());
    assert!(country_tokens("can you tell us more").is_empty());
    assert!(country_tokens("sama aja, as usual").is_empty());
    assert_eq!(
        country_tokens("Berapa biaya kuliah di UK?"),
        ["country:united_kingdom"]
    );
    assert_eq!(
        country_tokens("beasiswa ke Belanda"),
        ["country:netherlands"]
    );
    assert!(country_tokens("Info visa dong").is_empty());
}

#[test]
fn synonyms_fold_to_one_country() {
    for (text, canonical) in [
        ("Inggris", "united_kingdom"),
        ("UK", "united_kingdom"),
        ("United Kingdom", "united_kingdom"),
        ("England", "united_kingdom"),
        ("Britain", "united_kingdom"),
        ("Amerika", "united_states"),
        ("US", "united_states"),
        ("USA", "united_states"),
        ("Amerika Serikat", "united_states"),
        ("Belanda", "netherlands"),
        ("Netherlands", "netherlands"),
        ("Holland", "netherlands"),
        ("Jepang", "japan"),
        ("Japan", "japan"),
        ("Jerman", "germany"),
        ("Germany", "germany"),
        ("Aussie", "australia"),
        ("Melbourne", "australia"),
        ("Sydney", "australia"),
        ("Kanada", "canada"),
        ("Canada", "canada"),
        ("Singapura", "singapore"),
        ("Korea Selatan", "south_korea"),
        ("South Korea", "south_korea"),
        ("Selandia Baru", "new_zealand"),
        ("NZ", "new_zealand"),
    ] {
        assert_eq!(
            country_tokens(&format!("kuliah di {text} dong")),
            [format!("country:{canonical}")],
            "{text}"
        );
    }
    // "Korea Selatan" is one country, not Korea plus a word.
    assert_eq!(tokenize("Korea Selatan").len(), 1);
}

#[test]
fn bahasa_inggris_is_the_language_not_the_uk() {
    assert!(country_tokens("skor bahasa Inggris saya 6.5").is_empty());
    assert_eq!(
        country_tokens("kuliah di Inggris"),
        ["country:united_kingdom"]
    );
}

#[test]
fn tokenizer_drops_stop_words_and_punctuation_and_folds_concepts() {
    assert_eq!(tokenize("Berapa biayanya, kak?!"), ["biaya"]);
    assert_eq!(tokenize("What are the tuition fees?"), ["biaya", "biaya"]);
    assert_eq!(tokenize("syarat / requirements"), ["syarat", "syarat"]);
}

#[test]
fn canonical_country_names_whole_values() {
    assert_eq!(canonical_country("Korea Selatan"), Some("South Korea"));
    assert_eq!(canonical_country(" inggris "), Some("United Kingdom"));
    assert_eq!(canonical_country("United Kingdom"), Some("United Kingdom"));
    assert_eq!(canonical_country("US"), Some("United States"));
    assert_eq!(canonical_country("us"), None);
    assert_eq!(canonical_country("mau"), None);
    assert_eq!(canonical_country("Mars"), None);
}

#[test]
fn canonical_names_agree_with_the_flow_extractor() {
    // The flow stores `country` with its own table; both must name countries alike.
    for (alias, canonical) in ari::flow::extract::COUNTRIES {
        if let Some(c) = canonical_country(alias) {
            assert_eq!(c, *canonical, "{alias}");
        }
    }
}

// --- Recommendations --------------------------------------------------------------------------

#[test]
fn recommendations_filter_by_country_ielts_and_budget() {
    let kb = load_dir(&default_dir()).unwrap();
    let ids = |lead: &LeadProfile| -> Vec<String> {
        recommend(&kb.destinations, lead, 100)
            .iter()
            .map(|d| d.id.clone())
            .collect()
    };
    // Country only: promoted first, then priority.
    let uk = LeadProfile {
        country: Some("Inggris".into()),
        ..Default::default()
    };
    assert_eq!(ids(&uk), ["uk-ucl", "uk-manchester", "uk-edinburgh"]);
    // Budget 800 juta excludes UCL (950 juta minimum).
    let uk_budget = LeadProfile {
        budget_idr: Some(800_000_000),
        ..uk.clone()
    };
    assert_eq!(ids(&uk_budget), ["uk-manchester", "uk-edinburgh"]);
    // IELTS 6.0 excludes every 6.5 campus; Waseda (6.0) stays.
    let jp = LeadProfile {
        country: Some("Japan".into()),
        ielts: Some(6.0),
        budget_idr: None,
    };
    assert_eq!(ids(&jp), ["jp-waseda"]);
    // Unknown country: nothing rather than everything.
    let mars = LeadProfile {
        country: Some("Mars".into()),
        ..Default::default()
    };
    assert!(ids(&mars).is_empty());
    // Nothing known: all, promoted first.
    let all = ids(&LeadProfile::default());
    assert_eq!(all.len(), kb.destinations.len());
    assert!(kb.get(&all[0]).is_some());
    assert!(
        all.iter()
            .take(4)
            .all(|id| kb.destinations.iter().any(|d| &d.id == id && d.promoted))
    );
    // Limit.
    assert_eq!(
        recommend(&kb.destinations, &LeadProfile::default(), 3).len(),
        3
    );
}

#[test]
fn recommendation_text_names_budget_and_country() {
    let kb = load_dir(&default_dir()).unwrap();
    let lead = LeadProfile {
        country: Some("Belanda".into()),
        ielts: Some(7.0),
        budget_idr: Some(700_000_000),
    };
    let recs = recommend(&kb.destinations, &lead, 3);
    let text = recommendation_text(&recs, &lead);
    assert!(
        text.starts_with("Dengan budget sekitar Rp700 juta/tahun, ini pilihan di Belanda"),
        "{text}"
    );
    assert!(text.contains("TU Delft"), "{text}");
    assert!(recommendation_text(&[], &lead).contains("negara lain"));
}

#[test]
fn lead_field_parsers() {
    assert_eq!(parse_ielts("IELTS 6.5"), Some(6.5));
    assert_eq!(parse_ielts("ielts 6,5"), Some(6.5));
    assert_eq!(parse_ielts("7"), Some(7.0));
    assert_eq!(parse_ielts("TOEFL 90"), None);
    assert_eq!(parse_ielts("menengah"), None);
    assert_eq!(parse_budget_idr("500 juta"), Some(500_000_000));
    assert_eq!(parse_budget_idr("Rp 500 juta"), Some(500_000_000));
    assert_eq!(parse_budget_idr("500jt"), Some(500_000_000));
    assert_eq!(parse_budget_idr("1,5 miliar"), Some(1_500_000_000));
    assert_eq!(parse_budget_idr("1.5 M"), Some(1_500_000_000));
    assert_eq!(parse_budget_idr("Rp 500.000.000"), Some(500_000_000));
    assert_eq!(parse_budget_idr("300-500 juta"), Some(500_000_000));
    assert_eq!(parse_budget_idr("USD 30000"), None);
    assert_eq!(parse_budget_idr("belum tau"), None);
}

// --- Loading and validation -------------------------------------------------------------------

fn parse(text: &str) -> Result<KnowledgeBase, KnowledgeError> {
    parse_file(Path::new("kb/test.toml"), text)
}

#[test]
fn invalid_entries_fail_naming_file_and_entry() {
    let cases = [
        (
            "[[destination]]\nid = \"x-1\"\ncountry = \"Inggirs\"\nuniversity = \"U\"\n",
            "kb/test.toml: entry `x-1`: unknown country `Inggirs`",
        ),
        (
            "[[destination]]\nid = \"x-1\"\ncountry = \"UK\"\nuniversity = \"U\"\nielts_min = 65\n",
            "kb/test.toml: entry `x-1`: ielts_min 65 is outside 0-9",
        ),
        (
            "[[destination]]\nid = \"x-1\"\ncountry = \"UK\"\nuniversity = \"U\"\nbudget_min_idr = 9\nbudget_max_idr = 1\n",
            "kb/test.toml: entry `x-1`: budget_min_idr 9 is above budget_max_idr 1",
        ),
        (
            "[[faq]]\nid = \"\"\ncategory = \"c\"\ntitle = \"t\"\ncontent = \"c\"\n",
            "kb/test.toml: entry `#1`: id must not be empty",
        ),
        (
            "[[faq]]\nid = \"Bad Id\"\ncategory = \"c\"\ntitle = \"t\"\ncontent = \"c\"\n",
            "kb/test.toml: entry `Bad Id`: id may only use",
        ),
        (
            "[[faq]]\nid = \"f\"\ncategory = \"c\"\ntitle = \" \"\ncontent = \"c\"\n",
            "kb/test.toml: entry `f`: title must not be empty",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with(want), "{err}\n  want {want}");
    }
    let err = parse("[[faq]]\nid = \"f\"\ntitel = \"t\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("kb/test.toml: ") && err.contains("titel"),
        "{err}"
    );
}

#[test]
fn countries_are_stored_canonical() {
    let kb = parse(
        "[[destination]]\nid = \"a\"\ncountry = \"Korea Selatan\"\nuniversity = \"SNU\"\n\
         [[faq]]\nid = \"b\"\ncategory = \"c\"\ntitle = \"t\"\ncontent = \"c\"\ncountry = \"Jepang\"\n",
    )
    .unwrap();
    assert_eq!(kb.destinations[0].country, "South Korea");
    assert_eq!(kb.faq[0].country.as_deref(), Some("Japan"));
}

#[test]
fn duplicate_ids_across_files_and_workspace_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let faq = |id: &str, title: &str| {
        format!(
            "[[faq]]\nid = \"{id}\"\ncategory = \"c\"\ntitle = \"{title}\"\ncontent = \"isi\"\n"
        )
    };
    std::fs::write(dir.path().join("a.toml"), faq("one", "Satu")).unwrap();
    std::fs::write(dir.path().join("b.toml"), faq("two", "Dua")).unwrap();
    std::fs::write(dir.path().join("README.md"), "not loaded").unwrap();
    let ws = dir.path().join("workspaces").join("ws-1");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(
        ws.join("own.toml"),
        faq("two", "Dua khusus") + &faq("three", "Tiga"),
    )
    .unwrap();

    let base = load_dir(dir.path()).unwrap();
    assert_eq!(base.faq.len(), 2);
    let own = load_for_workspace(dir.path(), "ws-1").unwrap();
    let titles: Vec<&str> = own.faq.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(titles, ["Satu", "Dua khusus", "Tiga"]);
    // Another workspace, or a path-like id, gets the default.
    assert_eq!(load_for_workspace(dir.path(), "ws-2").unwrap(), base);
    assert_eq!(load_for_workspace(dir.path(), "../ws-1").unwrap(), base);

    std::fs::write(dir.path().join("c.toml"), faq("one", "Lagi")).unwrap();
    let err = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("c.toml: entry `one`: duplicate id (first defined in"),
        "{err}"
    );
    assert!(err.contains("a.toml"), "{err}");

    let missing = load_dir(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(missing, KnowledgeError::Io { .. }));
}

proptest! {
    #[test]
    fn tokenizer_and_search_never_panic(s in "\\PC{0,80}") {
        let _ = tokenize(&s);
        let _ = canonical_country(&s);
        let _ = parse_budget_idr(&s);
        let _ = parse_ielts(&s);
    }
}

#[test]
fn search_never_panics_on_odd_input() {
    let idx = index();
    for q in [
        "",
        "   ",
        "???",
        "🇬🇧🇬🇧",
        "US US US",
        "'",
        "ñandú",
        &"biaya ".repeat(500),
    ] {
        let _ = idx.search(q, Some("🙂"), 5);
        let _ = idx.answer(q, None, 2);
    }
}

#[test]
fn index_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync>() {}
    shareable::<KnowledgeIndex>();
}

/// A question about a document is answered only by an entry that names a document it asks
/// about: no entry of the shipped knowledge base is about CVs, so the DAAD entry (Germany,
/// applications) does not answer a CV question about a German master's.
#[test]
fn a_question_about_a_document_needs_an_entry_naming_it() {
    let idx = index();
    for (q, country) in [
        (
            "What should a CV for a German master's application look like?",
            Some("Germany"),
        ),
        ("format CV buat daftar S2 di Jerman gimana kak?", None),
        (
            "what should my resume look like for Australian universities?",
            None,
        ),
    ] {
        let hits = idx.search(q, country, 2);
        assert!(hits.is_empty(), "{q}: {hits:?}");
    }
    let ielts = idx.search("berapa skor IELTS minimal buat kuliah di Jerman?", None, 2);
    assert!(
        !ielts.is_empty(),
        "the IELTS question still finds its entries"
    );
    assert_eq!(tokenize("a German master's"), ["country:germany", "s2"]);
}
