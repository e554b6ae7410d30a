//! Tells `src/lib.rs` that it is being built for the host against the KMDF model: its crate-level
//! gate admits Windows targets and this cfg.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(logbridge_kmdf_model)");
    println!("cargo::rustc-cfg=logbridge_kmdf_model");
}
