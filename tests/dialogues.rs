//! The scripted dialogues run through the real pipeline with `ari simulate` (the binary), and
//! leads racing for one slot through the library's simulator.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ari::simulate::{Script, Simulator};
use ari::store::Store;
use ari::store::sqlite::SqliteStore;
use chrono::{Duration, Utc};

/// A simulator for `phone` on `store` with the flow in `flow_dir`, no LLM and no form answers,
/// its clock at `start`.
async fn simulator(
    store: &Arc<dyn Store>,
    flow_dir: &Path,
    phone: &str,
    start: chrono::DateTime<Utc>,
) -> Simulator {
    Simulator::with_store(
        Arc::clone(store),
        flow_dir,
        phone,
        None,
        Default::default(),
        start,
    )
    .await
    .unwrap()
}

/// The two dialogues of `../shared/fixtures/dialogues` (the whole corpus runs through `ari
/// test` in tests/dialogue_suite.rs).
fn dialogues() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dialogues");
    let files: Vec<_> = ["asks-for-human.json", "hot-lead-books.json"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect();
    assert!(
        files.len() >= 2,
        "dialogue fixtures missing in {}",
        dir.display()
    );
    files
}

fn simulate(script: &Path) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ari"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["simulate", "--json", "--script"])
        .arg(script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn every_shared_dialogue_meets_its_expectation() {
    for script in dialogues() {
        let (code, report, stderr) = simulate(&script);
        assert_eq!(code, 0, "{}: {report:#}\n{stderr}", script.display());
        assert_eq!(
            report["failures"],
            serde_json::json!([]),
            "{}",
            script.display()
        );
        let turns = report["turns"].as_array().unwrap();
        let script_turns = Script::load(&script).unwrap().turns.len();
        assert_eq!(turns.len(), script_turns);
        // Every lead message got exactly one reply until the handoff.
        for t in turns.iter().take(script_turns - 1) {
            assert_eq!(t["replies"].as_array().unwrap().len(), 1, "{t:#}");
        }
    }
}

#[test]
fn the_hot_lead_books_thursday_nine_wib_stored_as_utc() {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dialogues/hot-lead-books.json");
    let (code, report, _) = simulate(&script);
    assert_eq!(code, 0, "{report:#}");
    let booked = report["outcome"]["booked"].as_array().unwrap();
    assert_eq!(booked.len(), 1);
    // Thursday 26 November 2026, 09:00 WIB = 02:00 UTC.
    assert_eq!(booked[0]["starts_at"], "2026-11-26T02:00:00Z");
    assert_eq!(booked[0]["duration_minutes"], 60);
    assert_eq!(report["outcome"]["handoff_reason"], "appointment_booked");
    assert_eq!(report["outcome"]["lead_temperature"], "hot");
    // The CRM status moved from the score's (hot_lead) to booked, once; the handoff tagged it.
    assert_eq!(report["outcome"]["lead_status"], "booked");
    assert_eq!(report["outcome"]["tags"], serde_json::json!(["1on1"]));
}

#[test]
fn unmet_expectations_exit_1_and_bad_scripts_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut script: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dialogues/asks-for-human.json"),
        )
        .unwrap(),
    )
    .unwrap();
    script["expect"]["final_state"] = "completed".into();
    let wrong = dir.path().join("wrong.json");
    std::fs::write(&wrong, serde_json::to_vec(&script).unwrap()).unwrap();
    let (code, report, _) = simulate(&wrong);
    assert_eq!(code, 1);
    assert!(
        report["failures"][0]
            .as_str()
            .unwrap()
            .contains("final_state"),
        "{report:#}"
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"name\": 1}").unwrap();
    assert_eq!(simulate(&bad).0, 2);
    assert_eq!(simulate(&dir.path().join("missing.json")).0, 2);
}

