//! Every routine the driver names is executed by its tests (issue "The driver's own code runs on
//! Linux", section 4; `scripts/coverage.sh` measures the functions and lines of `src/`).
//!
//! The routines are read from the driver's source: each `call_unsafe_wdf_function_binding!(Name`
//! and each name imported from `wdk_sys::ntddk`. A representative set of scenarios then runs
//! through the driver's own code on the KMDF model (the whole life of the device, every IOCTL,
//! parked and cancelled reads, registry overrides, WMI, removal with open handles, and runs with
//! faults injected into the routines whose failure paths the driver handles), and the union of
//! the routines the model saw called must hold every routine the driver names.
//!
//! [`UNREACHED`] lists the routines the driver names only in a fallback no scenario can reach;
//! each must still be named and still be never called, so the list cannot go stale.

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
use logbridge_core::ring::ReadCursor;
use logbridge_kmdf::{Caller, Handle, OpenPath, PendingIo, RegistryEdit, RegistryValue, System, SystemOptions};
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{Ddi, FaultRule, Trigger};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use zerocopy::IntoBytes;

mod common;

const PID: u32 = 4242;

/// Routines the driver names that no scenario can make it call, and why. Each is reported by
/// `scripts/coverage.sh` as a never-executed function too.
const UNREACHED: &[(&str, &str)] = &[
    (
        "WdfRequestComplete",
        "only in `Request`'s Drop, for a request no path completed or forwarded; every path of src/ \
         completes or forwards its requests, and no fault of the model makes one drop",
    ),
    (
        "IoFreeErrorLogEntry",
        "only in `ErrorLogEntry`'s Drop, for an entry allocated but not written; the core drops one \
         only if encoding fails after planning succeeded, which needs an entry smaller than planned",
    ),
];

// ---------------------------------------------------------------------------------------------
// The routines the driver names.

/// The source without `//` comments.
fn without_comments(source: &str) -> String {
    source.lines().map(common::code).collect::<Vec<_>>().join("\n")
}

/// The identifier at the start of `text` (after whitespace).
fn identifier(text: &str) -> &str {
    let text = text.trim_start();
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// `Name` of each `call_unsafe_wdf_function_binding!(Name, ..)`, and each `Name` of
/// `wdk_sys::ntddk::{Name, ..}` / `wdk_sys::ntddk::Name`.
fn routines_named_in(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("call_unsafe_wdf_function_binding!") {
        let rest = code[at + "call_unsafe_wdf_function_binding!".len()..].trim_start();
        let rest = rest.strip_prefix('(').unwrap_or_else(|| panic!("a binding call without `(`: {rest:.40}"));
        let name = identifier(rest);
        assert!(!name.is_empty(), "a binding call without a routine name: {rest:.40}");
        names.insert(name.to_owned());
    }
    for (at, _) in code.match_indices("wdk_sys::ntddk::") {
        let rest = code[at + "wdk_sys::ntddk::".len()..].trim_start();
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').expect("a closed import list")];
            for item in list.split(',') {
                // `Name` or `Name as Alias`.
                let name = identifier(item);
                if !name.is_empty() && name != "self" {
                    names.insert(name.to_owned());
                }
            }
        } else {
            let name = identifier(rest);
            assert!(!name.is_empty(), "an ntddk path without a name: {rest:.40}");
            names.insert(name.to_owned());
        }
    }
    names
}

/// Every routine the driver's source names.
fn routines_named_by_the_driver() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (_, source) in common::rust_files(&common::root().join("src")) {
        names.extend(routines_named_in(&without_comments(&source)));
    }
    names
}

