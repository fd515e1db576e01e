//! The settings' specification: parsing, overrides, checks and derived limits.

#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn environment_overrides_the_file_and_bad_values_are_refused() {
    let dir = std::env::temp_dir().join(format!("noegle-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:9000\"\npublic_url = \"https://login.example/\"\n").unwrap();
    let c = Config::load(Some(&file), |k| (k == "NOEGLE_DATA_DIR").then(|| "/srv/n".into())).unwrap();
    assert_eq!(c.bind.port(), 9000);
    assert_eq!(c.public_url, "https://login.example");
    assert!(c.is_https());
    assert_eq!(c.database_url(), "sqlite:///srv/n/noegle.sqlite");

    std::fs::write(&file, "bnd = \"x\"\n").unwrap();
    let e = Config::load(Some(&file), |_| None).unwrap_err();
    assert!(e.0.contains("unknown field"), "{e}");
    let e = Config::load(None, |k| (k == "NOEGLE_BIND").then(|| "nope".into())).unwrap_err();
    assert!(e.0.contains("NOEGLE_BIND"), "{e}");
    let e = Config::load(None, |k| (k == "NOEGLE_DATABASE").then(|| "mysql://x".into())).unwrap_err();
    assert!(e.0.contains("database"), "{e}");
}

/// A setting with a fixed set of values is parsed once into its type; a wrong one stops the
/// start with its name and the values it takes, never a silent default.
#[test]
fn fixed_choices_are_parsed_at_start() {
    let e = Config::load(None, |k| (k == "NOEGLE_MATCH_CODE").then(|| "maybe".into())).unwrap_err();
    assert_eq!(e.0, "NOEGLE_MATCH_CODE=maybe: must be type, show or off, not \"maybe\"");
    let e = Config::load(None, |k| (k == "NOEGLE_DEFAULT_LANGUAGE").then(|| "de".into())).unwrap_err();
    assert_eq!(e.0, "NOEGLE_DEFAULT_LANGUAGE=de: must be da or en, not \"de\"");
    let e = Config::parse("match_code = \"Show\"\n", |_| None).unwrap_err();
    assert!(e.0.contains("unknown variant `Show`, expected one of `type`, `show`, `off`"), "{e}");
    let c = Config::parse("match_code = \"show\"\ndefault_language = \"en\"\n", |_| None).unwrap();
    assert_eq!((c.match_code, c.default_language), (noegle_core::request::MatchPolicy::Show, crate::i18n::Lang::En));
}

#[test]
fn tls_needs_both_files_and_an_https_url() {
    let e = Config::parse("tls_cert = \"/c.pem\"\n", |_| None).unwrap_err();
    assert!(e.0.contains("set both, or neither"), "{e}");
    let both = "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n";
    let e = Config::parse(both, |_| None).unwrap_err();
    assert!(e.0.contains("public_url must be https://"), "{e}");
    let ok = Config::parse(&format!("{both}public_url = \"https://login.example\"\n"), |_| None).unwrap();
    assert_eq!(ok.tls_key.as_deref(), Some(Path::new("/k.pem")));
}

#[test]
fn trusted_proxies_are_networks() {
    let c = Config::load(None, |k| (k == "NOEGLE_TRUSTED_PROXIES").then(|| "10.0.0.0/8, 127.0.0.1/32,::1/128".into()))
        .unwrap();
    assert_eq!(c.trusted_proxies.len(), 3);
    let e = Config::load(None, |k| (k == "NOEGLE_TRUSTED_PROXIES").then(|| "10.0.0.0/8,nginx".into())).unwrap_err();
    assert!(e.0.contains("NOEGLE_TRUSTED_PROXIES: \"nginx\""), "{e}");
    let c = Config::parse("trusted_proxies = [\"192.168.0.0/16\"]\n", |_| None).unwrap();
    assert_eq!(c.trusted_proxies, vec!["192.168.0.0/16".parse::<ipnet::IpNet>().unwrap()]);
    assert!(Config::parse("trusted_proxies = [\"192.168.0.0/33\"]\n", |_| None).is_err());
    for (net, says) in
        [("0.0.0.0/0", "trusts every address"), ("::/0", "trusts every address"), ("::ffff:10.0.0.0/104", "as IPv4")]
    {
        let e = Config::parse(&format!("trusted_proxies = [\"{net}\"]\n"), |_| None).unwrap_err();
        assert!(e.0.contains(says), "{net}: {e}");
    }
}

#[test]
fn the_support_contact_is_a_phone_number_and_a_web_address() {
    let env = |phone: &'static str, url: &'static str| {
        move |k: &str| match k {
            "NOEGLE_SUPPORT_PHONE" => Some(phone.to_string()),
            "NOEGLE_SUPPORT_URL" => Some(url.to_string()),
            _ => None,
        }
    };
    let c = Config::load(None, env("+45 70 20 70 20", "https://support.example/noegle")).unwrap();
    assert_eq!(
        (c.support_phone.as_str(), c.support_url.as_str()),
        ("+45 70 20 70 20", "https://support.example/noegle")
    );
    for (phone, url, field) in [
        ("ring 7020", "", "support_phone"),
        ("1".repeat(33).leak() as &str, "", "support_phone"),
        ("", "javascript:alert(1)", "support_url"),
        ("", "support.example", "support_url"),
    ] {
        let e = Config::load(None, env(phone, url)).unwrap_err();
        assert!(e.0.contains(field), "{phone:?} {url:?}: {e}");
    }
}

