//! Text made into one word for a POSIX shell: what panechat prints for the user to run, and
//! the command lines it hands to multiplexers that run them through `/bin/sh`.

/// Quotes `s` as one `/bin/sh` word (single quotes; a `'` inside becomes `'\''`). Nothing in
/// the result is expanded by the shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn any_text_is_one_literal_word() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
        assert_eq!(quote(""), "''");
        for s in [
            "plain",
            "$(touch x) `id` $HOME",
            "it's; rm -rf ~",
            "a\nb",
            "tmux:1:%3",
        ] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", quote(s))])
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}
