//! `ari serve` settings: every flag is also an environment variable (clap `env`), validated at
//! start so a bad value stops the service with a clear message instead of failing later.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::ingress::signature::WebhookSecrets;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// The flags of `ari serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (the chosen address is logged).
    #[arg(long, env = "ARI_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// SQLite database file (created if missing; WAL mode; migrations applied at start).
    #[arg(long, env = "ARI_DATABASE", default_value = "ari.db")]
    pub database: PathBuf,

    /// Kapso webhook secret; "new,old" accepts either during a rotation.
    #[arg(long, env = "ARI_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Accept unsigned webhooks. For local trials only: logged loudly at start and on every
    /// request.
    #[arg(long, env = "ARI_INSECURE_NO_SIGNATURE")]
    pub insecure_no_signature: bool,

    /// Kapso project API key for the send API. Without it replies are logged, not sent (dry run).
    #[arg(long, env = "ARI_KAPSO_API_KEY", hide_env_values = true)]
    pub kapso_api_key: Option<String>,

    /// Kapso API base URL.
    #[arg(
        long,
        env = "ARI_KAPSO_BASE_URL",
        default_value = "https://api.kapso.ai"
    )]
    pub kapso_base_url: String,

    /// Folder of the admin-edited flow files (`ari.toml`, `workspaces.toml`, ...).
    #[arg(long, env = "ARI_FLOW_DIR", default_value = "state-machines")]
    pub flow_dir: PathBuf,

    /// Log format.
    #[arg(long, env = "ARI_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Quiet time (ms) after a lead's latest message before its turn runs: rapid messages form
    /// one turn and get one reply.
    #[arg(long, env = "ARI_DEBOUNCE_MS", default_value_t = 1_500)]
    pub debounce_ms: u64,

    /// Debounce ceiling (ms): a lead who keeps writing gets a turn that starts, and is not
    /// superseded by their newer messages, at most this long after their first unanswered
    /// message. Raised to `--debounce-ms` if below it.
    #[arg(long, env = "ARI_MAX_DEBOUNCE_MS", default_value_t = 6_000)]
    pub max_debounce_ms: u64,

    /// Run the service's clock this many minutes ahead (may be negative): receipt times,
    /// turns, leases, retries, follow-ups and reminders all move together ([`crate::clock`]).
    /// For trials and restart tests that need hours to pass; keep 0 in production.
    #[arg(
        long,
        env = "ARI_CLOCK_OFFSET_MINUTES",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub clock_offset_minutes: i64,

    /// A Meta-format (raw Cloud API) webhook also points at ARI. Its copy of a voice note has
    /// no transcript, and Kapso's copy (with one) may come later: a turn whose newest lead
    /// message is such a voice note then waits up to `--voice-grace-ms` for it (issue 14).
    #[arg(long, env = "ARI_META_WEBHOOK")]
    pub meta_webhook: bool,

    /// With `--meta-webhook`: how long (ms) after its receipt a voice note without transcript
    /// waits for Kapso's copy before its turn runs (and, without one, asks the lead to type).
    #[arg(long, env = "ARI_VOICE_GRACE_MS", default_value_t = 5_000)]
    pub voice_grace_ms: u64,

    /// This replica's stable name on Convex (issue 17 item 4): stamped on the turn and send
    /// leases it takes, so that when it restarts under the same id it releases them at start
    /// instead of waiting them out. Default: the host name (`/proc/sys/kernel/hostname`, else
    /// `$HOSTNAME`, else `ari`), stable across restarts on one host or for a named pod. Two
    /// live replicas must never share one. Not used on SQLite (its lock file shows the previous
    /// run is dead).
    #[arg(long, env = "ARI_REPLICA_ID")]
    pub replica_id: Option<String>,

    /// The longest wait (ms) between two polls of the worker's due loop while it finds nothing
    /// to do (issue 17 item 3): the wait doubles from 1 s up to this, and is cut to the next
    /// retry, reminder or follow-up time. On Convex, messages another replica ingested are
    /// picked up within it; a replica's own messages never wait for it. At least 1,000.
    #[arg(long, env = "ARI_IDLE_POLL_CEILING_MS", default_value_t = 60_000)]
    pub idle_poll_ceiling_ms: u64,

    /// A conversation whose turn fails the same way this many times in a row (an unreadable
    /// snapshot, invalid stored data) is set aside: its pending messages are kept but no longer
    /// retried, and it is handed off to a consultant as `stuck` (issue 16 item 9). At least 1.
    #[arg(long, env = "ARI_MAX_TURN_ATTEMPTS", default_value_t = 5)]
    pub max_turn_attempts: u32,

    /// Mark the lead's message read and show "typing…" when a reply is coming.
    #[arg(long, env = "ARI_TYPING_INDICATOR", default_value_t = true, action = clap::ArgAction::Set)]
    pub typing_indicator: bool,

    /// Bearer token for the admin API (`POST /admin/conversations/{id}/resume`); without it
    /// the admin API is disabled.
    #[arg(long, env = "ARI_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// CRM webhook: each handoff is POSTed there as signed JSON (`ari.lead.handoff`), through
    /// the outbox (retried, recorded). Needs ARI_CRM_WEBHOOK_SECRET.
    #[arg(long, env = "ARI_CRM_WEBHOOK_URL")]
    pub crm_webhook_url: Option<String>,

    /// Secret the CRM webhook calls are signed with (hex HMAC-SHA256 of the body in
    /// X-Webhook-Signature, as Kapso signs ARI's).
    #[arg(long, env = "ARI_CRM_WEBHOOK_SECRET", hide_env_values = true)]
    pub crm_webhook_secret: Option<String>,

    /// Turns running at once (conversations in parallel).
    #[arg(long, env = "ARI_MAX_PARALLEL_TURNS", default_value_t = 32)]
    pub max_parallel_turns: usize,

    /// Convex deployment URL (e.g. `https://happy-animal-123.convex.cloud`). With
    /// ARI_CONVEX_DEPLOY_KEY it selects the Convex store instead of SQLite (--database is then
    /// unused), so several replicas can share one deployment.
    #[arg(long, env = "ARI_CONVEX_URL")]
    pub convex_url: Option<String>,

    /// Deploy key of that deployment (the functions in `convex/` are internal: only a deploy
    /// key can call them).
    #[arg(long, env = "ARI_CONVEX_DEPLOY_KEY", hide_env_values = true)]
    pub convex_deploy_key: Option<String>,

    /// Serve `GET /metrics` on this address only (e.g. `127.0.0.1:9090`, not exposed), and not
    /// on `--bind`.
    #[arg(long, env = "ARI_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// A connection whose request head (line and headers) is not complete this long (ms) after
    /// it opened, or after its previous answer, is closed.
    #[arg(long, env = "ARI_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// A kept-alive connection with no request and no byte for this long (ms) is closed.
    #[arg(long, env = "ARI_IDLE_TIMEOUT_MS", default_value_t = 5_000)]
    pub idle_timeout_ms: u64,

    /// Reading a request's body and answering it must end within this (ms), else 408 and the
    /// connection is closed.
    #[arg(long, env = "ARI_REQUEST_TIMEOUT_MS", default_value_t = 15_000)]
    pub request_timeout_ms: u64,

    /// Connections open at once; further ones wait (unaccepted) until one closes. Default:
    /// min(1024, the open-file limit − 64), the soft open-file limit raised to the hard one at
    /// start.
    #[arg(long, env = "ARI_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Request bodies read at once; a further request waits up to 2 s for a turn, then gets 503.
    #[arg(long, env = "ARI_MAX_BODY_READS", default_value_t = 64)]
    pub max_body_reads: usize,

    /// Items a signed webhook delivery may hold (a batch, or a Meta payload's messages and
    /// statuses); more: 413, nothing stored.
    #[arg(long, env = "ARI_MAX_BATCH_ITEMS", default_value_t = crate::ingress::DEFAULT_MAX_BATCH_ITEMS)]
    pub max_batch_items: usize,

    /// Delivery attempts of one outbox row (a reply, a notice, a CRM call) at most: a row
    /// still failing with transient errors after this many becomes `failed` (a dead letter,
    /// listed by `GET /admin/outbox?state=failed`). At least 1.
    #[arg(long, env = "ARI_OUTBOX_MAX_ATTEMPTS", default_value_t = 8)]
    pub outbox_max_attempts: u32,

    /// A row still failing with transient errors this many minutes after it was queued becomes
    /// `failed` too. At least 1.
    #[arg(long, env = "ARI_OUTBOX_MAX_AGE_MINUTES", default_value_t = 1_440)]
    pub outbox_max_age_minutes: u32,

    /// A webhook whose store write has not finished within this (ms), queueing included, gets
    /// 503 (the write may still complete; the redelivery is deduplicated). SQLite's busy
    /// timeout is capped to it. Issue 16 item 8.
    #[arg(long, env = "ARI_STORE_DEADLINE_MS", default_value_t = 2_000)]
    pub store_deadline_ms: u64,

    /// Webhook writes queued for the SQLite connection at once; one more gets 503 at once.
    #[arg(long, env = "ARI_STORE_QUEUE", default_value_t = 256)]
    pub store_queue: usize,
}

