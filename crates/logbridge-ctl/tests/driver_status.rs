//! The app's messages for refused writes, end to end: the driver's own code (`src/`) on the KMDF
//! and I/O-manager model refuses the writes, the Win32 error and the `GET_STATS` reply are what a
//! Win32 caller gets back, and `driver_status` turns them into LogBridge's words.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use logbridge_core::ioctl::{self, Stats};
use logbridge_ctl::driver_status::{self, Request, WriteLimits};
use logbridge_ctl::error::ExitStatus;
use logbridge_kmdf::{Caller, OpenPath, RegistryEdit, RegistryValue, System, SystemOptions};

const RING: u32 = 64 * 1024;
const MAX_WRITE: u32 = 16 * 1024;

/// What `logbridge-ctl write` reports for a write of `len` bytes, through the driver.
fn refusal(system: &System, len: usize) -> (ExitStatus, String) {
    let handle = system.open(Caller::Administrator, OpenPath::Interface, 4242).unwrap();
    let done = system.write(handle, &vec![b'x'; len]);
    assert!(!done.view.succeeded, "a write of {len} bytes was accepted");
    let request = Request::Write { index: 0, len };
    let code = Some(done.view.error);
    let limits = driver_status::needs_limits(request, code).then(|| {
        let stats = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], ioctl::STATS_SIZE);
        WriteLimits::from(&Stats::from_bytes(&stats.output).expect("GET_STATS"))
    });
    let error = driver_status::request_error(request, "LogBridge", code, "Windows' generic text", limits);
    (error.exit_status(), error.to_string())
}

#[test]
fn refused_writes_name_the_ring_or_max_write_size() {
    let options = SystemOptions {
        registry: vec![
            RegistryEdit::SetOverride("RingLogSize".into(), RegistryValue::Dword(RING)),
            RegistryEdit::SetOverride("MaxWriteSize".into(), RegistryValue::Dword(MAX_WRITE)),
        ],
        ..SystemOptions::default()
    };
    let system = System::new(options, logbridge_kmdf::driver_entry!());
    system.boot().unwrap();

    let (status, text) = refusal(&system, 20_000);
    assert_eq!(status, ExitStatus::BadInput);
    assert!(text.contains("larger than MaxWriteSize (16384 bytes)"), "{text}");

    // MaxWriteSize at its largest (64 KiB = the smallest ring): a 64 KiB write's record does not fit.
    let options = SystemOptions {
        registry: vec![
            RegistryEdit::SetOverride("RingLogSize".into(), RegistryValue::Dword(RING)),
            RegistryEdit::SetOverride("MaxWriteSize".into(), RegistryValue::Dword(RING)),
        ],
        ..SystemOptions::default()
    };
    let system = System::new(options, logbridge_kmdf::driver_entry!());
    system.boot().unwrap();
    let (status, text) = refusal(&system, RING as usize);
    assert_eq!(status, ExitStatus::BadInput);
    assert!(text.contains("larger than the ring log (65536 bytes"), "{text}");
    assert!(!text.contains("generic"), "{text}");
}
