//! Transitions and guards, table-driven; property tests; the graph matches the table.

use std::path::Path;

use ari::config::flow::{FlowConfig, LeadAction, load_file};
use ari::flow::graph::{EDGES, GraphFormat, Guard, render};
use ari::flow::schedule::candidate_slots;
use ari::flow::turn::{BookedAppointment, FieldValue, HandoffData, SchedulingData, StageSnapshot};
use ari::flow::yesno::YesNo;
use ari::flow::{
    BookingResult, Effect, HandoffReason, InputEvent, Snapshot, StageId, TurnInput, run_turn,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

fn cfg() -> FlowConfig {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap() // Monday 09:00 WIB
}

/// A lead with fields and documents set as given.
fn lead(fields: &[(&str, &str)], docs: &[(&str, YesNo)], stage: StageSnapshot) -> Snapshot {
    let mut s = Snapshot::new();
    for (k, v) in fields {
        let fv = if *v == "?" {
            FieldValue::Unknown
        } else {
            FieldValue::Known(v.to_string())
        };
        s.lead.fields.insert(k.to_string(), fv);
    }
    for (k, v) in docs {
        s.lead.documents.insert(k.to_string(), *v);
    }
    s.stage = stage;
    if s.stage == StageSnapshot::Qualifying {
        s.lead.pending = ["passport", "cv", "english_test", "transcript"]
            .iter()
            .find(|d| !s.lead.documents.contains_key(**d))
            .map(|d| ari::flow::extract::Pending::Document(d.to_string()));
    }
    s
}

const HOT: &[(&str, &str)] = &[
    ("name", "Budi"),
    ("email", "b@x.com"),
    ("english_level", "IELTS 7"),
    ("budget", "500 juta"),
    ("timeline", "tahun depan"),
    ("country", "Australia"),
    ("program", "S2"),
];
const WARM: &[(&str, &str)] = &[
    ("name", "Budi"),
    ("email", "b@x.com"),
    ("english_level", "menengah"),
    ("budget", "500 juta"),
    ("timeline", "tahun depan"),
    ("country", "Australia"),
];
const COLD: &[(&str, &str)] = &[
    ("name", "Budi"),
    ("email", "?"),
    ("english_level", "?"),
    ("budget", "?"),
    ("timeline", "?"),
    ("country", "?"),
];
const DOCS_YES: &[(&str, YesNo)] = &[
    ("passport", YesNo::Yes),
    ("cv", YesNo::Yes),
    ("english_test", YesNo::Yes),
];
const DOCS_NO: &[(&str, YesNo)] = &[
    ("passport", YesNo::No),
    ("cv", YesNo::No),
    ("english_test", YesNo::No),
];

fn handoff(reason: HandoffReason, last_ack: Option<DateTime<Utc>>) -> StageSnapshot {
    StageSnapshot::Handoff(HandoffData {
        reason,
        at: now(),
        last_ack_at: last_ack,
        assignee: None,
    })
}

/// A hot lead holding a booked consultation on the first free slot, in `stage`.
fn booked(stage: StageSnapshot) -> Snapshot {
    let mut snap = lead(HOT, DOCS_YES, stage);
    let slot = candidate_slots(&cfg(), now())[0].clone();
    snap.lead.appointment = Some(BookedAppointment {
        id: "7".into(),
        slot,
    });
    snap
}

/// A hot lead with a booked consultation who asked to move it and is choosing a new slot.
fn moving() -> Snapshot {
    let mut snap = booked(handoff(HandoffReason::AppointmentBooked, Some(now())));
    let data = SchedulingData {
        moving: snap.lead.appointment.clone().map(Box::new),
        handoff: Some(HandoffData {
            reason: HandoffReason::AppointmentBooked,
            at: now(),
            last_ack_at: Some(now()),
            assignee: None,
        }),
        ..SchedulingData::default()
    };
    snap.stage = StageSnapshot::Scheduling(data);
    snap
}

fn text(t: &str) -> TurnInput {
    let mut i = TurnInput::text(now(), t);
    i.free_slots = Some(candidate_slots(&cfg(), now()));
    i
}

fn event(e: InputEvent) -> TurnInput {
    let mut i = text("");
    i.event = e;
    i
}

fn handoff_reason(e: &[Effect]) -> Option<HandoffReason> {
    e.iter().find_map(|e| match e {
        Effect::Handoff { reason, .. } => Some(*reason),
        _ => None,
    })
}

/// Every edge of the table, exercised: (guard, start snapshot, input, config tweak, expected stage, expected handoff reason).
#[test]
fn every_transition_and_guard() {
    let hot_docs_pending = lead(HOT, &DOCS_YES[..3], StageSnapshot::Qualifying);
    let mut thursday = SchedulingData::default();
    let slots = candidate_slots(&cfg(), now());
    thursday.step = ari::flow::turn::SchedulingStep::Confirming;
    thursday.selected = Some(slots[0].clone());
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        Guard,
        Snapshot,
        TurnInput,
        fn(&mut FlowConfig),
        StageId,
        Option<HandoffReason>,
    )> = vec![
        (
            Guard::FirstMessage,
            Snapshot::new(),
            text("halo"),
            |_| {},
            StageId::Qualifying,
            None,
        ),
        (
            Guard::HumanRequested,
            Snapshot::new(),
            text("mau bicara dengan konsultan"),
            |_| {},
            StageId::Handoff,
            Some(HandoffReason::HumanRequested),
        ),
        (
            Guard::HumanTakeover,
            lead(&[], &[], StageSnapshot::Qualifying),
            event(InputEvent::HumanTakeover),
            |_| {},
            StageId::Handoff,
            Some(HandoffReason::HumanTakeover),
        ),
        (
            Guard::StillQualifying,
            lead(&[], &[], StageSnapshot::Qualifying),
            text("nama saya Budi"),
            |_| {},
            StageId::Qualifying,
            None,
        ),
        (
            Guard::QualificationDone,
            hot_docs_pending.clone(),
            text("transkrip sudah ada"),
            |_| {},
            StageId::Booking,
            None,
        ),
        (
            Guard::HotBooks,
            hot_docs_pending.clone(),
            text("sudah ada"),
            |_| {},
            StageId::Booking,
            None,
        ),
        (
            Guard::HotHandsOff,
            hot_docs_pending.clone(),
            text("sudah ada"),
            |c| c.routing.hot_lead_action = LeadAction::Handoff,
            StageId::Handoff,
            Some(HandoffReason::HotLead),
        ),
        (
            Guard::HotHandsOff,
            hot_docs_pending.clone(),
            text("sudah ada"),
            |c| c.stages.booking.enabled = false,
            StageId::Handoff,
            Some(HandoffReason::HotLead),
        ),
        (
            Guard::WarmNurture,
            lead(WARM, &DOCS_NO[..3], StageSnapshot::Qualifying),
            text("belum"),
            |_| {},
            StageId::Scoring,
            None,
        ),
        (
            Guard::WarmLimitBooks,
            lead(
                WARM,
                &[
                    ("passport", YesNo::No),
                    ("cv", YesNo::No),
                    ("english_test", YesNo::No),
                    ("transcript", YesNo::No),
                ],
                StageSnapshot::Scoring { nurtured: 4 },
            ),
            text("oke makasih"),
            |_| {},
            StageId::Booking,
            None,
        ),
        (
            Guard::WarmLimitHandsOff,
            lead(
                WARM,
                &[
                    ("passport", YesNo::No),
                    ("cv", YesNo::No),
                    ("english_test", YesNo::No),
                    ("transcript", YesNo::No),
                ],
                StageSnapshot::Scoring { nurtured: 4 },
            ),
            text("oke makasih"),
            |c| c.routing.warm_after_limit = LeadAction::Handoff,
            StageId::Handoff,
            Some(HandoffReason::WarmLead),
        ),
        (
            Guard::Cold,
            lead(COLD, &DOCS_NO[..3], StageSnapshot::Qualifying),
            text("belum"),
            |_| {},
            StageId::Handoff,
            Some(HandoffReason::ColdLead),
        ),
        (
            Guard::Accepted,
            lead(HOT, DOCS_YES, StageSnapshot::Booking),
            text("mau kak"),
            |_| {},
            StageId::Scheduling,
            None,
        ),
        (
            Guard::AcceptedNoSlot,
            lead(HOT, DOCS_YES, StageSnapshot::Booking),
            TurnInput::text(now(), "mau kak"),
            |_| {},
            StageId::Handoff,
            Some(HandoffReason::HotLead),
        ),
        (
            Guard::Declined,
            lead(HOT, DOCS_YES, StageSnapshot::Booking),
            text("tidak dulu kak"),
            |_| {},
            StageId::Handoff,
            Some(HandoffReason::HotLead),
        ),
        (
            Guard::Unclear,
            lead(HOT, DOCS_YES, StageSnapshot::Booking),
            text("hmm"),
            |_| {},
            StageId::Booking,
            None,
        ),
        (
            Guard::SchedulingStep,
            lead(
                HOT,
                DOCS_YES,
                StageSnapshot::Scheduling(SchedulingData::default()),
            ),
            text("kamis"),
            |_| {},
            StageId::Scheduling,
            None,
        ),
        (
            Guard::SlotBooked,
            lead(HOT, DOCS_YES, StageSnapshot::Scheduling(thursday.clone())),
            event(InputEvent::BookingResult {
                result: BookingResult::Booked {
                    slot_id: slots[0].id.clone(),
                    appointment_id: "a".into(),
                },
            }),
            |_| {},
            StageId::Handoff,
            Some(HandoffReason::AppointmentBooked),
        ),
        (
            Guard::SlotTaken,
            lead(HOT, DOCS_YES, StageSnapshot::Scheduling(thursday)),
            event(InputEvent::BookingResult {
                result: BookingResult::SlotTaken {
                    slot_id: slots[0].id.clone(),
                },
            }),
            |_| {},
            StageId::Scheduling,
            None,
        ),
        (
            Guard::QuietPeriod,
            lead(HOT, DOCS_YES, handoff(HandoffReason::HotLead, Some(now()))),
            text("halo?"),
            |_| {},
            StageId::Handoff,
            None,
        ),
        (
            Guard::TakeoverExpired,
            lead(
                HOT,
                DOCS_YES,
                StageSnapshot::Handoff(HandoffData {
                    reason: HandoffReason::HumanTakeover,
                    at: now() - chrono::Duration::minutes(1441),
                    last_ack_at: None,
                    assignee: None,
                }),
            ),
            text("halo, masih ada orang?"),
            |_| {},
            StageId::Qualifying,
            None,
        ),
        (
            Guard::ConsultationOver,
            booked(handoff(HandoffReason::AppointmentBooked, Some(now()))),
            {
                let slot = &candidate_slots(&cfg(), now())[0];
                let mut i = text("halo kak, mau tanya lagi");
                i.now = slot.start + Duration::minutes(60) + Duration::hours(24);
                i
            },
            |_| {},
            StageId::Qualifying,
            None,
        ),
        (
            Guard::HumanTakeover,
            lead(HOT, DOCS_YES, handoff(HandoffReason::HotLead, Some(now()))),
            event(InputEvent::HumanTakeover),
            |_| {},
            StageId::Handoff,
            None,
        ),
        (
            Guard::RescheduleRequested,
            booked(handoff(HandoffReason::AppointmentBooked, Some(now()))),
            text("kak, bisa ganti jadwal?"),
            |_| {},
            StageId::Scheduling,
            None,
        ),
        (
            Guard::CancelRequested,
            booked(handoff(HandoffReason::AppointmentBooked, Some(now()))),
            text("maaf kak, saya batal"),
            |_| {},
            StageId::Completed,
            None,
        ),
        (
            Guard::Closed,
            lead(HOT, DOCS_YES, handoff(HandoffReason::HotLead, None)),
            event(InputEvent::Close),
            |_| {},
            StageId::Completed,
            None,
        ),
        (
            Guard::Resumed,
            lead(&[], &[], handoff(HandoffReason::HumanRequested, None)),
            event(InputEvent::Resume),
            |_| {},
            StageId::Qualifying,
            None,
        ),
        (
            Guard::NewCycle,
            lead(&[], &[], StageSnapshot::Completed),
            text("halo lagi"),
            |_| {},
            StageId::Qualifying,
            None,
        ),
        (
            Guard::BooksAgain,
            {
                let mut s = lead(HOT, DOCS_YES, StageSnapshot::Completed);
                s.lead.documents.insert("transcript".into(), YesNo::Yes);
                s
            },
            text("halo kak, aku mau jadwalin konsultasi lagi dong"),
            |_| {},
            StageId::Booking,
            None,
        ),
        (
            Guard::KeepsBooking,
            moving(),
            text("ga jadi deh kak, tetap yang lama aja"),
            |_| {},
            StageId::Handoff,
            None,
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (guard, snap, input, tweak, want, reason) in cases {
        let mut c = cfg();
        tweak(&mut c);
        let out = run_turn(&snap, &input, &c);
        assert_eq!(
            out.snapshot.stage_id(),
            want,
            "{guard:?}: effects {:#?}",
            out.effects
        );
        assert_eq!(handoff_reason(&out.effects), reason, "{guard:?}");
        covered.insert(format!("{guard:?}"));
    }
    covered.insert("Stuck".into()); // see stuck_after_limit_turns_without_progress
    for e in EDGES {
        assert!(
            covered.contains(&format!("{:?}", e.guard)),
            "edge {e:?} has no test"
        );
    }
}

#[test]
fn a_takeover_is_silent_until_the_person_is_quiet_for_the_resume_period() {
    let c = cfg();
    let taken = |minutes_ago: i64| {
        lead(
            HOT,
            DOCS_YES,
            StageSnapshot::Handoff(HandoffData {
                reason: HandoffReason::HumanTakeover,
                at: now() - chrono::Duration::minutes(minutes_ago),
                last_ack_at: None,
                assignee: None,
            }),
        )
    };
    // A person is active: no reply at all, not even the quiet-period acknowledgement.
    let out = run_turn(&taken(30), &text("halo?"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Handoff);
    assert!(out.reply_texts().is_empty(), "{:?}", out.reply_texts());
    // Another message from the person restarts the timer.
    let out = run_turn(&taken(2_000), &event(InputEvent::HumanTakeover), &c);
    let out = run_turn(&out.snapshot, &text("halo?"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Handoff);
    assert!(out.reply_texts().is_empty());
    // 0 disables the automatic hand-back.
    let mut never = cfg();
    never.handoff.takeover_resume_minutes = 0;
    let out = run_turn(&taken(100_000), &text("halo?"), &never);
    assert_eq!(out.snapshot.stage_id(), StageId::Handoff);
    // After the period the bot answers again.
    let out = run_turn(&taken(1_440), &text("halo?"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Qualifying);
    assert_eq!(out.reply_texts().len(), 1);
}

/// The relays of one turn: (text, consultant's number).
fn relays(e: &[Effect]) -> Vec<(String, Option<String>)> {
    e.iter()
        .filter_map(|e| match e {
            Effect::Relay { text, to } => {
                Some((text.clone(), to.as_ref().map(|a| a.whatsapp.clone())))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn after_a_takeover_relays_start_once_the_person_is_quiet_for_relay_after_minutes() {
    let c = cfg();
    let relay_after = i64::from(c.handoff.relay_after_minutes);
    // The lead was handed off (round-robin assignee recorded), then a person took over.
    let start = lead(HOT, DOCS_YES, StageSnapshot::Qualifying);
    let mut input = text("");
    input.event = InputEvent::HumanTakeover;
    input.conversation_id = 1;
    let taken = run_turn(&start, &input, &c).snapshot;
    let StageSnapshot::Handoff(data) = &taken.stage else {
        panic!("not handed off: {:?}", taken.stage);
    };
    let assignee = data.assignee.clone().expect("an assignee is recorded");
    assert_eq!(
        assignee.whatsapp, "+6281111000002",
        "round-robin by conversation id"
    );
    // The person wrote just now: no relay, nothing to the lead.
    let mut soon = text("kak??");
    soon.now = now() + Duration::minutes(relay_after - 1);
    let out = run_turn(&taken, &soon, &c);
    assert!(relays(&out.effects).is_empty());
    assert!(out.reply_texts().is_empty());
    // Silent for relay_after_minutes: relayed to the same consultant, still nothing to the lead.
    let mut later = text("kak??");
    later.now = now() + Duration::minutes(relay_after);
    let out = run_turn(&taken, &later, &c);
    assert_eq!(
        relays(&out.effects),
        vec![("kak??".to_string(), Some(assignee.whatsapp))]
    );
    assert!(out.reply_texts().is_empty());
}

#[test]
fn a_handed_off_lead_is_relayed_to_the_booked_consultant_and_a_question_is_answered() {
    let c = cfg();
    let snap = booked(handoff(HandoffReason::AppointmentBooked, Some(now())));
    let consultant = snap
        .lead
        .appointment
        .as_ref()
        .unwrap()
        .slot
        .consultant_whatsapp
        .clone();
    // An old snapshot without an assignee gets one: the booked consultation's consultant.
    let out = run_turn(&snap, &text("kak, berapa biaya hidup di London?"), &c);
    assert_eq!(relays(&out.effects).len(), 1);
    assert_eq!(
        relays(&out.effects)[0].1.as_deref(),
        Some(consultant.as_str())
    );
    assert!(
        out.effects
            .iter()
            .any(|e| matches!(e, Effect::SearchKnowledge { .. }))
    );
    assert_eq!(
        out.reply_templates(),
        vec!["handoff.knowledge_fallback"],
        "answered, ack not due"
    );
    let StageSnapshot::Handoff(data) = &out.snapshot.stage else {
        panic!("left handoff");
    };
    assert_eq!(
        data.assignee.as_ref().map(|a| a.whatsapp.as_str()),
        Some(consultant.as_str())
    );
    // A plain message within the quiet period: relayed only.
    let out = run_turn(&out.snapshot, &text("oke makasih"), &c);
    assert_eq!(relays(&out.effects).len(), 1);
    assert!(out.reply_texts().is_empty());
}

#[test]
fn a_booked_handoff_closes_close_after_hours_after_the_consultation() {
    let c = cfg();
    let snap = booked(handoff(HandoffReason::AppointmentBooked, Some(now())));
    let slot = snap.lead.appointment.as_ref().unwrap().slot.clone();
    let end = slot.start + Duration::minutes(i64::from(slot.duration_minutes));
    let mut before = text("makasih kak konsultasinya");
    before.now = end + Duration::hours(23);
    let out = run_turn(&snap, &before, &c);
    assert_eq!(
        out.snapshot.stage_id(),
        StageId::Handoff,
        "not a day after yet"
    );
    let mut after = text("halo kak, mau tanya lagi");
    after.now = end + Duration::hours(24);
    let out = run_turn(&snap, &after, &c);
    assert_eq!(
        out.reply_templates(),
        vec!["greeting.returning"],
        "a new cycle starts"
    );
    assert_eq!(out.snapshot.lead.cycles, snap.lead.cycles + 1);
    assert!(
        out.snapshot.lead.appointment.is_none(),
        "the consultation is over"
    );
    assert_eq!(
        out.snapshot.field("name"),
        snap.field("name"),
        "lead data kept"
    );
    // 0: only a close ends it.
    let mut never = cfg();
    never.handoff.close_after_hours = 0;
    assert_eq!(
        run_turn(&snap, &after, &never).snapshot.stage_id(),
        StageId::Handoff
    );
}

#[test]
fn stuck_after_limit_turns_without_progress() {
    let c = cfg();
    let mut snap = lead(&[("name", "Budi")], &[], StageSnapshot::Qualifying);
    for i in 0..c.routing.stuck_limit {
        let out = run_turn(&snap, &text("hmm"), &c);
        snap = out.snapshot.clone();
        if i + 1 < c.routing.stuck_limit {
            assert_eq!(snap.stage_id(), StageId::Qualifying, "turn {i}");
        } else {
            assert_eq!(snap.handoff_reason(), Some(HandoffReason::Stuck));
            assert_eq!(
                out.reply_templates(),
                vec!["handoff.stuck"],
                "the stuck turn sends only the handoff text"
            );
        }
    }
    // A normal qualification of 10+ answers is not stuck: every answer teaches something.
    let mut snap = Snapshot::new();
    for t in [
        "halo",
        "nama saya Budi",
        "budi@x.com",
        "menengah",
        "300 juta",
        "tahun depan",
        "Jepang",
        "belum",
        "belum",
        "belum",
        "belum",
    ] {
        snap = run_turn(&snap, &text(t), &c).snapshot;
    }
    assert_ne!(snap.handoff_reason(), Some(HandoffReason::Stuck));
}

#[test]
fn handoff_is_quiet_except_one_ack_per_quiet_period() {
    let c = cfg();
    let snap = lead(HOT, DOCS_YES, handoff(HandoffReason::HotLead, Some(now())));
    let out = run_turn(&snap, &text("halo?"), &c);
    assert!(out.reply_texts().is_empty(), "within the quiet period");
    let mut later = text("halo?");
    later.now = now() + Duration::minutes(i64::from(c.handoff.quiet_period_minutes));
    let out = run_turn(&snap, &later, &c);
    assert_eq!(out.reply_templates(), vec!["handoff.acknowledgement"]);
    let again = run_turn(&out.snapshot, &later, &c);
    assert!(again.reply_texts().is_empty(), "one ack per period");
    // Human takeover with the automatic hand-back off: silent for good, no acknowledgement.
    let mut never = cfg();
    never.handoff.takeover_resume_minutes = 0;
    let taken = lead(HOT, DOCS_YES, handoff(HandoffReason::HumanTakeover, None));
    let mut much_later = text("halo?");
    much_later.now = now() + Duration::days(3);
    assert!(
        run_turn(&taken, &much_later, &never)
            .reply_texts()
            .is_empty()
    );
}

#[test]
fn knowledge_question_searches_and_keeps_the_thread() {
    let c = cfg();
    let snap = lead(&[("name", "Budi")], &[], StageSnapshot::Qualifying);
    let mut s = snap.clone();
    s.lead.pending = Some(ari::flow::extract::Pending::Field("email".into()));
    let out = run_turn(&s, &text("berapa biaya kuliah di UK?"), &c);
    assert!(
        out.effects
            .iter()
            .any(|e| matches!(e, Effect::SearchKnowledge { .. }))
    );
    let fallback = out.effects.iter().find_map(|e| match e {
        Effect::AskLlm {
            fallback,
            instruction,
        } => Some((fallback.clone(), instruction.clone())),
        _ => None,
    });
    let (fallback, instruction) = fallback.expect("AskLlm");
    assert!(
        fallback.text.contains("Email yang aktif"),
        "{}",
        fallback.text
    );
    assert!(instruction.contains("Email yang aktif"));
    assert_eq!(out.snapshot.stage_id(), StageId::Qualifying);
}

#[test]
fn restore_does_not_replay_effects_and_snapshot_uses_stable_names() {
    let c = cfg();
    let out = run_turn(&Snapshot::new(), &text("halo"), &c);
    let json = out.snapshot.to_json();
    assert!(json.contains("\"name\":\"qualifying\""), "{json}");
    let restored = Snapshot::from_json(&json).unwrap();
    assert_eq!(restored, out.snapshot);
    // A turn after restore emits only this turn's reply, not the greeting again.
    let next = run_turn(&restored, &text("nama saya Budi"), &c);
    assert!(!next.reply_templates().contains(&"greeting.greeting"));
    assert!(
        Snapshot::from_json(&json.replace("\"schema_version\":1", "\"schema_version\":99"))
            .is_err()
    );
}

#[test]
fn graph_output_contains_every_edge() {
    let c = cfg();
    let mermaid = render(GraphFormat::Mermaid, Some(&c));
    assert!(mermaid.starts_with("stateDiagram-v2"));
    for e in EDGES {
        let line = format!(
            "    {} --> {}: {}",
            e.from.as_str(),
            e.to.as_str(),
            e.guard.label()
        );
        assert!(mermaid.contains(&line), "missing {line}");
    }
    assert!(mermaid.contains("greeting: Sapaan"));
    let dot = render(GraphFormat::Dot, Some(&c));
    assert_eq!(dot.matches(" -> ").count(), EDGES.len());
    // The binary prints the same.
    let bin = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .args(["flow", "graph", "--format", "mermaid", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&bin.stdout), mermaid);
}

#[test]
fn check_config_binary_exit_codes_and_format() {
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .args(["check-config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .status()
        .unwrap();
    assert_eq!(ok.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ari.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"),
    )
    .unwrap();
    std::fs::write(
        &path,
        text.replace("hot_threshold = 70", "hot_threshold = 30"),
    )
    .unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(&format!("{}:", path.display())) && err.contains(": scoring.warm_threshold: "),
        "{err}"
    );
}

fn any_stage() -> impl Strategy<Value = StageSnapshot> {
    prop_oneof![
        Just(StageSnapshot::Greeting),
        Just(StageSnapshot::Qualifying),
        (0u32..8).prop_map(|n| StageSnapshot::Scoring { nurtured: n }),
        Just(StageSnapshot::Booking),
        Just(StageSnapshot::Scheduling(SchedulingData::default())),
        Just(handoff(HandoffReason::HotLead, None)),
        Just(StageSnapshot::Completed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_text_never_panics_and_score_in_range(t in ".{0,200}", stage in any_stage(), hot in any::<bool>()) {
        let c = cfg();
        let snap = lead(if hot { HOT } else { WARM }, DOCS_YES, stage);
        let out = run_turn(&snap, &text(&t), &c);
        if let Some(s) = &out.snapshot.lead.score {
            prop_assert!(s.total <= 100);
        }
    }

    #[test]
    fn score_always_within_range(
        fields in proptest::collection::btree_map("[a-z_]{2,14}", ".{0,30}", 0..10),
        docs in proptest::collection::btree_map(prop_oneof![Just("passport".to_string()), Just("cv".to_string()), Just("english_test".to_string()), Just("transcript".to_string())], any::<bool>(), 0..4),
        engagement in proptest::option::of(-50.0f64..50.0),
        w in (0u32..=100, 0u32..=100, 0u32..=100),
    ) {
        let mut rules = ari::flow::scoring::ScoringRules::seed();
        let (a, b, d) = w;
        let total = a + b + d;
        if total <= 100 {
            rules.weights = ari::config::flow::Weights { basic: a, qualification: b, documents: d, engagement: 100 - total };
        }
        let s = ari::flow::scoring::score(&ari::flow::scoring::ScoreInput { fields, documents: docs, engagement, current_year: 2026 }, &rules);
        prop_assert!(s.total <= 100);
    }

    #[test]
    fn handoff_reachable_from_every_state(stage in any_stage()) {
        let c = cfg();
        let snap = lead(HOT, DOCS_YES, stage.clone());
        let out = run_turn(&snap, &text("saya mau bicara dengan konsultan"), &c);
        // Completed starts a new cycle first, then the request hands off.
        prop_assert_eq!(out.snapshot.stage_id(), StageId::Handoff);
    }
}

#[test]
fn completed_has_only_the_new_cycle_edge() {
    let out: Vec<_> = EDGES
        .iter()
        .filter(|e| e.from == StageId::Completed)
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].to, out[0].guard),
        (StageId::Greeting, Guard::NewCycle)
    );
    // Events other than a message do nothing in completed.
    let c = cfg();
    let snap = lead(HOT, DOCS_YES, StageSnapshot::Completed);
    for e in [
        InputEvent::HumanTakeover,
        InputEvent::Resume,
        InputEvent::Close,
    ] {
        let o = run_turn(&snap, &event(e), &c);
        assert_eq!(o.snapshot.stage_id(), StageId::Completed);
        assert!(o.effects.is_empty());
    }
}

#[test]
fn every_state_reaches_handoff_through_the_table() {
    // Graph reachability on the table itself: from each stage, handoff is reachable.
    for s in StageId::ALL {
        let mut seen = vec![s];
        let mut i = 0;
        while i < seen.len() {
            let from = seen[i];
            for e in EDGES.iter().filter(|e| e.from == from) {
                if !seen.contains(&e.to) {
                    seen.push(e.to);
                }
            }
            i += 1;
        }
        assert!(seen.contains(&StageId::Handoff), "{s:?}");
    }
}

/// While scheduling, the lead names a day (and maybe a time) in Indonesian or English: the
/// slots shown are on that day. Now is Monday 23 Nov 2026, 09:00 WIB.
#[test]
fn scheduling_understands_relative_days_dates_and_times() {
    let c = cfg();
    let wib = chrono_tz::Asia::Jakarta;
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("besok", "2026-11-24", None),
        ("kalau lusa bisa?", "2026-11-25", None),
        ("25/11", "2026-11-25", None),
        ("tanggal 27 November", "2026-11-27", None),
        ("hari kamis bisa?", "2026-11-26", None),
        ("senin depan jam 10", "2026-11-30", Some("10:00")),
        ("next tuesday at 2pm", "2026-12-01", Some("14:00")),
    ];
    for (phrase, date, time) in cases {
        let snap = lead(
            HOT,
            DOCS_YES,
            StageSnapshot::Scheduling(SchedulingData::default()),
        );
        let out = run_turn(&snap, &text(phrase), &c);
        let StageSnapshot::Scheduling(data) = &out.snapshot.stage else {
            panic!("{phrase}: left scheduling: {:?}", out.snapshot.stage)
        };
        assert!(
            !data.shown.is_empty(),
            "{phrase}: no slots shown: {:?}",
            out.reply_texts()
        );
        for s in &data.shown {
            let local = s.start.with_timezone(&wib);
            assert_eq!(local.format("%Y-%m-%d").to_string(), *date, "{phrase}");
            if let Some(t) = time {
                assert_eq!(local.format("%H:%M").to_string(), *t, "{phrase}");
            }
        }
    }
}

#[test]
fn cancel_releases_the_booking_reschedule_keeps_it_and_both_mean_nothing_without_one() {
    let c = cfg();
    // Reschedule: the booking stays (nothing released) and the free days are listed.
    let out = run_turn(
        &booked(handoff(HandoffReason::AppointmentBooked, Some(now()))),
        &text("ganti jadwal ya kak"),
        &c,
    );
    assert_eq!(out.snapshot.stage_id(), StageId::Scheduling);
    assert_eq!(
        out.snapshot
            .lead
            .appointment
            .as_ref()
            .map(|a| a.id.as_str()),
        Some("7")
    );
    let StageSnapshot::Scheduling(data) = &out.snapshot.stage else {
        unreachable!()
    };
    assert_eq!(data.moving.as_ref().map(|a| a.id.as_str()), Some("7"));
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelAppointment { .. }))
    );
    assert_eq!(out.reply_templates(), vec!["scheduling.reschedule"]);
    // Cancel: released, a confirmation naming the slot, the cycle ends.
    let out = run_turn(
        &booked(handoff(HandoffReason::AppointmentBooked, Some(now()))),
        &text("batal aja kak"),
        &c,
    );
    assert_eq!(out.snapshot.stage_id(), StageId::Completed);
    assert!(out.effects.iter().any(|e| matches!(
        e,
        Effect::CancelAppointment {
            reschedule: false,
            ..
        }
    )));
    assert_eq!(out.reply_templates(), vec!["handoff.cancelled"]);
    // Without a booking, or after it started, "batal" is an ordinary word.
    let snap = lead(&[("name", "Budi")], &[], StageSnapshot::Qualifying);
    let out = run_turn(&snap, &text("batal ke UK, mau ke Australia"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Qualifying);
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelAppointment { .. }))
    );
    let mut past = booked(handoff(HandoffReason::AppointmentBooked, Some(now())));
    if let Some(a) = past.lead.appointment.as_mut() {
        a.slot.start = now() - Duration::hours(1);
    }
    let out = run_turn(&past, &text("batal"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Handoff);
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelAppointment { .. }))
    );
}

/// The free slot of `input` starting at `hh:mm` WIB on `date` (YYYY-MM-DD).
fn slot_at(input: &TurnInput, date: &str, hhmm: &str) -> ari::flow::SlotOption {
    let wib = chrono_tz::Asia::Jakarta;
    input
        .free_slots
        .as_ref()
        .unwrap()
        .iter()
        .find(|s| {
            let l = s.start.with_timezone(&wib);
            l.format("%Y-%m-%d").to_string() == date && l.format("%H:%M").to_string() == hhmm
        })
        .cloned()
        .unwrap()
}

/// A day and time given with the request are used at once; the confirmed slot moves the
/// booking in one effect (nothing cancelled on its own), and the store's answer ends the move:
/// the new booking is kept, the lead told, the handoff restored. A taken slot keeps the old one.
#[test]
fn a_confirmed_new_slot_moves_the_booking_in_one_effect() {
    let c = cfg();
    let input = text("kak ganti jadwal ke kamis jam 10 bisa?");
    let out = run_turn(
        &booked(handoff(HandoffReason::AppointmentBooked, Some(now()))),
        &input,
        &c,
    );
    assert_eq!(out.reply_templates(), vec!["scheduling.confirm"]);
    let thursday = slot_at(&input, "2026-11-26", "10:00");
    let StageSnapshot::Scheduling(data) = &out.snapshot.stage else {
        panic!("{:?}", out.snapshot.stage)
    };
    assert_eq!(data.selected.as_ref(), Some(&thursday));
    let out = run_turn(&out.snapshot, &text("iya kak"), &c);
    let moves: Vec<_> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::MoveAppointment { from, to, .. } => Some((from.id.clone(), to.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(moves, vec![("7".to_string(), thursday.clone())]);
    assert!(!out.effects.iter().any(|e| matches!(
        e,
        Effect::CancelAppointment { .. } | Effect::BookSlot { .. }
    )));
    assert_eq!(
        out.snapshot
            .lead
            .appointment
            .as_ref()
            .map(|a| a.id.as_str()),
        Some("7")
    );
    // Taken meanwhile: still choosing, the old booking untouched.
    let taken = run_turn(
        &out.snapshot,
        &event(InputEvent::BookingResult {
            result: BookingResult::SlotTaken {
                slot_id: thursday.id.clone(),
            },
        }),
        &c,
    );
    assert_eq!(taken.snapshot.stage_id(), StageId::Scheduling);
    assert_eq!(taken.reply_templates(), vec!["scheduling.slot_taken"]);
    assert_eq!(
        taken
            .snapshot
            .lead
            .appointment
            .as_ref()
            .map(|a| a.id.as_str()),
        Some("7")
    );
    // Moved: the new booking, the move confirmation, back to the handoff without a new
    // handoff notice.
    let moved = run_turn(
        &out.snapshot,
        &event(InputEvent::BookingResult {
            result: BookingResult::Booked {
                slot_id: thursday.id.clone(),
                appointment_id: "8".into(),
            },
        }),
        &c,
    );
    assert_eq!(moved.snapshot.stage_id(), StageId::Handoff);
    assert_eq!(moved.reply_templates(), vec!["scheduling.moved"]);
    assert_eq!(
        moved.snapshot.lead.appointment,
        Some(BookedAppointment {
            id: "8".into(),
            slot: thursday,
        })
    );
    assert_eq!(handoff_reason(&moved.effects), None);
    assert_eq!(
        moved.snapshot.handoff_reason(),
        Some(HandoffReason::AppointmentBooked)
    );
}

/// While choosing: "batal" cancels the kept booking, a new request restarts the choice on the
/// day it names, keeping words go back to the handoff with the booking; the reason day alone
/// ("Friday" of a Friday booking) is not taken for the new day.
#[test]
fn while_choosing_cancel_restart_and_keep() {
    let c = cfg();
    let out = run_turn(&moving(), &text("batal aja deh kak konsultasinya"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Completed);
    assert!(out.snapshot.lead.appointment.is_none());
    assert!(out.effects.iter().any(|e| matches!(
        e,
        Effect::CancelAppointment { appointment_id, reschedule: false, .. } if appointment_id == "7"
    )));
    let out = run_turn(&moving(), &text("eh ganti ke rabu aja deh"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Scheduling);
    assert_eq!(out.reply_templates(), vec!["scheduling.show_slots"]);
    let StageSnapshot::Scheduling(data) = &out.snapshot.stage else {
        unreachable!()
    };
    assert!(data.moving.is_some());
    let wib = chrono_tz::Asia::Jakarta;
    assert!(
        data.shown
            .iter()
            .all(|s| s.start.with_timezone(&wib).format("%a").to_string() == "Wed")
    );
    let out = run_turn(&moving(), &text("Actually, keep the original please"), &c);
    assert_eq!(out.snapshot.stage_id(), StageId::Handoff);
    assert_eq!(out.reply_templates(), vec!["scheduling.kept"]);
    assert_eq!(
        out.snapshot
            .lead
            .appointment
            .as_ref()
            .map(|a| a.id.as_str()),
        Some("7")
    );
    // The booked day named as the reason: the days are listed instead.
    let snap = booked(handoff(HandoffReason::AppointmentBooked, Some(now())));
    let wib_day = snap
        .lead
        .appointment
        .as_ref()
        .map(|a| a.slot.start.with_timezone(&wib).format("%A").to_string())
        .unwrap();
    let out = run_turn(
        &snap,
        &text(&format!("{wib_day} I have a class, can I reschedule?")),
        &c,
    );
    assert_eq!(out.reply_templates(), vec!["scheduling.reschedule"]);
}

/// The consultant's lead summary is written with the `locale.summary_*` words of the
/// workspace's language (issue 13: the summary words are config, not code).
#[test]
fn the_consultant_summary_uses_the_configured_words() {
    let mut c = cfg();
    c.locale.summary_language = "Lead speaks".into();
    c.locale.summary_documents = "Papers".into();
    c.locale.summary_not_yet = "missing".into();
    let summary_of = |snapshot: &Snapshot, text: &str| {
        let out = run_turn(snapshot, &TurnInput::text(now(), text), &c);
        out.effects.into_iter().find_map(|e| match e {
            Effect::Handoff { summary, .. } => Some(summary),
            _ => None,
        })
    };
    let first = summary_of(
        &Snapshot::new(),
        "halo kak, bisa ngobrol sama konsultan aja?",
    );
    assert_eq!(first.as_deref(), Some("Lead speaks: id."));
    let with_docs = lead(
        &[("name", "Budi Santoso")],
        &[("passport", YesNo::No)],
        StageSnapshot::Qualifying,
    );
    let s = summary_of(&with_docs, "saya mau bicara dengan konsultan").unwrap_or_default();
    assert!(s.contains("Papers: "), "{s}");
    assert!(s.contains(" missing"), "{s}");
}

/// Issue 18: the core's follow-up decisions. A lead silent at a question gets a nudge when
/// the one scheduled falls due, asking the question in other words without counting as a
/// re-ask; a stale due time, or a conversation no longer waiting, gets nothing.
#[test]
fn a_due_follow_up_nudges_once_and_a_stale_one_sends_nothing() {
    let cfg = cfg();
    let t0 = now();
    let mut snap = Snapshot::new();
    for (i, text) in ["halo kak", "Budi Santoso"].iter().enumerate() {
        snap = run_turn(
            &snap,
            &TurnInput::text(t0 + Duration::minutes(i as i64), text),
            &cfg,
        )
        .snapshot;
    }
    let due = snap.lead.followup.due.expect("a follow-up is scheduled");
    assert_eq!(due.at, t0 + Duration::minutes(1) + Duration::hours(2));
    let asks = snap.lead.asks;
    let event = |at: DateTime<Utc>| TurnInput {
        event: InputEvent::FollowupDue { due_at: at },
        ..TurnInput::text(due.at, "")
    };
    // A due time that is not the scheduled one (an older queued row): nothing.
    let stale = run_turn(&snap, &event(due.at - Duration::hours(1)), &cfg);
    assert!(stale.reply_texts().is_empty(), "{:?}", stale.effects);
    let out = run_turn(&snap, &event(due.at), &cfg);
    assert_eq!(out.reply_templates(), vec!["followups.first"]);
    assert!(
        out.reply_texts()[0].contains("Budi"),
        "{:?}",
        out.reply_texts()
    );
    assert!(
        out.reply_texts()[0].contains("gmail"),
        "the email question's re-ask: {:?}",
        out.reply_texts()
    );
    assert_eq!(out.snapshot.lead.asks, asks, "a nudge is no re-ask");
    assert_eq!(out.snapshot.lead.followup.sent, 1);
    let next = out.snapshot.lead.followup.due.expect("the second nudge");
    assert!(next.at > due.at);
    // The same row again (redelivered): the schedule moved on, nothing is sent twice.
    let again = run_turn(&out.snapshot, &event(due.at), &cfg);
    assert!(again.reply_texts().is_empty());
    // The lead writes: the count starts over from the message.
    let later = t0 + Duration::hours(5);
    let wrote = run_turn(
        &out.snapshot,
        &TurnInput::text(later, "budi@gmail.com"),
        &cfg,
    );
    assert_eq!(wrote.snapshot.lead.followup.sent, 0);
    assert_eq!(
        wrote.snapshot.lead.followup.due.map(|d| d.at),
        Some(later + Duration::hours(2))
    );
    // A person takes over: nothing is scheduled.
    let taken = TurnInput {
        event: InputEvent::HumanTakeover,
        ..TurnInput::text(later, "")
    };
    let taken = run_turn(&wrote.snapshot, &taken, &cfg);
    assert_eq!(taken.snapshot.lead.followup.due, None);
}

/// Issue 16 item 7: a lead who swipe-replies to an older slot list with "yang kedua" means that
/// list's second slot, not the second of the list shown last.
#[test]
fn a_pick_replying_to_an_older_slot_list_is_read_against_that_list() {
    let slots = candidate_slots(&cfg(), now());
    assert!(slots.len() >= 5, "the shipped rules give enough free slots");
    let data = SchedulingData {
        step: ari::flow::turn::SchedulingStep::ShowingSlots,
        shown: slots[..3].to_vec(),
        ..SchedulingData::default()
    };
    let snap = lead(HOT, DOCS_YES, StageSnapshot::Scheduling(data));
    let picked = |input: &TurnInput| match run_turn(&snap, input, &cfg()).snapshot.stage {
        StageSnapshot::Scheduling(d) => d.selected,
        other => panic!("left scheduling: {other:?}"),
    };
    let plain = text("yang kedua aja kak");
    assert_eq!(
        picked(&plain),
        Some(slots[1].clone()),
        "the list shown last"
    );
    let mut replying = text("yang kedua aja kak");
    replying.replied_to_slots = vec![slots[3].id.clone(), slots[4].id.clone()];
    assert_eq!(picked(&replying), Some(slots[4].clone()), "the quoted list");
    // A quoted list whose slots are no longer free falls back to the list shown last.
    replying.replied_to_slots = vec!["gone-1".into(), "gone-2".into()];
    assert_eq!(picked(&replying), Some(slots[1].clone()));
}
