//! Build script of the driver package.
//!
//! On a Windows target it hands over to windows-drivers-rs (`wdk_build::configure_wdk_binary_build`),
//! which finds the WDK, emits the KMDF link arguments and checks the static CRT, and then compiles
//! the driver's resources and links them into `logbridge.sys`:
//!
//! 1. `mc -c -U` turns `inf/logbridge.mc` into the message table (`-c`: the customer bit that the
//!    ids in `logbridge_core::messages` carry);
//! 2. `mofcomp -B:` turns `inf/logbridge.mof` into the binary MOF;
//! 3. `rc` compiles `inf/logbridge-resources.rc` (both of the above plus VERSIONINFO) into a
//!    `.res`, which is passed to the linker.
//!
//! Why here and not in `Makefile.toml`: the `.res` must reach the linker, and only a build script
//! can add a link argument to the cdylib; doing it here also means every way of building the driver
//! (`cargo make`, `cargo wdk build`, a plain `cargo build` in a WDK shell) produces the same image.
//! mc and rc come from the WDK/SDK `bin` directories, found the way wdk-build's cargo-make flow
//! finds them (`wdk_build::cargo_make::setup_path`); mofcomp ships with Windows
//! (`%SystemRoot%\System32\wbem`).
//!
//! On any other target the driver crate is empty and there is nothing to configure.

#[cfg_attr(not(windows), allow(dead_code))]
#[path = "build/resources.rs"]
mod resources;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for input in
        ["build.rs", "build/resources.rs", resources::RESOURCE_SCRIPT, resources::MESSAGE_TEXT, resources::MOF_SOURCE]
    {
        println!("cargo::rerun-if-changed={input}");
    }
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "windows" {
        return Ok(());
    }
    configure_wdk()
}

/// The WDK build configuration and the resources. `wdk-build` is a build-dependency only under
/// `cfg(windows)`, and it only compiles on a Windows host, so cross-compiling the driver from
/// Linux stops here.
#[cfg(windows)]
fn configure_wdk() -> Result<(), Box<dyn std::error::Error>> {
    wdk_build::configure_wdk_binary_build()?;
    compile_resources()
}

#[cfg(windows)]
fn compile_resources() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;
    use std::process::Command;

    // Puts the WDK and SDK tool directories (mc.exe, rc.exe) first on this process's PATH.
    let _ = wdk_build::cargo_make::setup_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);

    let header = resources::version_header(&std::env::var("CARGO_PKG_VERSION")?)?;
    std::fs::write(out.join(resources::VERSION_HEADER), header)?;

    let mut mc = Command::new("mc");
    mc.args(["-c", "-U", "-h"]).arg(&out).arg("-r").arg(&out).arg(root.join(resources::MESSAGE_TEXT));
    run(mc)?;

    let system_root = std::env::var_os("SystemRoot").map_or_else(|| PathBuf::from(r"C:\Windows"), PathBuf::from);
    let mut mofcomp = Command::new(system_root.join(r"System32\wbem\mofcomp.exe"));
    let mut bmf_flag = std::ffi::OsString::from("-B:");
    bmf_flag.push(out.join(resources::BINARY_MOF));
    mofcomp.arg(bmf_flag).arg(root.join(resources::MOF_SOURCE));
    run(mofcomp)?;

    let res = out.join("logbridge.res");
    let mut rc = Command::new("rc");
    rc.arg("/nologo").arg("/i").arg(&out).arg("/fo").arg(&res).arg(root.join(resources::RESOURCE_SCRIPT));
    rc.current_dir(&out);
    run(rc)?;

    println!("cargo::rustc-cdylib-link-arg={}", res.display());
    Ok(())
}

#[cfg(windows)]
fn run(mut command: std::process::Command) -> Result<(), Box<dyn std::error::Error>> {
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed: {status}").into()) }
}

#[cfg(not(windows))]
fn configure_wdk() -> Result<(), Box<dyn std::error::Error>> {
    Err("the LogBridge driver links against the WDK and must be built on a Windows host \
         (windows-drivers-rs does not support cross-compiling from other hosts)"
        .into())
}
