//! What the three HTTP providers share: the agent, sending a JSON POST, turning transport
//! failures and HTTP error statuses into [`ProviderError`]s, and reading a streamed body
//! incrementally through a format-specific [`Decoder`].

use std::io::Read;

use super::types::{
    CancelToken, ProviderConfig, ProviderError, ProviderErrorKind, RequestBody, StreamEvent,
};

/// The message of the `Protocol` error reported when a stream stops before its terminal event.
pub(crate) const INCOMPLETE: &str = "stream ended before the reply was complete";

/// The most of an error body read to find the server's message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// The most of a non-streamed reply read.
const FULL_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// Picks the server's error message out of a JSON error body.
pub(crate) type ErrorExtractor = fn(&serde_json::Value) -> Option<String>;

/// What a decoder wants after a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep reading.
    Continue,
    /// The terminal event arrived (and `Done` was emitted).
    Done,
    /// The caller is gone (`emit` returned false): stop quietly.
    Stop,
}

/// Turns the bytes of one streamed wire format into [`StreamEvent`]s.
pub(crate) trait Decoder {
    /// Handles the next bytes.
    fn feed(
        &mut self,
        bytes: &[u8],
        emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<Flow, ProviderError>;

    /// The body ended: handles anything left over. Returning `Continue` here means the terminal
    /// event never came.
    fn finish(&mut self, emit: &mut dyn FnMut(StreamEvent) -> bool) -> Result<Flow, ProviderError>;
}

/// Drives `decoder` over a fixed list of chunks and collects events (for tests, fuzzing, and
/// bodies that are already in memory), ending the way [`drive`] ends a live body.
pub(crate) fn decode_chunks(
    decoder: &mut dyn Decoder,
    chunks: &[&[u8]],
) -> (Vec<StreamEvent>, Result<(), ProviderError>) {
    let mut events = Vec::new();
    let mut emit = |ev: StreamEvent| {
        events.push(ev);
        true
    };
    let res = (|| {
        for c in chunks {
            match decoder.feed(c, &mut emit)? {
                Flow::Continue => {}
                Flow::Done | Flow::Stop => return Ok(()),
            }
        }
        match decoder.finish(&mut emit)? {
            Flow::Continue => Err(ProviderError::new(ProviderErrorKind::Protocol, INCOMPLETE)),
            Flow::Done | Flow::Stop => Ok(()),
        }
    })();
    (events, res)
}

/// Builds the agent: status codes are not errors (so error bodies can be read), connect timeout
/// from the config, no overall timeout (the caller enforces idle and overall limits), no
/// redirects (a redirected POST is reported, so the user can fix `provider.base_url`).
fn agent(cfg: &ProviderConfig) -> ureq::Agent {
    let connect = (!cfg.connect_timeout.is_zero()).then_some(cfg.connect_timeout);
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(connect)
        .timeout_resolve(connect)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("panechat/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Sends `body` as JSON to `url` and returns the response body when the status is 2xx.
///
/// Failures: transport problems become `Connect` (naming the URL and what to check); statuses
/// of 300 and above become `Http(status)` with the server's message (via `extract`) or a short
/// snippet of the body; 401/403 also name the API key variable.
pub(crate) fn post_json(
    cfg: &ProviderConfig,
    url: &str,
    headers: &[(&str, &str)],
    body: RequestBody,
    extract: ErrorExtractor,
) -> Result<ureq::Body, ProviderError> {
    // The length is known up front, so the history streams from its file with a plain
    // Content-Length (no chunked upload, which some servers refuse).
    let mut req = agent(cfg)
        .post(url)
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .send(ureq::SendBody::from_owned_reader(body.into_reader()))
        .map_err(|e| connect_error(url, e))?;
    let status = resp.status().as_u16();
    if status < 300 {
        return Ok(resp.into_body());
    }
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut raw = Vec::new();
    // Best effort: a broken error body still gives an error with the status.
    let _ = resp
        .into_body()
        .into_reader()
        .take(ERROR_BODY_LIMIT)
        .read_to_end(&mut raw);
    Err(status_error(
        cfg,
        url,
        status,
        &raw,
        location.as_deref(),
        extract,
    ))
}

/// Builds the error for an HTTP error status.
pub(crate) fn status_error(
    cfg: &ProviderConfig,
    url: &str,
    status: u16,
    body: &[u8],
    location: Option<&str>,
    extract: ErrorExtractor,
) -> ProviderError {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| extract(&v))
        .map(|m| clean(&m, 1000))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let snippet = clean(&String::from_utf8_lossy(body), 200);
            if snippet.is_empty() {
                "(empty body)".to_owned()
            } else {
                snippet
            }
        });
    let mut message = format!("{url} answered HTTP {status}: {detail}");
    let hint = match status {
        300..=399 => Some(match location {
            Some(loc) => format!(
                "It redirects to {}; point provider.base_url at the final address.",
                clean(loc, 200)
            ),
            None => "Point provider.base_url at the final address.".to_owned(),
        }),
        401 | 403 => Some(format!(
            "Check the API key in the environment variable {} (named by provider.api_key_env).",
            cfg.api_key_env
        )),
        404 => Some("Check provider.base_url and the model name.".to_owned()),
        _ => None,
    };
    if let Some(hint) = hint {
        if !message.ends_with(['.', '!', '?']) {
            message.push('.');
        }
        message.push(' ');
        message.push_str(&hint);
    }
    ProviderError::new(ProviderErrorKind::Http(status), message)
}

