//! The chat extractor on real-looking Indonesian/English lead messages, the seed's substring
//! bugs as regressions, and document answers against the pending question.

use ari::flow::extract::{ExtractContext, Pending, extract};
use ari::flow::yesno::YesNo;

fn ctx(pending: Option<&Pending>) -> ExtractContext<'_> {
    ExtractContext {
        pending,
        current_year: 2026,
    }
}

/// (message, pending field, expected fields) — every listed field must be extracted with
/// exactly this value, and no field outside the list may be extracted.
type Case = (
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

const CASES: &[Case] = &[
    ("nama saya Budi Santoso", None, &[("name", "Budi Santoso")]),
    ("Halo kak, saya Dewi", None, &[("name", "Dewi")]),
    ("saya dewi", None, &[("name", "Dewi")]),
    (
        "I'm Kevin Tan, interested in a master in the UK",
        None,
        &[
            ("name", "Kevin Tan"),
            ("program", "S2"),
            ("country", "United Kingdom"),
        ],
    ),
    ("my name is Sarah", None, &[("name", "Sarah")]),
    (
        "Perkenalkan nama aku Rizky Pratama dari Bandung",
        None,
        &[("name", "Rizky Pratama")],
    ),
    ("panggil aja Andi", None, &[("name", "Andi")]),
    ("Budi Santoso", Some("name"), &[("name", "Budi Santoso")]),
    (
        "siti nurhaliza",
        Some("name"),
        &[("name", "Siti Nurhaliza")],
    ),
    (
        "email saya budi.santoso@gmail.com",
        None,
        &[("email", "budi.santoso@gmail.com")],
    ),
    (
        "ini kak: Dewi.Lestari@Example.co.id",
        None,
        &[("email", "dewi.lestari@example.co.id")],
    ),
    ("IELTS saya 7.0", None, &[("english_level", "IELTS 7.0")]),
    ("ielts 6,5 kak", None, &[("english_level", "IELTS 6.5")]),
    ("TOEFL iBT 90", None, &[("english_level", "TOEFL IBT 90")]),
    (
        "skor duolingo saya 115",
        None,
        &[("english_level", "Duolingo 115")],
    ),
    (
        "bahasa inggris saya masih pemula",
        None,
        &[("english_level", "pemula")],
    ),
    (
        "menengah kak",
        Some("english_level"),
        &[("english_level", "menengah")],
    ),
    (
        "english saya lumayan lancar",
        None,
        &[("english_level", "mahir")],
    ),
    (
        "my english is intermediate",
        None,
        &[("english_level", "menengah")],
    ),
    ("level B2 bahasa inggris", None, &[("english_level", "B2")]),
    ("budget sekitar 500 juta", None, &[("budget", "500 juta")]),
    ("budgetnya 1,2 M kak", None, &[("budget", "1,2 miliar")]),
    ("Rp 300jt per tahun", None, &[("budget", "Rp 300 juta")]),
    ("around AUD 40k per year", None, &[("budget", "AUD 40k")]),
    (
        "dana ada Rp 250.000.000",
        None,
        &[("budget", "Rp 250.000.000")],
    ),
    ("kira2 200 jt", None, &[("budget", "200 juta")]),
    (
        "rencana berangkat tahun depan",
        None,
        &[("timeline", "tahun depan")],
    ),
    (
        "mau mulai bulan depan kalau bisa",
        None,
        &[("timeline", "bulan depan")],
    ),
    ("targetnya 2027", None, &[("timeline", "2027")]),
    (
        "semester ganjil ini kak",
        None,
        &[("timeline", "semester ganjil")],
    ),
    (
        "3 tahun lagi mungkin",
        None,
        &[("timeline", "3 tahun lagi")],
    ),
    (
        "intake september 2027",
        None,
        &[("timeline", "september 2027")],
    ),
    ("next year hopefully", None, &[("timeline", "next year")]),
    ("secepatnya kak", None, &[("timeline", "secepatnya")]),
    ("lulus 2019, sekarang kerja", None, &[("activity", "kerja")]),
    ("saya mau ke Australia", None, &[("country", "Australia")]),
    (
        "pengen kuliah di Inggris",
        None,
        &[("country", "United Kingdom")],
    ),
    (
        "kampus di Belanda bagus ga?",
        None,
        &[("country", "Netherlands")],
    ),
    ("Jepang atau Korea ya", None, &[("country", "South Korea")]),
    ("tertarik Melbourne", None, &[("country", "Australia")]),
    (
        "mau S2 di UK",
        None,
        &[("country", "United Kingdom"), ("program", "S2")],
    ),
    ("eh maksud saya Kanada", None, &[("country", "Canada")]),
    (
        "bukan Inggris, tapi Selandia Baru",
        None,
        &[("country", "New Zealand")],
    ),
    ("study in the US", None, &[("country", "United States")]),
    ("Korea Selatan kak", None, &[("country", "South Korea")]),
    ("kuliah di Tokyo", None, &[("country", "Japan")]),
    ("mau ambil MBA", None, &[("program", "MBA")]),
    (
        "S2 jurusan Data Science",
        None,
        &[("program", "S2 Data Science")],
    ),
    ("master of public health", None, &[("program", "S2")]),
    (
        "saya masih kuliah semester 6",
        None,
        &[("activity", "kuliah")],
    ),
    ("sekarang kerja di bank", None, &[("activity", "kerja")]),
    ("Halo kak, mau tanya kuliah S2", None, &[("program", "S2")]),
    ("halo", None, &[]),
    ("ok kak makasih", None, &[]),
    (
        "Berapa biaya kuliah di UK?",
        None,
        &[("country", "United Kingdom")],
    ),
    ("beasiswa ke Belanda", None, &[("country", "Netherlands")]),
    ("Info visa dong", None, &[]),
    ("hari kamis bisa?", None, &[]),
    ("1", None, &[]),
    ("ya", None, &[]),
    (
        "nama saya Budi, email budi@mail.com, mau S2 ke Australia tahun depan, budget 600 juta, IELTS 6.5",
        None,
        &[
            ("name", "Budi"),
            ("email", "budi@mail.com"),
            ("program", "S2"),
            ("country", "Australia"),
            ("timeline", "tahun depan"),
            ("budget", "600 juta"),
            ("english_level", "IELTS 6.5"),
        ],
    ),
];

#[test]
fn extracts_fields_from_real_looking_messages() {
    assert!(CASES.len() >= 60, "only {} cases", CASES.len());
    let mut failures = Vec::new();
    for (text, pending, want) in CASES {
        let p = pending.map(|f| Pending::Field(f.to_string()));
        let got = extract(text, ctx(p.as_ref()));
        for (k, v) in *want {
            if got.fields.get(*k).map(String::as_str) != Some(*v) {
                failures.push(format!(
                    "{text:?}: {k} = {:?}, want {v:?}",
                    got.fields.get(*k)
                ));
            }
        }
        for k in got.fields.keys() {
            if !want.iter().any(|(w, _)| w == k) {
                failures.push(format!("{text:?}: unexpected {k} = {:?}", got.fields[k]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Seed §8 / §12.6 substring bugs, with the corrected result.
#[test]
fn seed_substring_bugs_are_fixed() {
    let cases: &[(&str, Option<&str>)] = &[
        ("universitas di australia apa aja", Some("Australia")), // seed: United States ("us")
        ("kampus di jepang", Some("Japan")),                     // seed: United States ("kampus")
        ("program apa yang bagus", None),                        // seed: United States ("bagus")
        ("Saya mau kuliah", None),                               // seed: Australia ("au" in "mau")
        ("Berapa biaya kuliah di UK?", Some("United Kingdom")),
        ("help us choose", None), // lowercase "us" is a word
    ];
    for (text, want) in cases {
        let got = extract(text, ctx(None));
        assert_eq!(
            got.fields.get("country").map(String::as_str),
            *want,
            "{text:?}"
        );
    }
    // "selama" is not a timeline; "12 tahun" is not "2 tahun lagi".
    assert_eq!(
        extract("selama ini saya kerja", ctx(None))
            .fields
            .get("timeline"),
        None
    );
    assert_eq!(
        extract("sudah kerja 12 tahun", ctx(None))
            .fields
            .get("timeline"),
        None
    );
}

#[test]
fn cannot_tell_answers_mark_the_field_unknown() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("belum tau kak", Some("timeline"), "timeline"),
        ("belum ada", Some("budget"), "budget"),
        ("rahasia dong", Some("budget"), "budget"),
        ("I don't know yet", Some("english_level"), "english_level"),
        ("budgetnya belum tau", Some("timeline"), "budget"),
    ];
    for (text, pending, field) in cases {
        let p = pending.map(|f| Pending::Field(f.to_string()));
        let got = extract(text, ctx(p.as_ref()));
        assert!(got.unknown.contains(*field), "{text:?}: {:?}", got.unknown);
    }
    // Without a pending question or a cue, "belum tau" marks nothing.
    assert!(extract("belum tau", ctx(None)).unknown.is_empty());
}

#[test]
fn document_answers_go_to_the_pending_or_named_document() {
    let pending = Pending::Document("cv".into());
    let got = extract("paspor sudah ada", ctx(Some(&pending)));
    assert_eq!(got.documents.get("passport"), Some(&YesNo::Yes));
    assert_eq!(got.documents.get("cv"), None);

    let got = extract("belum ada kak", ctx(Some(&pending)));
    assert_eq!(got.documents.get("cv"), Some(&YesNo::No));

    let got = extract("paspor sudah, tapi transkrip belum", ctx(Some(&pending)));
    assert_eq!(got.documents.get("passport"), Some(&YesNo::Yes));
    assert_eq!(got.documents.get("transcript"), Some(&YesNo::No));

    let got = extract("ga tau", ctx(Some(&pending)));
    assert_eq!(got.documents.get("cv"), Some(&YesNo::Unknown));

    // No pending document and no document named: nothing recorded.
    assert!(extract("sudah ada", ctx(None)).documents.is_empty());
}
