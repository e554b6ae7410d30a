//! Systematic fault injection through the driver's own glue (`src/`): every WDF and kernel call
//! site the driver reaches, failed in turn with each failure its routine can return, on the KMDF
//! model (Driver Verifier's systematic low-resources simulation, run on the host).
//!
//! A baseline run of the scenario counts the calls of every faultable routine (`Ddi`); then the
//! scenario runs once per call and per failure status, failing exactly that call. Every run must
//! break no KMDF, I/O-manager or kernel rule, leak no object, pool block or error-log entry, and
//! complete every request exactly once; a failed device add must leave nothing behind. Each write
//! completes with success or with the status of the routine that failed under it, and every
//! pending read completes by the time its handle is closed.

// Test code may panic, index and cast freely.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

use logbridge_core::NtStatus;
use logbridge_core::device::read_request;
use logbridge_core::ioctl;
use logbridge_core::record::RecordDecoder;
use logbridge_core::ring::ReadCursor;
use logbridge_kmdf::{Caller, OpenPath, RegistryEdit, RegistryValue, System, SystemOptions};
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{Ddi, FaultRule, Trigger};
use std::time::Duration;
use zerocopy::IntoBytes;

const WAIT: Duration = Duration::from_secs(5);

/// What one run does; `Err` says which promise it broke.
fn scenario(system: &System, reader: bool) -> Result<(), String> {
    if let Err(status) = system.boot() {
        // A failed DriverEntry or device add: nothing may be left behind (checked by teardown).
        if status.is_success() {
            return Err(format!("boot failed with success status {status}"));
        }
        return Ok(());
    }
    system.wmi_subscribe();
    let writer = system.open(Caller::Administrator, OpenPath::Interface, 7).map_err(|e| format!("open: {e:?}"))?;
    let parked = if reader {
        let handle = system.open(Caller::Administrator, OpenPath::Interface, 8).map_err(|e| format!("open: {e:?}"))?;
        Some((handle, system.device_io_control_overlapped(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096)))
    } else {
        None
    };
    let mut written = 0u64;
    // A text write, a zero-length write, one above MaxWriteSize (always refused) and a short one.
    for payload in [vec![b'a'; 300], Vec::new(), vec![0; 70_000], b"after".to_vec()] {
        let done = system.write(writer, &payload);
        if done.status.is_success() {
            written += 1;
        } else if !done.status.is_error() || done.information != 0 {
            return Err(format!("a write completed with {} and Information {}", done.status, done.information));
        } else if payload.len() > 65_536 && done.status != NtStatus::INVALID_BUFFER_SIZE {
            return Err(format!("an oversize write completed with {}", done.status));
        }
    }
    // A reader parked at the end of the log, closed while parked: its cleanup must cancel it.
    let late = system.open(Caller::Administrator, OpenPath::Interface, 9).map_err(|e| format!("open: {e:?}"))?;
    let end = read_request(ioctl::READ_MODE_END, 0, ReadCursor::default());
    let late_read = system.device_io_control_overlapped(late, ioctl::IOCTL_LOGBRIDGE_READ_LOG, end.as_bytes(), 4096);
    system.close(late);
    let done = late_read.wait(WAIT).ok_or("a read parked at the end outlived its handle")?;
    if done.status.is_success() {
        return Err("a read parked at the end completed with data nobody wrote".into());
    }
    if let Some((handle, pending)) = parked {
        system.close(handle);
        let done = pending.wait(WAIT).ok_or("a parked read outlived its handle")?;
        if done.status.is_success() && done.view.bytes <= ioctl::READ_LOG_RESPONSE_SIZE && written > 0 {
            return Err("a parked read completed without a record".into());
        }
    }
    // Whatever was accepted is in the ring, whole.
    let request = read_request(ioctl::READ_MODE_OLDEST, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default());
    let done = system.device_io_control(writer, ioctl::IOCTL_LOGBRIDGE_READ_LOG, request.as_bytes(), 4096);
    if done.status.is_success() {
        let records = RecordDecoder::new(&done.output[ioctl::READ_LOG_RESPONSE_SIZE..done.view.bytes]).count() as u64;
        if records != written {
            return Err(format!("{written} writes accepted, {records} records in the ring"));
        }
    } else if done.status != NtStatus::INSUFFICIENT_RESOURCES {
        return Err(format!("reading the ring back failed with {}", done.status));
    }
    Ok(())
}

/// One configuration of the matrix.
#[derive(Clone, Copy, Debug)]
struct Variant {
    reader: bool,
    wmi_subscribed: bool,
    /// An invalid override in the registry, so device add logs "parameter defaulted".
    bad_override: bool,
}

/// Runs the scenario with `faults`; returns the system (for its call counts) and any failure.
fn run(faults: Vec<FaultRule>, variant: Variant) -> (System, Vec<String>) {
    let Variant { reader, wmi_subscribed, bad_override } = variant;
    let registry = if bad_override {
        vec![RegistryEdit::SetOverride("RingLogSize".into(), RegistryValue::String("big".into()))]
    } else {
        Vec::new()
    };
    let options =
        SystemOptions { kernel: KernelOptions { faults, ..KernelOptions::default() }, wmi_subscribed, registry };
    let system = System::new(options, logbridge_kmdf::driver_entry!());
    let mut failures: Vec<String> = scenario(&system, reader).err().into_iter().collect();
    system.teardown();
    if !system.live_objects().is_empty() {
        failures.push(format!("objects left: {:?}", system.live_objects()));
    }
    failures.extend(system.violations().iter().map(ToString::to_string));
    (system, failures)
}

#[test]
fn every_wdf_and_kernel_call_site_of_the_driver_fails_cleanly() {
    let mut runs = 0usize;
    let mut sites = 0usize;
    let mut failures = Vec::new();
    let mut failed_routines = std::collections::BTreeSet::new();
    let variants = [
        Variant { reader: true, wmi_subscribed: true, bad_override: false },
        Variant { reader: false, wmi_subscribed: false, bad_override: true },
    ];
    for variant in variants {
        let (baseline, problems) = run(Vec::new(), variant);
        assert!(problems.is_empty(), "the baseline run is not clean: {problems:#?}");
        runs += 1;
        let calls = baseline.kernel().calls();
        for ddi in Ddi::ALL {
            for call in 1..=calls.get(&ddi).copied().unwrap_or(0) {
                for status in ddi.failure_statuses() {
                    let rule = FaultRule { ddi, trigger: Trigger::Nth(call), status: *status };
                    let (system, problems) = run(vec![rule], variant);
                    runs += 1;
                    sites += 1;
                    if system.kernel().faults_injected().get(&ddi).copied().unwrap_or(0) > 0 {
                        failed_routines.insert(ddi.routine());
                    }
                    failures.extend(problems.into_iter().map(|p| format!("{rule} ({variant:?}): {p}")));
                }
            }
        }
    }
    eprintln!(
        "KMDF fault injection: {sites} fault sites, {runs} runs, routines failed: {}",
        failed_routines.iter().copied().collect::<Vec<_>>().join(", ")
    );
    assert!(failures.is_empty(), "{} failing runs:\n{}", failures.len(), failures.join("\n"));
    // The sweep reaches the WDF routines, not only the write path's three DDIs.
    for routine in [
        "WdfDeviceCreate",
        "WdfIoQueueCreate",
        "WdfRequestForwardToIoQueue",
        "WdfIoQueueRetrieveNextRequest",
        "IoWMIWriteEvent",
    ] {
        assert!(failed_routines.contains(routine), "{routine} was never failed");
    }
}
