//! nøgle's fuzz targets live in `tests/targets.rs`, one per parser that takes outside input, each starting
//! from the committed corpus in `tests/__fuzz__/`. `cargo test -p noegle-fuzz` runs every target for
//! `NOEGLE_FUZZ_SECS` seconds (default 2) of random inputs after its corpus; on a nightly toolchain
//! `cargo bolero test -p noegle-fuzz <target>` runs the same target coverage-guided (libFuzzer).