/// How webhooks are authenticated.
#[derive(Debug, Clone)]
pub enum SignaturePolicy {
    /// Verify `X-Webhook-Signature` against these secrets.
    Verify(WebhookSecrets),
    /// `--insecure-no-signature`: accept anything (local trials).
    Insecure,
}

/// Validated Kapso API settings (used by the outbound sender).
#[derive(Clone)]
pub struct KapsoSettings {
    /// Without a key the sender runs dry.
    pub api_key: Option<String>,
    /// `http` or `https` URL without a trailing slash.
    pub base_url: reqwest::Url,
}

impl std::fmt::Debug for KapsoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KapsoSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

/// The Convex deployment that holds the state instead of the SQLite file.
#[derive(Clone)]
pub struct ConvexSettings {
    /// `http(s)://host[:port][/path]` without a trailing `/`.
    pub url: String,
    deploy_key: String,
}

impl ConvexSettings {
    /// The deploy key (a secret: never logged).
    pub fn deploy_key(&self) -> &str {
        &self.deploy_key
    }
}

impl std::fmt::Debug for ConvexSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvexSettings")
            .field("url", &self.url)
            .field("deploy_key", &"<redacted>")
            .finish()
    }
}

/// Settings that passed validation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database: PathBuf,
    pub signature: SignaturePolicy,
    pub kapso: KapsoSettings,
    pub flow_dir: PathBuf,
    pub log_format: LogFormat,
    pub debounce: std::time::Duration,
    /// See `--max-debounce-ms`.
    pub max_debounce: std::time::Duration,
    /// See `--clock-offset-minutes` (0 in production).
    pub clock_offset_minutes: i64,
    /// `Some` with `--meta-webhook`: the voice-note grace (`--voice-grace-ms`); `None`: no
    /// Meta-format webhook, so no copy to wait for.
    pub voice_grace: Option<std::time::Duration>,
    /// See `--max-turn-attempts` (at least 1).
    pub max_turn_attempts: u32,
    /// See `--idle-poll-ceiling-ms` (at least 1 s).
    pub idle_poll_ceiling: std::time::Duration,
    /// See `--replica-id` (the host name when not given).
    pub replica_id: String,
    pub typing_indicator: bool,
    pub max_parallel_turns: usize,
    /// `None`: the admin API is disabled.
    pub admin_token: Option<AdminToken>,
    /// `Some`: the Convex store; `None`: the SQLite file `database`.
    pub convex: Option<ConvexSettings>,
    /// The CRM webhook; `None`: no CRM calls.
    pub crm_webhook: Option<CrmWebhookSettings>,
    /// Where `/metrics` is served instead of `bind`; `None`: on `bind`.
    pub metrics_bind: Option<SocketAddr>,
    /// The listener's timeouts and caps; `max_connections` is `None` until [`Settings`] is
    /// served (derived from the open-file limit then).
    pub http: HttpSettings,
    /// See `--max-batch-items`.
    pub max_batch_items: usize,
    /// When a row that keeps failing becomes a dead letter (`--outbox-max-attempts`,
    /// `--outbox-max-age-minutes`).
    pub outbox_limits: crate::kapso::outbox::OutboxLimits,
    /// See `--store-deadline-ms` and `--store-queue`.
    pub store_limits: crate::store::limits::StoreLimits,
}

