//! The phone key app (R-APP): the installable web app under `/app/`, embedded in the binary. Its
//! files live in `web/app/`; the OPAQUE client comes from npm through `build.rs`.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The app's Content-Security-Policy: its own scripts (and WebAssembly, for OPAQUE), its own API, nothing
/// from anywhere else.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
                       form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the app: name under `/app/`, media type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", "text/html; charset=utf-8", include_bytes!("../../../web/app/index.html")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../../web/app/app.css")),
    ("app.js", JS, include_bytes!("../../../web/app/app.js")),
    ("state.js", JS, include_bytes!("../../../web/app/state.js")),
    ("router.js", JS, include_bytes!("../../../web/app/router.js")),
    ("ui.js", JS, include_bytes!("../../../web/app/ui.js")),
    ("slider.js", JS, include_bytes!("../../../web/app/slider.js")),
    ("live.js", JS, include_bytes!("../../../web/app/live.js")),
    ("capabilities.js", JS, include_bytes!("../../../web/app/capabilities.js")),
    ("screens/activation.js", JS, include_bytes!("../../../web/app/screens/activation.js")),
    ("screens/code.js", JS, include_bytes!("../../../web/app/screens/code.js")),
    ("screens/login.js", JS, include_bytes!("../../../web/app/screens/login.js")),
    ("screens/requests.js", JS, include_bytes!("../../../web/app/screens/requests.js")),
    ("screens/settings.js", JS, include_bytes!("../../../web/app/screens/settings.js")),
    ("screens/unlock.js", JS, include_bytes!("../../../web/app/screens/unlock.js")),
    ("device.js", JS, include_bytes!("../../../web/app/device.js")),
    ("i18n.js", JS, include_bytes!("../../../web/app/i18n.js")),
    ("signing.js", JS, include_bytes!("../../../web/app/signing.js")),
    ("sw.js", JS, include_bytes!("../../../web/app/sw.js")),
    ("opaque.js", JS, include_bytes!(concat!(env!("OUT_DIR"), "/opaque.js"))),
    ("manifest.webmanifest", "application/manifest+json", include_bytes!("../../../web/app/manifest.webmanifest")),
    ("icon.svg", "image/svg+xml", include_bytes!("../../../web/app/icon.svg")),
    ("icon-192.png", "image/png", include_bytes!("../../../web/app/icon-192.png")),
    ("icon-512.png", "image/png", include_bytes!("../../../web/app/icon-512.png")),
];

/// `policy.js`: the app-code rules the app checks before a code is registered (the server never sees the
/// code), made from the one list in `noegle_proto`.
fn policy_js() -> &'static [u8] {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY
        .get_or_init(|| {
            let codes = serde_json::to_string(noegle_proto::opaque::BLOCKED_CODES).unwrap_or_else(|_| "[]".into());
            format!("// Made by the server from noegle_proto::opaque::BLOCKED_CODES.\nexport const BLOCKED_CODES = {codes};\n")
        })
        .as_bytes()
}

/// The names of the app's files (the service worker's offline shell is the same list).
pub fn file_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _, _)| *name).chain(["policy.js"])
}

fn serve(name: &str) -> Response {
    let policy = ("policy.js", JS, policy_js());
    let found = if name == policy.0 { Some(&policy) } else { FILES.iter().find(|(n, _, _)| *n == name) };
    let Some((_, media_type, body)) = found else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found")
            .into_response();
    };
    let mut r = (*body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // Always revalidated: the service worker keeps the offline copy, never a stale app.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /app`: to the app's folder (its relative links need the slash).
pub async fn root() -> Redirect {
    Redirect::permanent("/app/")
}

/// `GET /app/`: the app's page.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /app/{file}`: one of the app's files.
pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// `GET /app/screens/{file}`: one of the app's screens.
pub async fn screen_file(Path(name): Path<String>) -> Response {
    serve(&format!("screens/{name}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_service_worker_caches_every_file_of_the_app() {
        let sw = std::str::from_utf8(super::FILES.iter().find(|f| f.0 == "sw.js").unwrap().2).unwrap();
        for name in super::file_names().filter(|n| *n != "sw.js") {
            assert!(sw.contains(&format!("'{name}'")), "sw.js does not cache {name}");
        }
    }
}
