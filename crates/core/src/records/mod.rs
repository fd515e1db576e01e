//! The plain data the store keeps and the flows share: rows as the [`Store`](crate::store::Store) traits
//! name them, with the small rules that read only the row itself. Records import no flow and no store, so
//! the layers run one way: records → store → ctx → flows.

pub mod device;
pub mod ids;
pub mod oidc;
pub mod request;

#[cfg(test)]
mod tests {
    /// The modules a record or the store port may use: other records and the leaf modules, never a flow.
    const BELOW_THE_FLOWS: &[&str] =
        &["records", "audit", "keycard", "session_key", "user", "secret", "clock", "UnixTime", "SecureRng"];

    /// The `crate::…` names used by `source` outside comments and its tests.
    fn crate_names(source: &str) -> Vec<&str> {
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        code.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .flat_map(|l| l.split("crate::").skip(1))
            .flat_map(|rest| match rest.strip_prefix('{') {
                // `crate::{A, b::C}`: each name in the braces.
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect::<Vec<_>>(),
                None => vec![rest],
            })
            .filter_map(|path| path.trim().split(|c: char| !c.is_alphanumeric() && c != '_').next())
            .collect()
    }

    #[test]
    fn the_records_and_the_store_port_import_no_flow() {
        let sources = [
            ("store.rs", include_str!("../store.rs")),
            ("records/device.rs", include_str!("device.rs")),
            ("records/ids.rs", include_str!("ids.rs")),
            ("records/oidc.rs", include_str!("oidc.rs")),
            ("records/request.rs", include_str!("request.rs")),
            ("audit.rs", include_str!("../audit.rs")),
            ("keycard.rs", include_str!("../keycard.rs")),
            ("session_key.rs", include_str!("../session_key.rs")),
            ("user.rs", include_str!("../user.rs")),
            ("secret.rs", include_str!("../secret.rs")),
        ];
        for (file, source) in sources {
            for name in crate_names(source) {
                assert!(BELOW_THE_FLOWS.contains(&name), "{file} uses crate::{name}, which is not below the flows");
            }
        }
    }
}
