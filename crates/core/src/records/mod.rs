//! The plain data the store keeps and the flows share: rows as the [`Store`](crate::store::Store) traits
//! name them, with the small rules that read only the row itself. Records import no flow and no store, so
//! the layers run one way: records → store → ctx → flows.

pub mod device;
pub mod oidc;
pub mod request;