/// 20 leads confirm the last free place of one slot at the same moment: one booking, 19
/// polite "just taken" replies with fresh options.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_leads_race_for_one_place() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let flow_dir = root.join("state-machines");
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("race.db"))
            .await
            .unwrap(),
    );
    let start = script.now.with_timezone(&Utc);
    let confirm_turn = script.turns.len() - 1;
    let mut leads = Vec::new();
    for i in 0..20 {
        let phone = format!("+62812000000{i:02}");
        let mut sim = simulator(&store, &flow_dir, &phone, start).await;
        for (t, text) in script.lead_texts()[..confirm_turn].iter().enumerate() {
            sim.say(text, start + Duration::minutes(t as i64))
                .await
                .unwrap();
        }
        leads.push(sim);
    }
    let at = start + Duration::minutes(confirm_turn as i64);
    let tasks: Vec<_> = leads
        .into_iter()
        .map(|mut sim| {
            tokio::spawn(async move {
                let turn = sim.say("ya", at).await.unwrap();
                (turn, sim.outcome().await.unwrap())
            })
        })
        .collect();
    let mut booked = 0;
    let mut taken = 0;
    for t in tasks {
        let (turn, outcome) = t.await.unwrap();
        if outcome.appointments == 1 {
            booked += 1;
            assert_eq!(
                outcome.handoff_reason.as_deref(),
                Some("appointment_booked")
            );
        } else {
            taken += 1;
            assert_eq!(turn.state.as_deref(), Some("scheduling"));
            assert_eq!(turn.replies.len(), 1, "{:?}", turn.replies);
            assert!(
                turn.replies[0].contains("barusan terisi"),
                "{}",
                turn.replies[0]
            );
        }
    }
    assert_eq!((booked, taken), (1, 19));
}

