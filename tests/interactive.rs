//! Black-box tests of issue 19 (booking with WhatsApp's buttons and lists): the real binary
//! on the shipped flow (Indonesian, `interactive = true` for booking and scheduling), signed
//! webhooks in, the mock Kapso API recording the exact payloads, and taps sent back as
//! Kapso delivers button and list replies.

mod common;

use chrono::{Datelike, NaiveDate};
use common::kapso_mock::{Accepted, Answer, MockKapso};
use common::{Options, Service, text_payload};
use serde_json::{Value, json};

const LEAD: &str = "+6281299001900";
const DIGITS: &str = "6281299001900";

fn with_kapso(mock: &MockKapso) -> Options {
    Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        ..Options::default()
    }
}

/// A tap as Kapso delivers it: an `interactive` message with a `button_reply` or
/// `list_reply` (Meta's reply object; the simulator sends the same).
fn tap_payload(wamid: &str, id: &str, title: &str, list: bool) -> Vec<u8> {
    let kind = if list { "list_reply" } else { "button_reply" };
    let typed = json!({"type": kind, kind: {"id": id, "title": title}});
    serde_json::to_vec(&json!({
        "message": {
            "id": wamid, "timestamp": "1763604907", "type": "interactive", "interactive": typed,
            "kapso": {"direction": "inbound", "status": "received", "origin": "cloud_api",
                      "has_media": false, "content": title, "message_type_data": typed}
        },
        "conversation": {"id": format!("conv_{LEAD}"), "phone_number": LEAD, "status": "active",
                         "phone_number_id": "106540352242922", "kapso": {"contact_name": "Budi"}},
        "is_new_conversation": false,
        "phone_number_id": "106540352242922"
    }))
    .expect("json")
}

struct Chat {
    svc: Service,
    mock: MockKapso,
    http: reqwest::Client,
    sent: usize,
    n: usize,
}

impl Chat {
    fn start(mock: MockKapso) -> Chat {
        Chat {
            svc: Service::spawn_with(with_kapso(&mock)),
            mock,
            http: reqwest::Client::new(),
            sent: 0,
            n: 0,
        }
    }

    /// Posts `body` and returns the one message the lead got for it.
    async fn send(&mut self, body: Vec<u8>) -> Accepted {
        self.n += 1;
        let r = self
            .svc
            .post_signed(&self.http, &body, Some("whatsapp.message.received"), None)
            .await;
        assert!(r.status().is_success());
        let got = self.mock.wait_for(self.sent + 1).await;
        self.svc.wait_processed().await;
        self.sent = self.mock.accepted().len();
        got[got.len() - 1].clone()
    }

    async fn text(&mut self, text: &str) -> Accepted {
        let wamid = format!("wamid.IN{}", self.n);
        self.send(text_payload(LEAD, &wamid, text)).await
    }

    async fn tap(&mut self, id: &str, title: &str, list: bool) -> Accepted {
        let wamid = format!("wamid.IN{}", self.n);
        self.send(tap_payload(&wamid, id, title, list)).await
    }

    /// A hot lead with everything said, up to the booking offer.
    async fn up_to_offer(&mut self) -> Accepted {
        self.text("Halo kak, saya Budi Santoso, email budi.santoso@gmail.com, IELTS 7.0, budget 800 juta, mau S2 Data Science ke Inggris mulai 2027")
            .await;
        self.text("paspor ada, CV ada, transkrip ada, sertifikat IELTS juga ada kak")
            .await
    }
}

/// The envelope every interactive send has (Meta's Cloud API format).
fn assert_envelope(a: &Accepted) {
    assert_eq!(a.kind, "interactive", "{:#}", a.payload);
    assert_eq!(a.payload["messaging_product"], "whatsapp");
    assert_eq!(a.payload["recipient_type"], "individual");
    assert_eq!(a.payload["to"], DIGITS);
}

const DAYS: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];

