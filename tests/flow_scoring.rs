//! The seed's scoring vectors (§6.4) with the clock injected, and its quirks as regressions
//! with the corrected result.

use std::collections::BTreeMap;

use ari::config::flow::Weights;
use ari::flow::scoring::{
    ScoreInput, ScoringRules, Temperature, has_high_ielts, is_long_timeline, score,
};

fn input(fields: &[(&str, &str)], docs: &[(&str, bool)], engagement: Option<f64>) -> ScoreInput {
    ScoreInput {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        documents: docs
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        engagement,
        current_year: 2026,
    }
}

const ALL6: &[(&str, &str)] = &[
    ("name", "Budi Santoso"),
    ("email", "budi@test.com"),
    ("english_level", "IELTS 7.0"),
    ("budget", "50 juta"),
    ("timeline", "6 bulan"),
    ("country", "Australia"),
];
const ALL_DOCS: &[(&str, bool)] = &[
    ("passport", true),
    ("cv", true),
    ("english_test", true),
    ("transcript", true),
];

/// (name, fields, docs, engagement, total, basic, qualification, documents, engagement)
type Vector = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, bool)>,
    Option<f64>,
    u32,
    f64,
    f64,
    f64,
    f64,
);

fn vectors() -> Vec<Vector> {
    let six_mid: Vec<(&str, &str)> = ALL6
        .iter()
        .map(|(k, v)| {
            if *k == "english_level" {
                (*k, "menengah")
            } else {
                (*k, *v)
            }
        })
        .collect();
    let mut max_nodocs: Vec<(&str, &str)> = ALL6
        .iter()
        .map(|(k, v)| match *k {
            "english_level" => (*k, "IELTS 7"),
            "timeline" => (*k, "tahun depan"),
            _ => (*k, *v),
        })
        .collect();
    max_nodocs.push(("program", "MBA"));
    vec![
        ("empty", vec![], vec![], None, 5, 0.0, 0.0, 0.0, 5.0),
        (
            "complete+docs",
            ALL6.to_vec(),
            ALL_DOCS.to_vec(),
            None,
            93,
            25.0,
            33.0,
            30.0,
            5.0,
        ),
        (
            "near timeline",
            vec![("timeline", "6 bulan"), ("country", "UK")],
            vec![],
            None,
            25,
            10.0,
            10.0,
            0.0,
            5.0,
        ),
        (
            "far timeline",
            vec![("timeline", "2 tahun lagi"), ("country", "UK")],
            vec![],
            None,
            15,
            10.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "year 2028",
            vec![("timeline", "kuliah 2028"), ("country", "UK")],
            vec![],
            None,
            15,
            10.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "basic English",
            vec![("english_level", "pemula")],
            vec![],
            None,
            18,
            3.0,
            10.0,
            0.0,
            5.0,
        ),
        (
            "IELTS 7.0",
            vec![("english_level", "IELTS 7.0")],
            vec![],
            None,
            21,
            3.0,
            13.0,
            0.0,
            5.0,
        ),
        (
            "no docs",
            vec![("name", "Test")],
            vec![],
            None,
            8,
            3.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "partial docs",
            vec![("name", "Test")],
            vec![("passport", true), ("cv", true), ("english_test", false)],
            None,
            23,
            3.0,
            0.0,
            15.0,
            5.0,
        ),
        (
            "full docs",
            vec![("name", "Test")],
            ALL_DOCS.to_vec(),
            None,
            38,
            3.0,
            0.0,
            30.0,
            5.0,
        ),
        (
            "engagement default",
            vec![("name", "Test")],
            vec![],
            None,
            8,
            3.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "engagement 10",
            vec![("name", "Test")],
            vec![],
            Some(10.0),
            13,
            3.0,
            0.0,
            0.0,
            10.0,
        ),
        (
            "engagement 2",
            vec![("name", "Test")],
            vec![],
            Some(2.0),
            5,
            3.0,
            0.0,
            0.0,
            2.0,
        ),
        (
            "clamp high",
            vec![("name", "Test")],
            vec![],
            Some(15.0),
            13,
            3.0,
            0.0,
            0.0,
            10.0,
        ),
        (
            "clamp low",
            vec![("name", "Test")],
            vec![],
            Some(-5.0),
            3,
            3.0,
            0.0,
            0.0,
            0.0,
        ),
        (
            "valid email",
            vec![("email", "test@example.com")],
            vec![],
            None,
            13,
            8.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "invalid email",
            vec![("email", "not-an-email")],
            vec![],
            None,
            8,
            3.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "reasons",
            vec![
                ("name", "Budi"),
                ("email", "budi@test.com"),
                ("budget", "50 juta"),
                ("country", "UK"),
            ],
            vec![],
            None,
            35,
            20.0,
            10.0,
            0.0,
            5.0,
        ),
        (
            "penalty reason",
            vec![("timeline", "2 tahun lagi")],
            vec![],
            None,
            8,
            3.0,
            0.0,
            0.0,
            5.0,
        ),
        (
            "IELTS reason",
            vec![("english_level", "IELTS 7.5")],
            vec![],
            None,
            21,
            3.0,
            13.0,
            0.0,
            5.0,
        ),
        (
            "max without documents",
            max_nodocs.clone(),
            vec![],
            None,
            68,
            25.0,
            38.0,
            0.0,
            5.0,
        ),
        (
            "same, all docs false",
            max_nodocs,
            vec![
                ("passport", false),
                ("cv", false),
                ("english_test", false),
                ("transcript", false),
            ],
            None,
            68,
            25.0,
            38.0,
            0.0,
            5.0,
        ),
        (
            "6 required, passport",
            six_mid.clone(),
            vec![("passport", true)],
            None,
            68,
            25.0,
            30.0,
            7.5,
            5.0,
        ),
        (
            "6 required, 3 docs",
            six_mid,
            vec![("passport", true), ("cv", true), ("english_test", true)],
            None,
            83,
            25.0,
            30.0,
            22.5,
            5.0,
        ),
        (
            "IELTS 6 no bonus",
            vec![("english_level", "IELTS 6")],
            vec![],
            None,
            18,
            3.0,
            10.0,
            0.0,
            5.0,
        ),
        (
            "skor 7 bonus",
            vec![("english_level", "skor 7")],
            vec![],
            None,
            21,
            3.0,
            13.0,
            0.0,
            5.0,
        ),
        (
            "Fluent bonus",
            vec![("english_level", "Fluent")],
            vec![],
            None,
            21,
            3.0,
            13.0,
            0.0,
            5.0,
        ),
        (
            "B2/C1 bonus",
            vec![("english_level", "B2/C1")],
            vec![],
            None,
            21,
            3.0,
            13.0,
            0.0,
            5.0,
        ),
        (
            "blank name",
            vec![("name", "  "), ("email", " a@b.co ")],
            vec![],
            None,
            13,
            8.0,
            0.0,
            0.0,
            5.0,
        ),
    ]
}

