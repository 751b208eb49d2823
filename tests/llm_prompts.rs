//! Snapshot tests (insta) of the rendered system prompt for each stage and of the extraction
//! prompt, with fixed inputs and a fixed clock (Thursday 26 November 2026, 09:30 WIB).
//! Review a change with `cargo insta review`, or `INSTA_UPDATE=always cargo test`.

use std::collections::BTreeMap;
use std::path::Path;

use ari::config::flow::{FlowConfig, load_file};
use ari::flow::turn::{HandoffData, SchedulingData, SchedulingStep, StageSnapshot};
use ari::flow::yesno::YesNo;
use ari::flow::{
    FieldValue, HandoffReason, LeadScore, Reply, SlotOption, Snapshot, StageId, Temperature,
};
use ari::knowledge::KnowledgeAnswer;
use ari::llm::prompt::{Prompts, leak_markers};
use ari::llm::{ChatMessage, ExtractRequest, ReplyRequest};
use chrono::{DateTime, TimeZone, Utc};

fn cfg() -> FlowConfig {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 30, 0).unwrap()
}

fn slots() -> Vec<SlotOption> {
    let slot = |d: u32, h: u32| SlotOption {
        id: format!("2026-11-{d}T{h:02}:00@+6281111000002"),
        start: Utc.with_ymd_and_hms(2026, 11, d, h - 7, 0, 0).unwrap(),
        duration_minutes: 60,
        consultant_name: "Kak Rina".into(),
        consultant_whatsapp: "+6281111000002".into(),
    };
    vec![slot(27, 9), slot(27, 13), slot(30, 10)]
}

fn lead(snapshot: &mut Snapshot) {
    let f = &mut snapshot.lead.fields;
    f.insert("name".into(), FieldValue::Known("Budi Santoso".into()));
    f.insert("country".into(), FieldValue::Known("Australia".into()));
    f.insert("budget".into(), FieldValue::Known("300 juta".into()));
    f.insert("timeline".into(), FieldValue::Unknown);
}

fn full_lead(snapshot: &mut Snapshot) {
    lead(snapshot);
    let f = &mut snapshot.lead.fields;
    f.insert("email".into(), FieldValue::Known("budi@mail.com".into()));
    f.insert(
        "english_level".into(),
        FieldValue::Known("IELTS 6.5".into()),
    );
    f.insert("timeline".into(), FieldValue::Known("2027".into()));
    snapshot
        .lead
        .documents
        .insert("passport".into(), YesNo::Yes);
    snapshot.lead.documents.insert("cv".into(), YesNo::No);
    snapshot.lead.score = Some(LeadScore {
        total: 74,
        temperature: Temperature::Hot,
        basic: 25.0,
        qualification: 28.0,
        documents: 15.0,
        engagement: 6.0,
        reasons: vec![],
    });
}

fn fallback(stage: &str, question: &str, text: &str) -> Reply {
    let mut values = BTreeMap::new();
    if !question.is_empty() {
        values.insert("question".to_string(), question.to_string());
    }
    Reply {
        template: format!("{stage}.test"),
        values,
        text: text.to_string(),
    }
}

fn request(
    snapshot: &Snapshot,
    stage: StageId,
    instruction: &str,
    question: &str,
    knowledge: Option<KnowledgeAnswer>,
) -> ReplyRequest {
    let cfg = cfg();
    let fb = fallback(stage.as_str(), question, "Template reply.");
    ReplyRequest::for_ask_llm(
        "+6281234567890",
        snapshot,
        &cfg,
        instruction,
        &fb,
        knowledge,
        Some(&slots()),
        vec![ChatMessage::lead("halo kak")],
        now(),
    )
}

fn render(req: &ReplyRequest) -> String {
    Prompts::new().unwrap().system(req).unwrap()
}

#[test]
fn greeting() {
    let snapshot = Snapshot::new();
    let knowledge = KnowledgeAnswer {
        entry_ids: vec!["faq-visa-au".into(), "dest-unimelb".into()],
        text: "Visa pelajar Australia (subclass 500) butuh CoE dan bukti dana.".into(),
        language: None,
    };
    let req = request(
        &snapshot,
        StageId::Greeting,
        "Jawab pertanyaan lead dari knowledge base, lalu tanyakan satu hal.",
        "Boleh tau nama lengkapnya kak?",
        Some(knowledge),
    );
    insta::assert_snapshot!("greeting", render(&req));
}

#[test]
fn qualifying() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Qualifying;
    lead(&mut snapshot);
    let req = request(
        &snapshot,
        StageId::Qualifying,
        "Jawab singkat, lalu tanyakan satu hal.",
        "Email yang aktif apa kak?",
        None,
    );
    let p = render(&req);
    // The lead's data, what is missing and the one question are all there.
    assert!(p.contains("Budi Santoso") && p.contains("Australia") && p.contains("300 juta"));
    assert!(p.contains("Email yang aktif apa kak?"));
    insta::assert_snapshot!("qualifying", p);
}

#[test]
fn scoring() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Scoring { nurtured: 1 };
    full_lead(&mut snapshot);
    let req = request(
        &snapshot,
        StageId::Scoring,
        "Lanjutkan percakapan dengan ramah.",
        "",
        None,
    );
    insta::assert_snapshot!("scoring", render(&req));
}

#[test]
fn booking() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Booking;
    full_lead(&mut snapshot);
    let req = request(
        &snapshot,
        StageId::Booking,
        "Tawarkan konsultasi.",
        "Mau dijadwalkan konsultasi kak?",
        None,
    );
    let p = render(&req);
    for s in slots() {
        assert!(p.contains(&s.id), "slot {} missing", s.id);
    }
    insta::assert_snapshot!("booking", p);
}

