//! Rules about the Windows driver layer (`src/`) that hold whether or not it can be compiled here:
//! where `unsafe` and wdk-sys may appear, that every `unsafe` block is justified, and that the
//! driver packaging points at the files this repository has. (`scripts/check-driver.sh` also
//! type-checks and lints the layer against a transcription of the wdk-sys API.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::fs;

mod common;

use common::{code, root, rust_files};

/// The identifiers and keywords of a line of code.
fn words(code: &str) -> impl Iterator<Item = &str> {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty())
}

fn driver_files() -> Vec<(String, String)> {
    let files = rust_files(&root().join("src"));
    assert!(files.iter().any(|(p, _)| p == "src/wrappers/request.rs"), "driver layer not found: {files:?}");
    files
}

#[test]
fn only_the_wrappers_use_unsafe_or_name_wdk_sys() {
    for (path, text) in driver_files() {
        let in_wrappers = path.starts_with("src/wrappers/");
        for (number, line) in text.lines().enumerate() {
            let code = code(line);
            if !in_wrappers {
                let mut words = words(code);
                assert!(
                    !words.any(|w| w == "unsafe" || w == "wdk_sys"),
                    "{path}:{}: `unsafe` or wdk-sys outside src/wrappers: {line}",
                    number + 1
                );
            }
        }
    }
    // The crate root denies unsafe code and allows it for the wrappers module only.
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![deny(unsafe_code)]"));
    assert_eq!(lib.matches("#[allow(unsafe_code)]").count(), 1);
    assert!(lib.contains("#[allow(unsafe_code)]\npub mod wrappers;"));
}

#[test]
fn every_unsafe_block_and_impl_has_a_safety_comment() {
    let mut checked = 0;
    for (path, text) in driver_files() {
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let code = code(line);
            let is_block = code.contains("unsafe {");
            let is_impl = code.trim_start().starts_with("unsafe impl");
            if !(is_block || is_impl) {
                continue;
            }
            checked += 1;
            // The comment is on one of the lines just above (a statement may span a few lines).
            let window = &lines[index.saturating_sub(6)..=index];
            assert!(
                window.iter().any(|l| l.trim_start().starts_with("// SAFETY:")),
                "{path}:{}: `unsafe` without a `// SAFETY:` comment just above: {line}",
                index + 1
            );
        }
    }
    assert!(checked >= 30, "only {checked} unsafe sites found: is the scan still reading the wrappers?");
}

#[test]
fn the_driver_never_unwraps_panics_or_indexes() {
    let forbidden = [".unwrap()", ".expect(", "panic!(", "todo!(", "unimplemented!(", "unreachable!("];
    for (path, text) in driver_files() {
        for (number, line) in text.lines().enumerate() {
            let code = code(line);
            for word in forbidden {
                assert!(!code.contains(word), "{path}:{}: `{word}` in kernel code: {line}", number + 1);
            }
        }
    }
}

#[test]
fn the_default_queue_is_parallel_passive_and_takes_zero_length_writes() {
    let device = fs::read_to_string(root().join("src/wrappers/device.rs")).unwrap();
    let queue = device.split("pub fn create_default_queue").nth(1).unwrap().split("pub fn ").next().unwrap();
    for needle in [
        "WdfIoQueueDispatchParallel",
        "AllowZeroLengthRequests: 1",
        "DefaultQueue: 1",
        "WdfExecutionLevelPassive",
        "NumberOfPresentedRequests = ULONG::MAX",
        "EvtIoWrite: Some(",
        "EvtIoDeviceControl: Some(",
    ] {
        assert!(queue.contains(needle), "default queue lacks `{needle}`");
    }
    let manual = device.split("pub fn create_manual_queue").nth(1).unwrap().split("pub fn ").next().unwrap();
    assert!(manual.contains("WdfIoQueueDispatchManual") && manual.contains("PowerManaged: _WDF_TRI_STATE::WdfFalse"));
    // Zero is the *Invalid* execution level and synchronization scope: every attribute block
    // starts from the helper that sets them, never from a bare Default.
    for (path, text) in driver_files() {
        assert!(!text.contains("WDF_OBJECT_ATTRIBUTES::default()") || path == "src/wrappers/mod.rs", "{path}");
    }
}

#[test]
fn the_makefile_extends_wdk_builds_flow_and_copies_the_inx_from_inf() {
    let makefile = fs::read_to_string(root().join("Makefile.toml")).unwrap();
    assert!(makefile.contains("extend = \"target/rust-driver-makefile.toml\""));
    assert!(makefile.contains("wdk_build::cargo_make::load_rust_driver_makefile()"));
    let cargo = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let pinned = cargo.lines().find(|l| l.starts_with("wdk-build = ")).expect("wdk-build build-dependency");
    let version = pinned.split('"').nth(1).unwrap();
    assert!(makefile.contains(&format!("wdk-build = \"{version}\"")), "load_script pins another wdk-build");
    let task = makefile.split("[tasks.copy-inx-to-output]").nth(1).expect("copy-inx-to-output override");
    assert!(task.contains("clear = true"));
    assert!(task.contains("${CARGO_MAKE_WORKING_DIRECTORY}/inf/logbridge.inx"));
    assert!(task.contains("${WDK_BUILD_OUTPUT_DIRECTORY}/logbridge.inf"));
    assert!(root().join("inf/logbridge.inx").is_file());
}

#[test]
fn the_fdo_is_unnamed_and_secure_open_and_the_inf_secures_the_stack() {
    // "Name device objects only when necessary": the FDO gets no name (so no SDDL either:
    // WdfDeviceInitAssignSDDLString needs a named device object). The INF's device-node security
    // and FILE_DEVICE_SECURE_OPEN guard the only names a handle can be opened by; the KMDF model's
    // security test (tests/kmdf_driver.rs) opens every name as every caller.
    let device = fs::read_to_string(root().join("src/wrappers/device.rs")).unwrap();
    let create = device.split("pub fn create(mut self)").nth(1).expect("DeviceInit::create");
    assert!(create.contains("WdfDeviceInitSetCharacteristics, self.0, FILE_DEVICE_SECURE_OPEN, 1)"));
    for name in ["WdfDeviceInitAssignSDDLString", "WdfDeviceInitAssignName", "FILE_AUTOGENERATED_DEVICE_NAME"] {
        assert!(!code_of(&device).contains(name), "src/wrappers/device.rs names {name}");
    }
    let inx = fs::read_to_string(root().join("inf/logbridge.inx")).unwrap();
    assert!(inx.contains("HKR,,Security,,\"D:P(A;;GA;;;SY)(A;;GA;;;BA)\""));
    assert!(inx.contains("HKR,,DeviceCharacteristics,0x00010001,0x100"));
}

/// The code of a file without its comments.
fn code_of(text: &str) -> String {
    text.lines().map(code).collect::<Vec<_>>().join("\n")
}
