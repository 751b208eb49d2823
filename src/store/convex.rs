//! The Convex store: every [`Store`] operation is one call of an internal Convex function
//! (`convex/*.ts`) over Convex's HTTP API, so several ARI replicas can share one deployment.
//!
//! Wire format (see the README's Convex section): `POST {url}/api/query|mutation` with
//! `{"path":"module:function","args":{..},"format":"json"}` and `Authorization: Convex <deploy
//! key>` (internal functions are invisible without an admin key, so nothing in `convex/` is
//! callable from the outside). Once the function ran, the answer is an envelope with HTTP 200
//! (or 560, which the official JS client treats alike): `{"status":"success","value":..}` or
//! `{"status":"error","errorMessage":..,"errorData":..}`. When it did not run the answer is a
//! 4xx/5xx with `{"code","message"}`.
//!
//! Numbers cross the wire as float64 (Convex's `v.number()`): ids, counts and millisecond
//! timestamps are integers well below 2^53, and a float such as `5.0` is accepted where an
//! integer is expected. `None` fields are left out of the arguments (`v.optional` refuses
//! `null`).
//!
//! Retries (with exponential backoff) happen only on network errors, timeouts, 5xx and 429, and
//! only for operations whose repetition is harmless; each method's doc says whether it is
//! retried. Every HTTP request counts as one round trip ([`Store::round_trips`] and the
//! `ari_store_round_trips_total{store="convex"}` counter).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::limits::{StoreLimits, WriteGate};
use super::{
    Appointment, BeginTurn, BookingOutcome, Channel, CommitOutcome, ConversationKey,
    ConversationRecord, ConversationSummary, Direction, DueQuery, DueReport, EraseOutcome,
    EraseReceipt, FailReason, Fallback, NewAppointment, NewReminder, OutboxRow, OutboxState,
    ROUND_TRIPS_METRIC, SendOutcome, SetAside, Store, StoreError, StoredMessage, TurnClaim,
    TurnCommit, TurnFailure, UpcomingAppointment,
};
use crate::inbox::{EnqueueOutcome, EventKind, InboundEvent, InboxRow, InboxState, NewDelivery};

/// HTTP status the Convex JS client treats like 200 (a function that failed; the body is the
/// usual envelope).
const STATUS_UDF_FAILED: u16 = 560;

