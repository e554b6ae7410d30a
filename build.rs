//! Build script of the driver package.
//!
//! On a Windows target it hands over to windows-drivers-rs (`wdk_build::configure_wdk_binary_build`),
//! which finds the WDK, emits the KMDF link arguments and checks the static CRT, and then compiles
//! the driver's resources and links them into `logbridge.sys`:
//!
//! 1. `mc -c -U` turns `inf/logbridge.mc` into the message table (`-c`: the customer bit that the
//!    ids in `logbridge_core::messages` carry); the build then reads the ids back from the header
//!    mc wrote (`logbridge.h`) and fails if any differs from `crates/logbridge-core/src/messages.rs`
//!    (included below by path: the driver logs those ids, Event Viewer looks the text up by them);
//! 2. `mofcomp -WMI -B:` validates `inf/logbridge.mof` for a WMI provider and turns it into the
//!    binary MOF;
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

/// The ids the driver logs (the core's message table; no dependency is needed for one file).
#[cfg_attr(not(windows), allow(dead_code))]
#[path = "crates/logbridge-core/src/messages.rs"]
mod messages;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for input in [
        "build.rs",
        "build/resources.rs",
        MESSAGES_SOURCE,
        resources::RESOURCE_SCRIPT,
        resources::MESSAGE_TEXT,
        resources::MOF_SOURCE,
    ] {
        println!("cargo::rerun-if-changed={input}");
    }
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "windows" {
        return Ok(());
    }
    configure_wdk()
}

/// The file of the `messages` module above.
const MESSAGES_SOURCE: &str = "crates/logbridge-core/src/messages.rs";

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
    mc.args(resources::mc_args(&out, &root.join(resources::MESSAGE_TEXT)));
    run(mc)?;
    // The ids mc gave the messages must be the ids the driver logs.
    let header = std::fs::read_to_string(out.join(resources::MESSAGE_HEADER))?;
    let expected: Vec<(&str, u32)> = messages::MESSAGES.iter().map(|m| (m.symbolic_name, m.id)).collect();
    resources::check_message_ids(&header, &expected)?;

    let system_root = std::env::var_os("SystemRoot").map_or_else(|| PathBuf::from(r"C:\Windows"), PathBuf::from);
    let mut mofcomp = Command::new(system_root.join(r"System32\wbem\mofcomp.exe"));
    mofcomp.args(resources::mofcomp_args(&out.join(resources::BINARY_MOF), &root.join(resources::MOF_SOURCE)));
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
