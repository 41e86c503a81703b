//! Masking secrets in attached text ([`redact`]).
//!
//! The shapes are those that secret scanners (gitleaks, trufflehog, detect-secrets) look for,
//! written here as small hand-made matchers rather than regular expressions, in one pass per
//! kind over the text:
//!
//! - **private keys**: PEM `-----BEGIN … PRIVATE KEY-----` blocks;
//! - **headers**: the value of `Authorization`, `Proxy-Authorization`, `X-Api-Key`, `Api-Key`,
//!   `X-Auth-Token`, `Private-Token` (GitLab), `Cookie`, `Set-Cookie` and a few more, written as
//!   HTTP (`Authorization: Bearer …`) or as JSON or a dict (`"Authorization": "Bearer …"`);
//! - **keys by their prefix**: OpenAI, Anthropic, GitHub, GitLab, Slack, Google, Stripe, npm,
//!   Hugging Face, PyPI, Docker Hub, DigitalOcean, Shopify, SendGrid, Vault, Databricks,
//!   Linear, Postman, Grafana, Atlassian, Twilio, age, AWS key ids, Slack and Discord webhooks,
//!   JSON Web Tokens, Azure storage keys;
//! - **passwords in URLs**: `scheme://user:password@host`;
//! - **assignments**: the value of `aws_secret_access_key = …` (and `SecretAccessKey`), AWS
//!   session tokens, and of keys named like a password, secret, API key or token
//!   (`DB_PASSWORD=…`, `"client_secret": "…"`), when the value looks like one.
//!
//! A key is found where it starts a word, or after a JSON escape such as `\n`; inside a word
//! (`MY_KEY_sk-proj-…`) only when what follows its prefix looks random (digits and letters of
//! both cases). Ordinary build output stays as it is: hashes, UUIDs, digests and base64 carry
//! no prefix, and a keyword needs a value of the right form next to it (the tests hold this on
//! a corpus of compiler, test runner, package manager, git and docker output).

/// Masks strings that look like secrets; returns the text and how many were masked.
pub fn redact(text: &str) -> (String, usize) {
    let mut count = 0;
    let text = redact_pem(text, &mut count);
    let mut hits = Vec::new();
    header_hits(&text, &mut hits);
    prefix_hits(&text, &mut hits);
    url_password_hits(&text, &mut hits);
    assignment_hits(&text, &mut hits);
    (apply(&text, hits, &mut count), count)
}

/// A part of the text to mask: `start..end`, and what it is.
struct Hit {
    start: usize,
    end: usize,
    what: &'static str,
}