#[test]
fn scheduling() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Scheduling(SchedulingData {
        step: SchedulingStep::Confirming,
        shown: slots()[..2].to_vec(),
        selected: Some(slots()[1].clone()),
        ..SchedulingData::default()
    });
    full_lead(&mut snapshot);
    let req = request(
        &snapshot,
        StageId::Scheduling,
        "Konfirmasi pilihan slot.",
        "",
        None,
    );
    insta::assert_snapshot!("scheduling", render(&req));
}

#[test]
fn handoff_after_booking() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Handoff(HandoffData {
        reason: HandoffReason::AppointmentBooked,
        at: now(),
        last_ack_at: None,
        assignee: None,
    });
    full_lead(&mut snapshot);
    let req = request(&snapshot, StageId::Handoff, "Jawab singkat.", "", None);
    assert!(req.booked);
    insta::assert_snapshot!("handoff", render(&req));
}

#[test]
fn completed() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Completed;
    full_lead(&mut snapshot);
    let req = request(
        &snapshot,
        StageId::Completed,
        "Ucapkan terima kasih.",
        "",
        None,
    );
    insta::assert_snapshot!("completed", render(&req));
}

#[test]
fn extraction() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Qualifying;
    lead(&mut snapshot);
    snapshot.lead.pending = Some(ari::flow::extract::Pending::Field("email".into()));
    let req = ExtractRequest::for_turn(
        "+6281234567890",
        &snapshot,
        &cfg(),
        vec![ChatMessage::assistant("Email yang aktif apa kak?")],
        vec!["budi.s@mail.com kak".into()],
        now(),
    );
    insta::assert_snapshot!(
        "extraction",
        Prompts::new().unwrap().extraction(&req).unwrap()
    );
}

/// The extraction call's user message shows the lead's newest message once, under "PESAN
/// TERBARU", although the turn's history (as the turn passes it) ends with it (issue 15).
#[test]
fn extraction_transcript_shows_the_newest_message_once() {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Qualifying;
    lead(&mut snapshot);
    snapshot.lead.pending = Some(ari::flow::extract::Pending::Field("email".into()));
    let latest = "budi.s@mail.com kak";
    let req = ExtractRequest::for_turn(
        "+6281234567890",
        &snapshot,
        &cfg(),
        vec![
            ChatMessage::lead("nama saya Budi Santoso"),
            ChatMessage::assistant("Email yang aktif apa kak?"),
            ChatMessage::lead(latest),
        ],
        vec![latest.into()],
        now(),
    );
    let transcript = ari::llm::prompt::extraction_transcript(&req);
    assert_eq!(transcript.matches(latest).count(), 1, "{transcript}");
    assert!(transcript.contains("Lead: nama saya Budi Santoso"));
    insta::assert_snapshot!("extraction_transcript", transcript);
}

#[test]
fn the_prompt_stage_is_the_stage_that_made_the_fallback() {
    // A knowledge question on the first message: the core is already in qualifying after the
    // turn, but the fallback is the greeting, so the greeting prompt is used (seed §11.1).
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Qualifying;
    let fb = fallback("greeting", "Boleh tau namanya?", "Selamat pagi kak!");
    let req = ReplyRequest::for_ask_llm(
        "+62811",
        &snapshot,
        &cfg(),
        "x",
        &fb,
        None,
        None,
        vec![],
        now(),
    );
    assert_eq!(req.stage, StageId::Greeting);
    assert!(render(&req).contains("## TAHAP: GREETING"));
}

#[test]
fn leak_markers_cover_every_header_of_every_stage() {
    let mut snapshot = Snapshot::new();
    full_lead(&mut snapshot);
    for stage in StageId::ALL {
        let req = request(&snapshot, stage, "x", "Pertanyaan?", None);
        let p = render(&req);
        let markers = leak_markers(&p);
        let headers = p.lines().filter(|l| l.starts_with("## ")).count();
        assert!(markers.len() > headers, "{stage:?}");
        assert!(markers.iter().any(|m| m == "ATURAN BALASAN"));
    }
}

/// The prompt names the conversation's language (issue 13: one prompt set, the language a
/// variable): an English conversation is told to reply in English, also from Indonesian
/// knowledge; an Indonesian one keeps the casual register.
#[test]
fn the_prompt_names_the_conversations_language() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines");
    let set = ari::config::flow::load_dir(&dir).unwrap();
    let cfg = set.default.as_ref();
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Qualifying;
    let fb = fallback("qualifying", "What's your email?", "What's your email?");
    let render_for = |snapshot: &Snapshot| {
        let req = ReplyRequest::for_ask_llm(
            "+6281234567890",
            snapshot,
            cfg,
            "Answer, then ask the question.",
            &fb,
            None,
            None,
            vec![ChatMessage::lead("hi")],
            now(),
        );
        (req.language.clone(), render(&req))
    };
    let (lang, id) = render_for(&snapshot);
    assert_eq!(lang, "id");
    assert!(id.contains("Balas dalam bahasa Indonesia santai"), "{id}");
    snapshot.lead.language = Some("en".into());
    let (lang, en) = render_for(&snapshot);
    assert_eq!(lang, "en");
    assert!(en.contains("Balas dalam English:"), "{en}");
    assert!(!en.contains("sapa \"kak\""), "{en}");
}