/// Tuning of the HTTP client. The defaults suit a webhook that must answer Kapso quickly.
#[derive(Debug, Clone)]
pub struct ConvexOptions {
    /// Deadline of one HTTP request, connection included.
    pub request_timeout: Duration,
    /// Deadline of establishing a connection.
    pub connect_timeout: Duration,
    /// Attempts of a retriable operation, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Default for ConvexOptions {
    fn default() -> Self {
        ConvexOptions {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_attempts: 3,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Whether an operation may be sent again after a transient failure (the first attempt may
/// have been applied even though its answer was lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Repeating it gives the same state (a query, a claim keyed by the caller's id).
    Idempotent,
    /// Repeating it could apply it twice: sent once, a failure is reported to the caller.
    Once,
}

/// The kind of a Convex function: selects `/api/query` or `/api/mutation`.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Query,
    Mutation,
}

impl Kind {
    fn route(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
        }
    }
}

/// The Convex store. Share it behind an `Arc`; the HTTP client pools connections.
pub struct ConvexStore {
    http: reqwest::Client,
    /// The deployment URL without a trailing `/`, e.g. `https://happy-animal-123.convex.cloud`.
    url: String,
    /// `Convex <deploy key>`.
    authorization: String,
    options: ConvexOptions,
    /// The webhook write's deadline and in-flight bound (issue 16 item 8); unbounded unless
    /// [`ConvexStore::with_limits`] set them.
    gate: WriteGate,
    round_trips: AtomicU64,
    closed: AtomicBool,
    /// The latest successful call, cleared by a failed one ([`Store::healthy_since`]).
    healthy_since: std::sync::Mutex<Option<std::time::Instant>>,
    /// `--replica-id`, stamped on the turn and send leases this store takes (issue 17 item 4);
    /// `None`: unstamped (tools, tests).
    replica_id: Option<String>,
}

impl std::fmt::Debug for ConvexStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The deploy key is a secret: never printed.
        f.debug_struct("ConvexStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// One failed attempt: the error, and whether trying again may help.
struct Failure {
    error: StoreError,
    transient: bool,
}

impl ConvexStore {
    /// Connects to the deployment at `url` with a deploy (admin) key and checks both at once
    /// with the cheapest internal query (`health:ping`, one round trip): a refused key, a URL
    /// that is not a Convex deployment or a deployment without ARI's functions gives an error
    /// that says which.
    pub async fn connect(url: &str, deploy_key: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, deploy_key, ConvexOptions::default()).await
    }

    /// [`ConvexStore::connect`] with explicit timeouts and retry settings.
    pub async fn connect_with(
        url: &str,
        deploy_key: &str,
        options: ConvexOptions,
    ) -> Result<Self, StoreError> {
        let store = Self::new(url, deploy_key, options)?;
        match store.query("health:ping", json!({})).await {
            Ok(_) => Ok(store),
            Err(StoreError::Unavailable(e)) if e.contains("BadDeployKey") => {
                Err(StoreError::Unavailable(format!(
                    "the Convex deployment {} refused the deploy key (check ARI_CONVEX_DEPLOY_KEY): {e}",
                    store.url
                )))
            }
            Err(StoreError::Unavailable(e)) if e.contains("Could not find public function") => {
                Err(StoreError::Unavailable(format!(
                    "the Convex deployment {} has no ARI functions, or the key is not a deploy key \
                     (deploy them with `npx convex deploy`): {e}",
                    store.url
                )))
            }
            Err(e) => Err(StoreError::Unavailable(format!(
                "cannot use the Convex deployment {}: {e}",
                store.url
            ))),
        }
    }

    /// Builds the client without any request (no key check): for tools and tests that want to
    /// see the raw answers.
    pub fn new(url: &str, deploy_key: &str, options: ConvexOptions) -> Result<Self, StoreError> {
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StoreError::Unavailable(format!(
                "ARI_CONVEX_URL must be an http(s) URL, got {url:?}"
            )));
        }
        if deploy_key.trim().is_empty() {
            return Err(StoreError::Unavailable(
                "ARI_CONVEX_DEPLOY_KEY is empty".to_string(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| StoreError::Unavailable(format!("building the HTTP client: {e}")))?;
        Ok(ConvexStore {
            http,
            url,
            authorization: format!("Convex {}", deploy_key.trim()),
            options,
            gate: WriteGate::new(StoreLimits::unbounded()),
            round_trips: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            healthy_since: std::sync::Mutex::new(None),
            replica_id: None,
        })
    }

    /// This store with its leases stamped `replica_id` (`--replica-id`), so a restart under
    /// the same id can take them back ([`ConvexStore::take_back_leases`]).
    pub fn with_replica_id(mut self, replica_id: impl Into<String>) -> Self {
        self.replica_id = Some(replica_id.into());
        self
    }

    /// Releases the leases stamped with this store's replica id (issue 17 item 4): the
    /// previous run under this id is dead (the caller is its restart), so its conversations'
    /// turn leases are cleared and its rows in a send lease are due now (`leases:takeBack`,
    /// one mutation, retried: a repeat changes nothing more). Without a replica id: nothing.
    /// Errors: the deployment is unavailable.
    pub async fn take_back_leases(
        &self,
        now_ms: i64,
    ) -> Result<super::sqlite::TakenBack, StoreError> {
        let Some(replica_id) = &self.replica_id else {
            return Ok(super::sqlite::TakenBack::default());
        };
        let taken: wire::TakenBack = self
            .mutation(
                "leases:takeBack",
                json!({"replicaId": replica_id, "nowMs": now_ms}),
                Retry::Idempotent,
            )
            .await?;
        Ok(super::sqlite::TakenBack {
            turns: taken.turns.max(0) as u64,
            sends: taken.sends.max(0) as u64,
        })
    }

    /// Bounds the webhook write (`inbox:enqueue`, retries included) as `ari serve` does
    /// (`--store-deadline-ms`, `--store-queue`): past the deadline, or with `limits.queue`
    /// writes already in flight, it fails with [`StoreError::Unavailable`] and the webhook
    /// answers 503 (see [`super::limits`]).
    pub fn with_limits(mut self, limits: StoreLimits) -> Self {
        self.gate = WriteGate::new(limits);
        self
    }

    /// The deployment URL (no trailing `/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs any internal query by path (e.g. `conversations:get`) and returns its clean-JSON
    /// value: for operators and tests reading state back. Retried like every query.
    pub async fn query(&self, path: &str, args: Value) -> Result<Value, StoreError> {
        self.call(Kind::Query, path, args, Retry::Idempotent).await
    }

    /// Calls one function: one HTTP request, repeated only for a transient failure of an
    /// idempotent call.
    async fn call(
        &self,
        kind: Kind,
        path: &str,
        args: Value,
        retry: Retry,
    ) -> Result<Value, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(
                "the Convex store is closed".to_string(),
            ));
        }
        let body = json!({"path": path, "args": strip_nulls(args), "format": "json"});
        let attempts = match retry {
            Retry::Idempotent => self.options.max_attempts.max(1),
            Retry::Once => 1,
        };
        let mut delay = self.options.backoff;
        let mut attempt = 1;
        loop {
            match self.attempt(kind, path, &body).await {
                Ok(value) => {
                    self.note_health(true);
                    return Ok(value);
                }
                Err(Failure { error, transient }) => {
                    if !transient || attempt >= attempts {
                        self.note_health(!transient);
                        return Err(error);
                    }
                    tracing::warn!(path, attempt, error = %error, "Convex call failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
            }
        }
    }

    /// Records a call's end for [`Store::healthy_since`]: `reached` (an answer, even a
    /// function's own error) keeps or sets the time, a transient failure clears it.
    fn note_health(&self, reached: bool) {
        if let Ok(mut since) = self.healthy_since.lock() {
            *since = reached.then(std::time::Instant::now);
        }
    }

    async fn attempt(&self, kind: Kind, path: &str, body: &Value) -> Result<Value, Failure> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(ROUND_TRIPS_METRIC, "store" => "convex").increment(1);
        let transient = |e: String| Failure {
            error: StoreError::Unavailable(e),
            transient: true,
        };
        let response = self
            .http
            .post(format!("{}/api/{}", self.url, kind.route()))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .json(body)
            .send()
            .await
            .map_err(|e| transient(format!("Convex {path}: {}", describe(&e))))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| {
            transient(format!(
                "Convex {path}: reading the answer: {}",
                describe(&e)
            ))
        })?;
        if status == 200 || status == STATUS_UDF_FAILED {
            return decode_envelope(path, &text).map_err(|error| Failure {
                error,
                transient: false,
            });
        }
        let detail = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => format!("{} {}", b.code, b.message),
            Err(_) => text.chars().take(200).collect(),
        };
        Err(Failure {
            error: StoreError::Unavailable(format!("Convex {path}: HTTP {status}: {detail}")),
            transient: status == 429 || (500..600).contains(&status),
        })
    }

    async fn mutation<T: DeserializeOwned>(
        &self,
        path: &str,
        args: Value,
        retry: Retry,
    ) -> Result<T, StoreError> {
        let value = self.call(Kind::Mutation, path, args, retry).await?;
        decode(path, value)
    }

    async fn read<T: DeserializeOwned>(&self, path: &str, args: Value) -> Result<T, StoreError> {
        let value = self
            .call(Kind::Query, path, args, Retry::Idempotent)
            .await?;
        decode(path, value)
    }
}

/// The error text of a reqwest failure, saying whether it was a timeout.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out: {e}")
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

/// The body of a 4xx/5xx answer: the function did not run.
#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// The body of a 200/560 answer: the function ran.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Envelope {
    Success {
        #[serde(default)]
        value: Value,
    },
    Error {
        #[serde(rename = "errorMessage")]
        error_message: String,
        #[serde(rename = "errorData", default)]
        error_data: Option<Value>,
    },
}

/// Maps an envelope to the function's value or a [`StoreError`]. A `ConvexError` whose data has
/// `code: "InvalidData"` is [`StoreError::InvalidData`]; any other function error (a missing
/// function, an argument refused by a validator, a bug) is [`StoreError::Unavailable`]: the
/// operation did not happen and the caller answers 503 / tries later.
fn decode_envelope(path: &str, text: &str) -> Result<Value, StoreError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| {
        StoreError::InvalidData(format!(
            "Convex {path}: not a function result ({e}): {}",
            text.chars().take(200).collect::<String>()
        ))
    })?;
    match envelope {
        Envelope::Success { value } => Ok(value),
        Envelope::Error {
            error_message,
            error_data,
        } => {
            let code = error_data
                .as_ref()
                .and_then(|d| d.get("code"))
                .and_then(Value::as_str);
            let message = format!("Convex function {path} failed: {error_message}");
            Err(match code {
                Some("InvalidData") => StoreError::InvalidData(message),
                _ => StoreError::Unavailable(message),
            })
        }
    }
}

fn decode<T: DeserializeOwned>(path: &str, value: Value) -> Result<T, StoreError> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::InvalidData(format!("Convex {path}: unexpected result: {e}")))
}

