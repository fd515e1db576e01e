//! The app API's bodies are the JSON the server has always sent and taken: the same names, `null` where a
//! value may be missing, absent where a field only sometimes applies.
#![allow(clippy::unwrap_used)]

use noegle_proto::api::v1::*;
use serde_json::{Value, from_str, to_value};

fn json(text: &str) -> Value {
    from_str(text).unwrap()
}

#[test]
fn a_device_has_its_reason_only_in_the_unconfirmed_listing() {
    let mut d = Device {
        device_id: "d1".into(),
        serial: "1234-5678-9012".into(),
        name: "Annes iPhone".into(),
        status: DeviceStatus::Pending,
        ready_at: 3600,
        expires_at: 7200,
        ready: false,
        now: 10,
        reason: None,
    };
    let plain = r#"{"device_id":"d1","serial":"1234-5678-9012","name":"Annes iPhone","status":"pending",
                    "ready_at":3600,"expires_at":7200,"ready":false,"now":10}"#;
    assert_eq!(to_value(&d).unwrap(), json(plain));
    d.reason = Some(Reason::CodeReset);
    assert_eq!(to_value(&d).unwrap()["reason"], "code_reset");
}

#[test]
fn optional_answers_are_absent_and_optional_inputs_null() {
    let session = AppSession { app_session: "s".into(), expires_in: 300, unlock_token: None };
    assert_eq!(to_value(&session).unwrap(), json(r#"{"app_session":"s","expires_in":300}"#));
    let code = RegisterCode { message: "m".into(), reset_token: None };
    assert_eq!(to_value(&code).unwrap(), json(r#"{"message":"m","reset_token":null}"#));
    let support = Support { phone: None, url: Some("https://hjælp.example".into()) };
    assert_eq!(to_value(&support).unwrap(), json(r#"{"phone":null,"url":"https://hjælp.example"}"#));
    let refused = ErrorBody::new(ErrorCode::ReplayedRequest, "used before");
    assert_eq!(to_value(&refused).unwrap(), json(r#"{"error":"replayed_request","message":"used before"}"#));
}

#[test]
fn a_decision_takes_what_the_app_sends_and_refuses_more() {
    let sent =
        r#"{"decision":"approve","request_nonce":"n","client_id":"c","expires_at":5,"match_code":null,"not_me":false}"#;
    let d: Decision = from_str(sent).unwrap();
    assert_eq!(d.decision, Verdict::Approve);
    assert!(
        from_str::<Decision>(r#"{"decision":"approve","request_nonce":"n","client_id":"c","expires_at":5,"x":1}"#)
            .is_err()
    );
}

#[test]
fn the_wire_names_are_the_serde_names() {
    for s in [DeviceStatus::Pending, DeviceStatus::Active, DeviceStatus::Cancelled, DeviceStatus::Revoked] {
        assert_eq!(to_value(s).unwrap(), s.as_str());
    }
    use RequestState::*;
    for s in [Pending, Approved, Rejected, Expired, Cancelled] {
        assert_eq!(to_value(s).unwrap(), s.as_str());
    }
}

/// A key app already installed keeps working when a newer server adds a field to an answer; the server
/// still refuses a request body with a field it does not know (its document says `additionalProperties:
/// false` for both: that is what this server sends and takes).
#[test]
fn answers_tolerate_new_fields_and_requests_do_not() {
    let answer = r#"{"app_session":"s","expires_in":300,"added_later":true}"#;
    let session: AppSession = from_str(answer).unwrap();
    assert_eq!(session.app_session, "s");
    let device = r#"{"device_id":"d1","serial":"1","name":"n","status":"active","ready_at":1,"expires_at":2,
                     "ready":false,"now":1,"colour":"blue"}"#;
    assert_eq!(from_str::<Device>(device).unwrap().status, DeviceStatus::Active);
    assert!(from_str::<Login>(r#"{"user_id":"alice","password":"p","added_later":1}"#).is_err());
}
