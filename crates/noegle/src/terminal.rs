//! What the operator's terminal is shown: text a client could have set (a device's name or OS version, an
//! audit detail) never reaches it raw. Control characters (C0, DEL, C1 — escape sequences start with them)
//! and the invisible characters that reorder or hide text (bidirectional overrides, zero-width marks) are
//! written as escapes instead.

/// Whether `c` must not reach a terminal as itself.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `text` for people: unsafe characters as `\u{1b}`.
pub fn safe_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON for scripts: serde already escapes C0 controls; C1 controls and invisible characters, which JSON
/// allows raw in strings, become `\u009b` escapes too (still the same JSON value).
pub fn safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if unsafe_char(c) {
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                out.push_str(&format!("\\u{:04x}", unit));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escapes_and_reordering_marks_are_shown_not_obeyed() {
        assert_eq!(safe_text("Annes iPhone"), "Annes iPhone");
        assert_eq!(safe_text("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(safe_text("x\u{9b}31m\u{7f}\r"), "x\\u{9b}31m\\u{7f}\\u{d}");
        assert_eq!(safe_text("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(safe_text("line one\nline two\tÆøå"), "line one\nline two\\u{9}Æøå");
        let json = serde_json::json!({ "name": "a\u{1b}b\u{9b}c\u{202e}d" }).to_string();
        let safe = safe_json(&json);
        assert!(!safe.contains('\u{1b}') && !safe.contains('\u{9b}') && !safe.contains('\u{202e}'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["name"], "a\u{1b}b\u{9b}c\u{202e}d", "the same value for a script");
    }
}