/// Removes `null` object fields recursively: Convex's `v.optional(..)` accepts a missing field,
/// not `null`. (Free-form JSON travels as strings, so no `null` the caller meant is lost.)
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Shapes of the functions' results (see `convex/model/rows.ts`).
mod wire {
    use serde::{Deserialize, Deserializer};

    /// An integer sent as a JSON number, possibly written as a float (`5.0`) by Convex.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        to_int(&n).ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer")))
    }

    /// [`int`] for a count (never negative).
    pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let n = int(d)?;
        u64::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is negative")))
    }

    /// [`int`] for an optional field.
    pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<serde_json::Number>::deserialize(d)? {
            None => Ok(None),
            Some(n) => to_int(&n)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer"))),
        }
    }

    fn to_int(n: &serde_json::Number) -> Option<i64> {
        if let Some(i) = n.as_i64() {
            return Some(i);
        }
        let f = n.as_f64()?;
        // 2^63 as f64: integral floats below it convert exactly.
        (f.fract() == 0.0 && f.abs() < 9.223_372_036_854_776e18).then_some(f as i64)
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Enqueued {
        pub duplicate_delivery: bool,
        #[serde(deserialize_with = "int")]
        pub stored: i64,
        #[serde(deserialize_with = "int")]
        pub duplicates: i64,
        /// Absent from a deployment older than the enrichment rule.
        #[serde(default, deserialize_with = "int")]
        pub enriched: i64,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Inbox {
        #[serde(deserialize_with = "int")]
        pub id: i64,
        pub delivery_key: String,
        pub kind: String,
        pub event_type: String,
        pub workspace_id: Option<String>,
        pub state: String,
        pub event_json: String,
        pub raw_json: String,
        #[serde(deserialize_with = "int")]
        pub received_at_ms: i64,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Message {
        #[serde(deserialize_with = "int")]
        pub id: i64,
        pub direction: String,
        pub text: Option<String>,
        pub wamid: Option<String>,
        pub meta_json: String,
        #[serde(deserialize_with = "int")]
        pub created_at_ms: i64,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Outbox {
        #[serde(deserialize_with = "int")]
        pub id: i64,
        #[serde(deserialize_with = "int")]
        pub conversation_id: i64,
        pub idempotency_key: String,
        pub phone_number_id: String,
        pub to: String,
        pub body: String,
        pub state: String,
        #[serde(deserialize_with = "int")]
        pub attempts: i64,
        #[serde(deserialize_with = "int")]
        pub next_attempt_at_ms: i64,
        pub kapso_message_id: Option<String>,
        pub error: Option<String>,
        /// Absent on rows written before channels existed: WhatsApp.
        #[serde(default)]
        pub channel: Option<String>,
        /// Absent unless the row failed for good.
        #[serde(default)]
        pub reason: Option<String>,
        /// Absent from a deployment older than dead letters: then 0.
        #[serde(default, deserialize_with = "opt_int")]
        pub queued_at_ms: Option<i64>,
        /// Absent unless the row is an interactive message (issue 19).
        #[serde(default)]
        pub interactive_json: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(tag = "status", rename_all = "lowercase")]
    pub enum Begin {
        Idle,
        #[serde(rename_all = "camelCase")]
        Busy {
            #[serde(deserialize_with = "int")]
            lease_until_ms: i64,
        },
        #[serde(rename_all = "camelCase")]
        Claimed {
            #[serde(deserialize_with = "int")]
            conversation_id: i64,
            #[serde(deserialize_with = "int")]
            version: i64,
            lease_token: String,
            snapshot_json: Option<String>,
            contact_name: Option<String>,
            phone_number_id: Option<String>,
            inbound: Vec<Inbox>,
            recent: Vec<Message>,
        },
    }

    #[derive(Deserialize)]
    #[serde(tag = "status", rename_all = "lowercase")]
    pub enum Commit {
        Stale,
        Committed {
            #[serde(deserialize_with = "int")]
            version: i64,
            outbox: Vec<Outbox>,
        },
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Key {
        pub workspace_id: String,
        pub contact_phone: String,
    }

    impl Key {
        pub fn into_key(self) -> super::ConversationKey {
            super::ConversationKey {
                workspace_id: self.workspace_id,
                contact_phone: self.contact_phone,
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(tag = "status", rename_all = "lowercase")]
    pub enum Booked {
        #[serde(rename_all = "camelCase")]
        Booked {
            #[serde(deserialize_with = "int")]
            appointment_id: i64,
        },
        Full,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct KnowledgeEntry {
        pub entry_id: String,
        pub toml: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Record {
        #[serde(deserialize_with = "int")]
        pub id: i64,
        #[serde(deserialize_with = "int")]
        pub version: i64,
        pub flow_state: Option<String>,
        #[serde(default, deserialize_with = "opt_int")]
        pub lead_score: Option<i64>,
        pub lead_temperature: Option<String>,
        pub handoff_reason: Option<String>,
        pub lead_status: Option<String>,
        #[serde(default)]
        pub tags: Vec<String>,
        #[serde(default)]
        pub snapshot_json: Option<String>,
        #[serde(default)]
        pub language: Option<String>,
        #[serde(default, deserialize_with = "opt_int")]
        pub followup_due_ms: Option<i64>,
        #[serde(default)]
        pub previous_phone: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SetAside {
        #[serde(default, deserialize_with = "opt_int")]
        pub conversation_id: Option<i64>,
        #[serde(deserialize_with = "uint")]
        pub rows: u64,
        pub queued: bool,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Erase {
        pub status: String,
        #[serde(default, deserialize_with = "int")]
        pub conversation_id: i64,
        #[serde(default, deserialize_with = "uint")]
        pub messages: u64,
        #[serde(default, deserialize_with = "uint")]
        pub appointments: u64,
        #[serde(default, deserialize_with = "uint")]
        pub outbox_rows: u64,
        #[serde(default, deserialize_with = "uint")]
        pub inbox_rows: u64,
        #[serde(default, deserialize_with = "int")]
        pub erased_at_ms: i64,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Upcoming {
        pub appointment: Appointment,
        pub workspace_id: String,
        pub contact_phone: String,
        pub phone_number_id: Option<String>,
        pub contact_name: Option<String>,
        #[serde(deserialize_with = "int")]
        pub booked_at_ms: i64,
        pub reminders_sent: Vec<String>,
        #[serde(default, deserialize_with = "opt_int")]
        pub last_inbound_ms: Option<i64>,
        #[serde(default)]
        pub language: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(tag = "status", rename_all = "lowercase")]
    pub enum Reminder {
        Recorded { outbox: Vec<Outbox> },
        Skipped,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SlotCount {
        pub slot_id: String,
        #[serde(deserialize_with = "int")]
        pub count: i64,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Appointment {
        #[serde(deserialize_with = "int")]
        pub id: i64,
        #[serde(deserialize_with = "int")]
        pub conversation_id: i64,
        pub slot_id: String,
        #[serde(deserialize_with = "int")]
        pub starts_at_ms: i64,
        #[serde(deserialize_with = "int")]
        pub duration_minutes: i64,
        pub consultant_name: String,
        pub consultant_whatsapp: String,
        pub status: String,
        pub notes: String,
    }

    /// `leases:takeBack`'s answer.
    #[derive(Deserialize)]
    pub struct TakenBack {
        #[serde(deserialize_with = "int")]
        pub turns: i64,
        #[serde(deserialize_with = "int")]
        pub sends: i64,
    }

    /// `worker:due`'s answer (`store::DueReport`).
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Due {
        pub pending: Vec<Key>,
        pub orphans_due: bool,
        #[serde(deserialize_with = "int")]
        pub pending_rows: i64,
        #[serde(deserialize_with = "int")]
        pub outbox_due: i64,
        #[serde(default, deserialize_with = "opt_int")]
        pub next_outbox_ms: Option<i64>,
        #[serde(default, deserialize_with = "opt_int")]
        pub next_reminder_ms: Option<i64>,
        #[serde(default, deserialize_with = "opt_int")]
        pub next_followup_ms: Option<i64>,
        #[serde(deserialize_with = "int")]
        pub knowledge_version: i64,
    }

    #[derive(Deserialize)]
    #[serde(transparent)]
    pub struct OptInt(#[serde(deserialize_with = "opt_int")] pub Option<i64>);

    #[derive(Deserialize)]
    #[serde(transparent)]
    pub struct Int(#[serde(deserialize_with = "int")] pub i64);
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidData(e.to_string())
}

/// Decodes an inbox row as the SQLite store does (the kind column must match its event).
fn inbox_row(w: wire::Inbox) -> Result<InboxRow, StoreError> {
    let id = w.id;
    let event: InboundEvent = serde_json::from_str(&w.event_json)
        .map_err(|e| invalid(format!("inbox {id}: event: {e}")))?;
    let raw =
        serde_json::from_str(&w.raw_json).map_err(|e| invalid(format!("inbox {id}: raw: {e}")))?;
    let state = InboxState::parse(&w.state)
        .ok_or_else(|| invalid(format!("inbox {id}: state {:?}", w.state)))?;
    if event.kind.as_str() != w.kind {
        return Err(invalid(format!(
            "inbox {id}: kind {:?} does not match its event",
            w.kind
        )));
    }
    Ok(InboxRow {
        id,
        delivery_key: w.delivery_key,
        kind: event.kind,
        event_type: w.event_type,
        workspace_id: w.workspace_id,
        state,
        event,
        raw,
        received_at_ms: w.received_at_ms,
    })
}

fn message_row(w: wire::Message) -> Result<StoredMessage, StoreError> {
    Ok(StoredMessage {
        id: w.id,
        direction: Direction::parse(&w.direction)
            .ok_or_else(|| invalid(format!("message {}: direction {:?}", w.id, w.direction)))?,
        text: w.text,
        wamid: w.wamid,
        meta: serde_json::from_str(&w.meta_json)
            .map_err(|e| invalid(format!("message {}: meta: {e}", w.id)))?,
        created_at_ms: w.created_at_ms,
    })
}

fn outbox_row(w: wire::Outbox) -> Result<OutboxRow, StoreError> {
    let channel = w.channel.as_deref().unwrap_or("whatsapp");
    Ok(OutboxRow {
        channel: Channel::parse(channel)
            .ok_or_else(|| invalid(format!("outbox {}: channel {channel:?}", w.id)))?,
        id: w.id,
        conversation_id: w.conversation_id,
        idempotency_key: w.idempotency_key,
        phone_number_id: w.phone_number_id,
        to: w.to,
        body: w.body,
        state: OutboxState::parse(&w.state)
            .ok_or_else(|| invalid(format!("outbox {}: state {:?}", w.id, w.state)))?,
        attempts: w.attempts,
        next_attempt_at_ms: w.next_attempt_at_ms,
        kapso_message_id: w.kapso_message_id,
        error: w.error,
        reason: match w.reason.as_deref() {
            None => None,
            Some(r) => Some(
                FailReason::parse(r)
                    .ok_or_else(|| invalid(format!("outbox {}: reason {r:?}", w.id)))?,
            ),
        },
        queued_at_ms: w.queued_at_ms.unwrap_or_default(),
        interactive: w.interactive_json,
    })
}

fn key_args(key: &ConversationKey) -> Value {
    json!({"workspaceId": key.workspace_id, "contactPhone": key.contact_phone})
}

fn enqueue_args(delivery: &NewDelivery) -> Result<Value, StoreError> {
    let items = delivery
        .items
        .iter()
        .map(|item| {
            let e = &item.event;
            Ok(json!({
                "kind": e.kind.as_str(),
                "eventType": e.event_type,
                "workspaceId": item.workspace_id,
                "phoneNumberId": e.phone_number_id,
                "contactPhone": e.contact_phone,
                "kapsoConversationId": e.kapso_conversation_id,
                "wamid": e.wamid(),
                "statusValue": e.status.as_ref().map(|s| s.status.as_str()),
                "state": item.state.as_str(),
                "eventJson": serde_json::to_string(e).map_err(invalid)?,
                "rawJson": item.raw.to_string(),
                "fills": crate::inbox::enrich::fills_of(e)
                    .into_iter()
                    .map(|f| Ok(json!({
                        "path": f.path,
                        "valueJson": serde_json::to_string(&f.value).map_err(invalid)?,
                        "content": f.content,
                    })))
                    .collect::<Result<Vec<_>, StoreError>>()?,
            }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(json!({
        "idempotencyKey": delivery.idempotency_key,
        "eventHeader": delivery.event_header,
        "requestId": delivery.request_id,
        "receivedAtMs": delivery.received_at_ms,
        "originalBody": delivery.original_body,
        "bodyHash": delivery.body_hash,
        "items": items,
    }))
}

fn commit_args(commit: &TurnCommit, commit_id: &str) -> Result<Value, StoreError> {
    let messages = commit
        .messages
        .iter()
        .map(|m| {
            Ok(json!({
                "direction": m.direction.as_str(),
                "inboxId": m.inbox_id,
                "wamid": m.wamid,
                "text": m.text,
                "metaJson": serde_json::to_string(&m.meta).map_err(invalid)?,
                "send": m.send.as_ref().map(|s| json!({"phoneNumberId": s.phone_number_id, "to": s.to,
                    "fallbackJson": fallback_json(s.fallback.as_ref()), "channel": s.channel.as_str(),
                    "interactiveJson": s.interactive})),
            }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(json!({
        "commitId": commit_id,
        "conversationId": commit.conversation_id,
        "version": commit.version,
        "leaseToken": commit.lease_token,
        "consumedInboxIds": commit.consumed_inbox_ids,
        "snapshotJson": serde_json::to_string(&commit.snapshot).map_err(invalid)?,
        "flowState": commit.summary.flow_state,
        "leadScore": commit.summary.lead_score,
        "leadTemperature": commit.summary.lead_temperature,
        "handoffReason": commit.summary.handoff_reason,
        "language": commit.summary.language,
        "followupDueMs": commit.summary.followup_due_ms,
        "messages": messages,
        "nowMs": commit.now_ms,
        "outboxLeaseMs": commit.outbox_lease_ms,
        "leadStatus": commit.lead.status,
        "addTags": commit.lead.add_tags,
        "webhooks": commit.webhooks.iter().map(|w| json!({"url": w.url, "body": w.body})).collect::<Vec<_>>(),
        "toldUndelivered": commit.told_undelivered,
    }))
    .map(|mut args| {
        if let Some(to) = &commit.move_to {
            args["moveTo"] = json!(to);
        }
        args
    })
}

/// A row's fallback as the deployment stores it (`None`, left out, when it queues nothing).
fn fallback_json(fallback: Option<&Fallback>) -> Option<String> {
    fallback
        .filter(|f| !f.is_empty())
        .and_then(|f| serde_json::to_string(f).ok())
}

fn outcome_args(outcome: &SendOutcome) -> Value {
    match outcome {
        SendOutcome::Sent { kapso_message_id } => {
            json!({"kind": "sent", "kapsoMessageId": kapso_message_id})
        }
        SendOutcome::DryRun => json!({"kind": "dry_run"}),
        SendOutcome::Delivered => json!({"kind": "delivered"}),
        SendOutcome::Retry {
            error,
            next_attempt_at_ms,
        } => json!({"kind": "retry", "error": error, "nextAttemptAtMs": next_attempt_at_ms}),
        SendOutcome::Failed { error, reason } => {
            json!({"kind": "failed", "error": error, "reason": reason.as_str()})
        }
    }
}

#[async_trait]
impl Store for ConvexStore {
    /// `inbox:enqueue`. Retried: a repeat after a lost answer finds the delivery claimed and
    /// returns [`EnqueueOutcome::DuplicateDelivery`] (ingress answers 200 either way). Bounded
    /// by [`ConvexStore::with_limits`]: the retries stop at the deadline.
    async fn enqueue_inbound(&self, delivery: NewDelivery) -> Result<EnqueueOutcome, StoreError> {
        let args = enqueue_args(&delivery)?;
        let out: wire::Enqueued = self
            .gate
            .run(self.mutation("inbox:enqueue", args, Retry::Idempotent))
            .await?;
        Ok(if out.duplicate_delivery {
            EnqueueOutcome::DuplicateDelivery
        } else {
            EnqueueOutcome::Accepted {
                stored: usize::try_from(out.stored).map_err(invalid)?,
                duplicates: usize::try_from(out.duplicates).map_err(invalid)?,
                enriched: usize::try_from(out.enriched).map_err(invalid)?,
            }
        })
    }

    /// `inbox:originalBody` (a query; retried).
    async fn delivery_original_body(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<String>, StoreError> {
        self.read(
            "inbox:originalBody",
            json!({"idempotencyKey": idempotency_key}),
        )
        .await
    }

    fn healthy_since(&self) -> Option<std::time::Instant> {
        self.healthy_since.lock().ok().and_then(|since| *since)
    }

    /// `inbox:depth` (a query; retried).
    async fn inbox_depth(&self) -> Result<u64, StoreError> {
        let n: wire::Int = self.read("inbox:depth", json!({})).await?;
        Ok(n.0.max(0) as u64)
    }

    /// `inbox:list` (a query; retried).
    async fn list_inbox(&self, after_id: i64, limit: u32) -> Result<Vec<InboxRow>, StoreError> {
        let rows: Vec<wire::Inbox> = self
            .read("inbox:list", json!({"afterId": after_id, "limit": limit}))
            .await?;
        rows.into_iter().map(inbox_row).collect()
    }

    /// `worker:due`, a query (retried).
    async fn due(&self, query: DueQuery) -> Result<DueReport, StoreError> {
        let w: wire::Due = self
            .read(
                "worker:due",
                json!({
                    "nowMs": query.now_ms,
                    "withPending": query.with_pending,
                    "limit": query.limit,
                    "orphanTtlMs": query.orphan_ttl_ms,
                    "remindersAfterMs": query.reminders_after_ms,
                }),
            )
            .await?;
        Ok(DueReport {
            pending: w.pending.into_iter().map(wire::Key::into_key).collect(),
            orphans_due: w.orphans_due,
            pending_rows: w.pending_rows.max(0) as u64,
            outbox_due: w.outbox_due.max(0) as u64,
            next_outbox_ms: w.next_outbox_ms,
            next_reminder_ms: w.next_reminder_ms,
            next_followup_ms: w.next_followup_ms,
            knowledge_version: w.knowledge_version,
        })
    }

    /// `inbox:pendingConversations`, a mutation (it attaches workflow events and marks orphans
    /// unroutable). Retried: a repeat with the same arguments changes nothing more.
    async fn pending_conversations(
        &self,
        limit: u32,
        now_ms: i64,
        orphan_ttl_ms: i64,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        let keys: Vec<wire::Key> = self
            .mutation(
                "inbox:pendingConversations",
                json!({"limit": limit, "nowMs": now_ms, "orphanTtlMs": orphan_ttl_ms}),
                Retry::Idempotent,
            )
            .await?;
        Ok(keys.into_iter().map(wire::Key::into_key).collect())
    }

    /// `inbox:enqueueControl`. Retried: the delivery key (`control:<uuid>`) is chosen here, once
    /// per call, so a repeat finds its own delivery and queues nothing twice.
    async fn enqueue_control(
        &self,
        conversation_id: i64,
        event_type: &str,
        now_ms: i64,
    ) -> Result<Option<ConversationKey>, StoreError> {
        // The event as the SQLite store writes it; the deployment fills in the lead's phone,
        // which only it knows.
        let mut event = InboundEvent::unknown(event_type);
        event.kind = EventKind::Control;
        let key: Option<wire::Key> = self
            .mutation(
                "inbox:enqueueControl",
                json!({
                    "conversationId": conversation_id,
                    "eventType": event_type,
                    "deliveryKey": format!("control:{}", uuid::Uuid::new_v4()),
                    "eventJson": serde_json::to_string(&event).map_err(invalid)?,
                    "nowMs": now_ms,
                }),
                Retry::Idempotent,
            )
            .await?;
        Ok(key.map(wire::Key::into_key))
    }

    /// `inbox:queueDueFollowups`. Retried: a repeat finds the due times cleared and the
    /// deliveries claimed, and queues nothing twice (it may return fewer keys; the rows are
    /// pending either way and the worker's recovery poll finds them).
    async fn queue_due_followups(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<ConversationKey>, StoreError> {
        let mut event = InboundEvent::unknown(crate::inbox::FOLLOWUP_DUE_EVENT);
        event.kind = EventKind::Control;
        let keys: Vec<wire::Key> = self
            .mutation(
                "inbox:queueDueFollowups",
                json!({
                    "nowMs": now_ms,
                    "limit": limit,
                    "eventType": crate::inbox::FOLLOWUP_DUE_EVENT,
                    "eventJson": serde_json::to_string(&event).map_err(invalid)?,
                }),
                Retry::Idempotent,
            )
            .await?;
        Ok(keys.into_iter().map(wire::Key::into_key).collect())
    }

    /// `turns:begin`. Retried: the lease token is chosen here, once per call, so a repeat finds
    /// its own lease and reads the same claim instead of [`BeginTurn::Busy`].
    async fn begin_turn(
        &self,
        key: &ConversationKey,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<BeginTurn, StoreError> {
        let mut args = key_args(key);
        args["nowMs"] = json!(now_ms);
        args["leaseMs"] = json!(lease_ms);
        args["leaseToken"] = json!(uuid::Uuid::new_v4().to_string());
        args["replicaId"] = json!(self.replica_id);
        let out: wire::Begin = self
            .mutation("turns:begin", args, Retry::Idempotent)
            .await?;
        Ok(match out {
            wire::Begin::Idle => BeginTurn::Idle,
            wire::Begin::Busy { lease_until_ms } => BeginTurn::Busy { lease_until_ms },
            wire::Begin::Claimed {
                conversation_id,
                version,
                lease_token,
                snapshot_json,
                contact_name,
                phone_number_id,
                inbound,
                recent,
            } => {
                let snapshot = match snapshot_json.map(|s| serde_json::from_str(&s)).transpose() {
                    Ok(snapshot) => snapshot,
                    Err(e) => {
                        // Not a claim this turn can use: the lease goes back at once (the
                        // SQLite store's transaction rolls back the same way).
                        self.release_turn(conversation_id, &lease_token).await?;
                        return Err(StoreError::InvalidSnapshot(format!(
                            "conversation {conversation_id}: snapshot: {e}"
                        )));
                    }
                };
                BeginTurn::Claimed(Box::new(TurnClaim {
                    conversation_id,
                    version,
                    lease_token,
                    snapshot,
                    contact_name,
                    phone_number_id,
                    inbound: inbound
                        .into_iter()
                        .map(inbox_row)
                        .collect::<Result<_, _>>()?,
                    recent: recent
                        .into_iter()
                        .map(message_row)
                        .collect::<Result<_, _>>()?,
                }))
            }
        })
    }

    /// `turns:commit`. Retried: a commit id chosen here, once per call, lets a repeat whose
    /// first attempt was applied get [`CommitOutcome::Committed`] again instead of `Stale`.
    async fn commit_turn(&self, commit: TurnCommit) -> Result<CommitOutcome, StoreError> {
        let mut args = commit_args(&commit, &uuid::Uuid::new_v4().to_string())?;
        args["replicaId"] = json!(self.replica_id);
        let out: wire::Commit = self
            .mutation("turns:commit", args, Retry::Idempotent)
            .await?;
        Ok(match out {
            wire::Commit::Stale => CommitOutcome::Stale,
            wire::Commit::Committed { version, outbox } => CommitOutcome::Committed {
                version,
                outbox: outbox
                    .into_iter()
                    .map(outbox_row)
                    .collect::<Result<_, _>>()?,
            },
        })
    }

    /// `turns:release`. Retried: releasing twice changes nothing.
    async fn release_turn(
        &self,
        conversation_id: i64,
        lease_token: &str,
    ) -> Result<(), StoreError> {
        let _: Value = self
            .mutation(
                "turns:release",
                json!({"conversationId": conversation_id, "leaseToken": lease_token}),
                Retry::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// `outbox:claim`. Not retried: a repeat after a lost answer would find the rows leased and
    /// claim nothing; they come back after the lease.
    async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<wire::Outbox> = self
            .mutation(
                "outbox:claim",
                json!({"nowMs": now_ms, "leaseMs": lease_ms, "limit": limit,
                    "replicaId": self.replica_id}),
                Retry::Once,
            )
            .await?;
        rows.into_iter().map(outbox_row).collect()
    }

    /// `outbox:recordSend`. Retried for the final outcomes (`Sent`, `DryRun`, `Failed`: a
    /// repeat finds them recorded and changes nothing); not for `Retry`, which counts an
    /// attempt each time it is applied.
    async fn record_send(
        &self,
        outbox_id: i64,
        outcome: SendOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let retry = match outcome {
            SendOutcome::Retry { .. } => Retry::Once,
            _ => Retry::Idempotent,
        };
        let args =
            json!({"outboxId": outbox_id, "outcome": outcome_args(&outcome), "nowMs": now_ms});
        self.call(Kind::Mutation, "outbox:recordSend", args, retry)
            .await
            .map(|_| ())
    }

    /// `outbox:recordDeliveryFailure`. Retried (setting `failed` twice is setting it once).
    async fn record_delivery_failure(
        &self,
        kapso_message_id: &str,
        error: &str,
        reason: FailReason,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let id: wire::OptInt = self
            .mutation(
                "outbox:recordDeliveryFailure",
                json!({"kapsoMessageId": kapso_message_id, "error": error,
                       "reason": reason.as_str(), "nowMs": now_ms}),
                Retry::Idempotent,
            )
            .await?;
        Ok(id.0)
    }

    /// `outbox:list` (a query; retried).
    async fn list_outbox(
        &self,
        state: OutboxState,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<wire::Outbox> = self
            .read(
                "outbox:list",
                json!({"state": state.as_str(), "afterId": after_id, "limit": limit}),
            )
            .await?;
        rows.into_iter().map(outbox_row).collect()
    }

    /// `outbox:requeue`. Retried: a repeat finds the row pending and returns it unchanged.
    async fn requeue_outbox(
        &self,
        outbox_id: i64,
        now_ms: i64,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let row: Option<wire::Outbox> = self
            .mutation(
                "outbox:requeue",
                json!({"outboxId": outbox_id, "nowMs": now_ms}),
                Retry::Idempotent,
            )
            .await?;
        row.map(outbox_row).transpose()
    }

    /// `appointments:book`. Retried: booking is idempotent per conversation and slot, so a
    /// repeat whose first attempt was applied gets the same appointment back.
    async fn book_slot(&self, booking: NewAppointment) -> Result<BookingOutcome, StoreError> {
        let out: wire::Booked = self
            .mutation(
                "appointments:book",
                json!({
                    "conversationId": booking.conversation_id,
                    "workspaceId": booking.workspace_id,
                    "slotId": booking.slot_id,
                    "startsAtMs": booking.starts_at_ms,
                    "durationMinutes": booking.duration_minutes,
                    "consultantName": booking.consultant_name,
                    "consultantWhatsapp": booking.consultant_whatsapp,
                    "capacity": booking.capacity,
                    "notes": booking.notes,
                    "nowMs": booking.now_ms,
                }),
                Retry::Idempotent,
            )
            .await?;
        Ok(match out {
            wire::Booked::Booked { appointment_id } => BookingOutcome::Booked { appointment_id },
            wire::Booked::Full => BookingOutcome::Full,
        })
    }

    /// `appointments:move`. Retried: a repeat whose first attempt was applied finds the new
    /// slot held and the old appointment cancelled, and gets the same appointment back.
    async fn move_appointment(
        &self,
        from_appointment_id: i64,
        to: NewAppointment,
    ) -> Result<BookingOutcome, StoreError> {
        let out: wire::Booked = self
            .mutation(
                "appointments:move",
                json!({
                    "fromAppointmentId": from_appointment_id,
                    "conversationId": to.conversation_id,
                    "workspaceId": to.workspace_id,
                    "slotId": to.slot_id,
                    "startsAtMs": to.starts_at_ms,
                    "durationMinutes": to.duration_minutes,
                    "consultantName": to.consultant_name,
                    "consultantWhatsapp": to.consultant_whatsapp,
                    "capacity": to.capacity,
                    "notes": to.notes,
                    "nowMs": to.now_ms,
                }),
                Retry::Idempotent,
            )
            .await?;
        Ok(match out {
            wire::Booked::Booked { appointment_id } => BookingOutcome::Booked { appointment_id },
            wire::Booked::Full => BookingOutcome::Full,
        })
    }

    /// `appointments:bookedSlots` (a query; retried).
    async fn booked_slots(
        &self,
        workspace_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::HashMap<String, u32>, StoreError> {
        let rows: Vec<wire::SlotCount> = self
            .read(
                "appointments:bookedSlots",
                json!({"workspaceId": workspace_id, "fromMs": from_ms, "toMs": to_ms}),
            )
            .await?;
        rows.into_iter()
            .map(|r| Ok((r.slot_id, u32::try_from(r.count).map_err(invalid)?)))
            .collect()
    }

    /// `appointments:cancel`. Not retried: a repeat after a lost answer would report `false`
    /// for a cancel that happened.
    async fn cancel_appointment(
        &self,
        conversation_id: i64,
        appointment_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.mutation(
            "appointments:cancel",
            json!({"conversationId": conversation_id, "appointmentId": appointment_id, "nowMs": now_ms}),
            Retry::Once,
        )
        .await
    }

    /// `appointments:upcoming` (a query; retried).
    async fn upcoming_appointments(
        &self,
        from_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<UpcomingAppointment>, StoreError> {
        let rows: Vec<wire::Upcoming> = self
            .read(
                "appointments:upcoming",
                json!({"fromMs": from_ms, "untilMs": until_ms, "limit": limit}),
            )
            .await?;
        rows.into_iter()
            .map(|u| {
                let a = u.appointment;
                Ok(UpcomingAppointment {
                    appointment: Appointment {
                        id: a.id,
                        conversation_id: a.conversation_id,
                        slot_id: a.slot_id,
                        starts_at_ms: a.starts_at_ms,
                        duration_minutes: u32::try_from(a.duration_minutes).map_err(invalid)?,
                        consultant_name: a.consultant_name,
                        consultant_whatsapp: a.consultant_whatsapp,
                        status: a.status,
                        notes: a.notes,
                    },
                    key: ConversationKey {
                        workspace_id: u.workspace_id,
                        contact_phone: u.contact_phone,
                    },
                    phone_number_id: u.phone_number_id,
                    contact_name: u.contact_name,
                    booked_at_ms: u.booked_at_ms,
                    reminders_sent: u.reminders_sent,
                    last_inbound_ms: u.last_inbound_ms,
                    language: u.language,
                })
            })
            .collect()
    }

    /// `appointments:recordReminder`. Retried: a repeat finds the reminder recorded and
    /// changes nothing (its rows, if the first answer was lost, go out through the poller).
    async fn record_reminder(
        &self,
        reminder: NewReminder,
    ) -> Result<Option<Vec<OutboxRow>>, StoreError> {
        let messages: Vec<Value> = reminder
            .messages
            .iter()
            .map(|m| {
                json!({"to": m.to, "body": m.body, "channel": m.channel.as_str(),
                       "fallbackJson": fallback_json(m.fallback.as_ref()),
                       "interactiveJson": m.interactive})
            })
            .collect();
        let out: wire::Reminder = self
            .mutation(
                "appointments:recordReminder",
                json!({
                    "appointmentId": reminder.appointment_id,
                    "conversationId": reminder.conversation_id,
                    "kind": reminder.kind,
                    "messages": messages,
                    "phoneNumberId": reminder.phone_number_id,
                    "contactPhone": reminder.contact_phone,
                    "nowMs": reminder.now_ms,
                    "outboxLeaseMs": reminder.outbox_lease_ms,
                    "language": reminder.language,
                }),
                Retry::Idempotent,
            )
            .await?;
        match out {
            wire::Reminder::Recorded { outbox } => Ok(Some(
                outbox
                    .into_iter()
                    .map(outbox_row)
                    .collect::<Result<_, _>>()?,
            )),
            wire::Reminder::Skipped => Ok(None),
        }
    }

    /// `knowledge:list` (a query; retried).
    async fn knowledge_entries(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<wire::KnowledgeEntry> = self
            .read("knowledge:list", json!({"workspaceId": workspace_id}))
            .await?;
        Ok(rows.into_iter().map(|r| (r.entry_id, r.toml)).collect())
    }

    /// `knowledge:put`. Retried: writing the same text twice changes nothing.
    async fn put_knowledge_entry(
        &self,
        workspace_id: &str,
        entry_id: &str,
        toml: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _: Value = self
            .mutation(
                "knowledge:put",
                json!({"workspaceId": workspace_id, "entryId": entry_id, "toml": toml, "nowMs": now_ms}),
                Retry::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// `conversations:erase`. Retried: a repeat after an applied first attempt finds no
    /// conversation under the contact's phone any more and answers `NotFound`.
    /// `turns:setAside`. Retried: the delivery key of the queued row is chosen here, once per
    /// call, so a repeat finds the rows already set aside and queues nothing twice.
    async fn set_aside_turn(
        &self,
        key: &ConversationKey,
        failure: &TurnFailure,
    ) -> Result<SetAside, StoreError> {
        let mut event = InboundEvent::unknown(crate::inbox::TURN_STUCK_EVENT);
        event.kind = EventKind::Control;
        let mut args = key_args(key);
        args["error"] = json!(failure.error);
        args["attempts"] = json!(failure.attempts);
        args["resetSnapshot"] = json!(failure.reset_snapshot);
        args["nowMs"] = json!(failure.now_ms);
        args["eventType"] = json!(crate::inbox::TURN_STUCK_EVENT);
        args["eventJson"] = json!(serde_json::to_string(&event).map_err(invalid)?);
        args["deliveryKey"] = json!(format!("control:{}", uuid::Uuid::new_v4()));
        let out: wire::SetAside = self
            .mutation("turns:setAside", args, Retry::Idempotent)
            .await?;
        Ok(SetAside {
            conversation_id: out.conversation_id,
            rows: out.rows,
            queued: out.queued,
        })
    }

    async fn erase_contact(
        &self,
        key: &ConversationKey,
        now_ms: i64,
    ) -> Result<EraseOutcome, StoreError> {
        let mut args = key_args(key);
        args["nowMs"] = json!(now_ms);
        args["erasedEventJson"] =
            json!(serde_json::to_string(&InboundEvent::unknown("erased")).map_err(invalid)?);
        let out: wire::Erase = self
            .mutation("conversations:erase", args, Retry::Idempotent)
            .await?;
        Ok(match out.status.as_str() {
            "erased" => EraseOutcome::Erased(EraseReceipt {
                conversation_id: out.conversation_id,
                messages: out.messages,
                appointments: out.appointments,
                outbox_rows: out.outbox_rows,
                inbox_rows: out.inbox_rows,
                erased_at_ms: out.erased_at_ms,
            }),
            "busy" => EraseOutcome::Busy,
            _ => EraseOutcome::NotFound,
        })
    }

    /// `conversations:keyOf` (a query; retried).
    async fn conversation_key(
        &self,
        conversation_id: i64,
    ) -> Result<Option<ConversationKey>, StoreError> {
        let key: Option<wire::Key> = self
            .read(
                "conversations:keyOf",
                json!({"conversationId": conversation_id}),
            )
            .await?;
        Ok(key.map(wire::Key::into_key))
    }

    /// `conversations:get` (a query; retried).
    async fn conversation_record(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let rec: Option<wire::Record> = self.read("conversations:get", key_args(key)).await?;
        Ok(rec.map(|r| ConversationRecord {
            conversation_id: r.id,
            version: r.version,
            summary: ConversationSummary {
                flow_state: r.flow_state,
                lead_score: r.lead_score,
                lead_temperature: r.lead_temperature,
                handoff_reason: r.handoff_reason,
                language: r.language,
                followup_due_ms: r.followup_due_ms,
            },
            lead_status: r.lead_status,
            tags: r.tags,
            snapshot: r.snapshot_json.and_then(|s| serde_json::from_str(&s).ok()),
            previous_phone: r.previous_phone,
        }))
    }

    /// `appointments:forConversation` (a query; retried).
    async fn conversation_appointments(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<Appointment>, StoreError> {
        let rows: Vec<wire::Appointment> = self
            .read("appointments:forConversation", key_args(key))
            .await?;
        rows.into_iter()
            .map(|a| {
                Ok(Appointment {
                    id: a.id,
                    conversation_id: a.conversation_id,
                    slot_id: a.slot_id,
                    starts_at_ms: a.starts_at_ms,
                    duration_minutes: u32::try_from(a.duration_minutes).map_err(invalid)?,
                    consultant_name: a.consultant_name,
                    consultant_whatsapp: a.consultant_whatsapp,
                    status: a.status,
                    notes: a.notes,
                })
            })
            .collect()
    }

    /// `conversations:messages` (a query; retried).
    async fn conversation_messages(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows: Vec<wire::Message> = self.read("conversations:messages", key_args(key)).await?;
        rows.into_iter().map(message_row).collect()
    }

    /// `conversations:outbox` (a query; retried).
    async fn conversation_outbox(
        &self,
        key: &ConversationKey,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<wire::Outbox> = self.read("conversations:outbox", key_args(key)).await?;
        rows.into_iter().map(outbox_row).collect()
    }

    /// `health:checkWritable`, a mutation that upserts one row. Retried.
    async fn check_writable(&self) -> Result<(), StoreError> {
        let now = crate::clock::now_ms();
        self.call(
            Kind::Mutation,
            "health:checkWritable",
            json!({"nowMs": now}),
            Retry::Idempotent,
        )
        .await
        .map(|_| ())
    }

    /// HTTP requests made since the store was built, retries and the start-up key check
    /// included.
    fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Refuses later calls (nothing to flush: every call was durable when it returned).
    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_left_out_of_arguments() {
        let v = strip_nulls(json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]}));
        assert_eq!(v, json!({"b": {"d": 1}, "e": [{}]}));
    }

    #[test]
    fn integers_written_as_floats_are_accepted() {
        let n: wire::Int = serde_json::from_value(json!(5.0)).unwrap();
        assert_eq!(n.0, 5);
        let n: wire::OptInt = serde_json::from_value(json!(null)).unwrap();
        assert_eq!(n.0, None);
        assert!(serde_json::from_value::<wire::Int>(json!(5.5)).is_err());
    }

    #[test]
    fn envelopes_map_to_values_and_errors() {
        assert_eq!(
            decode_envelope("m:f", r#"{"status":"success","value":3}"#).unwrap(),
            json!(3)
        );
        let err = decode_envelope(
            "m:f",
            r#"{"status":"error","errorMessage":"boom","errorData":{"code":"InvalidData"}}"#,
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::InvalidData(_)), "{err}");
        let err =
            decode_envelope("m:f", r#"{"status":"error","errorMessage":"boom"}"#).unwrap_err();
        assert!(
            matches!(err, StoreError::Unavailable(ref m) if m.contains("boom")),
            "{err}"
        );
        assert!(matches!(
            decode_envelope("m:f", "<html>"),
            Err(StoreError::InvalidData(_))
        ));
    }
}