/// `Kamis, 26 Nov` of a day row's id.
fn day_title(id: &str) -> String {
    let d = NaiveDate::parse_from_str(id.trim_start_matches("ari:day:"), "%Y-%m-%d").unwrap();
    format!(
        "{}, {} {}",
        DAYS[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTHS[d.month0() as usize]
    )
}

#[tokio::test]
async fn a_lead_books_with_taps_alone_and_every_step_is_an_exact_interactive_payload() {
    let mut chat = Chat::start(MockKapso::start().await);
    let offer = chat.up_to_offer().await;
    assert_envelope(&offer);
    let body = offer.payload["interactive"]["body"]["text"].clone();
    assert!(body.as_str().unwrap().contains("Budi Santoso"), "{body}");
    assert_eq!(
        offer.payload["interactive"],
        json!({"type": "button", "body": {"text": body},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": "ari:offer:yes", "title": "Ya, jadwalkan"}},
                {"type": "reply", "reply": {"id": "ari:offer:no", "title": "Nanti dulu"}}]}})
    );

    // Offer → day list.
    let days = chat.tap("ari:offer:yes", "Ya, jadwalkan", false).await;
    assert_envelope(&days);
    let list = &days.payload["interactive"];
    assert_eq!(list["type"], "list");
    assert!(
        list["body"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Jadwal konsultasi yang tersedia:")
    );
    assert_eq!(list["action"]["button"], "Pilih hari");
    let sections = list["action"]["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0]["title"], "Hari tersedia");
    let rows = sections[0]["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        10,
        "two weeks of weekdays, cut to WhatsApp's 10 rows"
    );
    for r in rows {
        let id = r["id"].as_str().unwrap();
        assert!(id.starts_with("ari:day:"), "{r}");
        assert_eq!(r["title"], day_title(id), "{r}");
        let d = r["description"].as_str().unwrap();
        assert!(d.ends_with(" WIB") && d.contains(" slot, "), "{r}");
    }
    // A whole weekday: six one-hour slots, 09:00 to 15:00.
    assert_eq!(rows[1]["description"], "6 slot, 09:00-15:00 WIB");

    // Day row → time list of that day: five slots (max_slots_shown) and "more times".
    let day_id = rows[1]["id"].as_str().unwrap().to_string();
    let date = day_id.trim_start_matches("ari:day:").to_string();
    let times = chat.tap(&day_id, &day_title(&day_id), true).await;
    assert_envelope(&times);
    let list = &times.payload["interactive"];
    assert_eq!(list["action"]["button"], "Pilih jam");
    assert_eq!(list["action"]["sections"][0]["title"], "Jam tersedia");
    let rows = list["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .clone();
    let starts: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(starts.len(), 6, "{rows:#?}");
    for (r, hour) in rows.iter().zip(["09", "10", "11", "13", "14"]) {
        let id = r["id"].as_str().unwrap();
        assert!(id.starts_with(&format!("{date}T{hour}:00@+62")), "{r}");
        let short = day_title(&day_id).replacen(',', "", 1);
        assert_eq!(r["title"], format!("{short}, {hour}:00"));
        let consultant = r["description"].as_str().unwrap();
        assert!(consultant.starts_with("60 menit dengan Kak "), "{r}");
    }
    assert_eq!(
        rows[5],
        json!({"id": format!("ari:more:{date}T14:00"), "title": "Jam lainnya",
            "description": "Slot setelah jam 14:00"})
    );

    // "More times" → the day's 15:00 slot.
    let more = chat
        .tap(&format!("ari:more:{date}T14:00"), "Jam lainnya", true)
        .await;
    let rows = more.payload["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let slot_id = rows[0]["id"].as_str().unwrap().to_string();
    assert!(slot_id.starts_with(&format!("{date}T15:00@")), "{slot_id}");

    // Time row → confirmation buttons.
    let confirm = chat
        .tap(&slot_id, rows[0]["title"].as_str().unwrap(), true)
        .await;
    assert_envelope(&confirm);
    let body = confirm.payload["interactive"]["body"]["text"].clone();
    assert!(body.as_str().unwrap().contains("15:00"), "{body}");
    assert_eq!(
        confirm.payload["interactive"],
        json!({"type": "button", "body": {"text": body},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": "ari:confirm:yes", "title": "Konfirmasi"}},
                {"type": "reply", "reply": {"id": "ari:confirm:no", "title": "Ganti jadwal"}}]}})
    );

    // Confirm → booked (a text to the lead), the consultant told.
    let before = chat.sent;
    chat.tap("ari:confirm:yes", "Konfirmasi", false).await;
    let sent = chat.mock.wait_for(before + 2).await;
    let booked = sent[before..].iter().find(|a| a.to == DIGITS).unwrap();
    assert!(
        sent[before..].iter().any(|a| a.to != DIGITS),
        "consultant told"
    );
    assert_eq!(booked.kind, "text");
    assert!(booked.body.contains("15:00"), "{}", booked.body);
    let appointments = chat.svc.outbox_settled(LEAD).await;
    assert!(
        appointments
            .iter()
            .all(|r| r.state != ari::store::OutboxState::Failed)
    );
}

#[tokio::test]
async fn change_time_goes_back_to_the_days_and_typed_text_still_works() {
    let mut chat = Chat::start(MockKapso::start().await);
    chat.up_to_offer().await;
    // Typed "mau" answers the buttons' question.
    let days = chat.text("mau kak").await;
    assert_eq!(days.payload["interactive"]["type"], "list");
    let row = days.payload["interactive"]["action"]["sections"][0]["rows"][0].clone();
    let times = chat.tap(row["id"].as_str().unwrap(), "x", true).await;
    assert_eq!(times.payload["interactive"]["type"], "list");
    // Typed "2" picks the second slot shown (which one depends on the wall clock: the 12 h
    // notice drops the morning slots late in the evening).
    let second = times.payload["interactive"]["action"]["sections"][0]["rows"][1]["title"]
        .as_str()
        .unwrap()
        .to_string();
    let hour = second.rsplit(' ').next().unwrap_or_default().to_string();
    let confirm = chat.text("2").await;
    assert_eq!(confirm.payload["interactive"]["type"], "button");
    assert!(confirm.body.contains(&hour), "{second}: {}", confirm.body);
    // "Ganti jadwal" (its id; the title is not read): the days again.
    let again = chat.tap("ari:confirm:no", "Ganti jadwal", false).await;
    assert_eq!(
        again.payload["interactive"]["action"]["button"],
        "Pilih hari"
    );
    // A typed day and time: straight to the confirmation.
    let first = NaiveDate::parse_from_str(
        row["id"].as_str().unwrap().trim_start_matches("ari:day:"),
        "%Y-%m-%d",
    )
    .unwrap();
    let typed = format!("tgl {} jam 11 aja kak", first.day());
    let confirm = chat.text(&typed).await;
    assert!(confirm.body.contains("11:00"), "{}", confirm.body);
    let before = chat.sent;
    chat.text("ya").await;
    let sent = chat.mock.wait_for(before + 2).await;
    let booked = sent[before..].iter().find(|a| a.to == DIGITS).unwrap();
    assert_eq!(booked.kind, "text");
    assert!(booked.body.contains("11:00"), "{}", booked.body);
}

#[tokio::test]
async fn an_interactive_send_refused_for_its_type_goes_as_its_text() {
    let mock = MockKapso::start().await;
    mock.answer(
        DIGITS,
        Answer::RefuseType("interactive".into(), 131_051),
        None,
    );
    let mut chat = Chat::start(mock);
    let offer = chat.up_to_offer().await;
    assert_eq!(offer.kind, "text");
    assert!(offer.body.contains("jadwalkan"), "{}", offer.body);
    assert!(
        offer.idempotency_key.ends_with("-text"),
        "{}",
        offer.idempotency_key
    );
    let refused = chat.mock.refused();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].kind, "interactive");
    let interactive: &Value = &refused[0].payload["interactive"];
    assert_eq!(interactive["body"]["text"], offer.body.as_str());
    // The row is sent (its text), and typed text books on.
    let rows = chat.svc.outbox_settled(LEAD).await;
    assert_eq!(rows.last().unwrap().state, ari::store::OutboxState::Sent);
    let days = chat.text("boleh").await;
    assert_eq!(days.kind, "text");
    assert!(days.body.contains("Hari apa"), "{}", days.body);
}