/// The listener's limits as configured (see [`crate::server::listen::HttpLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    pub header_read_timeout: std::time::Duration,
    pub idle_timeout: std::time::Duration,
    pub request_timeout: std::time::Duration,
    /// `None`: derived from the open-file limit at start.
    pub max_connections: Option<usize>,
    pub max_body_reads: usize,
}

/// The CRM webhook's URL and signing secret (`--crm-webhook-url`, `--crm-webhook-secret`).
/// Its `Debug` shows neither: the URL may carry credentials (`user:pass@`, `?token=`).
#[derive(Clone, PartialEq, Eq)]
pub struct CrmWebhookSettings {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for CrmWebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CrmWebhookSettings(<redacted>)")
    }
}

/// The admin API's bearer token. Never printed.
#[derive(Clone)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// A token (as `ARI_ADMIN_TOKEN` gives it; `ari simulate` makes its own).
    pub fn new(token: impl Into<String>) -> Self {
        AdminToken(token.into())
    }

    /// Whether `presented` is the token. Both sides are hashed first, so the comparison time
    /// says nothing about the token.
    pub fn matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.0.as_bytes()) == Sha256::digest(presented.as_bytes())
    }
}

/// A setting that stops the service at start.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "no webhook secret: set ARI_WEBHOOK_SECRET to the secret of the Kapso webhook \
         (or pass --insecure-no-signature for a local trial)"
    )]
    MissingSecret,
    #[error("ARI_WEBHOOK_SECRET: {0}")]
    BadSecret(#[from] crate::ingress::signature::SecretsError),
    #[error("ARI_KAPSO_API_KEY is set but empty")]
    EmptyApiKey,
    #[error("ARI_CRM_WEBHOOK_URL is set without ARI_CRM_WEBHOOK_SECRET (calls must be signed)")]
    CrmSecretMissing,
    #[error("ARI_CRM_WEBHOOK_URL {url:?} is not a valid http(s) URL: {reason}")]
    BadCrmUrl { url: String, reason: String },
    #[error("ARI_KAPSO_BASE_URL {url:?} is not a valid http(s) URL: {reason}")]
    BadBaseUrl { url: String, reason: String },
    #[error(
        "{set} is set but {missing} is not: set both ARI_CONVEX_URL and ARI_CONVEX_DEPLOY_KEY \
         to use Convex, or neither to use the SQLite file"
    )]
    HalfConvex {
        set: &'static str,
        missing: &'static str,
    },
    #[error("ARI_CONVEX_URL {url:?} is not a valid http(s) URL: {reason}")]
    BadConvexUrl { url: String, reason: String },
    #[error("{0} must be at least 1")]
    ZeroOutboxLimit(&'static str),
}

