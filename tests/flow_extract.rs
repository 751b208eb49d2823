//! The chat extractor on real-looking Indonesian/English lead messages, the seed's substring
//! bugs as regressions, and document answers against the pending question.

use ari::flow::extract::{ExtractContext, Pending, extract};
use ari::flow::yesno::YesNo;

fn ctx(pending: Option<&Pending>) -> ExtractContext<'_> {
    ExtractContext {
        pending,
        current_year: 2026,
        opening: false,
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
    (
        "master of public health",
        None,
        &[("program", "S2 public health")],
    ),
    (
        "inggris kak, mau s2 manajemen",
        None,
        &[("program", "S2 manajemen"), ("country", "United Kingdom")],
    ),
    (
        "S2 data science di UK tahun depan",
        None,
        &[
            ("program", "S2 data science"),
            ("country", "United Kingdom"),
            ("timeline", "tahun depan"),
        ],
    ),
    ("mau s2 aja kak", None, &[("program", "S2")]),
    (
        "s2 inggris",
        None,
        &[("program", "S2"), ("country", "United Kingdom")],
    ),
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

// --- Issue 13: free chat in the lead's language ---------------------------------------------

/// Runs `(message, pending, field, expected value)` rows and lists every mismatch.
fn check_values(rows: &[(&str, Option<Pending>, &str, Option<&str>)]) -> Vec<String> {
    rows.iter()
        .filter_map(|(text, pending, field, want)| {
            let got = extract(text, ctx(pending.as_ref()));
            let v = got.fields.get(*field).map(String::as_str);
            (v != *want).then(|| format!("{text:?} ({pending:?}): {field} = {v:?}, want {want:?}"))
        })
        .collect()
}

fn field(k: &str) -> Option<Pending> {
    Some(Pending::Field(k.to_string()))
}

fn doc(k: &str) -> Option<Pending> {
    Some(Pending::Document(k.to_string()))
}

#[test]
fn budgets_in_both_languages() {
    let b = |text: &'static str, want: &'static str| (text, None, "budget", Some(want));
    let rows = vec![
        // Indonesian, incl. slang and spelled-out numbers.
        b("budget sekitar 500 juta", "500 juta"),
        b("budgetnya 1,2 M kak", "1,2 miliar"),
        b("kira2 300jt per taun", "300 juta"),
        b("dana sekitar 300-500 juta", "300-500 juta"),
        b("rp500jt kak", "Rp 500 juta"),
        b("paling 10 juta per bulan", "10 juta per bulan"),
        b("total 1 M sampai lulus", "1 miliar total"),
        b("budget lima ratus juta", "500 juta"),
        b("budget kira kira dua ratus lima puluh juta", "250 juta"),
        b("dananya satu koma dua miliar", "1,2 miliar"),
        b("tiga ratus juta rupiah kak", "Rp 300 juta"),
        b("budget ortu 750an juta", "750 juta"),
        // English.
        b("600 million rupiah", "Rp 600 juta"),
        b("My budget is about 600 million", "600 juta"),
        b("30,000 pounds a year", "GBP 30,000"),
        b("around 40k USD", "USD 40k"),
        b("around AUD 40k per year", "AUD 40k"),
        b("£25k per year max", "£25k"),
        b("about 50k dollars", "$50k"),
        b("we have IDR 800 million in total", "Rp 800 juta total"),
        b("budget is 1.5 billion rupiah", "Rp 1.5 miliar"),
        b("two hundred million rupiah", "Rp 200 juta"),
        // Bare digits when asked.
        (
            "250.000.000",
            field("budget"),
            "budget",
            Some("Rp 250.000.000"),
        ),
        (
            "lima ratus juta",
            field("budget"),
            "budget",
            Some("500 juta"),
        ),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn not_budgets() {
    let rows: Vec<(&str, Option<Pending>, &str, Option<&str>)> = [
        "email saya rizky500k@gmail.com",
        "WA 0812-3456-7890 kak",
        "nomor saya +62 812 3456 7890",
        "IELTS 6.5",
        "gaji saya 8 juta",
        "sudah kerja 12 tahun",
        "mau berangkat 2027",
        "semester 6",
        "umur 23",
    ]
    .into_iter()
    .map(|t| (t, field("budget"), "budget", None))
    .chain([
        // Number words are everyday words unless the lead talks budget or names a currency.
        ("ada satu juta pertanyaan", None, "budget", None),
        ("lima ratus juta orang", None, "budget", None),
    ])
    .collect();
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn timelines_in_both_languages() {
    let t = |text: &'static str, want: &'static str| (text, None, "timeline", Some(want));
    let rows = vec![
        // Indonesian, incl. slang.
        t("taun depan kak", "tahun depan"),
        t("rencana thn dpn", "tahun depan"),
        t("3 taun lagi", "3 tahun lagi"),
        t("mungkin 2 thn lg", "2 tahun lagi"),
        t("2029an kak", "2029"),
        t("sekitar tahun 2028", "2028"),
        t("semester depan", "semester depan"),
        t("abis lulus kak", "setelah lulus"),
        t("setelah lulus S1", "setelah lulus"),
        t("september tahun depan", "september 2027"),
        t("dalam 3 tahun ke depan", "3 tahun lagi"),
        t("awal taun depan", "awal tahun depan"),
        // English.
        t("next September", "next september"),
        t("in about 3 years", "in 3 years"),
        t("in 3 years", "in 3 years"),
        t("probably in two years", "in 2 years"),
        t("2029ish", "2029"),
        t("next fall", "next fall"),
        t("the next intake", "next intake"),
        t("after I graduate", "after graduation"),
        t("September next year", "september 2027"),
        t("hopefully early next year", "early next year"),
        // A bare month answers the timeline question.
        (
            "September",
            field("timeline"),
            "timeline",
            Some("september"),
        ),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn not_timelines() {
    let rows: Vec<(&str, Option<Pending>, &str, Option<&str>)> = [
        "sudah kerja 12 tahun",
        "umur 25 tahun",
        "S2 nya 2 tahun kan",
        "lulus 2019",
        "2 tahun lalu",
        "I have worked for 3 years",
        "I graduated in 2020",
        "sudah lulus kak",
        "September",
        "budget 500 juta",
    ]
    .into_iter()
    .map(|t| (t, None, "timeline", None))
    .collect();
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn names_in_longer_answers() {
    let n = |text: &'static str, want: Option<&'static str>| (text, field("name"), "name", want);
    let rows = vec![
        n("Hendra Wijaya, mau S2 data science", Some("Hendra Wijaya")),
        n("rizky aja kak, mau ke UK", Some("Rizky")),
        n("iya kak, Dewi Lestari dari Bandung", Some("Dewi Lestari")),
        n("Hendra kak", Some("Hendra")),
        n("putri. mau tanya beasiswa", Some("Putri")),
        n("Name's Rizky", Some("Rizky")),
        n("call me Rizky", Some("Rizky")),
        n("it's Rizky here", Some("Rizky")),
        n("you can call me Andi", Some("Andi")),
        n("my name's Kevin, looking at Canada", Some("Kevin")),
        n("Budi Santoso", Some("Budi Santoso")),
        n("oke, Siti Nurhaliza", Some("Siti Nurhaliza")),
        n("halo kak, aku dewi", Some("Dewi")),
        n("dengan Agus kak, dari Medan", Some("Agus")),
        n("Nur Aini, lulusan S1 akuntansi", Some("Nur Aini")),
        n("Muhammad Al Fatih", Some("Muhammad Al Fatih")),
        n("hi im sarah", Some("Sarah")),
        n("I'm Sarah, looking for a master in the UK", Some("Sarah")),
        n("Aditya here, interested in Australia", Some("Aditya")),
        n("This is Kevin", Some("Kevin")),
        n("Kevin Tan. I want to study in Canada", Some("Kevin Tan")),
        n("sure, Michael", Some("Michael")),
        // Not names.
        n("saya mau tanya", None),
        n("sebentar ya kak", None),
        n("maaf kak, mau tanya dulu", None),
        n("kenapa harus nama?", None),
        n("buat apa kak?", None),
        n("mau S2 di UK", None),
        n("belum tau", None),
        n("data science, mau S2", None),
        n("Info biaya dong", None),
        n("call me later please", None),
        n("UK, mau S2", None),
        n("pagi kak", None),
        n("hi im interested in studying abroad", None),
        n("I'm not sure", None),
        n("how much is it?", None),
        n("ok", None),
        n("saya bingung", None),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Without the name question, a leading word is no name.
    assert_eq!(
        extract("Hendra Wijaya, mau S2", ctx(None))
            .fields
            .get("name"),
        None
    );
}

#[test]
fn english_level_from_cannot_speak_answers() {
    let e = |text: &'static str, want: Option<&'static str>| (text, None, "english_level", want);
    let rows = vec![
        e("belum bisa bahasa inggris", Some("pemula")),
        e("bahasa inggris saya belum lancar", Some("pemula")),
        e("english saya ga bagus kak", Some("pemula")),
        e("inggrisnya masih jelek", Some("pemula")),
        e("I can't speak English", Some("pemula")),
        e("my English is not good", Some("pemula")),
        e("my english is not bad", Some("menengah")),
        e("ga bisa english kak", Some("pemula")),
        e("bhs inggris saya kurang lancar", Some("pemula")),
        e("I don't speak English well", Some("pemula")),
        e("my English is poor", Some("pemula")),
        e("I'm not fluent in English", Some("pemula")),
        e("my English isn't very good", Some("pemula")),
        e("my english is basic", Some("pemula")),
        e("my english is weak", Some("pemula")),
        e("bisa dikit2 bahasa inggris", Some("pemula")),
        e("english saya pas-pasan", Some("pemula")),
        e("bahasa inggrisnya cuma bisa sedikit", Some("pemula")),
        e("english saya lumayan lancar", Some("mahir")),
        (
            "ga bisa kak",
            field("english_level"),
            "english_level",
            Some("pemula"),
        ),
        // Not levels.
        e("belum bisa berangkat tahun ini", None),
        e("belum ada sertifikat", None),
        e("I haven't taken any test", None),
        e("I can't go this year", None),
        e("belum bisa bayar DP", None),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dont_know_and_dont_have_answers_for_every_field() {
    let rows: &[(&str, Option<Pending>, &str)] = &[
        // Indonesian, incl. slang.
        ("belum tau kak", field("timeline"), "timeline"),
        ("gatau", field("country"), "country"),
        ("blm ada", field("budget"), "budget"),
        ("ga punya email", None, "email"),
        ("gak punya email kak", field("name"), "email"),
        ("belum kepikiran", field("program"), "program"),
        ("belum kepikiran jurusannya", None, "program"),
        ("rahasia", field("name"), "name"),
        ("budgetnya belum pasti", None, "budget"),
        ("belum tau mau ke negara mana", None, "country"),
        (
            "belum ada sertifikat",
            field("english_level"),
            "english_level",
        ),
        ("belum tau kapan berangkat", None, "timeline"),
        // English.
        ("no budget yet", None, "budget"),
        ("not sure yet", field("timeline"), "timeline"),
        ("no idea", field("country"), "country"),
        ("I don't have an email", None, "email"),
        ("haven't decided", field("program"), "program"),
        (
            "I haven't taken any test",
            field("english_level"),
            "english_level",
        ),
        ("not sure where yet", None, "country"),
        ("I don't know when", None, "timeline"),
        ("prefer not to say", field("budget"), "budget"),
        ("haven't thought about it", field("timeline"), "timeline"),
        ("no plans yet", field("country"), "country"),
        ("I dunno", field("program"), "program"),
        ("none yet", field("english_level"), "english_level"),
        ("we haven't decided on a budget", None, "budget"),
        // Slang.
        ("gtau kak", field("timeline"), "timeline"),
        ("blm kepikiran kak", field("country"), "country"),
        ("gaada email kak", None, "email"),
    ];
    let mut failures = Vec::new();
    for (text, pending, want) in rows {
        let got = extract(text, ctx(pending.as_ref()));
        if !got.unknown.contains(*want) || got.unknown.len() != 1 {
            failures.push(format!("{text:?}: {:?}, want {{{want}}}", got.unknown));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknowns_land_on_the_field_they_are_about() {
    // "belum ada sertifikat" with the timeline pending is about the English test.
    let got = extract("belum ada sertifikat", ctx(field("timeline").as_ref()));
    assert!(got.unknown.is_empty(), "{:?}", got.unknown);
    assert_eq!(got.documents.get("english_test"), Some(&YesNo::No));
    // A document answer is no unknown field.
    let got = extract("belum punya paspor", ctx(field("budget").as_ref()));
    assert!(got.unknown.is_empty(), "{:?}", got.unknown);
    assert_eq!(got.documents.get("passport"), Some(&YesNo::No));
    // A question is no "don't know".
    let got = extract(
        "budgetnya biasanya berapa ya?",
        ctx(field("budget").as_ref()),
    );
    assert!(got.unknown.is_empty(), "{:?}", got.unknown);
    // A value wins over the "don't know" next to it.
    let got = extract("belum tau, mungkin 2028", ctx(field("timeline").as_ref()));
    assert!(got.unknown.is_empty());
    assert_eq!(got.fields.get("timeline").map(String::as_str), Some("2028"));
    // "budget? belum tau" with the timeline pending: the budget.
    let got = extract("budget? belum tau", ctx(field("timeline").as_ref()));
    assert_eq!(got.unknown.iter().collect::<Vec<_>>(), ["budget"]);
}

#[test]
fn a_named_document_wins_over_the_pending_one() {
    let passport = doc("passport");
    let cases: &[(&str, &[(&str, YesNo)])] = &[
        ("Yes, I have my transcript", &[("transcript", YesNo::Yes)]),
        ("iya, transkrip udah ada", &[("transcript", YesNo::Yes)]),
        ("cv sudah kak", &[("cv", YesNo::Yes)]),
        ("belum ada sertifikat", &[("english_test", YesNo::No)]),
        ("no certificate yet", &[("english_test", YesNo::No)]),
        ("I haven't taken any test", &[("english_test", YesNo::No)]),
        ("ijazah belum keluar", &[("transcript", YesNo::No)]),
        (
            "ada, tapi transkrip belum",
            &[("passport", YesNo::Yes), ("transcript", YesNo::No)],
        ),
        (
            "paspor udah, ielts belum",
            &[("passport", YesNo::Yes), ("english_test", YesNo::No)],
        ),
        ("sudah kak", &[("passport", YesNo::Yes)]),
        ("I don't have one yet", &[("passport", YesNo::No)]),
        ("yes I have it", &[("passport", YesNo::Yes)]),
        ("got it already", &[("passport", YesNo::Yes)]),
        ("not yet, still in process", &[("passport", YesNo::No)]),
        ("my CV is ready", &[("cv", YesNo::Yes)]),
        (
            "I have my IELTS certificate",
            &[("english_test", YesNo::Yes)],
        ),
        ("no IELTS yet", &[("english_test", YesNo::No)]),
        (
            "passport yes, but no transcript yet",
            &[("passport", YesNo::Yes), ("transcript", YesNo::No)],
        ),
        ("lagi proses kak", &[("passport", YesNo::No)]),
        ("paspornya udah expired", &[("passport", YesNo::No)]),
        // Questions answer nothing.
        ("paspor perlu ga?", &[]),
        ("ada beasiswa ga?", &[]),
        ("harus punya IELTS nggak kak", &[]),
        ("is a transcript required?", &[]),
        // Offer words are no possession.
        ("mau les ielts dulu", &[]),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = extract(text, ctx(passport.as_ref()));
        let want: std::collections::BTreeMap<String, YesNo> =
            want.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
        if got.documents != want {
            failures.push(format!("{text:?}: {:?}, want {want:?}", got.documents));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn near_misses_of_the_issue() {
    // "bahasa Inggris" is the language, not the UK.
    for text in [
        "belum bisa bahasa inggris",
        "bahasa inggris saya lumayan",
        "les bahasa Inggris",
    ] {
        let got = extract(text, ctx(None));
        assert_eq!(got.fields.get("country"), None, "{text:?}");
    }
    // A question at a pending yes/no records nothing.
    let got = extract("ada beasiswa ga?", ctx(doc("passport").as_ref()));
    assert!(got.documents.is_empty(), "{:?}", got.documents);
    // An email or a phone number is no budget, even when asked.
    for text in [
        "budi.500jt@gmail.com",
        "0812 3456 7890",
        "+62 812-3456-7890",
    ] {
        let got = extract(text, ctx(field("budget").as_ref()));
        assert_eq!(got.fields.get("budget"), None, "{text:?}");
    }
}

#[test]
fn rules_report_the_finer_readings() {
    let got = extract("lima ratus juta", ctx(field("budget").as_ref()));
    assert_eq!(got.rules(), ["field.budget", "budget.spelled_out"]);
    let got = extract("Hendra Wijaya, mau S2", ctx(field("name").as_ref()));
    assert_eq!(got.rules(), ["field.name", "name.bare", "field.program"]);
    let got = extract("Yes, I have my transcript", ctx(doc("passport").as_ref()));
    assert_eq!(got.rules(), ["document_answer", "document_answer.named"]);
    let got = extract("belum kak", ctx(doc("passport").as_ref()));
    assert_eq!(got.rules(), ["document_answer", "document_answer.pending"]);
    for r in ari::flow::extract::RULES {
        assert!(
            r.starts_with("field.")
                || r.starts_with("unknown_answer")
                || r.starts_with("document_answer")
                || ari::flow::extract::RULES.contains(
                    &format!("field.{}", r.split('.').next().unwrap_or_default()).as_str()
                ),
            "{r} has no parent rule"
        );
    }
}

#[test]
fn plans_to_take_a_test_are_no_study_timeline_or_program() {
    let rows = vec![
        ("mau ambil IELTS bulan depan", None, "timeline", None),
        ("mau ambil IELTS bulan depan", None, "program", None),
        ("rencana tes IELTS tahun ini", None, "timeline", None),
        ("I'm taking the IELTS next month", None, "timeline", None),
        (
            "ielts dulu, berangkat tahun depan",
            None,
            "timeline",
            Some("tahun depan"),
        ),
        (
            "mau ambil S2 jurusan hukum",
            None,
            "program",
            Some("S2 hukum"),
        ),
        ("gak tau mau jurusan apa", None, "program", None),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        extract("gak tau mau jurusan apa", ctx(None))
            .unknown
            .contains("program")
    );
}

/// Scores written before the test's name, by a verb, or as a band estimate answering the
/// English question; a score wins over level words in the same message.
#[test]
fn english_scores_in_every_position() {
    let e = |text: &'static str, want: Option<&'static str>| (text, None, "english_level", want);
    let p = |text: &'static str, want: Option<&'static str>| {
        (text, field("english_level"), "english_level", want)
    };
    let rows = vec![
        // English.
        e("I got 7.5 on IELTS last month", Some("IELTS 7.5")),
        e("scored 6.5 in the IELTS Academic", Some("IELTS 6.5")),
        e(
            "My English is upper intermediate, I scored 6.5 on the IELTS Academic test",
            Some("IELTS 6.5"),
        ),
        e("got 95 on my TOEFL iBT", Some("TOEFL IBT 95")),
        e("I scored 110 in Duolingo", Some("Duolingo 110")),
        e("my English test: scored 7 overall", Some("7")),
        p("I'm still preparing, maybe around 6 now", Some("6")),
        p("around 5.5 I think", Some("5.5")),
        p("probably a 7", Some("7")),
        p("6,5 kayaknya", Some("6.5")),
        // Indonesian.
        e("dapet 7 di IELTS kak", Some("IELTS 7")),
        e("kemarin dapat 6.5 pas tes IELTS", Some("IELTS 6.5")),
        e(
            "inggris saya lumayan, dapet 6 waktu tes IELTS",
            Some("IELTS 6"),
        ),
        e("nilainya 80 buat TOEFL", Some("TOEFL 80")),
        p("kira2 5.5 kak", Some("5.5")),
        p("mungkin sekitar 6 kak", Some("6")),
        p("paling 6", Some("6")),
        p("6.5 kak", Some("6.5")),
        p("udah lumayan kak, sekitar 7", Some("7")),
        p("cuma 4.5 kemarin", Some("4.5")),
        // Near misses: numbers that are money, years, lists or other tests' words.
        e("I got 2 offers from universities", None),
        e("got 3 kids lol", None),
        p("budget 500 juta", None),
        p("2 tahun lagi", None),
        p("mungkin 2028", None),
        p("sekitar 300jt", None),
        p("S2", None),
        p("6 bulan lagi mau tes", None),
        e("dapet 7 hari libur", None),
        // Requirements and goals are not the lead's score; a number glued to a word is none.
        e("syarat ielts buat s2 di australia brp kak?", None),
        e("minimal toefl 80 ya kak buat master?", None),
        e("target ielts 7 sih kak", None),
        e("ielts buat s2 di uk", None),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A test score the lead states means the certificate is there: the English test document is
/// held, whatever question was pending ("aku dina, ..., ielts 6.5"); a required or targeted
/// score holds nothing.
#[test]
fn a_stated_test_score_holds_the_english_test_document() {
    for text in [
        "aku dina maharani, mau s2 di jerman thn depan, budget 300jt, ielts 6.5",
        "Native-level, IELTS 8",
        "toefl itp 550 kak",
        "I got 7.5 on IELTS last month",
    ] {
        let ex = extract(text, ctx(None));
        assert_eq!(
            ex.documents.get("english_test"),
            Some(&YesNo::Yes),
            "{text}: {ex:?}"
        );
        assert!(ex.rules().contains(&"document_answer"), "{text}");
    }
    let ex = extract("ielts 6.5 kak", ctx(None));
    assert!(ex.rules().contains(&"document_answer.score"), "{ex:?}");
    for text in [
        "syarat ielts buat s2 di australia brp kak?",
        "target ielts 7 sih kak",
        "mau tes ielts bulan depan",
        "english saya menengah",
    ] {
        let ex = extract(text, ctx(None));
        assert_eq!(ex.documents.get("english_test"), None, "{text}: {ex:?}");
    }
}

/// "Kevin Wijaya here" is a name; an all-caps acronym after "aku" is not, and a name already
/// known is replaced only when the lead introduces one ("nama saya ..."), see flow_machine.
#[test]
fn names_said_in_passing_and_acronyms() {
    let n = |text: &'static str, want: Option<&'static str>| (text, None, "name", want);
    let rows = vec![
        n("Hi, Kevin Wijaya here", Some("Kevin Wijaya")),
        n(
            "Hello Olivia Hartono here, interested in the UK",
            Some("Olivia Hartono"),
        ),
        n("halo kak, Rina di sini", Some("Rina")),
        n("it's Rizky here", Some("Rizky")),
        n("saya Budi dari Bandung", Some("Budi")),
        n("aku Nadia", Some("Nadia")),
        n("Nama saya Dimas Pratama", Some("Dimas Pratama")),
        n("I'm Sarah, looking for a master in the UK", Some("Sarah")),
        n("This is Kevin", Some("Kevin")),
        n("my name is Andreas", Some("Andreas")),
        // Not names.
        n("anytime kak, aku WFH jadi fleksibel", None),
        n("saya PNS kak", None),
        n("aku S2 lulusan UI", None),
        n("I'm OK with any time", None),
        n("Canada here", None),
        n("it's cold here", None),
        n("aku IELTS 7", None),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let said = extract("aku Nadia", ctx(None));
    assert!(!said.readings.contains("name.introduced"));
    let introduced = extract("nama saya Nadia Putri", ctx(None));
    assert!(introduced.readings.contains("name.introduced"));
}

/// A list of documents answered once at its end records every one of them.
#[test]
fn a_list_of_documents_shares_its_answer() {
    let passport = doc("passport");
    let cases: &[(&str, &[(&str, YesNo)])] = &[
        (
            "paspor, cv, sama transkrip udah ada semua kak. ielts juga udah",
            &[
                ("cv", YesNo::Yes),
                ("english_test", YesNo::Yes),
                ("passport", YesNo::Yes),
                ("transcript", YesNo::Yes),
            ],
        ),
        (
            "passport, CV and transcript are all ready",
            &[
                ("cv", YesNo::Yes),
                ("passport", YesNo::Yes),
                ("transcript", YesNo::Yes),
            ],
        ),
        (
            "cv, paspor belum ada kak",
            &[("cv", YesNo::No), ("passport", YesNo::No)],
        ),
        (
            "paspor, cv udah. transkrip belum",
            &[
                ("cv", YesNo::Yes),
                ("passport", YesNo::Yes),
                ("transcript", YesNo::No),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = extract(text, ctx(passport.as_ref()));
        let want: std::collections::BTreeMap<String, YesNo> =
            want.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
        if got.documents != want {
            failures.push(format!("{text:?}: {:?}, want {want:?}", got.documents));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A year beside a document's validity is no study timeline; "I don't use email" gives no
/// email; "... and my transcript too" shares the answer before it.
#[test]
fn validity_years_no_email_and_documents_answered_too() {
    let none = ctx(None);
    for text in [
        "I have one, valid until 2031",
        "paspor aku berlaku sampai 2030 kak",
        "passport expires in 2028",
        "masa berlaku paspor sampai 2029",
    ] {
        assert_eq!(extract(text, none).fields.get("timeline"), None, "{text}");
    }
    let tl = field("timeline");
    for (text, year) in [("2028 kak", "2028"), ("abis lulus 2027", "2027")] {
        let got = extract(text, ctx(tl.as_ref()));
        assert!(
            got.fields.get("timeline").is_some_and(|t| t.contains(year)),
            "{text}: {:?}",
            got.fields
        );
    }
    let email = field("email");
    for text in [
        "I don't really use email, can we keep it on WhatsApp?",
        "aku ga pake email kak",
        "jarang buka email sih",
        "I never use e-mail",
    ] {
        let got = extract(text, ctx(email.as_ref()));
        assert!(got.unknown.contains("email"), "{text}: {got:?}");
    }
    for text in ["I use my gmail for everything", "emailnya nanti aku kirim"] {
        assert!(
            !extract(text, ctx(email.as_ref())).unknown.contains("email"),
            "{text}"
        );
    }
    let english_test = doc("english_test");
    for (text, want) in [
        (
            "IELTS certificate yes, and my transcript too",
            vec![("english_test", YesNo::Yes), ("transcript", YesNo::Yes)],
        ),
        (
            "no passport, and no CV either",
            vec![("cv", YesNo::No), ("passport", YesNo::No)],
        ),
        (
            "ielts udah ada, transkrip juga",
            vec![("english_test", YesNo::Yes), ("transcript", YesNo::Yes)],
        ),
    ] {
        let got = extract(text, ctx(english_test.as_ref()));
        let want: std::collections::BTreeMap<String, YesNo> =
            want.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(got.documents, want, "{text}");
    }
}

/// Check marks answer ("passport ✅ CV ✅ transcript ❌"), and an answer that opens a list
/// covers its bare items ("all docs ready kak: paspor, CV, transkrip, IELTS").
#[test]
fn marks_and_lists_opened_by_their_answer() {
    let lexicon = ari::config::flow::Lexicon::default();
    let passport = doc("passport");
    for (text, want) in [
        (
            "passport ✅ CV ✅ transcript ✅ IELTS cert ✅",
            vec![
                ("cv", YesNo::Yes),
                ("english_test", YesNo::Yes),
                ("passport", YesNo::Yes),
                ("transcript", YesNo::Yes),
            ],
        ),
        (
            "paspor ✅ cv ❌",
            vec![("cv", YesNo::No), ("passport", YesNo::Yes)],
        ),
        (
            "all docs ready kak: paspor, CV, transkrip, IELTS",
            vec![
                ("cv", YesNo::Yes),
                ("english_test", YesNo::Yes),
                ("passport", YesNo::Yes),
                ("transcript", YesNo::Yes),
            ],
        ),
        (
            "belum ada semua kak: paspor, cv, transkrip",
            vec![
                ("cv", YesNo::No),
                ("passport", YesNo::No),
                ("transcript", YesNo::No),
            ],
        ),
        // A question in the list asks, it does not answer.
        ("paspor ada. IELTS perlu?", vec![("passport", YesNo::Yes)]),
    ] {
        let normalized = ari::flow::normalize::normalize(text, &lexicon);
        let got = extract(&normalized, ctx(passport.as_ref()));
        let want: std::collections::BTreeMap<String, YesNo> =
            want.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(got.documents, want, "{text} ({normalized})");
    }
}

/// A first message that is only a full name is the name; a greeting, a topic, one word or a
/// lower-case phrase waits for the name question. Later in the chat the same words are no name.
#[test]
fn an_opening_message_that_is_only_a_name() {
    let opening = |text: &str| {
        extract(
            text,
            ExtractContext {
                pending: None,
                current_year: 2026,
                opening: true,
            },
        )
    };
    for (text, want) in [
        ("Bella Anastasia 🙏", "Bella Anastasia"),
        ("Dimas Pratama", "Dimas Pratama"),
        ("Putri Ayu Lestari.", "Putri Ayu Lestari"),
    ] {
        let got = opening(text);
        assert_eq!(
            got.fields.get("name").map(String::as_str),
            Some(want),
            "{text}"
        );
        assert!(got.readings.contains("name.opening"), "{text}");
    }
    for text in [
        "Bella",
        "Halo Kak",
        "Selamat Pagi",
        "mau tanya kak",
        "Info Beasiswa?",
        "New Zealand",
        "Hi there",
    ] {
        assert_eq!(opening(text).fields.get("name"), None, "{text}");
    }
    assert_eq!(
        extract("Bella Anastasia", ctx(None)).fields.get("name"),
        None
    );
}

/// An email address or a link names no one, even as the answer to the name question.
#[test]
fn an_email_is_not_a_name() {
    let pending = field("name");
    for text in [
        "bella.anastasia@gmail.com",
        "rizky_p@yahoo.co.id",
        "https://instagram.com/dewi.lestari",
    ] {
        let got = extract(text, ctx(pending.as_ref()));
        assert_eq!(got.fields.get("name"), None, "{text}");
    }
    let both = extract("Budi Santoso, budi.s@gmail.com", ctx(pending.as_ref()));
    assert_eq!(
        both.fields.get("name").map(String::as_str),
        Some("Budi Santoso")
    );
}

/// A sentence ends a name; a name after a filler ("oh right, i'm ..."); "panggil X aja".
#[test]
fn names_end_with_their_sentence_and_follow_fillers() {
    let pending = field("name");
    for (text, pending, want) in [
        (
            "my name is Aditya Ramadhan. I'm interested in the UK",
            None,
            "Aditya Ramadhan",
        ),
        (
            "Nama saya Rizky Pratama, mau tanya S2",
            None,
            "Rizky Pratama",
        ),
        ("oh right, i'm Nadia Putri", pending.as_ref(), "Nadia Putri"),
        ("ok sorry, I'm Bagas", pending.as_ref(), "Bagas"),
        ("panggil Dika aja kak", None, "Dika"),
        ("nama saya M. Rizky", None, "M Rizky"),
    ] {
        let got = extract(text, ctx(pending));
        assert_eq!(
            got.fields.get("name").map(String::as_str),
            Some(want),
            "{text}"
        );
    }
    for text in ["panggil konsultannya aja kak", "panggil admin aja"] {
        assert_eq!(extract(text, ctx(None)).fields.get("name"), None, "{text}");
    }
}

/// "All of them except X": every document yes, the named ones no; near misses read nothing so.
#[test]
fn all_documents_except_the_named_ones() {
    let pending = doc("passport");
    for (text, missing) in [
        (
            "semua udah ada kak kecuali IELTS, itu masih les",
            "english_test",
        ),
        ("I have everything except the transcript", "transcript"),
        ("udah lengkap semua selain CV kak", "cv"),
    ] {
        let got = extract(text, ctx(pending.as_ref()));
        for d in ["passport", "cv", "english_test", "transcript"] {
            let want = if d == missing { YesNo::No } else { YesNo::Yes };
            assert_eq!(got.documents.get(d), Some(&want), "{text}: {d}");
        }
    }
    // No "all", or a question: nothing read that way.
    let got = extract("paspor ada kecuali yang lama hilang", ctx(pending.as_ref()));
    assert_ne!(got.documents.get("cv"), Some(&YesNo::Yes));
    let got = extract("semua harus ada kecuali IELTS?", ctx(pending.as_ref()));
    assert!(!got.documents.contains_key("cv"), "{:?}", got.documents);
}

/// Corrections, where the lead lives and "Bahasa" meaning Indonesian: a country after "bukan",
/// "not", "grew up in", "tinggal di" is no destination, and "my Bahasa is not great" says
/// nothing about English; a name typed with "nmaku" ends before the "gan" that follows it.
#[test]
fn rejected_and_home_countries_and_bahasa_are_not_read_as_answers() {
    let rows = vec![
        (
            "eh salah, maksudnya UK bukan US",
            None,
            "country",
            Some("United Kingdom"),
        ),
        (
            "not the US, I meant Canada",
            None,
            "country",
            Some("Canada"),
        ),
        (
            "bukan di Jepang tapi Korea",
            None,
            "country",
            Some("South Korea"),
        ),
        (
            "Hi, I prefer English. My Bahasa is not great, I grew up in Singapore",
            None,
            "country",
            None,
        ),
        (
            "aku tinggal di Malaysia, mau kuliah di Australia",
            None,
            "country",
            Some("Australia"),
        ),
        (
            "Hi, I prefer English. My Bahasa is not great, I grew up in Singapore",
            None,
            "english_level",
            None,
        ),
        (
            "bahasa inggris aku lumayan",
            None,
            "english_level",
            Some("menengah"),
        ),
        ("nmaku budi santoso gan", None, "name", Some("Budi Santoso")),
    ];
    let failures = check_values(&rows);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A field's value given with a bare "ok" or as a correction, while a document question is
/// pending, does not answer the document ("oke uk aja" is no passport).
#[test]
fn a_field_value_with_a_bare_ok_answers_no_pending_document() {
    let passport = Pending::Document("passport".into());
    for text in [
        "oke uk aja",
        "eh salah, maksudnya UK bukan US",
        // "udah pasti" tells a decision about the country, not a passport in hand.
        "udah pasti uk kak. disana boleh kerja part time ga?",
        "sudah yakin ke jepang sih",
        "already decided on Canada",
    ] {
        let ex = extract(text, ctx(Some(&passport)));
        assert_eq!(ex.documents.get("passport"), None, "{text}: {ex:?}");
        assert!(ex.fields.contains_key("country"), "{text}: {ex:?}");
    }
    for text in [
        "udah punya, btw mau ke UK",
        "udah ada kak, udah pasti ke UK juga",
    ] {
        let ex = extract(text, ctx(Some(&passport)));
        assert_eq!(
            ex.documents.get("passport"),
            Some(&YesNo::Yes),
            "{text}: {ex:?}"
        );
    }
}
