//! The generated document covers what the app API serves: every route, every field of every answer, every
//! error code.

use noegle_proto::api::v1 as wire;
use noegle_proto::api::v1::{ErrorBody, ErrorCode};
use serde_json::Value;

/// The handler files, as the compiler reads them.
const SOURCES: [(&str, &str); 7] = [
    ("mod.rs", include_str!("mod.rs")),
    ("activation.rs", include_str!("activation.rs")),
    ("code.rs", include_str!("code.rs")),
    ("events.rs", include_str!("events.rs")),
    ("fingerprint.rs", include_str!("fingerprint.rs")),
    ("push.rs", include_str!("push.rs")),
    ("requests.rs", include_str!("requests.rs")),
];

fn doc() -> Value {
    serde_json::from_str(super::json()).expect("the document is JSON")
}

/// Each handler (`pub async fn` at the top of a file) with its `#[utoipa::path]` attribute, if it has one.
fn handlers() -> Vec<(String, Option<String>, String)> {
    let mut found = Vec::new();
    for (file, src) in SOURCES {
        let mut attribute: Option<String> = None;
        let mut lines = src.lines();
        while let Some(line) = lines.next() {
            if line.starts_with("#[utoipa::path(") {
                let mut text = line.to_string();
                while !text.ends_with(")]") {
                    text.push_str(lines.next().unwrap_or(")]"));
                }
                attribute = Some(text);
            } else if let Some(rest) = line.strip_prefix("pub async fn ") {
                let mut signature = rest.to_string();
                while !signature.ends_with('{') {
                    signature.push_str(lines.next().unwrap_or("{"));
                }
                found.push((format!("{file}: {rest}"), attribute.take(), signature));
            } else if !line.starts_with("///") && !line.starts_with("#[") {
                attribute = None;
            }
        }
    }
    found
}

/// Every handler is documented (which is how it is routed: `routes!` takes documented handlers only), and
/// a signed one names the signature headers, one that must be unlocked also the app session's.
#[test]
fn every_handler_is_documented_with_its_headers() {
    let found = handlers();
    assert_eq!(found.len(), 26, "{:?}", found.iter().map(|h| &h.0).collect::<Vec<_>>());
    for (name, attribute, signature) in found {
        let attribute = attribute.unwrap_or_else(|| panic!("{name} has no #[utoipa::path]"));
        let signed = signature.contains("Signed<") || signature.contains("Unlocked");
        assert_eq!(signed, attribute.contains("SignatureHeaders"), "{name}: signature headers");
        assert!(!signature.contains("Unlocked") || attribute.contains("AppSessionHeader"), "{name}: app session");
        // The answer documented is the type the handler sends.
        let answer = signature.rsplit("->").next().unwrap_or_default();
        if let Some(sent) = answer.split("Json<wire::").nth(1).and_then(|t| t.split('>').next()) {
            assert!(attribute.contains(&format!("body = wire::{sent})")), "{name} sends wire::{sent}");
        }
    }
    assert!(!SOURCES[0].1.contains(".route(\""), "mod.rs routes only documented handlers (`routes!`)");
    let doc = doc();
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(operations, 26, "one operation per handler");
}

/// Every operation documents its refusals with the typed error body.
#[test]
fn every_operation_documents_its_refusals() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let refusals: Vec<&Value> = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(s, _)| s.starts_with(['4', '5']))
                .map(|(_, r)| r)
                .collect();
            assert!(refusals.iter().any(|_| true), "{method} {path} documents no refusal");
            for r in refusals {
                assert_eq!(r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
            }
        }
    }
}

/// Every error code the server can answer is in the documented enum.
#[test]
fn every_error_code_is_documented() {
    let doc = doc();
    let documented = doc["components"]["schemas"]["ErrorCode"]["enum"].as_array().expect("ErrorCode is an enum");
    for code in ErrorCode::ALL {
        let name = serde_json::to_value(code).unwrap();
        assert!(documented.contains(&name), "{name} is not documented");
    }
    assert_eq!(documented.len(), ErrorCode::ALL.len());
}

/// The schema of the answer `status` of `method path`, with the document's components beside it.
fn answer_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    let mut schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone();
    assert!(schema.is_object(), "{method} {path} {status} has no JSON schema");
    if schema.get("$ref").is_some() {
        schema = Value::Object(serde_json::Map::from_iter([("allOf".to_string(), Value::Array(vec![schema]))]));
    }
    schema["components"] = doc["components"].clone();
    schema
}

fn assert_valid(doc: &Value, method: &str, path: &str, status: &str, sample: &impl serde::Serialize) {
    let schema = answer_schema(doc, method, path, status);
    let value = serde_json::to_value(sample).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{method} {path} {status}: {value} does not fit the schema: {errors:?}");
}

fn device() -> wire::Device {
    wire::Device {
        device_id: "d".into(),
        serial: "1234-5678-9012".into(),
        name: "Annes iPhone".into(),
        status: wire::DeviceStatus::Pending,
        ready_at: 1,
        expires_at: 2,
        ready: false,
        now: 0,
        reason: Some(wire::Reason::CodeReset),
    }
}