/// After booking, the lead moves the consultation ("ganti jadwal") and later cancels it
/// ("batal"): the booking stays until the new slot is confirmed, the move and the cancel each
/// free the place in the store and tell the consultant, and the cancel sets the lead status.
#[tokio::test]
async fn a_lead_reschedules_then_cancels() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("r.db")).await.unwrap());
    let start = script.now.with_timezone(&Utc);
    let mut sim = simulator(
        &store,
        &root.join("state-machines"),
        &script.contact.phone,
        start,
    )
    .await;
    let mut minute = 0;
    let mut say = async |sim: &mut Simulator, text: &str| {
        minute += 1;
        sim.say(text, start + Duration::minutes(minute))
            .await
            .unwrap()
    };
    for text in &script.lead_texts() {
        say(&mut sim, text).await;
    }
    assert_eq!(sim.outcome().await.unwrap().appointments, 1);

    let turn = say(&mut sim, "kak, bisa ganti jadwal?").await;
    assert_eq!(turn.state.as_deref(), Some("scheduling"));
    assert!(turn.consultants_notified.is_empty(), "{turn:?}");
    assert_eq!(sim.outcome().await.unwrap().appointments, 1);
    say(&mut sim, "jumat").await;
    say(&mut sim, "1").await;
    let turn = say(&mut sim, "ya").await;
    assert_eq!(turn.state.as_deref(), Some("handoff"));
    assert_eq!(turn.consultants_notified.len(), 2, "{turn:?}");
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: script.contact.phone.clone(),
    };
    let appointments = store.conversation_appointments(&key).await.unwrap();
    let statuses: Vec<_> = appointments.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, ["cancelled", "booked"]);
    // Friday 27 November 2026, 09:00 WIB.
    assert_eq!(appointments[1].starts_at_ms, 1_795_744_800_000);

    let turn = say(&mut sim, "maaf kak, batal aja").await;
    assert_eq!(turn.state.as_deref(), Some("completed"));
    assert!(turn.replies[0].contains("batalkan"), "{:?}", turn.replies);
    assert_eq!(turn.consultants_notified.len(), 1);
    assert_eq!(
        sim.outcome().await.unwrap().lead_status.as_deref(),
        Some("cancelled")
    );
    let statuses: Vec<_> = store
        .conversation_appointments(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses, ["cancelled", "cancelled"]);
    // The place is free again for others.
    assert!(
        store
            .booked_slots("default", 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Reminders 24 h and 2 h before the booked consultation (Thursday 26 November 2026, 09:00
/// WIB), each once, to the lead (inside WhatsApp's 24 h window) and to the consultant; none
/// after a cancel.
#[tokio::test]
async fn reminders_go_out_once_at_24_and_2_hours_and_not_after_a_cancel() {
    use chrono::TimeZone;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("rem.db")).await.unwrap());
    let start = script.now.with_timezone(&Utc);
    let mut sim = simulator(
        &store,
        &root.join("state-machines"),
        &script.contact.phone,
        start,
    )
    .await;
    for (i, text) in script.lead_texts().iter().enumerate() {
        sim.say(text, start + Duration::minutes(i as i64))
            .await
            .unwrap();
    }
    let wib = |d: u32, h: u32, m: u32| {
        chrono_tz::Asia::Jakarta
            .with_ymd_and_hms(2026, 11, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: script.contact.phone.clone(),
    };
    let reminders_to = |rows: &[ari::store::OutboxRow]| -> Vec<String> {
        rows.iter()
            .filter(|o| o.idempotency_key.starts_with("ari-reminder-"))
            .map(|o| o.to.clone())
            .collect()
    };
    // The lead writes on Wednesday morning: the 24 h window is open for Thursday.
    sim.say("oke kak, sampai ketemu kamis", wib(25, 8, 0))
        .await
        .unwrap();
    assert_eq!(sim.remind(wib(25, 8, 59)).await.unwrap(), 0, "too early");
    assert_eq!(sim.remind(wib(25, 9, 0)).await.unwrap(), 1);
    assert_eq!(sim.remind(wib(25, 9, 5)).await.unwrap(), 0, "sent twice");
    let outbox = store.conversation_outbox(&key).await.unwrap();
    assert_eq!(
        reminders_to(&outbox),
        [script.contact.phone.as_str(), "+6281111000002"]
    );
    let lead_text = outbox
        .iter()
        .find(|o| o.idempotency_key.starts_with("ari-reminder-") && o.to == script.contact.phone)
        .unwrap()
        .body
        .clone();
    assert!(
        lead_text.contains("besok") && lead_text.contains("09:00 WIB"),
        "{lead_text}"
    );
    assert_eq!(sim.remind(wib(26, 6, 59)).await.unwrap(), 0);
    assert_eq!(sim.remind(wib(26, 7, 0)).await.unwrap(), 1);
    let outbox = store.conversation_outbox(&key).await.unwrap();
    assert_eq!(reminders_to(&outbox).len(), 4);
    assert!(outbox.iter().any(|o| o.body.contains("2 jam lagi")));
    assert_eq!(sim.remind(wib(26, 8, 0)).await.unwrap(), 0);
}

#[tokio::test]
async fn no_reminder_after_a_cancel_and_none_to_a_lead_outside_the_window() {
    use chrono::TimeZone;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let wib = |d: u32, h: u32| {
        chrono_tz::Asia::Jakarta
            .with_ymd_and_hms(2026, 11, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let start = script.now.with_timezone(&Utc);
    // Booked, then silent since Monday: on Wednesday 09:00 only the consultant is reminded.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("a.db")).await.unwrap());
    let mut sim = simulator(
        &store,
        &root.join("state-machines"),
        &script.contact.phone,
        start,
    )
    .await;
    for (i, text) in script.lead_texts().iter().enumerate() {
        sim.say(text, start + Duration::minutes(i as i64))
            .await
            .unwrap();
    }
    assert_eq!(sim.remind(wib(25, 9)).await.unwrap(), 1);
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: script.contact.phone.clone(),
    };
    let to: Vec<_> = store
        .conversation_outbox(&key)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.idempotency_key.starts_with("ari-reminder-"))
        .map(|o| o.to)
        .collect();
    assert_eq!(to, ["+6281111000002"]);
    // Cancelled on Wednesday: nothing on Thursday.
    sim.say("maaf kak, batal ya", wib(25, 10)).await.unwrap();
    assert_eq!(sim.remind(wib(26, 7)).await.unwrap(), 0);
}

/// Outside WhatsApp's 24 h window the lead's reminder is the configured approved template.
#[tokio::test]
async fn outside_the_window_the_lead_gets_the_configured_template() {
    use chrono::TimeZone;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flow_dir = dir.path().join("state-machines");
    std::fs::create_dir_all(&flow_dir).unwrap();
    let toml = std::fs::read_to_string(root.join("state-machines/ari.toml")).unwrap();
    let toml = toml.replace(
        "# reminder_template = { name = \"consultation_reminder\", language = \"id\" }",
        "reminder_template = { name = \"consultation_reminder\", language = \"id\" }",
    );
    assert!(
        toml.contains("\nreminder_template = "),
        "the example line moved: update this test"
    );
    std::fs::write(flow_dir.join("ari.toml"), toml).unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let start = script.now.with_timezone(&Utc);
    let mut sim = simulator(&store, &flow_dir, &script.contact.phone, start).await;
    for (i, text) in script.lead_texts().iter().enumerate() {
        sim.say(text, start + Duration::minutes(i as i64))
            .await
            .unwrap();
    }
    let at = chrono_tz::Asia::Jakarta
        .with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(sim.remind(at).await.unwrap(), 1);
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: script.contact.phone.clone(),
    };
    let rows: Vec<_> = store
        .conversation_outbox(&key)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.idempotency_key.starts_with("ari-reminder-"))
        .collect();
    assert_eq!(rows.len(), 2);
    let lead = rows.iter().find(|o| o.to == script.contact.phone).unwrap();
    assert_eq!(lead.channel, ari::store::Channel::WhatsappTemplate);
    let body: serde_json::Value = serde_json::from_str(&lead.body).unwrap();
    assert_eq!(body["name"], "consultation_reminder");
    assert_eq!(body["parameters"][1], "09:00 WIB");
}

