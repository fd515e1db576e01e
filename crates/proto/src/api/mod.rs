//! The key-app API's bodies (`/api/app/v1/…`), versioned with the route: every request and answer body and
//! every error code, as the server sends and parses them and the Rust key app reads and sends them. With the
//! `openapi` feature each type also describes itself as a JSON schema (the server's OpenAPI document is
//! generated from these).

pub mod v1;
