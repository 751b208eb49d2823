//! Inbound media through Kapso's media API, for voice-note transcription (issue 15 item 5).
//!
//! Two requests (docs.kapso.ai, "Get media URL" and "Download media file"):
//! 1. `GET {base}/meta/whatsapp/v24.0/{media_id}?phone_number_id={id}` with `X-API-Key`
//!    answers `{"url": "...", "download_url"?: "...", "mime_type": "...", "file_size": "303833"}`
//!    (the size is a string; the URLs expire after about 5 minutes);
//! 2. `GET` of `download_url` (a signed Kapso link) or else `url`. The API key goes only to the
//!    Kapso host, never to a CDN.
//!
//! A message whose payload already carries a media URL (Kapso's `media_url`) skips step 1. The
//! size limit is checked on the announced size and again while reading, so a file that lies
//! about its size is cut off at the limit, never read whole.

use reqwest::Url;
use serde::Deserialize;

use super::{API_KEY_HEADER, GRAPH_API_VERSION, KapsoClient};

/// Why a media file could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is bigger than the configured limit (bytes).
    #[error("media file of {bytes} bytes exceeds the {max} byte limit")]
    TooLarge {
        /// Its size as announced, or what was read when the limit was crossed.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// Kapso or the CDN answered an error status.
    #[error("media request answered HTTP {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// Connection failure, timeout or an unreadable answer (the URL is left out: it may carry
    /// a token).
    #[error("media request failed: {0}")]
    Transport(String),
    /// No media id or URL to fetch, or an unusable one.
    #[error("media unavailable: {0}")]
    Invalid(String),
}

/// The answer of "Get media URL".
#[derive(Debug, Deserialize)]
struct MediaUrl {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    download_url: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    /// Bytes, as a string (or a number, tolerated).
    #[serde(default)]
    file_size: Option<serde_json::Value>,
}

/// A fetched file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    /// The file's bytes (at most the limit).
    pub bytes: Vec<u8>,
    /// The MIME type Kapso or the CDN gave, if any.
    pub mime_type: Option<String>,
}

impl KapsoClient {
    /// Fetches an inbound media file: by `media_id` through Kapso's media API, or from `url`
    /// when the payload carried one. At most `max_bytes` are read. One attempt per request,
    /// each within [`super::RetryPolicy::attempt_timeout`]; the caller bounds the whole fetch
    /// by the turn's deadline.
    ///
    /// # Errors
    /// [`MediaError::TooLarge`] over `max_bytes`, [`MediaError::Status`] for a non-2xx answer,
    /// [`MediaError::Transport`] for connection and body failures, [`MediaError::Invalid`]
    /// when there is nothing to fetch.
    pub async fn fetch_media(
        &self,
        media_id: Option<&str>,
        url: Option<&str>,
        phone_number_id: &str,
        max_bytes: u64,
    ) -> Result<FetchedMedia, MediaError> {
        let (link, mime_type) = match (media_id.filter(|s| !s.is_empty()), url) {
            (Some(id), _) => self.media_link(id, phone_number_id, max_bytes).await?,
            (None, Some(u)) => (parse(u)?, None),
            (None, None) => return Err(MediaError::Invalid("no media id or URL".into())),
        };
        let (bytes, served_type) = self.download(link, max_bytes).await?;
        Ok(FetchedMedia {
            bytes,
            mime_type: mime_type.or(served_type),
        })
    }

    /// Step 1: the download link and MIME type of `media_id`.
    async fn media_link(
        &self,
        media_id: &str,
        phone_number_id: &str,
        max_bytes: u64,
    ) -> Result<(Url, Option<String>), MediaError> {
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| MediaError::Invalid("Kapso base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(["meta", "whatsapp", GRAPH_API_VERSION, media_id]);
        if !phone_number_id.is_empty() {
            url.query_pairs_mut()
                .append_pair("phone_number_id", phone_number_id);
        }
        let resp = self
            .inner
            .http
            .get(url)
            .timeout(self.inner.policy.attempt_timeout)
            .header(API_KEY_HEADER, self.inner.api_key.clone())
            .send()
            .await
            .map_err(transport)?;
        if !resp.status().is_success() {
            return Err(MediaError::Status {
                status: resp.status().as_u16(),
            });
        }
        let answer: MediaUrl = resp.json().await.map_err(transport)?;
        if let Some(size) = announced_size(answer.file_size.as_ref())
            && size > max_bytes
        {
            return Err(MediaError::TooLarge {
                bytes: size,
                max: max_bytes,
            });
        }
        let link = answer
            .download_url
            .or(answer.url)
            .ok_or_else(|| MediaError::Invalid("no url in Kapso's media answer".into()))?;
        Ok((parse(&link)?, answer.mime_type))
    }

    /// Step 2: the file's bytes (at most `max_bytes`) and the served content type.
    async fn download(
        &self,
        link: Url,
        max_bytes: u64,
    ) -> Result<(Vec<u8>, Option<String>), MediaError> {
        let mut req = self
            .inner
            .http
            .get(link.clone())
            .timeout(self.inner.policy.attempt_timeout);
        if link.host_str() == self.inner.base_url.host_str() {
            req = req.header(API_KEY_HEADER, self.inner.api_key.clone());
        }
        let mut resp = req.send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(MediaError::Status {
                status: resp.status().as_u16(),
            });
        }
        let served_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max_bytes {
                return Err(MediaError::TooLarge {
                    bytes: bytes.len() as u64,
                    max: max_bytes,
                });
            }
        }
        Ok((bytes, served_type))
    }
}

/// `file_size` as Kapso sends it (a string of digits) or as a number.
fn announced_size(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        other => other.as_u64(),
    }
}

fn parse(link: &str) -> Result<Url, MediaError> {
    match Url::parse(link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(MediaError::Invalid("the media URL is not http(s)".into())),
    }
}

/// A reqwest error without its URL (a download link carries a token).
fn transport(e: reqwest::Error) -> MediaError {
    MediaError::Transport(e.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_announced_size_is_a_string_or_a_number() {
        assert_eq!(announced_size(Some(&json!("303833"))), Some(303_833));
        assert_eq!(announced_size(Some(&json!(12))), Some(12));
        assert_eq!(announced_size(Some(&json!("big"))), None);
        assert_eq!(announced_size(None), None);
    }

    #[test]
    fn only_http_links_are_fetched() {
        assert!(parse("https://lookaside.fbsbx.com/x?mid=1").is_ok());
        assert!(parse("file:///etc/passwd").is_err());
        assert!(parse("not a url").is_err());
    }
}
