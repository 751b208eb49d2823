//! A mock Kapso send API on loopback (wiremock), recording what it accepted.
//!
//! It answers `POST /meta/whatsapp/v24.0/{phone_number_id}/messages` like Kapso: 200 with a
//! message id, or a scheduled 500. Mark-read requests are answered 200 and not recorded as
//! replies. A repeated `Idempotency-Key` is answered with the first id and not recorded again,
//! as an idempotent send API does (ARI relies on this only for a crash between Kapso's 200 and
//! ARI's own bookkeeping; `attempts_by_key` shows whether that ever happened).
//!
//! Per recipient, it can also answer as WhatsApp does when a send cannot go: 131047 for free
//! text outside the 24 h window (templates still accepted), a permanent refusal, or a 500
//! every time ([`MockKapso::answer`]); refused requests are kept ([`MockKapso::refused`]).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One reply Kapso accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub phone_number_id: String,
    pub to: String,
    /// The text (an interactive message's body text; empty for a template).
    pub body: String,
    pub idempotency_key: String,
    pub message_id: String,
    /// `text` or `template`.
    pub kind: String,
    /// The request body exactly as ARI sent it.
    pub payload: Value,
}

/// How the mock answers the sends to one recipient ([`MockKapso::answer`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Free text gets 400 with Meta's code 131047 (the 24 h window is closed); templates are
    /// accepted.
    WindowClosed,
    /// Every send gets 400 with this Meta code (e.g. 131026, undeliverable): refused for good.
    Refuse(i64),
    /// Every send gets 500 (transient, retried).
    ServerError,
    /// Sends of this message type (`interactive`) get 400 with this Meta code (e.g. 131051,
    /// unsupported message type); other types are accepted.
    RefuseType(String, i64),
}

/// A send the mock refused.
#[derive(Debug, Clone)]
pub struct Refused {
    pub to: String,
    pub kind: String,
    pub status: u16,
    pub idempotency_key: String,
    pub payload: Value,
}

#[derive(Default)]
struct Log {
    accepted: Vec<Accepted>,
    refused: Vec<Refused>,
    /// Recipient digits → (answer, how many more sends get it; `None`: every one).
    answers: HashMap<String, (Answer, Option<usize>)>,
    ids_by_key: HashMap<String, String>,
    attempts_by_key: HashMap<String, usize>,
    mark_reads: usize,
    slow_answers: usize,
}

impl Log {
    /// The scripted refusal of this send, if any (counting it down).
    fn refusal(&mut self, to: &str, kind: &str) -> Option<(u16, Value)> {
        let (answer, left) = self.answers.get_mut(to)?;
        let reply = match answer {
            Answer::WindowClosed if kind == "template" => return None,
            Answer::RefuseType(t, _) if t != kind => return None,
            Answer::RefuseType(_, code) => (
                400,
                json!({"error": {"message": format!("(#{code}) Unsupported message type"), "type": "OAuthException", "code": *code}}),
            ),
            Answer::WindowClosed => (
                400,
                json!({"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException",
                    "code": 131047, "error_data": {"messaging_product": "whatsapp",
                    "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}}),
            ),
            Answer::Refuse(code) => (
                400,
                json!({"error": {"message": format!("(#{code}) Message undeliverable"), "type": "OAuthException", "code": *code}}),
            ),
            Answer::ServerError => (500, json!({"error": "injected failure"})),
        };
        if let Some(n) = left {
            *n -= 1;
            if *n == 0 {
                self.answers.remove(to);
            }
        }
        Some(reply)
    }
}

struct Responder {
    log: Arc<Mutex<Log>>,
    counter: AtomicUsize,
    /// Send requests whose ordinal (0-based) modulo 10 is in this list get a 500.
    fail_mod10: Vec<usize>,
    /// `(every, delay)`: the first request of every `every`-th new idempotency key (the 2nd,
    /// the `every + 2`-th, ...) is accepted, but its answer comes only after `delay` (longer
    /// than the client's timeout: Kapso took the message and the answer was lost).
    slow: Option<(usize, Duration)>,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let mut log = self.log.lock().unwrap();
        if body["status"] == "read" {
            log.mark_reads += 1;
            return ResponseTemplate::new(200).set_body_json(json!({"success": true}));
        }
        let i = self.counter.fetch_add(1, Ordering::SeqCst);
        let key = req
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        *log.attempts_by_key.entry(key.clone()).or_default() += 1;
        let to = body["to"].as_str().unwrap_or("").to_string();
        let kind = body["type"].as_str().unwrap_or("").to_string();
        if let Some((status, answer)) = log.refusal(&to, &kind) {
            log.refused.push(Refused {
                to,
                kind,
                status,
                idempotency_key: key,
                payload: body.clone(),
            });
            return ResponseTemplate::new(status).set_body_json(answer);
        }
        let delay = match self.slow {
            Some((every, delay))
                if log.attempts_by_key[&key] == 1 && log.ids_by_key.len() % every == 1 =>
            {
                Some(delay)
            }
            _ => None,
        };
        if self.fail_mod10.contains(&(i % 10)) {
            return ResponseTemplate::new(500).set_body_json(json!({"error": "injected failure"}));
        }
        let id = match log.ids_by_key.get(&key) {
            Some(id) => id.clone(),
            None => {
                let id = format!("wamid.OUT{i}");
                log.ids_by_key.insert(key.clone(), id.clone());
                let pnid = req.url.path().split('/').nth(4).unwrap_or("").to_string();
                log.accepted.push(Accepted {
                    phone_number_id: pnid,
                    to: body["to"].as_str().unwrap_or("").to_string(),
                    // An interactive message's body text counts as its text.
                    body: body["text"]["body"]
                        .as_str()
                        .or(body["interactive"]["body"]["text"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    idempotency_key: key,
                    message_id: id.clone(),
                    kind: kind.clone(),
                    payload: body.clone(),
                });
                id
            }
        };
        let response = ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": id}]
        }));
        match delay {
            Some(d) => {
                log.slow_answers += 1;
                response.set_delay(d)
            }
            None => response,
        }
    }
}

pub struct MockKapso {
    pub server: MockServer,
    log: Arc<Mutex<Log>>,
}

impl MockKapso {
    /// A mock that accepts every send.
    pub async fn start() -> MockKapso {
        Self::failing(vec![]).await
    }

