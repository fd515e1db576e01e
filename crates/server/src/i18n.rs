//! The pages' words, in Danish (default, from the seed guide) and English, and the choice between them.

use axum::http::HeaderMap;

/// A page language. Configured as `da` or `en`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Dansk.
    Da,
    /// English.
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        Lang::parse(s).ok_or_else(|| format!("must be da or en, not {s:?}"))
    }
}

/// Cookie that keeps the user's choice.
pub const LANG_COOKIE: &str = "noegle_lang";

impl Lang {
    /// `da` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Da => "da",
            Lang::En => "en",
        }
    }

    /// Parses `da` / `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "da" => Some(Lang::Da),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Da => Lang::En,
            Lang::En => Lang::Da,
        }
    }

    /// The words of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Da => &DA,
            Lang::En => &EN,
        }
    }

    /// The language for a request: the `noegle_lang` cookie, else the best of `Accept-Language`, else `default`.
    pub fn negotiate(headers: &HeaderMap, default: Lang) -> Lang {
        if let Some(l) = crate::session::cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
            return l;
        }
        let Some(accept) = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return default;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = match primary {
                "da" | "nb" | "no" | "nn" | "sv" => Lang::Da,
                "en" => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(default, |(_, l)| l)
    }
}

/// Every text of the log-in box.
#[derive(Debug)]
#[allow(missing_docs)]
pub struct Texts {
    pub lang_name: &'static str,
    pub switch_to: &'static str,
    pub title: &'static str,
    pub login_to: &'static str,
    pub user_id: &'static str,
    pub password: &'static str,
    pub next: &'static str,
    pub cancel: &'static str,
    pub key_heading: &'static str,
    pub key_card_no: &'static str,
    pub key: &'static str,
    pub key_hint: &'static str,
    pub log_in: &'static str,
    pub rejected: &'static str,
    pub key_rejected: &'static str,
    pub no_key_card: &'static str,
    pub keys_left: &'static str,
    pub new_card_coming: &'static str,
    pub session_invalid: &'static str,
    pub start_from_service: &'static str,
    pub invalid_request: &'static str,
    pub bad_form: &'static str,
    pub too_large: &'static str,
    pub too_slow: &'static str,
    pub server_error: &'static str,
    pub not_found: &'static str,
    pub footer: &'static str,
    pub choose_heading: &'static str,
    pub choose_hint: &'static str,
    pub send_to_app: &'static str,
    pub switch_to_keycard: &'static str,
    pub waiting_heading: &'static str,
    pub waiting_hint: &'static str,
    pub match_code: &'static str,
    pub waiting_live: &'static str,
    pub request_rejected: &'static str,
    pub request_expired: &'static str,
    pub send_again: &'static str,
    pub paused: &'static str,
    pub slow_down: &'static str,
    pub busy: &'static str,
}

/// Dansk.
pub static DA: Texts = Texts {
    lang_name: "Dansk",
    switch_to: "English",
    title: "Log på med nøgle",
    login_to: "Log på hos",
    user_id: "Bruger-id",
    password: "Adgangskode",
    next: "Næste",
    cancel: "Afbryd",
    key_heading: "Indtast nøglen fra dit nøglekort",
    key_card_no: "Nøglekort nr.",
    key: "Nøgle",
    key_hint: "Find nøglenummeret på dit nøglekort og indtast den 6-cifrede nøgle, der står ud for det.",
    log_in: "Log på",
    rejected: "Bruger-id eller adgangskode er forkert, eller din adgang er spærret. Efter flere forkerte forsøg skal du vente lidt, før du prøver igen.",
    key_rejected: "Nøglen er forkert eller allerede brugt, eller din adgang er spærret. Prøv igen med nøglen til det viste nummer.",
    no_key_card: "Du har ikke noget gyldigt nøglekort. Kontakt support for at få et nyt.",
    keys_left: "ubrugte nøgler tilbage på dette kort.",
    new_card_coming: "Et nyt nøglekort er på vej til dig. Dit nuværende kort virker, indtil du tager det nye i brug.",
    session_invalid: "Din session er udløbet, eller formularen er ugyldig. Gå tilbage til tjenesten, og start forfra.",
    start_from_service: "Start log-in fra den tjeneste, du vil bruge.",
    invalid_request: "Ugyldig anmodning",
    bad_form: "Formularen kunne ikke læses. Udfyld felterne, og prøv igen.",
    too_large: "Anmodningen er for stor.",
    too_slow: "Anmodningen kom ikke frem i tide. Prøv igen.",
    server_error: "Der opstod en fejl hos os. Prøv igen om lidt.",
    not_found: "Siden findes ikke.",
    footer: "nøgle — log på med bruger-id, adgangskode og nøglekort",
    choose_heading: "Godkend med din nøgleapp",
    choose_hint: "Vi sender en anmodning til din nøgleapp. Du kan altid skifte til dit nøglekort i stedet.",
    send_to_app: "Send anmodning til nøgleapp",
    switch_to_keycard: "Skift til nøglekort",
    waiting_heading: "Anmodningen er sendt til din nøgleapp",
    waiting_hint: "Find din telefon, åbn nøgleappen, og godkend anmodningen. Tast denne kode i appen:",
    match_code: "Kode",
    waiting_live: "Siden fortsætter af sig selv, når du har godkendt.",
    request_rejected: "Anmodningen blev afvist i nøgleappen.",
    request_expired: "Anmodningen er udløbet. Du kan sende den igen.",
    send_again: "Send igen",
    paused: "Anmodninger til din nøgleapp er sat på pause et stykke tid efter afviste anmodninger. Brug dit nøglekort.",
    slow_down: "Der er gjort for mange forsøg fra din forbindelse. Vent et minut, og prøv igen.",
    busy: "Der er travlt lige nu – prøv igen om et øjeblik.",
};

