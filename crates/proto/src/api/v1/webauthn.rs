//! The schemas of the WebAuthn credentials the fingerprint bodies carry (the types themselves are the
//! server's WebAuthn library's): enough for a generated client or a fuzzer to send well-formed ones.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

/// Unpadded base64url, as WebAuthn's JSON gives binary fields.
const BASE64URL: &str = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$";

fn base64url() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(BASE64URL)).description(Some("base64url"))
}

/// A `PublicKeyCredential` whose `response` holds `fields` (each base64url, the `required` ones required).
fn credential(what: &str, response: ObjectBuilder) -> RefOr<Schema> {
    let kind = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["public-key"]));
    ObjectBuilder::new()
        .description(Some(format!("{what}, as the browser's PublicKeyCredential gives it (binary fields base64url)")))
        .property("id", base64url())
        .required("id")
        .property("rawId", base64url())
        .required("rawId")
        .property("type", kind)
        .required("type")
        .property("response", response)
        .required("response")
        .property("extensions", ObjectBuilder::new())
        .into()
}

/// The new credential of a fingerprint registration (schema only).
#[derive(Debug)]
pub struct RegistrationCredential;

impl utoipa::PartialSchema for RegistrationCredential {
    fn schema() -> RefOr<Schema> {
        let transports = ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
        let response = ObjectBuilder::new()
            .property("clientDataJSON", base64url())
            .required("clientDataJSON")
            .property("attestationObject", base64url())
            .required("attestationObject")
            .property("transports", transports);
        credential("the new credential", response)
    }
}
impl utoipa::ToSchema for RegistrationCredential {}

/// The assertion of a fingerprint unlock (schema only).
#[derive(Debug)]
pub struct AssertionCredential;

impl utoipa::PartialSchema for AssertionCredential {
    fn schema() -> RefOr<Schema> {
        let user_handle = base64url()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
            .description(None::<String>);
        let response = ObjectBuilder::new()
            .property("clientDataJSON", base64url())
            .required("clientDataJSON")
            .property("authenticatorData", base64url())
            .required("authenticatorData")
            .property("signature", base64url())
            .required("signature")
            .property("userHandle", user_handle);
        credential("the assertion", response)
    }
}
impl utoipa::ToSchema for AssertionCredential {}