/// A lead who asked for Australia with IELTS 7.0 and 800 juta a year, asking "kampus mana yang
/// cocok?", gets the destinations that fit (Monash, whose 700 juta minimum is within budget),
/// not search hits: neither Melbourne (850 juta minimum) nor any other country.
#[tokio::test]
async fn a_recommendation_question_gets_destinations_that_fit_the_lead() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("k.db")).await.unwrap());
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00+07:00")
        .unwrap()
        .with_timezone(&Utc);
    let mut sim = simulator(
        &store,
        &root.join("state-machines"),
        "+6281234500001",
        start,
    )
    .await;
    let turns = [
        "Halo kak, mau tanya kuliah S2",
        "nama saya Sari",
        "email saya sari@gmail.com",
        "saya mau ke Australia",
        "IELTS saya 7.0",
        "budget sekitar 800 juta",
    ];
    for (i, text) in turns.iter().enumerate() {
        sim.say(text, start + Duration::minutes(i as i64 + 1))
            .await
            .unwrap();
    }
    let turn = sim
        .say(
            "kak, kampus mana yang cocok buat saya?",
            start + Duration::minutes(10),
        )
        .await
        .unwrap();
    let reply = turn.replies.join("\n");
    assert!(reply.contains("Monash University"), "{reply}");
    for other in [
        "University of Melbourne",
        "UNSW",
        "London",
        "Delft",
        "Tokyo",
    ] {
        assert!(!reply.contains(other), "{other} in {reply}");
    }
}

/// A lead moving their booking confirms a slot that another lead took meanwhile: the move
/// changes nothing (the old booking stays booked), the lead is offered other days and is still
/// choosing.
#[tokio::test]
async fn a_move_into_a_slot_taken_meanwhile_keeps_the_old_booking() {
    use chrono::TimeZone;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("m.db")).await.unwrap());
    let start = script.now.with_timezone(&Utc);
    let mut sim = simulator(
        &store,
        &root.join("state-machines"),
        &script.contact.phone,
        start,
    )
    .await;
    let mut minute = 0;
    for text in &script.lead_texts() {
        minute += 1;
        sim.say(text, start + Duration::minutes(minute))
            .await
            .unwrap();
    }
    let booked = sim.outcome().await.unwrap().booked;
    assert_eq!(booked.len(), 1);
    let at = start + Duration::minutes(minute + 1);
    let turn = sim
        .say("kak ganti jadwal ke jumat jam 9 dong", at)
        .await
        .unwrap();
    assert_eq!(turn.state.as_deref(), Some("scheduling"));
    assert!(turn.replies[0].contains("09:00"), "{:?}", turn.replies);
    // Friday 27 November 2026, 09:00 WIB goes to another lead before the "ya".
    let friday = chrono_tz::Asia::Jakarta
        .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    sim.prebook(&[friday], at).await.unwrap();
    let turn = sim.say("ya", at + Duration::minutes(1)).await.unwrap();
    assert_eq!(turn.state.as_deref(), Some("scheduling"));
    assert!(
        turn.replies[0].contains("barusan terisi"),
        "{:?}",
        turn.replies
    );
    assert!(turn.consultants_notified.is_empty(), "{turn:?}");
    let outcome = sim.outcome().await.unwrap();
    assert_eq!(outcome.appointments, 1);
    assert_eq!(outcome.booked[0].starts_at, booked[0].starts_at);
}