/// Every field a handler sends is in the schema of its answer (each sample fills every optional field).
#[test]
fn every_answer_fits_its_schema() {
    let doc = doc();
    let v1 = |p: &str| format!("{}{p}", wire::PREFIX);
    let ended = wire::DeviceEnded { device_id: "d".into(), status: wire::DeviceStatus::Revoked };
    let session = wire::AppSession { app_session: "s".into(), expires_in: 300, unlock_token: Some("u".into()) };
    let request = wire::PendingRequest {
        request_id: "r".into(),
        client_id: "c".into(),
        client_name: "Bank".into(),
        action: "Log på".into(),
        created_at: 0,
        expires_at: 1,
        nonce: "n".into(),
        match_code_required: false,
        match_code: Some("42".into()),
    };
    let about = wire::About {
        max_devices: 3,
        minimum: wire::Minimum { ios: "9".into(), android: "4.4".into() },
        support: wire::Support { phone: Some("70 00 00 00".into()), url: None },
        app_session_secs: 300,
        activation_wait_secs: 3600,
        code_attempts: 5,
    };
    let key_card = wire::KeyAsked { serial: "7989043003".into(), key_number: "0042".into() };
    assert_valid(&doc, "get", &v1("/time"), "200", &wire::Time { now: 1 });
    assert_valid(&doc, "get", &v1("/about"), "200", &about);
    assert_valid(&doc, "post", &v1("/login"), "200", &wire::Ticket { ticket: "t".into(), expires_in: 300, key_card });
    assert_valid(&doc, "post", &v1("/activation"), "201", &device());
    assert_valid(&doc, "post", &v1("/activation/complete"), "200", &device());
    assert_valid(&doc, "get", &v1("/device"), "200", &device());
    assert_valid(&doc, "delete", &v1("/device"), "200", &ended);
    assert_valid(&doc, "get", &v1("/activations"), "200", &wire::Unconfirmed { pending: vec![device()] });
    assert_valid(&doc, "post", &v1("/activations/{device_id}/cancel"), "200", &ended);
    let message = wire::OpaqueMessage { message: "m".into() };
    assert_valid(&doc, "post", &v1("/app-code/register/start"), "200", &message);
    let set = wire::CodeSet { device_id: "d".into(), code_set: true, unlock_token: "u".into() };
    assert_valid(&doc, "post", &v1("/app-code/register/finish"), "200", &set);
    let started = wire::LoginStarted { message: "m".into(), remaining_if_wrong: 4 };
    assert_valid(&doc, "post", &v1("/app-code/login/start"), "200", &started);
    assert_valid(&doc, "post", &v1("/app-code/login/finish"), "200", &session);
    let reset = wire::CodeReset { reset_token: "r".into(), expires_in: 300, ready_at: 2, now: 1 };
    assert_valid(&doc, "post", &v1("/app-code/forgot"), "200", &reset);
    assert_valid(&doc, "get", &v1("/requests"), "200", &wire::Requests { requests: vec![request] });
    let decided = wire::Decided { request_id: "r".into(), state: wire::RequestState::Approved };
    assert_valid(&doc, "post", &v1("/requests/{request_id}/decision"), "200", &decided);
    let fingerprint = wire::Fingerprint { device_id: "d".into(), fingerprint: true };
    assert_valid(&doc, "post", &v1("/fingerprint/register/finish"), "200", &fingerprint);
    assert_valid(&doc, "delete", &v1("/fingerprint"), "200", &fingerprint);
    assert_valid(&doc, "post", &v1("/fingerprint/login/finish"), "200", &session);
    assert_valid(&doc, "get", &v1("/push/key"), "200", &wire::PushKey { key: "k".into() });
    let push = wire::Push { device_id: "d".into(), push: true };
    assert_valid(&doc, "put", &v1("/push"), "200", &push);
    assert_valid(&doc, "delete", &v1("/push"), "200", &push);
}

/// Every refusal, with every fact it may carry, fits the documented error body.
#[test]
fn every_refusal_fits_the_error_body() {
    let doc = doc();
    for code in ErrorCode::ALL {
        let mut body = ErrorBody::new(code, "why");
        (body.platform, body.version, body.minimum) = (Some("Android".into()), Some("4.3".into()), Some("4.4".into()));
        (body.devices, body.max, body.ready_at) = (Some(vec!["Telefon".into()]), Some(3), Some(1));
        (body.until, body.remaining) = (Some(2), Some(4));
        assert_valid(&doc, "post", &format!("{}/login", wire::PREFIX), "401", &body);
    }
}

/// Every object the document names is closed: an answer field or a request field it does not list is
/// undocumented (schemathesis and the phone app's schema test rely on it), although the answer types accept
/// more, for older apps against newer servers.
#[test]
fn every_documented_object_is_closed() {
    let doc = doc();
    let schemas = doc["components"]["schemas"].as_object().expect("components");
    for (name, schema) in schemas {
        if schema.get("properties").is_some_and(|p| p.as_object().is_some_and(|p| !p.is_empty())) {
            assert_eq!(schema["additionalProperties"], Value::Bool(false), "{name}");
        }
    }
    assert_eq!(schemas["AppSession"]["additionalProperties"], false, "an answer type, too");
}