/// English.
pub static EN: Texts = Texts {
    lang_name: "English",
    switch_to: "Dansk",
    title: "Log in with nøgle",
    login_to: "Log in to",
    user_id: "User ID",
    password: "Password",
    next: "Next",
    cancel: "Cancel",
    key_heading: "Enter the key from your key card",
    key_card_no: "Key card no.",
    key: "Key",
    key_hint: "Find the key number on your key card and enter the 6-digit key next to it.",
    log_in: "Log in",
    rejected: "The user ID or password is wrong, or your access is blocked. After several wrong attempts you must wait a little before trying again.",
    key_rejected: "The key is wrong or already used, or your access is blocked. Try again with the key for the number shown.",
    no_key_card: "You have no valid key card. Contact support to get a new one.",
    keys_left: "unused keys left on this card.",
    new_card_coming: "A new key card is on its way to you. Your current card works until you start using the new one.",
    session_invalid: "Your session has expired or the form is invalid. Go back to the service and start again.",
    start_from_service: "Start the log-in from the service you want to use.",
    invalid_request: "Invalid request",
    bad_form: "The form could not be read. Fill in the fields and try again.",
    too_large: "The request is too large.",
    too_slow: "The request did not arrive in time. Please try again.",
    server_error: "Something went wrong on our side. Try again in a moment.",
    not_found: "There is no such page.",
    footer: "nøgle — log in with user ID, password and key card",
    choose_heading: "Approve with your key app",
    choose_hint: "We send a request to your key app. You can always switch to your key card instead.",
    send_to_app: "Send request to key app",
    switch_to_keycard: "Switch to key card",
    waiting_heading: "The request has been sent to your key app",
    waiting_hint: "Find your phone, open the key app and approve the request. Type this code in the app:",
    match_code: "Code",
    waiting_live: "This page continues by itself once you have approved.",
    request_rejected: "The request was rejected in the key app.",
    request_expired: "The request has expired. You can send it again.",
    send_again: "Send again",
    paused: "Requests to your key app are paused for a while after rejected requests. Use your key card.",
    slow_down: "Too many attempts were made from your connection. Wait a minute and try again.",
    busy: "We are busy right now – try again in a moment.",
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_beats_accept_language_which_beats_the_default() {
        assert_eq!(Lang::negotiate(&headers(&[]), Lang::Da), Lang::Da);
        assert_eq!(Lang::negotiate(&headers(&[("accept-language", "en-GB,en;q=0.9")]), Lang::Da), Lang::En);
        assert_eq!(Lang::negotiate(&headers(&[("accept-language", "de, en;q=0.5, da;q=0.8")]), Lang::En), Lang::Da);
        assert_eq!(Lang::negotiate(&headers(&[("accept-language", "fr")]), Lang::En), Lang::En);
        let h = headers(&[("accept-language", "en"), ("cookie", "a=b; noegle_lang=da")]);
        assert_eq!(Lang::negotiate(&h, Lang::En), Lang::Da);
    }
}
