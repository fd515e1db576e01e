//! The printed key card: the JSON card is exactly what the server stores, and the PDF shows every key.

use std::process::Command;

use crate::json;

#[tokio::test]
async fn the_json_card_is_exactly_what_the_server_accepts_and_the_pdf_shows_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json(d, None, &["user", "add", "alice", "--password-stdin", "--json"], "korrekt hest batteri\n");
    let pdf = d.join("alice-card.pdf");
    let card = json(d, None, &["keycard", "issue", "alice", "--pdf", pdf.to_str().unwrap(), "--json"], "");
    let serial = card["serial"].as_str().unwrap();
    let stored_serial = noegle_core::CardSerial::from(serial);
    let keys = card["keys"].as_object().unwrap();
    assert_eq!(card["pdf"], pdf.to_str().unwrap());

    // Every key of the JSON card matches the stored digest, and nothing else is stored.
    let store = noegle_store::open(&noegle_store::testing::sqlite_url(d)).await.unwrap();
    let pepper = noegle_server::secrets::pepper(d).unwrap();
    let stored = store.unused_key_numbers(&stored_serial).await.unwrap();
    let mut numbers: Vec<&String> = keys.keys().collect();
    numbers.sort();
    assert_eq!(stored.iter().collect::<Vec<_>>(), numbers);
    for (number, key) in keys {
        let digest = store.unused_key_digest(&stored_serial, number).await.unwrap().unwrap();
        assert_eq!(digest, pepper.digest(&stored_serial, number, key.as_str().unwrap()), "key {number}");
    }

    // The PDF renders, and its text holds the serial, the user ID and every key.
    let png = d.join("page");
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "50", "-singlefile"])
        .arg(&pdf)
        .arg(&png)
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(status.success());
    assert!(std::fs::metadata(d.join("page.png")).unwrap().len() > 10_000, "a real page image");
    let text = Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let display = format!("{}-{}-{}", &serial[..3], &serial[3..6], &serial[6..]);
    assert!(text.contains(&format!("Nøglekort nr. {display}")), "{text}");
    assert!(text.contains("Bruger-id: alice"));
    assert!(text.contains("Opbevar kortet sikkert"));
    let words: Vec<&str> = text.split_whitespace().collect();
    for (number, key) in keys {
        let at = words.iter().position(|w| w == number).unwrap_or_else(|| panic!("number {number} missing"));
        assert_eq!(words[at + 1], key.as_str().unwrap(), "the key printed next to {number}");
    }
    // The card's file is readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&pdf).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
