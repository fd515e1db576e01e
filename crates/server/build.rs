//! Brings the phone key app's one npm dependency (the OPAQUE client, `@serenity-kit/opaque`) into the build,
//! so the server binary embeds it: `npm ci` in `web/app` when it is not installed yet, then a copy to OUT_DIR.

use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let web = manifest.join("../../web/app");
    let module = web.join("node_modules/@serenity-kit/opaque/esm/index.js");
    println!("cargo:rerun-if-changed={}", web.join("package-lock.json").display());
    println!("cargo:rerun-if-changed={}", module.display());
    if !module.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&web)
            .status()
            .map_err(|e| format!("the key app needs npm (Node.js) to build: {e}"))?;
        if !status.success() {
            return Err(format!("`npm ci` in {} failed ({status})", web.display()));
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    std::fs::copy(&module, out.join("opaque.js")).map_err(|e| format!("cannot copy {}: {e}", module.display()))?;
    Ok(())
}
