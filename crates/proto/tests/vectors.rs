//! The signed-request test vectors (`test-vectors/signed-request.json`) hold: other key apps (the web app)
//! check themselves against the same file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_proto::signing::SignedRequest;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/signed-request.json");

fn case(
    method: &'static str,
    path_and_query: &'static str,
    timestamp: i64,
    nonce: &'static str,
    body: &'static [u8],
) -> SignedRequest<'static> {
    SignedRequest { method, path_and_query, device_id: "d-7Qm2c9Rk", timestamp, nonce, body }
}

fn cases() -> Vec<(&'static str, SignedRequest<'static>)> {
    vec![
        ("GET without a body", case("GET", "/api/app/v1/requests", 1_767_225_600, "q8Lw2c0bVn1Jx5Tf7Ya3Gk", b"")),
        (
            "POST with a JSON body",
            case(
                "POST",
                "/api/app/v1/requests/r-1/decision",
                1_767_225_661,
                "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OQ",
                br#"{"decision":"approve","match_code":"42"}"#,
            ),
        ),
        (
            "query and Danish text",
            case(
                "PUT",
                "/api/app/v1/settings?lang=da",
                1_767_225_700,
                "AbCdEfGhIjKlMnOp_-",
                "{\"navn\":\"Søren Ærø\"}".as_bytes(),
            ),
        ),
    ]
}

fn key() -> SigningKey {
    SigningKey::from_slice(&[0x4e; 32]).unwrap()
}

fn generate() -> Value {
    let key = key();
    let public = key.verifying_key().to_sec1_point(false);
    let cases: Vec<Value> = cases()
        .into_iter()
        .map(|(name, req)| {
            let bytes = req.canonical_bytes().unwrap();
            let sig: Signature = key.sign(&bytes);
            json!({
                "name": name, "method": req.method, "path_and_query": req.path_and_query, "device_id": req.device_id,
                "timestamp": req.timestamp, "nonce": req.nonce, "body_base64url": B64.encode(req.body),
                "canonical": String::from_utf8(bytes).unwrap(),
                "signature_base64url": B64.encode(sig.to_bytes()),
            })
        })
        .collect();
    json!({
        "description": "Signed device requests of the nøgle app API: the exact bytes a device signs (see noegle-proto's signing module) and ECDSA P-256/SHA-256 signatures as r||s. The signatures here use RFC 6979 deterministic nonces; WebCrypto's are random, so a web client checks that the canonical bytes match and that the listed signatures verify with the public key, and that its own signatures verify too.",
        "scheme": noegle_proto::signing::SCHEME,
        "headers": [noegle_proto::signing::HEADER_DEVICE, noegle_proto::signing::HEADER_TIMESTAMP, noegle_proto::signing::HEADER_NONCE, noegle_proto::signing::HEADER_SIGNATURE],
        "private_key_hex_for_tests_only": "4e".repeat(32),
        "public_key_sec1_base64url": B64.encode(public.as_bytes()),
        "cases": cases,
    })
}

#[test]
fn the_vector_file_holds() {
    if std::env::var_os("NOEGLE_WRITE_VECTORS").is_some() {
        std::fs::write(FILE, format!("{:#}\n", generate())).unwrap();
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    assert_eq!(file, generate(), "the file matches the rules (regenerate with NOEGLE_WRITE_VECTORS=1 only on purpose)");
    let public =
        VerifyingKey::from_sec1_bytes(&B64.decode(file["public_key_sec1_base64url"].as_str().unwrap()).unwrap())
            .unwrap();
    for case in file["cases"].as_array().unwrap() {
        let sig = Signature::from_slice(&B64.decode(case["signature_base64url"].as_str().unwrap()).unwrap()).unwrap();
        let canonical = case["canonical"].as_str().unwrap().as_bytes();
        public.verify(canonical, &sig).unwrap();
        let mut tampered = canonical.to_vec();
        tampered[20] ^= 1;
        assert!(public.verify(&tampered, &sig).is_err());
    }
}