/// Reminders inside the 24 h window carry "Hadir" / "Ganti jadwal" / "Batal" (the whole
/// pipeline in one process: ari simulate's library, SQLite, the dry-run sender; the outbox row
/// holds the exact interactive object the live sender posts, see tests/kapso_client.rs), and
/// a tap on "Ganti jadwal" starts the move, "Batal" cancels.
#[tokio::test]
async fn a_reminder_has_buttons_and_its_taps_reschedule_or_cancel() {
    use ari::simulate::{Action, Script, Simulator};
    use ari::store::{ConversationKey, Store, sqlite::SqliteStore};
    use chrono::{Duration, TimeZone, Utc};
    use std::path::Path;
    use std::sync::Arc;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("rem.db")).await.unwrap());
    let start = script.now.with_timezone(&Utc);
    let phone = script.contact.phone.clone();
    let mut sim = Simulator::with_store(
        Arc::clone(&store),
        &root.join("state-machines"),
        &phone,
        None,
        Default::default(),
        start,
    )
    .await
    .unwrap();
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
    sim.say("oke kak, sampai ketemu kamis", wib(25, 8, 0))
        .await
        .unwrap();
    assert_eq!(sim.remind(wib(25, 9, 0)).await.unwrap(), 1);
    let key = ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.clone(),
    };
    let outbox = store.conversation_outbox(&key).await.unwrap();
    let reminder = outbox
        .iter()
        .find(|o| o.idempotency_key.starts_with("ari-reminder-") && o.to == phone)
        .unwrap();
    let interactive: Value =
        serde_json::from_str(reminder.interactive.as_deref().unwrap()).unwrap();
    assert_eq!(
        interactive,
        json!({"type": "button", "body": {"text": reminder.body},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": "ari:reminder:attend", "title": "Hadir"}},
                {"type": "reply", "reply": {"id": "ari:reminder:reschedule", "title": "Ganti jadwal"}},
                {"type": "reply", "reply": {"id": "ari:reminder:cancel", "title": "Batal"}}]}})
    );
    // The consultant's reminder is text.
    assert!(
        outbox
            .iter()
            .filter(|o| o.idempotency_key.starts_with("ari-reminder-") && o.to != phone)
            .all(|o| o.interactive.is_none())
    );

    // "Hadir" is passed to the consultant; "Ganti jadwal" starts the move.
    let attend = Action::Tap {
        button: Some("Hadir".into()),
        row: None,
    };
    let t = sim.act(&attend, None, wib(25, 9, 5)).await.unwrap();
    assert_eq!(t.state.as_deref(), Some("handoff"));
    let move_it = Action::Tap {
        button: Some("ari:reminder:reschedule".into()),
        row: None,
    };
    let t = sim.act(&move_it, None, wib(25, 9, 10)).await.unwrap();
    assert_eq!(t.state.as_deref(), Some("scheduling"), "{:?}", t.replies);
    // The move by taps alone: the first day, its first time, "Konfirmasi".
    let row = |n: usize| Action::Tap {
        button: None,
        row: Some(n),
    };
    sim.act(&row(1), None, wib(25, 9, 11)).await.unwrap();
    sim.act(&row(1), None, wib(25, 9, 12)).await.unwrap();
    let confirm = Action::Tap {
        button: Some("Konfirmasi".into()),
        row: None,
    };
    let t = sim.act(&confirm, None, wib(25, 9, 13)).await.unwrap();
    assert_eq!(t.state.as_deref(), Some("handoff"), "{:?}", t.replies);
    let booked: Vec<_> = store
        .conversation_appointments(&key)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.status == "booked")
        .collect();
    assert_eq!(booked.len(), 1);
    // Its 09:00 is the booking being moved: the first free time is 10:00.
    assert_eq!(
        booked[0].starts_at_ms,
        wib(26, 10, 0).timestamp_millis(),
        "{booked:?}"
    );
    // The new slot's 2 h reminder, then its "Batal".
    assert!(sim.remind(wib(26, 8, 0)).await.unwrap() >= 1);
    let cancel = Action::Tap {
        button: Some("Batal".into()),
        row: None,
    };
    let t = sim.act(&cancel, None, wib(26, 8, 5)).await.unwrap();
    assert!(
        t.replies.iter().any(|r| r.to_lowercase().contains("batal")),
        "{:?}",
        t.replies
    );
    let appointments = store.conversation_appointments(&key).await.unwrap();
    assert!(
        appointments.iter().all(|a| a.status == "cancelled"),
        "{appointments:?}"
    );
}