    /// A mock that fails the send requests whose ordinal modulo 10 is in `fail_mod10` with 500
    /// (e.g. `[1, 4, 7]` fails 30 %), deterministically.
    pub async fn failing(fail_mod10: Vec<usize>) -> MockKapso {
        Self::build(fail_mod10, None).await
    }

    /// A mock that accepts every send but answers the first request of every `every`-th new
    /// idempotency key only after `delay` (see `Responder::slow`).
    pub async fn slow(every: usize, delay: Duration) -> MockKapso {
        Self::build(vec![], Some((every.max(2), delay))).await
    }

    async fn build(fail_mod10: Vec<usize>, slow: Option<(usize, Duration)>) -> MockKapso {
        let server = MockServer::start().await;
        let log = Arc::new(Mutex::new(Log::default()));
        Mock::given(method("POST"))
            .and(path_regex(r"^/meta/whatsapp/v24\.0/[^/]+/messages$"))
            .respond_with(Responder {
                log: Arc::clone(&log),
                counter: AtomicUsize::new(0),
                fail_mod10,
                slow,
            })
            .mount(&server)
            .await;
        MockKapso { server, log }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.log.lock().unwrap().accepted.clone()
    }

    /// From now on, sends to `to` (E.164 or digits) get `answer`: the next `times` sends, or
    /// every one with `None`.
    pub fn answer(&self, to: &str, answer: Answer, times: Option<usize>) {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        self.log
            .lock()
            .unwrap()
            .answers
            .insert(digits, (answer, times));
    }

    /// Sends to `to` are accepted again.
    pub fn accept(&self, to: &str) {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        self.log.lock().unwrap().answers.remove(&digits);
    }

    /// The sends refused by [`MockKapso::answer`], in order.
    pub fn refused(&self) -> Vec<Refused> {
        self.log.lock().unwrap().refused.clone()
    }

    /// How many requests carried each idempotency key (retries after failures included).
    pub fn attempts_by_key(&self) -> HashMap<String, usize> {
        self.log.lock().unwrap().attempts_by_key.clone()
    }

    /// Answers that were held back past the client's timeout.
    pub fn slow_answers(&self) -> usize {
        self.log.lock().unwrap().slow_answers
    }

    pub fn mark_reads(&self) -> usize {
        self.log.lock().unwrap().mark_reads
    }

    /// Waits until at least `n` replies were accepted (up to 60 s), then returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Accepted> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} replies arrived: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