/// Replaces each hit by `[REDACTED what]`; of overlapping hits, the one that starts first (the
/// longest, at the same start) wins.
fn apply(text: &str, mut hits: Vec<Hit>, count: &mut usize) -> String {
    hits.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for h in hits {
        if h.start < copied || h.end <= h.start {
            continue;
        }
        out.push_str(&text[copied..h.start]);
        out.push_str("[REDACTED ");
        out.push_str(h.what);
        out.push(']');
        *count += 1;
        copied = h.end;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Whether a word may start at `i`: at the start, after a character that is not part of a
/// token, or after a JSON escape (`\n`, `\t`, `\r`, `\"`) in text that holds escaped JSON.
fn starts_word(b: &[u8], i: usize) -> bool {
    i == 0
        || !is_token_char(b[i - 1])
        || (i >= 2 && b[i - 2] == b'\\' && matches!(b[i - 1], b'n' | b't' | b'r' | b'"'))
}

/// Whether `s` looks random enough to be a key found inside a word: a digit and letters of
/// both cases.
fn looks_random(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_digit)
        && s.iter().any(u8::is_ascii_lowercase)
        && s.iter().any(u8::is_ascii_uppercase)
}

/// Whether a value is a placeholder or already masked rather than a secret.
fn is_placeholder(v: &[u8]) -> bool {
    let lower = v.to_ascii_lowercase();
    let has = |n: &[u8]| lower.windows(n.len()).any(|w| w == n);
    matches!(
        v.first(),
        Some(b'$' | b'<' | b'{' | b'%' | b'*' | b'[' | b'(')
    ) || has(b"redacted")
        || has(b"xxxx")
        || has(b"****")
        || has(b"example")
        || has(b"placeholder")
        || has(b"changeme")
        || has(b"your_")
        || has(b"your-")
}

// ---------------------------------------------------------------------------------------------
// Private keys

fn redact_pem(text: &str, count: &mut usize) -> String {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(BEGIN) {
        let after = &rest[i + BEGIN.len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        if !label.ends_with("PRIVATE KEY") || label.contains('\n') {
            out.push_str(&rest[..i + BEGIN.len()]);
            rest = after;
            continue;
        }
        let end_line = format!("-----END {label}-----");
        let body_start = i + BEGIN.len() + label_end + 5;
        out.push_str(&rest[..body_start]);
        if rest[body_start..].starts_with("\n[REDACTED private key]\n") {
            rest = &rest[body_start..];
            continue;
        }
        out.push_str("\n[REDACTED private key]\n");
        *count += 1;
        match rest[body_start..].find(&end_line) {
            Some(j) => rest = &rest[body_start + j..],
            None => {
                // No end line (cut off): mask everything after the header.
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Headers

/// Header names (lower case) whose value is a credential.
const HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
    "private-token",
    "job-token",
    "x-goog-api-key",
    "x-vault-token",
    "x-amz-security-token",
    "ocp-apim-subscription-key",
    "cookie",
    "set-cookie",
];

/// At `i`, an optional quote, escaped (`\"`) or not: returns the position after it and the
/// quote (`0` for none) and whether it was escaped.
fn quote_at(b: &[u8], i: usize) -> (usize, u8, bool) {
    if i + 1 < b.len() && b[i] == b'\\' && matches!(b[i + 1], b'"' | b'\'') {
        (i + 2, b[i + 1], true)
    } else if i < b.len() && matches!(b[i], b'"' | b'\'') {
        (i + 1, b[i], false)
    } else {
        (i, 0, false)
    }
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The end of a value that starts at `v`: the closing quote (escaped or not), else the end of
/// the line, looking at most `max` bytes ahead.
fn value_end(b: &[u8], v: usize, quote: u8, escaped: bool, max: usize) -> usize {
    (v..b.len().min(v.saturating_add(max)))
        .find(|&i| {
            matches!(b[i], b'\n' | b'\r')
                || (quote != 0 && b[i] == quote)
                || (quote == 0 && matches!(b[i], b'"' | b'\''))
                || (escaped && b[i] == b'\\')
        })
        .unwrap_or_else(|| {
            // Cut at a character boundary.
            let mut e = b.len().min(v.saturating_add(max));
            while e < b.len() && e > v && b[e] & 0xC0 == 0x80 {
                e -= 1;
            }
            e
        })
}

fn header_hits(text: &str, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    for &h in HEADERS {
        let mut from = 0;
        while let Some(p) = lower[from..].find(h) {
            let at = from + p;
            from = at + h.len();
            if !starts_word(b, at) || (from < b.len() && is_token_char(b[from])) {
                continue;
            }
            // `Name: value`, `"Name": "value"`, `'Name': 'value'`, `\"Name\": \"value\"`.
            let (mut i, _, _) = quote_at(b, from);
            i = skip_blanks(b, i);
            if i >= b.len() || b[i] != b':' {
                continue;
            }
            i = skip_blanks(b, i + 1);
            let (mut v, quote, escaped) = quote_at(b, i);
            // An optional scheme word (`Bearer`, `Basic`, `token`) stays visible.
            let word_end = (v..b.len())
                .find(|&k| !b[k].is_ascii_alphabetic())
                .unwrap_or(b.len());
            if word_end > v && word_end < b.len() && b[word_end] == b' ' {
                let after = word_end + 1;
                if after < b.len() && !matches!(b[after], b'\n' | b'\'' | b'"' | b' ' | b'\\') {
                    v = after;
                }
            }
            let end = value_end(b, v, quote, escaped, MAX_HEADER_VALUE);
            let value = text[v..end].trim_end().as_bytes();
            // A header inside this value is part of it.
            from = from.max(end);
            let cookie = h.ends_with("cookie");
            // A value is one word (prose such as "Authorization: required for …" is not), a
            // cookie has `name=value`.
            if value.len() < 4
                || value.iter().any(|c| c.is_ascii_whitespace()) && !cookie
                || (cookie && !value.contains(&b'='))
                || value.starts_with(b"[REDACTED")
            {
                continue;
            }
            hits.push(Hit {
                start: v,
                end: v + value.len(),
                what: "credential",
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys known by their prefix

/// What may follow a prefix.
#[derive(Clone, Copy, PartialEq)]
enum Body {
    /// Letters, digits, `_` and `-`.
    Token,
    /// Letters, digits, `_`, `-` and `.`.
    TokenDot,
    /// Letters and digits.
    Alnum,
    /// Upper-case letters and digits.
    Upper,
    /// Hexadecimal digits.
    Hex,
    /// Standard base64 (`+`, `/`, `=`).
    Base64,
    /// A URL path: letters, digits, `_`, `-` and `/`.
    Path,
}

impl Body {
    fn takes(self, c: u8) -> bool {
        match self {
            Body::Token => is_token_char(c),
            Body::TokenDot => is_token_char(c) || c == b'.',
            Body::Alnum => c.is_ascii_alphanumeric(),
            Body::Upper => c.is_ascii_uppercase() || c.is_ascii_digit(),
            Body::Hex => c.is_ascii_hexdigit(),
            Body::Base64 => c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='),
            Body::Path => is_token_char(c) || c == b'/',
        }
    }
}

/// The longest key body looked at: keys are shorter, and a bound keeps a text made of
/// repeated prefixes linear.
const MAX_KEY: usize = 512;

/// The longest header value looked at (a cookie may be long), and the longest AWS session
/// token.
const MAX_HEADER_VALUE: usize = 8192;

/// The longest assigned value looked at.
const MAX_VALUE: usize = 256;

/// A key shape: its prefix, what it is, what follows and how much of it (`max` 0: no limit).
struct Shape {
    prefix: &'static str,
    what: &'static str,
    body: Body,
    min: usize,
    max: usize,
}

const fn shape(prefix: &'static str, what: &'static str, body: Body, min: usize) -> Shape {
    Shape {
        prefix,
        what,
        body,
        min,
        max: 0,
    }
}

const fn exact(prefix: &'static str, what: &'static str, body: Body, len: usize) -> Shape {
    Shape {
        prefix,
        what,
        body,
        min: len,
        max: len,
    }
}

/// Key shapes, longer prefixes before the shorter ones they start with (the first prefix that
/// matches decides).
const SHAPES: &[Shape] = &[
    shape("sk-ant-", "Anthropic key", Body::Token, 20),
    shape("sk-proj-", "OpenAI key", Body::Token, 20),
    shape("sk-svcacct-", "OpenAI key", Body::Token, 20),
    shape("sk-admin-", "OpenAI key", Body::Token, 20),
    shape("sk-", "OpenAI key", Body::Alnum, 20),
    shape("sk_live_", "Stripe key", Body::Alnum, 20),
    shape("sk_test_", "Stripe key", Body::Alnum, 20),
    shape("rk_live_", "Stripe key", Body::Alnum, 20),
    shape("rk_test_", "Stripe key", Body::Alnum, 20),
    shape("whsec_", "Stripe webhook secret", Body::Alnum, 24),
    shape("github_pat_", "GitHub token", Body::Token, 20),
    shape("ghp_", "GitHub token", Body::Alnum, 30),
    shape("gho_", "GitHub token", Body::Alnum, 30),
    shape("ghu_", "GitHub token", Body::Alnum, 30),
    shape("ghs_", "GitHub token", Body::Alnum, 30),
    shape("ghr_", "GitHub token", Body::Alnum, 30),
    shape("glpat-", "GitLab token", Body::Token, 20),
    shape("gldt-", "GitLab token", Body::Token, 20),
    shape("glrt-", "GitLab token", Body::Token, 20),
    shape("glptt-", "GitLab token", Body::Token, 20),
    shape("glcbt-", "GitLab token", Body::Token, 20),
    shape("glimt-", "GitLab token", Body::Token, 20),
    shape("gloas-", "GitLab token", Body::Token, 20),
    shape("glsoat-", "GitLab token", Body::Token, 20),
    shape("glft-", "GitLab token", Body::Token, 20),
    shape("glffct-", "GitLab token", Body::Token, 20),
    shape("glagent-", "GitLab token", Body::Token, 20),
    shape("GR1348941", "GitLab token", Body::Token, 20),
    shape("glsa_", "Grafana token", Body::Token, 32),
    shape("glc_", "Grafana token", Body::Token, 32),
    shape("xoxe.xoxp-", "Slack token", Body::Token, 10),
    shape("xoxb-", "Slack token", Body::Token, 10),
    shape("xoxp-", "Slack token", Body::Token, 10),
    shape("xoxa-", "Slack token", Body::Token, 10),
    shape("xoxs-", "Slack token", Body::Token, 10),
    shape("xoxr-", "Slack token", Body::Token, 10),
    shape("xoxe-", "Slack token", Body::Token, 10),
    shape("xapp-", "Slack token", Body::Token, 10),
    shape("hooks.slack.com/services/", "Slack webhook", Body::Path, 20),
    shape(
        "hooks.slack.com/workflows/",
        "Slack webhook",
        Body::Path,
        20,
    ),
    shape("hooks.slack.com/triggers/", "Slack webhook", Body::Path, 20),
    shape(
        "discord.com/api/webhooks/",
        "Discord webhook",
        Body::Path,
        20,
    ),
    shape(
        "discordapp.com/api/webhooks/",
        "Discord webhook",
        Body::Path,
        20,
    ),
    shape("AIza", "Google API key", Body::Token, 30),
    shape("GOCSPX-", "Google OAuth secret", Body::Token, 24),
    shape("ya29.", "Google OAuth token", Body::Token, 30),
    shape("npm_", "npm token", Body::Alnum, 30),
    shape("hf_", "Hugging Face token", Body::Alnum, 30),
    shape("api_org_", "Hugging Face token", Body::Alnum, 30),
    shape("pypi-AgEI", "PyPI token", Body::Token, 50),
    shape("dckr_pat_", "Docker Hub token", Body::Token, 20),
    exact("dop_v1_", "DigitalOcean token", Body::Hex, 64),
    exact("doo_v1_", "DigitalOcean token", Body::Hex, 64),
    exact("dor_v1_", "DigitalOcean token", Body::Hex, 64),
    exact("shpat_", "Shopify token", Body::Hex, 32),
    exact("shpca_", "Shopify token", Body::Hex, 32),
    exact("shppa_", "Shopify token", Body::Hex, 32),
    exact("shpss_", "Shopify token", Body::Hex, 32),
    shape("SG.", "SendGrid key", Body::TokenDot, 60),
    shape("hvs.", "Vault token", Body::Token, 24),
    shape("hvb.", "Vault token", Body::Token, 24),
    exact("dapi", "Databricks token", Body::Hex, 32),
    exact("lin_api_", "Linear key", Body::Alnum, 40),
    shape("PMAK-", "Postman key", Body::Token, 50),
    shape("ATATT3", "Atlassian token", Body::Token, 50),
    exact("SK", "Twilio key", Body::Hex, 32),
    shape("AGE-SECRET-KEY-1", "age key", Body::Upper, 50),
    exact("AKIA", "AWS key id", Body::Upper, 16),
    exact("ASIA", "AWS key id", Body::Upper, 16),
    exact("ABIA", "AWS key id", Body::Upper, 16),
    exact("ACCA", "AWS key id", Body::Upper, 16),
    shape("AccountKey=", "Azure storage key", Body::Base64, 40),
];

/// For each byte, the shapes whose prefix starts with it, in [`SHAPES`] order; JSON Web Tokens
/// start with `e`. Most positions of a text cost one lookup.
fn shapes_by_first_byte() -> &'static [Vec<&'static Shape>] {
    static TABLE: std::sync::OnceLock<Vec<Vec<&'static Shape>>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: Vec<Vec<&'static Shape>> = vec![Vec::new(); 256];
        for s in SHAPES {
            t[s.prefix.as_bytes()[0] as usize].push(s);
        }
        t
    })
}

fn prefix_hits(text: &str, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let table = shapes_by_first_byte();
    let mut i = 0;
    while i < b.len() {
        let shapes = &table[b[i] as usize];
        if shapes.is_empty() && b[i] != b'e' {
            i += 1;
            continue;
        }
        let found = match match_shape(shapes, b, i) {
            Found::Nothing => match_jwt(b, i).map_or(Found::Nothing, |(e, w)| Found::Key(e, w)),
            other => other,
        };
        match found {
            Found::Key(end, what) => {
                hits.push(Hit {
                    start: i,
                    end,
                    what,
                });
                i = end;
            }
            Found::LongRun(end) => i = end,
            Found::Nothing => i += 1,
        }
    }
}

/// What [`match_shape`] found at a position.
enum Found {
    /// A key ending there.
    Key(usize, &'static str),
    /// Nothing.
    Nothing,
    /// A run of key characters longer than any key, ending there: nothing in it is a key.
    LongRun(usize),
}

fn match_shape(shapes: &[&Shape], b: &[u8], i: usize) -> Found {
    let Some(s) = shapes
        .iter()
        .find(|s| b[i..].starts_with(s.prefix.as_bytes()))
    else {
        return Found::Nothing;
    };
    let start = i + s.prefix.len();
    let limit = if s.max == 0 { MAX_KEY } else { s.max };
    let mut end = start;
    while end < b.len() && s.body.takes(b[end]) && end - start < limit {
        end += 1;
    }
    if s.max == 0 && end - start == limit {
        while end < b.len() && s.body.takes(b[end]) {
            end += 1;
        }
        return Found::LongRun(end);
    }
    let body = &b[start..end];
    let n = body.len();
    // The key ends where its characters do (`AKIA…` followed by more letters is a word).
    let ends = end == b.len() || !b[end].is_ascii_alphanumeric();
    if n < s.min || !ends {
        return Found::Nothing;
    }
    // A bare `sk-` key has a digit (`sk-learn` is not a key); inside a word a key looks random.
    if s.prefix == "sk-" && !body.iter().any(u8::is_ascii_digit) {
        return Found::Nothing;
    }
    // URL shapes start after `https://`; the others start a word, or look random inside one.
    if !s.prefix.contains('/') && !starts_word(b, i) && !looks_random(body) {
        return Found::Nothing;
    }
    Found::Key(end, s.what)
}

/// A JSON Web Token: three base64url parts separated by dots, the first two JSON objects
/// (`eyJ…`), the signature not empty.
fn match_jwt(b: &[u8], i: usize) -> Option<(usize, &'static str)> {
    if !b[i..].starts_with(b"eyJ") || !starts_word(b, i) {
        return None;
    }
    // Base64url, with at most two `=` of padding.
    let part = |from: usize| -> usize {
        let mut j = from;
        while j < b.len() && is_token_char(b[j]) {
            j += 1;
        }
        let mut pad = 0;
        while pad < 2 && j < b.len() && b[j] == b'=' {
            j += 1;
            pad += 1;
        }
        j
    };
    let e1 = part(i);
    if e1 - i < 10 || e1 >= b.len() || b[e1] != b'.' || !b[e1 + 1..].starts_with(b"eyJ") {
        return None;
    }
    let e2 = part(e1 + 1);
    if e2 - e1 < 10 || e2 >= b.len() || b[e2] != b'.' {
        return None;
    }
    let e3 = part(e2 + 1);
    (e3 - e2 > 10).then_some((e3, "JWT"))
}

// ---------------------------------------------------------------------------------------------
// Passwords in URLs

fn url_password_hits(text: &str, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = text[from..].find("://") {
        let at = from + p;
        from = at + 3;
        // A scheme before it: a letter, then letters, digits, `+`, `.`, `-`.
        let scheme = (0..at)
            .rev()
            .take_while(|&k| b[k].is_ascii_alphanumeric() || matches!(b[k], b'+' | b'.' | b'-'))
            .last();
        if !scheme.is_some_and(|s| b[s].is_ascii_alphabetic()) {
            continue;
        }
        let end = (from..b.len())
            .find(|&k| {
                b[k].is_ascii_whitespace()
                    || matches!(
                        b[k],
                        b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\'
                    )
            })
            .unwrap_or(b.len());
        let authority = &b[from..end];
        let Some(atsign) = authority.iter().rposition(|&c| c == b'@') else {
            continue;
        };
        let Some(colon) = authority[..atsign].iter().position(|&c| c == b':') else {
            continue;
        };
        let pw = &authority[colon + 1..atsign];
        if pw.is_empty() || is_placeholder(pw) {
            continue;
        }
        hits.push(Hit {
            start: from + colon + 1,
            end: from + atsign,
            what: "password",
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Assignments

/// What a key name (lower case, without `_`, `-`, `.`) ending like this holds.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "secretkey",
    "apikey",
    "apisecret",
    "accesstoken",
    "authtoken",
    "refreshtoken",
    "privatekey",
    "token",
];

/// The value of `key = value`, `key: value`, `"key": "value"`, `key => value` and the like
/// when the key names a secret.
fn assignment_hits(text: &str, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let mut pos = 0;
    while pos < b.len() {
        let at = pos;
        let c = b[at];
        pos += 1;
        if c != b'=' && c != b':' {
            continue;
        }
        // Comparisons (`==`, `!=`, `<=`, `>=`) and paths (`C:\`, `::`) are not assignments.
        let prev = at.checked_sub(1).map(|k| b[k]);
        let next = b.get(at + 1).copied();
        if matches!(prev, Some(b'=' | b'!' | b'<' | b'>' | b':'))
            || matches!(next, Some(b'=' | b':' | b'/' | b'\\'))
        {
            continue;
        }
        // The key: back over blanks and a closing quote.
        let mut k = at;
        while k > 0 && matches!(b[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        if k > 0 && matches!(b[k - 1], b'"' | b'\'') {
            k -= 1;
            if k > 0 && b[k - 1] == b'\\' {
                k -= 1;
            }
        }
        let key_end = k;
        while k > 0 && key_end - k < 64 && (is_token_char(b[k - 1]) || b[k - 1] == b'.') {
            k -= 1;
        }
        if k == key_end {
            continue;
        }
        let key: Vec<u8> = b[k..key_end]
            .iter()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect();
        #[derive(PartialEq)]
        enum Kind {
            AwsSecret,
            AwsSession,
            Secret,
        }
        let kind = if key.ends_with(b"secretaccesskey") || key.ends_with(b"awssecretkey") {
            Kind::AwsSecret
        } else if key.ends_with(b"sessiontoken") || key.ends_with(b"securitytoken") {
            Kind::AwsSession
        } else if SECRET_KEYS.iter().any(|s| key.ends_with(s.as_bytes())) {
            Kind::Secret
        } else {
            continue;
        };
        // The value: after blanks, `>` of `=>`, and an opening quote.
        let mut v = at + 1;
        if c == b'=' && next == Some(b'>') {
            v += 1;
        }
        v = skip_blanks(b, v);
        let (v, quote, escaped) = quote_at(b, v);
        // AWS session tokens run to a few KiB.
        let max = if kind == Kind::AwsSession {
            MAX_HEADER_VALUE
        } else {
            MAX_VALUE
        };
        let end = if quote != 0 {
            value_end(b, v, quote, escaped, max)
        } else {
            (v..b.len().min(v + max))
                .find(|&j| !(b[j].is_ascii_alphanumeric() || b"_-+/=.~!@$%^*".contains(&b[j])))
                .unwrap_or(b.len().min(v + max))
        };
        let value = &b[v..end];
        let base64 =
            |min: usize| value.len() >= min && value.iter().all(|&c| Body::Base64.takes(c));
        let what = match kind {
            // Exactly 40 characters of base64.
            Kind::AwsSecret => (value.len() == 40 && base64(40)).then_some("AWS secret key"),
            Kind::AwsSession => (base64(100) && value.len() < max).then_some("AWS session token"),
            Kind::Secret => {
                let word = !value.iter().any(u8::is_ascii_whitespace);
                let quoted_ok = quote != 0 && value.len() >= 6;
                // Unquoted, only something that looks generated: letters and digits.
                let bare_ok = quote == 0
                    && value.len() >= 8
                    && value.iter().any(u8::is_ascii_digit)
                    && value.iter().any(u8::is_ascii_alphabetic);
                (word && value.len() < MAX_VALUE && (quoted_ok || bare_ok)).then_some("secret")
            }
        };
        if let Some(what) = what {
            if !is_placeholder(value) {
                hits.push(Hit {
                    start: v,
                    end,
                    what,
                });
            }
        }
        // What follows is this value: a separator inside it starts nothing (and a text of
        // repeated keys is read once).
        pos = pos.max(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_counted() {
        let text = "export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz012345\n\
                    ANTHROPIC=sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA-bbbb\n\
                    token ghp_0123456789abcdefghijABCDEFGHIJ012345 and github_pat_11ABCDEFG0123456789_abcdefghijkl\n\
                    aws AKIAIOSFODNN7EXAMPLE slack xoxb-1234567890-abcdefghij\n\
                    curl -H 'Authorization: Bearer abc.def.ghi' -H \"x-api-key: k123\"\n\
                    -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n\
                    ok: task-force sk-short ghp_short AKIAlower";
        let (out, n) = redact(text);
        for secret in [
            "abcdefghijklmnopqrstuvwxyz012345",
            "api03-AAAA",
            "0123456789abcdefghij",
            "11ABCDEFG",
            "IOSFODNN7",
            "1234567890-abc",
            "abc.def.ghi",
            "b3BlbnNzaC1",
            "k123",
        ] {
            assert!(!out.contains(secret), "{secret} left in:\n{out}");
        }
        assert!(out.contains("[REDACTED OpenAI key]"));
        assert!(out.contains("[REDACTED Anthropic key]"));
        assert!(out.contains("[REDACTED GitHub token]"));
        assert!(out.contains("[REDACTED AWS key id]"));
        assert!(out.contains("[REDACTED Slack token]"));
        assert!(out.contains("Authorization: Bearer [REDACTED credential]"));
        assert!(out.contains("-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED private key]\n-----END OPENSSH PRIVATE KEY-----"));
        assert!(out.ends_with("ok: task-force sk-short ghp_short AKIAlower"));
        // Two headers on one line count as two.
        assert_eq!(n, 9, "{out}");
        // Redacting again changes nothing.
        assert_eq!(redact(&out).1, 0);
    }

    #[test]
    fn words_that_only_resemble_keys_stay() {
        for text in [
            "pip install sk-learn-compatible-estimators-for-pipelines",
            "risk-assessment-framework-for-everything-in-production",
            "error: Authorization required for this resource",
            "Cookie: none",
            "let token = lexer.next_token()?;",
            "password: Password,",
            "assert password == \"hunter2hunter2\"",
            "ssh://git@github.com:22/org/repo.git and https://user@example.com/",
            "sha256:ac67716dd016429be8d4c2c53a248d7bcdf06d34127d3dc451bda6aa5a87bc06",
            "SECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]",
            "password=${DB_PASSWORD} token=<your-token-here>",
        ] {
            let (out, n) = redact(text);
            assert_eq!((out.as_str(), n), (text, 0));
        }
    }

    #[test]
    fn keys_inside_words_and_escaped_json() {
        let key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w";
        let (out, n) = redact(&format!("MY_KEY_{key}"));
        assert_eq!((out.as_str(), n), ("MY_KEY_[REDACTED OpenAI key]", 1));
        // After `\n` in escaped JSON a key starts a word, random-looking or not.
        let plain = "sk-proj-abcdefghijklmnopqrstuvwxyz0123";
        let (out, n) = redact(&format!("{{\"k\":\"a\\n{plain}\\n\"}}"));
        assert_eq!(n, 1, "{out}");
        assert!(!out.contains(plain), "{out}");
        // Inside a word, a prefix needs a random-looking key after it.
        assert_eq!(redact("flask_sk-proj-abcdefghijklmnopqrstuvwxyz").1, 0);
    }
}
