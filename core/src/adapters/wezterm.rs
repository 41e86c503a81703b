//! WezTerm: user vars set with OSC 1337 `SetUserVar` (base64 values).

use base64::Engine;

/// The escape sequence that sets user var `name` to `value`; wrapped in tmux's DCS passthrough
/// (inner ESC doubled) when WezTerm runs tmux (`allow-passthrough on` is needed there).
pub fn set_user_var(name: &str, value: &str, inside_tmux: bool) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
    let seq = format!("\x1b]1337;SetUserVar={name}={b64}\x07");
    if inside_tmux {
        format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b")).into_bytes()
    } else {
        seq.into_bytes()
    }
}

/// The user vars that publish a pane's state: `panechat_id`, `panechat_title`,
/// `panechat_state` and `panechat_held` (empty values while the pane has no conversation).
pub fn state_vars(st: &crate::state::PaneState, inside_tmux: bool) -> Vec<u8> {
    use crate::title::pane_text;
    let mut out = Vec::new();
    let id = st
        .conversation
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let title = st.title.as_deref().map(pane_text).unwrap_or_default();
    let held = st
        .held_by
        .as_ref()
        .map(|h| pane_text(&h.pane.place()))
        .unwrap_or_default();
    out.extend(set_user_var("panechat_id", &id, inside_tmux));
    out.extend(set_user_var("panechat_title", &title, inside_tmux));
    out.extend(set_user_var(
        "panechat_state",
        st.activity.as_str(),
        inside_tmux,
    ));
    out.extend(set_user_var("panechat_held", &held, inside_tmux));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_values_in_base64() {
        let s = String::from_utf8(set_user_var("panechat_title", "a\x1bb", false)).unwrap();
        assert_eq!(s, "\x1b]1337;SetUserVar=panechat_title=YRti\x07");
        let t = String::from_utf8(set_user_var("x", "y", true)).unwrap();
        assert!(t.starts_with("\x1bPtmux;\x1b\x1b]1337;") && t.ends_with("\x07\x1b\\"));
    }
}