/// Issue 16 item 7: a lead who answers an older time list by quoting it ("2" as a reply to
/// it) gets that list's second time, not the second of the list shown since.
#[tokio::test]
async fn a_quoted_older_time_list_is_read_against_its_own_slots() {
    let mut chat = Chat::start(MockKapso::start().await);
    chat.up_to_offer().await;
    let days = chat.text("mau kak").await;
    let rows = days.payload["interactive"]["action"]["sections"][0]["rows"].clone();
    let first = chat.tap(rows[0]["id"].as_str().unwrap(), "x", true).await;
    let second = chat.tap(rows[1]["id"].as_str().unwrap(), "x", true).await;
    let time = |list: &Accepted, i: usize| {
        list.payload["interactive"]["action"]["sections"][0]["rows"][i]["title"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(time(&first, 1), time(&second, 1), "two different days");
    let mut quoting: Value = serde_json::from_slice(&text_payload(LEAD, "wamid.Q1", "2")).unwrap();
    quoting["message"]["context"] = json!({"from": "6281100099988", "id": first.message_id});
    let confirm = chat.send(serde_json::to_vec(&quoting).unwrap()).await;
    let day_of = |title: &str| title.split(',').next().unwrap().to_string();
    assert!(
        confirm.body.contains(&day_of(&time(&first, 1))),
        "{} should confirm {}",
        confirm.body,
        time(&first, 1)
    );
}
