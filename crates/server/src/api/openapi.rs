//! The app API's OpenAPI document, generated from `noegle_proto::api::v1`'s types and the handlers'
//! `#[utoipa::path]` attributes, which also route them (see [`super::guessing_routes`]): a route cannot be
//! served undocumented. Served at `/api/openapi.json`.

use noegle_proto::api::v1::{ErrorBody, ErrorCode};
use serde::Deserialize;
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The document's title, version and the words every operation shares.
#[derive(OpenApi)]
#[openapi(
    components(schemas(ErrorBody, ErrorCode)),
    info(
        title = "nøgle key-app API",
        version = "1",
        description = "The API the key apps (terminal and phone) use. Every call marked signed carries the four \
noegle-* headers: an ECDSA P-256/SHA-256 signature (r||s, base64url) over the bytes defined in \
crates/proto/src/signing.rs (test vectors in crates/proto/test-vectors/signed-request.json), a timestamp within \
60 s of the server's clock (see /time) and a nonce used once. Errors are {\"error\": code, \"message\": text} \
(ErrorBody), with the facts some codes carry beside them."
    )
)]
struct Info;

/// The headers of a call signed by a device (see `noegle_proto::signing`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct SignatureHeaders {
    /// The device that signs.
    #[serde(rename = "noegle-device")]
    pub device: String,
    /// Unix seconds.
    #[serde(rename = "noegle-timestamp")]
    pub timestamp: String,
    /// 16–64 base64url characters, used once.
    #[serde(rename = "noegle-nonce")]
    pub nonce: String,
    /// The signature, r||s, base64url.
    #[serde(rename = "noegle-signature")]
    pub signature: String,
}

/// The header of an unlocked app.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct AppSessionHeader {
    /// The app session of an unlocked app.
    #[serde(rename = "noegle-app-session")]
    pub session: Option<String>,
}

/// A body with no fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// The generated document. Every object it names is closed (`additionalProperties: false`): it says exactly
/// what this server takes and sends. The answer types themselves accept fields they do not know, so a key
/// app already installed keeps working against a newer server that sends more.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Info::openapi();
    doc.merge(super::guessing().split_for_parts().1);
    doc.merge(super::others().split_for_parts().1);
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(close);
    }
    doc
}

/// Closes an object schema (one without `additionalProperties`) to fields it does not name.
fn close(schema: &mut RefOr<Schema>) {
    if let RefOr::T(Schema::Object(object)) = schema
        && !object.properties.is_empty()
        && object.additional_properties.is_none()
    {
        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
}

/// The generated document as JSON, made once.
pub fn json() -> &'static str {
    static JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| document().to_json().unwrap_or_default());
    &JSON
}

/// Refusals a route may answer, each with an `ErrorBody` (up to four statuses; `0` for none).
pub struct Refused<const A: u16, const B: u16 = 0, const C: u16 = 0, const D: u16 = 0>;

/// The refusals of a JSON body: malformed (400), too large (413), not JSON (415).
pub type BodyRefused = Refused<400, 413, 415>;
/// Storage or the node unavailable just now (503).
pub type Unavailable = Refused<503>;

impl<const A: u16, const B: u16, const C: u16, const D: u16> utoipa::IntoResponses for Refused<A, B, C, D> {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        [A, B, C, D].into_iter().filter(|s| *s != 0).map(|s| (s.to_string(), refusal(s))).collect()
    }
}

/// A refusal with status `status`.
fn refusal(status: u16) -> RefOr<Response> {
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    ResponseBuilder::new().description(reason.unwrap_or("Refused")).content("application/json", body).build().into()
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
