//! Drives the scripted dialogues in tests/fixtures/dialogues through the flow core, turn by
//! turn (clock +1 minute per turn, form answers merged), and checks the expected outcomes.

use std::path::Path;

use ari::config::flow::{FlowConfig, load_file};
use ari::flow::schedule::candidate_slots;
use ari::flow::{
    BookingResult, Effect, HandoffReason, InputEvent, Snapshot, StageId, Temperature, TurnInput,
    needs_free_slots, run_turn,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

fn config() -> FlowConfig {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .expect("valid default config")
}

struct Run {
    snapshot: Snapshot,
    stages: Vec<StageId>,
    replies: Vec<String>,
    booked: usize,
}

/// Runs a dialogue; with `slots`, free slots are pre-loaded and bookings succeed.
fn run(file: &str, slots: bool) -> (Run, Value) {
    let cfg = config();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dialogues")
        .join(file);
    let script: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339(script["now"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let form: std::collections::BTreeMap<String, String> = script["contact"]["form_answers"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut snap = Snapshot::new();
    let mut out = Run {
        snapshot: snap.clone(),
        stages: Vec::new(),
        replies: Vec::new(),
        booked: 0,
    };
    for (i, turn) in script["turns"].as_array().unwrap().iter().enumerate() {
        let now = start + Duration::minutes(i as i64);
        let mut input = TurnInput::text(now, turn.as_str().unwrap());
        input.form_answers = form.clone();
        if slots && needs_free_slots(&snap) {
            input.free_slots = Some(candidate_slots(&cfg, now));
        }
        let o = run_turn(&snap, &input, &cfg);
        out.replies
            .extend(o.reply_texts().into_iter().map(str::to_string));
        snap = o.snapshot;
        // The shell books and feeds the result back.
        for e in &o.effects {
            if let Effect::BookSlot { slot, .. } = e {
                let mut fb = TurnInput::text(now, "");
                fb.event = InputEvent::BookingResult {
                    result: BookingResult::Booked {
                        slot_id: slot.id.clone(),
                        appointment_id: "apt-1".into(),
                    },
                };
                fb.free_slots = Some(candidate_slots(&cfg, now));
                let o2 = run_turn(&snap, &fb, &cfg);
                out.replies
                    .extend(o2.reply_texts().into_iter().map(str::to_string));
                snap = o2.snapshot;
                out.booked += 1;
            }
        }
        out.stages.push(snap.stage_id());
    }
    out.snapshot = snap;
    (out, script)
}

#[test]
fn asks_for_human_ends_in_handoff_human_requested() {
    let (r, script) = run("asks-for-human.json", false);
    assert_eq!(script["expect"]["final_state"], "handoff");
    assert_eq!(r.snapshot.stage_id(), StageId::Handoff);
    assert_eq!(
        r.snapshot.handoff_reason(),
        Some(HandoffReason::HumanRequested)
    );
    assert_eq!(r.booked, 0);
    // Form answers merged: country normalized, email kept.
    assert_eq!(r.snapshot.field("country"), Some("United Kingdom"));
    assert_eq!(r.snapshot.field("email"), Some("dewi.lestari@example.com"));
    // 20:30 WIB is evening.
    assert!(r.replies[0].contains("Selamat malam"), "{:?}", r.replies[0]);
}

#[test]
fn hot_lead_reaches_booking_offer_without_slots() {
    let (r, _) = run("hot-lead-books.json", false);
    assert!(
        r.stages.contains(&StageId::Booking),
        "stages: {:?}",
        r.stages
    );
    let score = r.snapshot.lead.score.clone().expect("scored");
    assert_eq!(score.temperature, Temperature::Hot);
    assert!(score.total >= 70, "score {}", score.total);
    assert_eq!(r.snapshot.field("name"), Some("Budi Santoso"));
    assert_eq!(r.snapshot.field("email"), Some("budi.santoso@gmail.com"));
    assert_eq!(r.snapshot.field("country"), Some("Australia"));
    assert_eq!(r.snapshot.field("english_level"), Some("IELTS 7.0"));
    assert_eq!(r.snapshot.field("budget"), Some("500 juta"));
    assert_eq!(r.snapshot.field("timeline"), Some("tahun depan"));
    assert_eq!(r.snapshot.field("program"), Some("S2"));
}

#[test]
fn hot_lead_books_a_thursday_slot_with_stub_slots() {
    let (r, script) = run("hot-lead-books.json", true);
    assert!(
        r.stages.contains(&StageId::Scheduling),
        "stages: {:?}",
        r.stages
    );
    assert_eq!(
        r.snapshot.stage_id(),
        StageId::Handoff,
        "stages: {:?}\nreplies: {:#?}",
        r.stages,
        r.replies
    );
    assert_eq!(
        r.snapshot.handoff_reason(),
        Some(HandoffReason::AppointmentBooked)
    );
    assert_eq!(
        r.booked as u64,
        script["expect"]["appointments"].as_u64().unwrap()
    );
    let booked = r
        .replies
        .iter()
        .find(|t| t.starts_with("Oke, saya booking"))
        .expect("confirmation sent");
    assert!(booked.contains("Kamis, 26 November 2026"), "{booked}");
    assert!(booked.contains("Jam: 09:00 WIB"), "{booked}");
}