#[test]
fn the_parser_finds_both_forms_and_ignores_comments() {
    let source = "use wdk_sys::ntddk::{KeGetCurrentIrql, IoWMIWriteEvent as Fire};\n\
                  // call_unsafe_wdf_function_binding!(WdfInComment, x)\n\
                  let x = unsafe { call_unsafe_wdf_function_binding!(\n    WdfDriverCreate,\n    a) };\n\
                  unsafe { wdk_sys::ntddk::ExAllocatePool2(1, 2, 3) };";
    let found: Vec<String> = routines_named_in(&without_comments(source)).into_iter().collect();
    assert_eq!(found, ["ExAllocatePool2", "IoWMIWriteEvent", "KeGetCurrentIrql", "WdfDriverCreate"]);
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

fn options(faults: Vec<FaultRule>) -> SystemOptions {
    SystemOptions {
        kernel: KernelOptions { faults, ..KernelOptions::default() },
        registry: vec![
            // A valid override (read from the persistent state key) and an invalid one (defaulted,
            // reported with an Event Log entry at device add).
            RegistryEdit::SetOverride("MaxWriteSize".into(), RegistryValue::Dword(4096)),
            RegistryEdit::SetOverride("EventLogBurst".into(), RegistryValue::String("lots".into())),
        ],
        wmi_subscribed: false,
    }
}

fn open(system: &System) -> Option<Handle> {
    system.open(Caller::Administrator, OpenPath::Interface, PID).ok()
}

fn read_log(mode: u32, flags: u32) -> Vec<u8> {
    read_request(mode, flags, ReadCursor::default()).as_bytes().to_vec()
}

/// The status `pending` completed with by now, if it completed. The model completes requests on
/// the thread that causes the completion, so by the time the call that should complete a request
/// returns, it has completed: no waiting, nothing timing-dependent.
fn settled(pending: &PendingIo) -> Option<NtStatus> {
    pending.wait(Duration::ZERO).map(|outcome| outcome.status)
}

/// The device's whole life through every entry point of the driver. Without faults (`strict`)
/// every step must succeed; with faults each step may fail as the fault makes it, and the model's
/// verdict (checked by the caller) is what counts.
fn whole_life(system: &System, strict: bool) {
    // `None`: still pending.
    let expect = |what: &str, got: Option<NtStatus>, wanted: Option<NtStatus>| {
        assert!(!strict || got == wanted, "{what}: {got:?}, expected {wanted:?}");
    };
    let booted = system.boot();
    assert!(!strict || booted.is_ok(), "boot: {booted:?}");
    if booted.is_err() {
        return;
    }
    system.wmi_subscribe();
    let (Some(writer), Some(reader)) = (open(system), open(system)) else {
        assert!(!strict, "open failed");
        return;
    };
    // A read parked (no DONT_WAIT, nothing new for this handle) and completed by a write.
    let parked = system.device_io_control_overlapped(reader, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096);
    expect("a read of an empty log", settled(&parked), None);
    let written = system.write(writer, b"hello, event log").status;
    expect("a write", Some(written), Some(NtStatus::SUCCESS));
    expect("the parked read", settled(&parked), Some(NtStatus::SUCCESS));
    expect("a zero-length write", Some(system.write(writer, &[]).status), Some(NtStatus::SUCCESS));
    // Above the MaxWriteSize override: refused by its length.
    expect("an oversize write", Some(system.write(writer, &[b'x'; 5000]).status), Some(NtStatus::INVALID_BUFFER_SIZE));
    // READ_LOG with DONT_WAIT, from the oldest record; GET_STATS; CLEAR_LOG.
    let oldest = read_log(ioctl::READ_MODE_OLDEST, ioctl::READ_FLAG_DONT_WAIT);
    let read = system.device_io_control(writer, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &oldest, 1 << 16).status;
    expect("READ_LOG", Some(read), Some(NtStatus::SUCCESS));
    let stats = system.device_io_control(writer, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], ioctl::STATS_SIZE).status;
    expect("GET_STATS", Some(stats), Some(NtStatus::SUCCESS));
    let cleared = system.device_io_control(writer, ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, &[], 0).status;
    expect("CLEAR_LOG", Some(cleared), Some(NtStatus::SUCCESS));
    // An unknown code, refused without touching its buffers.
    let unknown = ioctl::ctl_code(ioctl::FILE_DEVICE_UNKNOWN, 0x8FF, ioctl::METHOD_BUFFERED, ioctl::FILE_ANY_ACCESS);
    let refused = system.device_io_control(writer, unknown, &[], 64).status;
    expect("an unknown IOCTL", Some(refused), Some(NtStatus::INVALID_DEVICE_REQUEST));
    let at_end = read_log(ioctl::READ_MODE_END, 0);
    // A parked read cancelled by its caller (CancelIoEx).
    let cancelled = system.device_io_control_overlapped(reader, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &at_end, 4096);
    system.cancel(&cancelled);
    expect("a cancelled read", settled(&cancelled), Some(NtStatus::CANCELLED));
    // A parked read cancelled by its handle's cleanup, while another handle's read stays parked.
    let stranded = system.device_io_control_overlapped(reader, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &at_end, 4096);
    let waiting = system.device_io_control_overlapped(writer, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &at_end, 4096);
    system.close(reader);
    expect("a read of a closed handle", settled(&stranded), Some(NtStatus::CANCELLED));
    expect("another handle's read", settled(&waiting), None);
    // Nobody listens to WMI any more: the write fires no event.
    system.wmi_unsubscribe();
    system.write(writer, b"wakes the other reader");
    expect("the other handle's read", settled(&waiting), Some(NtStatus::SUCCESS));
    // Surprise removal with a handle open and a read parked, then the last close and the unload.
    let at_removal = system.device_io_control_overlapped(writer, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &at_end, 4096);
    assert!(!strict || system.query_remove().is_err(), "PnP vetoes a query-remove while a handle is open");
    system.remove_device();
    expect("a read parked at removal", settled(&at_removal), Some(NtStatus::CANCELLED));
    let late = system.write(writer, b"after removal").status;
    expect("a write after removal", Some(late), Some(NtStatus::INVALID_DEVICE_STATE));
    system.close(writer);
    system.unload();
}

