//! Strict reading of `application/x-www-form-urlencoded` bodies: the right content type, within the size
//! limit, valid encoding, each field at most once.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

use crate::error::AppError;

/// The fields of a form.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses a body; a repeated field is an error (RFC 6749 §3.1 asks the same of OAuth requests).
    pub fn parse(body: &[u8]) -> Result<Form, AppError> {
        if std::str::from_utf8(body).is_err() {
            return Err(AppError::BadForm("the body is not UTF-8".into()));
        }
        let mut fields = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if fields.insert(k.to_string(), v.to_string()).is_some() {
                return Err(AppError::BadForm(format!("the field {k} is given more than once")));
            }
        }
        Ok(Form(fields))
    }

    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A field that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&str, AppError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AppError::BadForm(format!("the field {name} is missing")))
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::UnsupportedMediaType);
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge
            } else {
                AppError::BadForm(e.body_text())
            }
        })?;
        Form::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_are_decoded_and_repeats_refused() {
        let f = Form::parse(b"user_id=alice&password=a+b%26c").unwrap();
        assert_eq!(f.get("password"), Some("a b&c"));
        assert!(f.required("csrf").is_err());
        assert!(Form::parse(b"a=1&a=2").is_err());
        assert!(Form::parse(&[0xff, 0xfe]).is_err());
    }
}
