//! Wire types shared by the nøgle server and its key apps, and the exact bytes a device signs.
//!
//! serde and hashing only, no I/O: the server, the Rust key app and (through the test-vector file
//! `test-vectors/signed-request.json`) the web key app all build the same bytes from the same rules.

pub mod api;
pub mod opaque;
pub mod signing;

/// A key card's serial as printed on the card and shown in the log-in box and the key apps: `123-456-7890`.
pub fn display_serial(serial: &str) -> String {
    if serial.len() == 10 && serial.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &serial[..3], &serial[3..6], &serial[6..])
    } else {
        serial.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serials_are_grouped_as_on_the_card() {
        assert_eq!(super::display_serial("7989043003"), "798-904-3003");
        assert_eq!(super::display_serial("1234-5678-9012"), "1234-5678-9012", "anything else is left as it is");
    }
}