/// Runs the whole life with `faults`; the routines called. The model must find nothing wrong.
fn run(faults: Vec<FaultRule>) -> BTreeMap<&'static str, u64> {
    let described: Vec<String> = faults.iter().map(ToString::to_string).collect();
    let strict = faults.is_empty();
    let system = System::new(options(faults), logbridge_kmdf::driver_entry!());
    whole_life(&system, strict);
    system.teardown();
    let violations = system.violations();
    assert!(violations.is_empty(), "faults {described:?}: the model found {violations:#?}");
    assert!(system.live_objects().is_empty(), "faults {described:?}: objects left {:?}", system.live_objects());
    system.routine_calls()
}

fn fault(ddi: Ddi, trigger: Trigger) -> FaultRule {
    FaultRule { ddi, trigger, status: ddi.failure_statuses()[0] }
}

/// Faults that send the driver down its failure paths: a failed DriverEntry and device add,
/// missing registry keys, NULL error-log entries and pool, a failing IoWMIWriteEvent (the item
/// comes back to be freed), a parking queue that refuses the read, buffers that cannot be
/// retrieved, and a cleanup whose retrieval by file object fails (the rotate fallback).
fn fault_plans() -> Vec<Vec<FaultRule>> {
    use Ddi::*;
    let mut plans: Vec<Vec<FaultRule>> = vec![Vec::new()];
    plans.extend(
        [
            WdfDriverCreate,
            WdfDeviceCreate,
            WdfIoQueueCreate,
            WdfDriverOpenRegistryKey,
            WdfRegistryQueryULong,
            AllocateErrorLogEntry,
            WmiWriteEvent,
            WdfRequestForwardToIoQueue,
            WdfIoQueueRetrieveNextRequest,
            WdfIoQueueRetrieveRequestByFileObject,
            WdfRequestRetrieveInputBuffer,
            WdfRequestRetrieveOutputBuffer,
        ]
        .into_iter()
        .map(|ddi| vec![fault(ddi, Trigger::Every)]),
    );
    // The ring's allocation fails once: device add falls back to a smaller ring.
    plans.push(vec![fault(AllocateNonPaged, Trigger::Nth(1))]);
    plans
}

#[test]
fn every_routine_the_driver_names_is_called_by_the_scenarios() {
    let named = routines_named_by_the_driver();
    for expected in ["WdfDriverCreate", "WdfRequestCompleteWithInformation", "ExAllocatePool2", "IoWMIWriteEvent"] {
        assert!(named.contains(expected), "the source scan missed {expected}: {named:?}");
    }
    let mut called: BTreeMap<&'static str, u64> = BTreeMap::new();
    for plan in fault_plans() {
        for (routine, count) in run(plan) {
            *called.entry(routine).or_insert(0) += count;
        }
    }
    let unreached: BTreeMap<&str, &str> = UNREACHED.iter().copied().collect();
    let missing: Vec<&String> =
        named.iter().filter(|r| !called.contains_key(r.as_str()) && !unreached.contains_key(r.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} routine(s) the driver names were never called by the scenarios: {missing:?}\n(called: {called:?})",
        missing.len()
    );
    for (routine, reason) in UNREACHED {
        assert!(named.contains(*routine), "{routine} is listed as unreached but the driver no longer names it");
        assert!(
            !called.contains_key(routine),
            "{routine} is listed as unreached ({reason}) but was called {} time(s): remove it from UNREACHED",
            called[routine]
        );
    }
    eprintln!(
        "routines named by the driver: {}, called: {}, unreached: {:?}",
        named.len(),
        named.len() - UNREACHED.len(),
        UNREACHED.iter().map(|(r, _)| *r).collect::<Vec<_>>()
    );
}