#[test]
fn seed_vectors() {
    let rules = ScoringRules::seed();
    for (name, fields, docs, eng, total, b, q, d, e) in vectors() {
        let s = score(&input(&fields, &docs, eng), &rules);
        assert_eq!(
            (s.total, s.basic, s.qualification, s.documents, s.engagement),
            (total, b, q, d, e),
            "vector {name}: {s:?}"
        );
    }
}

#[test]
fn seed_reasons() {
    let rules = ScoringRules::seed();
    let s = score(
        &input(
            &[
                ("name", "Budi"),
                ("email", "budi@test.com"),
                ("budget", "50 juta"),
                ("country", "UK"),
            ],
            &[],
            None,
        ),
        &rules,
    );
    assert_eq!(
        s.reasons,
        vec![
            "Form lengkap (10/15)",
            "Email valid",
            "Negara tujuan: UK",
            "Budget jelas: 50 juta"
        ]
    );
    let s = score(
        &input(
            &[("name", "Test")],
            &[("passport", true), ("cv", true)],
            None,
        ),
        &rules,
    );
    assert!(
        s.reasons.contains(&"Dokumen siap: Paspor, CV".to_string()),
        "{:?}",
        s.reasons
    );
    let s = score(&input(&[("timeline", "2 tahun lagi")], &[], None), &rules);
    assert!(
        s.reasons
            .contains(&"Timeline jauh (2 tahun lagi) - penalty".to_string())
    );
    let s = score(&input(&[("english_level", "IELTS 7.5")], &[], None), &rules);
    assert!(
        s.reasons
            .contains(&"Skor IELTS 6.5+ (IELTS 7.5)".to_string())
    );
}

