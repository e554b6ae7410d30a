//! Build script of the driver package.
//!
//! On a Windows target it hands over to windows-drivers-rs (`wdk_build::configure_wdk_binary_build`),
//! which finds the WDK, emits the KMDF link arguments and checks the static CRT. On any other target
//! the driver crate is an empty library and there is nothing to configure.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "windows" {
        return Ok(());
    }
    configure_wdk()
}

/// The WDK build configuration. `wdk-build` is a build-dependency only under `cfg(windows)`,
/// and it only compiles on a Windows host, so cross-compiling the driver from Linux stops here.
#[cfg(windows)]
fn configure_wdk() -> Result<(), Box<dyn std::error::Error>> {
    wdk_build::configure_wdk_binary_build()?;
    Ok(())
}

#[cfg(not(windows))]
fn configure_wdk() -> Result<(), Box<dyn std::error::Error>> {
    Err("the LogBridge driver links against the WDK and must be built on a Windows host \
         (windows-drivers-rs does not support cross-compiling from other hosts)"
        .into())
}