impl ServeArgs {
    /// Validates the flags. Errors name the environment variable to fix.
    pub fn validate(&self) -> Result<Settings, SettingsError> {
        // An empty ARI_WEBHOOK_SECRET counts as unset (a blank line in an env file).
        let secret = self
            .webhook_secret
            .as_deref()
            .filter(|s| !s.trim().is_empty());
        let signature = match (secret, self.insecure_no_signature) {
            (Some(s), _) => SignaturePolicy::Verify(WebhookSecrets::parse(s)?),
            (None, true) => SignaturePolicy::Insecure,
            (None, false) => return Err(SettingsError::MissingSecret),
        };
        let api_key = match &self.kapso_api_key {
            Some(k) if k.trim().is_empty() => return Err(SettingsError::EmptyApiKey),
            Some(k) => Some(k.trim().to_string()),
            None => None,
        };
        let crm_webhook = match (
            self.crm_webhook_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty()),
            self.crm_webhook_secret
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty()),
        ) {
            (None, _) => None,
            (Some(_), None) => return Err(SettingsError::CrmSecretMissing),
            (Some(url), Some(secret)) => {
                let parsed = reqwest::Url::parse(url).map_err(|e| SettingsError::BadCrmUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(SettingsError::BadCrmUrl {
                        url: url.to_string(),
                        reason: "the scheme must be http or https".into(),
                    });
                }
                Some(CrmWebhookSettings {
                    url: url.to_string(),
                    secret: secret.to_string(),
                })
            }
        };
        if self.outbox_max_attempts == 0 {
            return Err(SettingsError::ZeroOutboxLimit("ARI_OUTBOX_MAX_ATTEMPTS"));
        }
        if self.outbox_max_age_minutes == 0 {
            return Err(SettingsError::ZeroOutboxLimit("ARI_OUTBOX_MAX_AGE_MINUTES"));
        }
        Ok(Settings {
            bind: self.bind,
            database: self.database.clone(),
            signature,
            kapso: KapsoSettings {
                api_key,
                base_url: parse_base_url(&self.kapso_base_url)?,
            },
            flow_dir: self.flow_dir.clone(),
            log_format: self.log_format,
            debounce: std::time::Duration::from_millis(self.debounce_ms),
            max_debounce: std::time::Duration::from_millis(self.max_debounce_ms),
            clock_offset_minutes: self.clock_offset_minutes,
            voice_grace: self
                .meta_webhook
                .then(|| std::time::Duration::from_millis(self.voice_grace_ms)),
            max_turn_attempts: self.max_turn_attempts.max(1),
            idle_poll_ceiling: std::time::Duration::from_millis(
                self.idle_poll_ceiling_ms.max(1_000),
            ),
            replica_id: self
                .replica_id
                .clone()
                .filter(|id| !id.trim().is_empty())
                .unwrap_or_else(host_name),
            typing_indicator: self.typing_indicator,
            max_parallel_turns: self.max_parallel_turns.max(1),
            admin_token: self
                .admin_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| AdminToken(t.to_string())),
            convex: convex_settings(
                self.convex_url.as_deref(),
                self.convex_deploy_key.as_deref(),
            )?,
            crm_webhook,
            metrics_bind: self.metrics_bind,
            http: HttpSettings {
                header_read_timeout: ms(self.header_read_timeout_ms),
                idle_timeout: ms(self.idle_timeout_ms),
                request_timeout: ms(self.request_timeout_ms),
                max_connections: self.max_connections.filter(|n| *n > 0),
                max_body_reads: self.max_body_reads.max(1),
            },
            max_batch_items: self.max_batch_items.max(1),
            outbox_limits: crate::kapso::outbox::OutboxLimits {
                max_attempts: self.outbox_max_attempts,
                max_age_ms: i64::from(self.outbox_max_age_minutes) * 60_000,
            },
            store_limits: crate::store::limits::StoreLimits {
                deadline: ms(self.store_deadline_ms),
                queue: self.store_queue.max(1),
            },
        })
    }
}