/// Nothing falls back silently — a value that is not UTF-8 names its variable
/// (before, it counted as unset), a misspelt variable is named, and every variable a setting reads is in
/// the list of known ones.
#[test]
fn the_environment_is_checked_before_it_is_read() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let var = |k: &str, v: &str| (OsString::from(k), OsString::from(v));
    let bad = (OsString::from("NOEGLE_DATA_DIR"), OsString::from_vec(vec![b'/', 0xff, b'x']));
    let e = Config::check_environment([var("NOEGLE_BIND", "127.0.0.1:1"), bad]).unwrap_err();
    assert_eq!(e.0, "NOEGLE_DATA_DIR: the value is not UTF-8 text");
    let unknown = Config::check_environment([
        var("NOEGLE_DATA_DIRR", "/srv"),
        var("NOEGLE_BIND", "127.0.0.1:1"),
        var("NOEGLE_TEST_POSTGRES", "postgres://x"),
        var("PATH", "/bin"),
        var("NOEGLE_GUESSES", "3"),
    ])
    .unwrap();
    assert_eq!(unknown, ["NOEGLE_DATA_DIRR", "NOEGLE_GUESSES"]);
    // Every `env("NOEGLE_…")` env.rs reads is known, and every known one is read.
    let source = include_str!("env.rs");
    let read: Vec<&str> = source
        .split("env(\"")
        .chain(source.split("parsed(&env, \""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| {
            name.starts_with("NOEGLE_")
                && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    for name in &read {
        assert!(ENV_VARS.contains(name), "{name} is read but not in ENV_VARS");
    }
    for name in ENV_VARS.iter().filter(|n| **n != "NOEGLE_CONFIG") {
        assert!(read.contains(name), "{name} is in ENV_VARS but never read");
    }
}

/// `sqlite://` (or an in-memory database) would lose every write.
#[test]
fn a_sqlite_database_names_a_file() {
    for url in ["sqlite://", "sqlite:", "sqlite::memory:", "sqlite://:memory:", "sqlite://x.db?mode=memory"] {
        let e = Config::load(None, |k| (k == "NOEGLE_DATABASE").then(|| url.into())).unwrap_err();
        assert!(e.0.contains("names no file"), "{url}: {e}");
    }
    let c = Config::load(None, |k| (k == "NOEGLE_DATABASE").then(|| "sqlite:///srv/n.db?mode=rwc".into())).unwrap();
    assert_eq!(c.database_url(), "sqlite:///srv/n.db?mode=rwc");
}

/// Under a 1,024 open-files limit the node holds 224 connections; one address may
/// hold a quarter of them (56), not 256 (which was more than all of them); more is refused at start.
#[test]
fn one_address_holds_at_most_a_quarter_of_the_connections() {
    let limits = Config::default().limits(1024).unwrap();
    assert_eq!((limits.connections, limits.per_address), (224, 56));
    let limits = Config::default().limits(1 << 20).unwrap();
    assert_eq!(limits.per_address, 256, "256 where the limit allows");
    let c = Config::load(None, |k| (k == "NOEGLE_MAX_CONNECTIONS_PER_ADDRESS").then(|| "100".into())).unwrap();
    let e = c.limits(1024).unwrap_err();
    assert!(e.0.contains("max_connections_per_address is 100") && e.0.contains("set it to 56 or less"), "{e}");
    assert_eq!(c.limits(4096).unwrap().per_address, 100);
    let c = Config { max_connections: 8, ..Config::default() };
    assert_eq!(c.limits(1024).unwrap().per_address, 2);
}

#[test]
fn forwarding_header_ipv6_prefix_and_body_timeout_are_checked() {
    let env = |k: &'static str, v: &'static str| move |name: &str| (name == k).then(|| v.to_string());
    let c = Config::load(None, env("NOEGLE_FORWARDED_HEADER", "forwarded")).unwrap();
    assert_eq!(c.forwarded_header, crate::client_addr::ForwardedHeader::Forwarded);
    let e = Config::load(None, env("NOEGLE_FORWARDED_HEADER", "x-real-ip")).unwrap_err();
    assert_eq!(e.0, "NOEGLE_FORWARDED_HEADER=x-real-ip: must be x-forwarded-for or forwarded, not \"x-real-ip\"");
    assert!(Config::parse("forwarded_header = \"X-Forwarded-For\"\n", |_| None).is_err());
    assert_eq!(Config::load(None, env("NOEGLE_IPV6_PREFIX", "56")).unwrap().ipv6_prefix, 56);
    for bad in ["16", "129"] {
        let e = Config::parse(&format!("ipv6_prefix = {bad}\n"), |_| None).unwrap_err();
        assert!(e.0.contains("ipv6_prefix must be between 32 and 128"), "{e}");
    }
    let e = Config::load(None, env("NOEGLE_BODY_TIMEOUT_SECS", "0")).unwrap_err();
    assert!(e.0.contains("body_timeout_secs"), "{e}");
}

#[test]
fn the_example_file_lists_the_defaults() {
    let example = include_str!("../../../../noegle.example.toml");
    let parsed: Config = toml::from_str(example).unwrap();
    assert_eq!(parsed, Config::default());
}
