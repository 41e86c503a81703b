//! Where every command's output goes: text with its controls removed, raw bytes, JSON, and
//! message lines on stderr.

use std::io::Write;
use std::path::PathBuf;

use panechat::{Error, Result};

/// Writes one message line to stderr, with every control character but tab removed
/// ([`panechat::title::strip_terminal_controls`]): messages can quote a title, a reply or a
/// server's words, and must not move the cursor, retitle or recolour the terminal.
pub fn err_line(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", panechat::title::strip_terminal_controls(msg));
}

/// Writes human-readable text to stdout: the one place every command's text output goes
/// through. Every control character but newline and tab is removed
/// ([`panechat::title::strip_terminal_controls`]), whether stdout is a terminal, a pipe or a
/// file: `panechat show | less -R` must not run a model's escape sequences either. `show --raw`
/// and the JSON forms are the ways to get text as stored.
pub fn out(text: &str) -> Result<()> {
    out_raw(&panechat::title::strip_terminal_controls(text))
}

/// A piece of human-readable output ([`out_spans`]).
pub enum Span {
    /// Text, shown as it is (controls removed).
    Text(String),
    /// Text shown in green on a terminal that takes colours.
    Green(String),
}

/// Writes [`Span`]s to stdout: each span's text is made safe as [`out`] does, then panechat's
/// own colour is put around the green ones when `color` is set. No text can bring its own.
pub fn out_spans(spans: &[Span], color: bool) -> Result<()> {
    let mut text = String::new();
    for s in spans {
        match s {
            Span::Text(t) => text.push_str(&panechat::title::strip_terminal_controls(t)),
            Span::Green(t) if color => {
                text.push_str("\x1b[32m");
                text.push_str(&panechat::title::strip_terminal_controls(t));
                text.push_str("\x1b[0m");
            }
            Span::Green(t) => text.push_str(&panechat::title::strip_terminal_controls(t)),
        }
    }
    out_raw(&text)
}

/// Writes `text` to stdout as it is (`show --raw`, JSON already escaped), treating a closed
/// pipe as success.
pub fn out_raw(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::io(PathBuf::from("<stdout>"), e)),
    }
}

/// `v` as JSON text (indented when `pretty`) that carries no raw control character: serde_json
/// escapes C0 controls, and DEL and the C1 controls (U+0080 to U+009F, which terminals read as
/// CSI, OSC, ST…) are escaped here as `\u00XX`. They can only occur inside strings, so the JSON
/// means the same.
pub fn json_text<T: serde::Serialize>(v: &T, pretty: bool) -> String {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .expect("json serialises");
    if !s.chars().any(panechat::title::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if panechat::title::is_control(c) && c != '\n' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Serialises JSON to stdout with a trailing newline ([`json_text`]: no raw controls).
pub fn out_json<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut s = json_text(v, true);
    s.push('\n');
    out_raw(&s)
}

/// The cause of `e` still to be said: none when its message says it already.
fn cause(e: &Error) -> Option<&(dyn std::error::Error + 'static)> {
    if e.says_its_cause() {
        None
    } else {
        std::error::Error::source(e)
    }
}

/// Prints `panechat: <error>`, its causes, and a hint; returns the exit code. Like every
/// message on stderr, it goes through [`err_line`]: an error may quote text from a model or a
/// server.
pub fn report(e: &Error) -> i32 {
    let top = e.to_string();
    err_line(&format!("panechat: {top}"));
    // Causes that the message already says (wrappers that display their source) are not
    // repeated.
    let mut said = vec![top];
    let mut source = cause(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !said.iter().any(|m| m.contains(&text)) {
            err_line(&format!("  caused by: {text}"));
            said.push(text);
        }
        source = match s.downcast_ref::<Error>() {
            Some(inner) => cause(inner),
            None => s.source(),
        };
    }
    if let Some(h) = e.hint() {
        err_line(&format!("hint: {h}"));
    }
    e.exit_code()
}