/// A duration in ms, at least 1 ms (a zero timeout would refuse everything).
fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n.max(1))
}

/// Both Convex variables or neither (an empty value counts as unset, as a blank line in an env
/// file does): half a configuration must not silently fall back to SQLite.
fn convex_settings(
    url: Option<&str>,
    key: Option<&str>,
) -> Result<Option<ConvexSettings>, SettingsError> {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    let (url, key) = match (url, key) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(SettingsError::HalfConvex {
                set: "ARI_CONVEX_URL",
                missing: "ARI_CONVEX_DEPLOY_KEY",
            });
        }
        (None, Some(_)) => {
            return Err(SettingsError::HalfConvex {
                set: "ARI_CONVEX_DEPLOY_KEY",
                missing: "ARI_CONVEX_URL",
            });
        }
        (Some(u), Some(k)) => (u, k),
    };
    let bad = |reason: &str| SettingsError::BadConvexUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.host_str().is_none() {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    Ok(Some(ConvexSettings {
        url: url.trim_end_matches('/').to_string(),
        deploy_key: key.to_string(),
    }))
}

fn parse_base_url(raw: &str) -> Result<reqwest::Url, SettingsError> {
    let bad = |reason: &str| SettingsError::BadBaseUrl {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url =
        reqwest::Url::parse(raw.trim().trim_end_matches('/')).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    Ok(url)
}

/// The default `--replica-id`: the host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`),
/// else `ari`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ari".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["ari"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).serve
    }

    #[test]
    fn refuses_to_start_without_a_secret() {
        let err = args(&[]).validate().unwrap_err();
        assert!(matches!(err, SettingsError::MissingSecret), "{err}");
        assert!(err.to_string().contains("ARI_WEBHOOK_SECRET"));
    }

    #[test]
    fn insecure_flag_allows_no_secret() {
        let s = args(&["--insecure-no-signature"]).validate().unwrap();
        assert!(matches!(s.signature, SignaturePolicy::Insecure));
    }

    /// The CRM URL and secret never show in the settings' `Debug` (issue 21).
    #[test]
    fn the_crm_secret_is_not_printed() {
        let s = args(&[
            "--webhook-secret",
            "s",
            "--crm-webhook-url",
            "https://u:p@crm.example/hook?token=t0k",
            "--crm-webhook-secret",
            "crm-s3cret",
        ])
        .validate()
        .unwrap();
        let printed = format!("{s:?}");
        assert!(s.crm_webhook.is_some());
        for secret in ["crm-s3cret", "t0k", "u:p"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }

    /// Issue 20: the dead-letter caps are service settings, 8 attempts and a day by default.
    #[test]
    fn outbox_caps_default_and_refuse_zero() {
        let s = args(&["--webhook-secret", "s"]).validate().unwrap();
        assert_eq!(s.outbox_limits.max_attempts, 8);
        assert_eq!(s.outbox_limits.max_age_ms, 1_440 * 60_000);
        let s = args(&[
            "--webhook-secret",
            "s",
            "--outbox-max-attempts",
            "2",
            "--outbox-max-age-minutes",
            "5",
        ])
        .validate()
        .unwrap();
        assert_eq!(s.outbox_limits.max_attempts, 2);
        assert_eq!(s.outbox_limits.max_age_ms, 300_000);
        let err = args(&["--webhook-secret", "s", "--outbox-max-attempts", "0"])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("ARI_OUTBOX_MAX_ATTEMPTS"), "{err}");
    }

    /// Issue 14: the voice-note grace applies only when a Meta-format webhook is configured.
    #[test]
    fn the_voice_grace_needs_a_meta_webhook() {
        let s = args(&["--webhook-secret", "s"]).validate().unwrap();
        assert_eq!(s.voice_grace, None);
        let s = args(&["--webhook-secret", "s", "--meta-webhook"])
            .validate()
            .unwrap();
        assert_eq!(s.voice_grace, Some(std::time::Duration::from_secs(5)));
        let s = args(&[
            "--webhook-secret",
            "s",
            "--meta-webhook",
            "--voice-grace-ms",
            "2500",
        ])
        .validate()
        .unwrap();
        assert_eq!(s.voice_grace, Some(std::time::Duration::from_millis(2_500)));
    }

    #[test]
    fn base_url_is_validated() {
        for bad in ["ftp://x", "not a url", "https://x/?q=1"] {
            let err = args(&["--webhook-secret", "s", "--kapso-base-url", bad])
                .validate()
                .unwrap_err();
            assert!(
                matches!(err, SettingsError::BadBaseUrl { .. }),
                "{bad}: {err}"
            );
        }
        let ok = args(&[
            "--webhook-secret",
            "s",
            "--kapso-base-url",
            "http://127.0.0.1:9/",
        ])
        .validate()
        .unwrap();
        assert_eq!(ok.kapso.base_url.as_str(), "http://127.0.0.1:9/");
    }

    #[test]
    fn convex_needs_both_url_and_key() {
        let s = args(&["--webhook-secret", "s"]).validate().unwrap();
        assert!(s.convex.is_none(), "SQLite by default");
        let err = args(&[
            "--webhook-secret",
            "s",
            "--convex-url",
            "https://a.convex.cloud",
        ])
        .validate()
        .unwrap_err();
        assert!(matches!(err, SettingsError::HalfConvex { .. }), "{err}");
        assert!(
            err.to_string().contains("ARI_CONVEX_DEPLOY_KEY is not"),
            "{err}"
        );
        let err = args(&["--webhook-secret", "s", "--convex-deploy-key", "prod:abc"])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("ARI_CONVEX_URL is not"), "{err}");
        // Blank values are unset: both blank is SQLite.
        let s = args(&[
            "--webhook-secret",
            "s",
            "--convex-url",
            " ",
            "--convex-deploy-key",
            "",
        ])
        .validate()
        .unwrap();
        assert!(s.convex.is_none());
    }

    #[test]
    fn convex_url_is_validated_and_the_key_never_printed() {
        for bad in ["ftp://x", "not a url", "https://x/?q=1"] {
            let err = args(&[
                "--webhook-secret",
                "s",
                "--convex-url",
                bad,
                "--convex-deploy-key",
                "k",
            ])
            .validate()
            .unwrap_err();
            assert!(
                matches!(err, SettingsError::BadConvexUrl { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("ARI_CONVEX_URL"), "{err}");
        }
        let s = args(&[
            "--webhook-secret",
            "s",
            "--convex-url",
            "https://happy-animal-123.convex.cloud/",
            "--convex-deploy-key",
            "prod:very-secret",
        ])
        .validate()
        .unwrap();
        let c = s.convex.as_ref().unwrap();
        assert_eq!(c.url, "https://happy-animal-123.convex.cloud");
        assert_eq!(c.deploy_key(), "prod:very-secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn api_key_is_never_printed() {
        let s = args(&["--webhook-secret", "s", "--kapso-api-key", "sk-very-secret"])
            .validate()
            .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(!shown.contains("\"s\""), "{shown}");
    }
}