#[test]
fn temperature_thresholds() {
    let rules = ScoringRules::seed();
    for (s, t) in [
        (70, Temperature::Hot),
        (85, Temperature::Hot),
        (100, Temperature::Hot),
        (40, Temperature::Warm),
        (55, Temperature::Warm),
        (69, Temperature::Warm),
        (0, Temperature::Cold),
        (20, Temperature::Cold),
        (39, Temperature::Cold),
    ] {
        assert_eq!(rules.temperature(s), t, "score {s}");
    }
}

/// Seed quirks (§6.2, §12.6) with the corrected result.
#[test]
fn seed_quirks_are_fixed() {
    let rules = ScoringRules::seed();
    // "6,5" is 6.5: bonus (seed: no bonus).
    assert!(has_high_ielts("ielts 6,5"));
    // "selama" is not "lama": no penalty (seed: score 8).
    let s = score(&input(&[("timeline", "selama setahun")], &[], None), &rules);
    assert_eq!((s.total, s.qualification), (18, 10.0));
    // "12 tahun" is not "2 tahun".
    assert!(!is_long_timeline("12 tahun", 2026));
    assert!(is_long_timeline("2 tahun lagi", 2026));
    // The clock is an input: 2028 is far in 2026, near in 2027.
    assert!(is_long_timeline("kuliah 2028", 2026));
    assert!(!is_long_timeline("kuliah 2028", 2027));
    // Aliases are normalized before scoring (form merge), so the seed's alias vector
    // (Email, negara, ielts 6,5, Budget, kapan "selama 6 bulan lagi", jurusan) now scores
    // completeness 13, email 5, country 5; english 13, budget 10, timeline 10, program 5.
    let s = score(
        &input(
            &[
                ("email", "x@y.com"),
                ("country", "Jepang"),
                ("english_level", "6,5"),
                ("budget", "100jt"),
                ("timeline", "selama 6 bulan lagi"),
                ("program", "IT"),
            ],
            &[],
            None,
        ),
        &rules,
    );
    assert_eq!(
        (s.total, s.basic, s.qualification),
        (66, 23.0, 38.0),
        "{s:?}"
    );
}

#[test]
fn configured_weights_scale_components() {
    let mut rules = ScoringRules::seed();
    rules.weights = Weights {
        basic: 20,
        qualification: 35,
        documents: 40,
        engagement: 5,
    };
    let s = score(&input(ALL6, ALL_DOCS, None), &rules);
    // basic 25*20/25 = 20, qual 33, docs 30*40/30 = 40, engagement 5*5/10 = 2.5 → 95.5 → 96.
    assert_eq!(
        (s.basic, s.documents, s.engagement, s.total),
        (20.0, 40.0, 2.5, 96)
    );
}

/// Far-away timelines in the words leads use, in both languages, get the long-timeline penalty;
/// near ones and other numbers do not.
#[test]
fn long_timelines_in_words_of_both_languages() {
    for t in [
        "2 tahun lagi",
        "dua tahun lagi",
        "3 taun lagi",
        "in 2 years",
        "in about three years",
        "the year after next",
        "maybe in 4 yrs",
        "kuliah 2029",
    ] {
        assert!(is_long_timeline(t, 2026), "{t}");
    }
    for t in [
        "tahun depan",
        "next year",
        "in 1 year",
        "12 tahun",
        "2027",
        "semester depan",
        "in 6 months",
    ] {
        assert!(!is_long_timeline(t, 2026), "{t}");
    }
}