/// Maps a ureq failure before the response headers to a `Connect` error.
fn connect_error(url: &str, e: ureq::Error) -> ProviderError {
    let what = match &e {
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::BadUri(u) => format!("invalid URL {u}"),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    ProviderError::new(
        ProviderErrorKind::Connect,
        format!(
            "could not connect to {url}: {what}; check provider.base_url and that the server is running"
        ),
    )
}

/// Reads a streamed body chunk by chunk, as the bytes arrive, until the decoder sees the terminal
/// event, `emit` returns false, or `cancel` is set. A body that ends (or breaks) before the
/// terminal event is a `Protocol` error ([`INCOMPLETE`]).
pub(crate) fn drive(
    body: ureq::Body,
    cancel: &CancelToken,
    decoder: &mut dyn Decoder,
    emit: &mut dyn FnMut(StreamEvent) -> bool,
) -> Result<(), ProviderError> {
    let mut reader = body.into_reader();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                return Err(ProviderError::new(
                    ProviderErrorKind::Protocol,
                    format!("{INCOMPLETE} (connection error: {e})"),
                ));
            }
        };
        if cancel.is_cancelled() {
            return Ok(());
        }
        let flow = if n == 0 {
            match decoder.finish(emit)? {
                Flow::Continue => {
                    return Err(ProviderError::new(ProviderErrorKind::Protocol, INCOMPLETE))
                }
                f => f,
            }
        } else {
            decoder.feed(&buf[..n], emit)?
        };
        match flow {
            Flow::Continue => {}
            Flow::Done | Flow::Stop => return Ok(()),
        }
    }
}

/// Reads a whole (non-streamed) body.
pub(crate) fn read_all(body: ureq::Body) -> Result<Vec<u8>, ProviderError> {
    let mut out = Vec::new();
    body.into_reader()
        .take(FULL_BODY_LIMIT)
        .read_to_end(&mut out)
        .map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Protocol,
                format!("{INCOMPLETE} (connection error: {e})"),
            )
        })?;
    Ok(out)
}

/// Parses a JSON document from the wire, as a `Protocol` error when it is not JSON.
pub(crate) fn parse_json(bytes: &[u8], what: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::Protocol,
            format!(
                "the server sent {what} that is not valid JSON ({e}): {}",
                clean(&String::from_utf8_lossy(bytes), 200)
            ),
        )
    })
}

/// A server-supplied message made safe to print: control characters become spaces, runs of
/// whitespace collapse, and it is cut to `max` characters.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        if count == max {
            out.push('…');
            return out.trim_end().to_owned();
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_owned()
}

/// `error.message` (OpenAI, Anthropic), or `error` when it is a plain string (Ollama and some
/// OpenAI-compatible servers), or a top-level `message`.
pub(crate) fn error_message(v: &serde_json::Value) -> Option<String> {
    let e = v.get("error");
    if let Some(m) = e.and_then(|e| e.get("message")).and_then(|m| m.as_str()) {
        return Some(m.to_owned());
    }
    if let Some(m) = e.and_then(|e| e.as_str()) {
        return Some(m.to_owned());
    }
    if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
        return Some(m.to_owned());
    }
    None
}

/// Whether an API key was given (an empty variable counts as unset).
pub(crate) fn key(cfg: &ProviderConfig) -> Option<&str> {
    cfg.api_key.as_deref().filter(|k| !k.trim().is_empty())
}

/// The error for a missing API key.
pub(crate) fn missing_key(cfg: &ProviderConfig, service: &str) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::MissingKey,
        format!(
            "no API key for {service}: set the environment variable {} (or name another one with provider.api_key_env)",
            cfg.api_key_env
        ),
    )
}

/// The text of a JSON field when it is a string.
pub(crate) fn str_at<'a>(v: &'a serde_json::Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(|x| x.as_str())
}

/// A JSON field as a token count.
pub(crate) fn u64_at(v: &serde_json::Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(|x| x.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_controls_and_cuts() {
        assert_eq!(clean("a\x1b]2;x\x07b\n\n c", 100), "a ]2;x b c");
        assert_eq!(clean("\u{9b}31m", 100), " 31m".trim_start());
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("  ", 3), "");
    }

    #[test]
    fn error_messages() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"error":{"message":"bad key","type":"x"}}"#).unwrap();
        assert_eq!(error_message(&v).as_deref(), Some("bad key"));
        let v: serde_json::Value = serde_json::from_str(r#"{"error":"no model"}"#).unwrap();
        assert_eq!(error_message(&v).as_deref(), Some("no model"));
        let v: serde_json::Value = serde_json::from_str(r#"{"x":1}"#).unwrap();
        assert_eq!(error_message(&v), None);
    }
}
