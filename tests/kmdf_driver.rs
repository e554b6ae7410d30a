//! The driver's own code (`src/`: DriverEntry, the KMDF callbacks, the wrappers, `WindowsKernel`,
//! the pending-read queues) run against the executable model of KMDF, the I/O manager and the
//! kernel (`logbridge-kmdf`), driven the way PnP and a Win32 caller drive it. Every test ends with
//! the model's verdict: no KMDF, I/O-manager or kernel rule broken, nothing leaked.
//!
//! The defects the model found in `src/` are pinned here: the WMI ProviderId taken before WMI
//! registration, error-log padding left uninitialised, a read stranded by a cleanup that raced
//! its parking, error completions carrying Information, an oversize write failing with a warning.

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
use logbridge_core::device::{SPIN_LOCK_COPY_LIMIT, read_request};
use logbridge_core::identity::POOL_TAG;
use logbridge_core::ioctl::{self, ReadLogResponse, Stats};
use logbridge_core::record::RecordDecoder;
use logbridge_core::ring::ReadCursor;
use logbridge_kmdf::win32;
use logbridge_kmdf::{Caller, Handle, OpenPath, RegistryEdit, RegistryValue, System, SystemOptions};
use std::sync::Arc;
use std::time::Duration;
use zerocopy::{FromBytes, IntoBytes};

const PID: u32 = 4242;
const WAIT: Duration = Duration::from_secs(10);

fn system(options: SystemOptions) -> System {
    let system = System::new(options, logbridge_kmdf::driver_entry!());
    system.boot().expect("the driver loads, adds and starts its device");
    system
}

fn subscribed() -> SystemOptions {
    SystemOptions { wmi_subscribed: true, ..SystemOptions::default() }
}

fn open(system: &System) -> Handle {
    system.open(Caller::Administrator, OpenPath::Interface, PID).expect("an elevated administrator opens the device")
}

fn dont_wait(mode: u32) -> Vec<u8> {
    read_request(mode, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default()).as_bytes().to_vec()
}

/// Every retained record's (sequence, payload), reading until a read returns none.
fn read_all(system: &System, handle: Handle) -> Vec<(u64, Vec<u8>)> {
    let mut records = Vec::new();
    let mut mode = ioctl::READ_MODE_OLDEST;
    loop {
        let done = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &dont_wait(mode), 1 << 20);
        assert_eq!(done.status, NtStatus::SUCCESS, "{done:?}");
        let body = &done.output[ioctl::READ_LOG_RESPONSE_SIZE..done.view.bytes];
        let before = records.len();
        records.extend(RecordDecoder::new(body).map(|r| (r.header.sequence, r.payload.to_vec())));
        if records.len() == before {
            return records;
        }
        mode = ioctl::READ_MODE_CONTINUE;
    }
}

fn stats(system: &System, handle: Handle) -> Stats {
    let done = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], ioctl::STATS_SIZE);
    assert!(done.view.succeeded, "{done:?}");
    Stats::from_bytes(&done.output).expect("a stats struct")
}

fn finish(system: &System) {
    system.teardown();
    assert!(system.live_objects().is_empty(), "objects left: {:?}", system.live_objects());
    system.assert_clean();
}

#[test]
fn the_whole_life_runs_through_the_drivers_own_code() {
    let system = system(subscribed());
    assert!(system.interface_present());
    let handle = open(&system);
    let written = system.write(handle, b"hello, event log");
    assert!(written.view.succeeded && written.view.bytes == 16, "{written:?}");
    assert_eq!(read_all(&system, handle), vec![(0, b"hello, event log".to_vec())]);
    let cleared = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, &[], 0);
    assert!(cleared.view.succeeded);
    let stats = stats(&system, handle);
    assert_eq!((stats.writes, stats.clears, stats.ring_records, stats.wmi_fired), (1, 1, 0, 1));
    assert_eq!(system.kernel().written_entries().len(), 1);
    system.close(handle);
    system.query_remove().expect("no open handle: nobody vetoes");
    finish(&system);
    let calls = system.routine_calls();
    for routine in
        ["WdfDriverCreate", "WdfDeviceCreate", "IoWriteErrorLogEntry", "IoWMIWriteEvent", "WdfSpinLockAcquire"]
    {
        assert!(calls.get(routine).copied().unwrap_or(0) > 0, "{routine} never called: {calls:?}");
    }
}

/// Finding 1: KMDF registers the device with WMI when it starts, and on 64-bit Windows
/// `IoWMIDeviceObjectToProviderId` answers 0 before that. The driver asks at fire time.
#[test]
fn wmi_events_carry_the_provider_id_registered_at_start() {
    let system = System::new(subscribed(), logbridge_kmdf::driver_entry!());
    assert!(system.load_driver().is_success() && system.add_device().is_success());
    assert_eq!(system.wmi_provider_id(), 0, "not registered with WMI before start");
    assert!(system.start_device().is_success());
    let registered = system.wmi_provider_id();
    assert_ne!(registered, 0);
    let handle = open(&system);
    system.write(handle, b"x");
    let events = system.kernel().wmi_events();
    assert_eq!(events.len(), 1);
    let provider_id = u32::from_le_bytes(events[0][4..8].try_into().unwrap());
    assert_eq!(provider_id, registered);
    finish(&system);
}

#[test]
fn wmi_events_fire_only_while_a_consumer_has_enabled_them() {
    let system = system(SystemOptions::default());
    let handle = open(&system);
    system.write(handle, b"nobody listens");
    system.wmi_subscribe();
    system.write(handle, b"someone listens");
    system.wmi_unsubscribe();
    system.write(handle, b"gone again");
    assert_eq!(system.kernel().wmi_events().len(), 1);
    assert_eq!(stats(&system, handle).wmi_disabled, 2);
    finish(&system);
}

/// Finding 7: the FDO is unnamed; the INF's security on the device node guards the names that
/// exist. Every caller tries every name.
#[test]
fn only_system_and_elevated_administrators_open_the_device_by_any_name() {
    let system = system(SystemOptions::default());
    assert_eq!(system.fdo_name(), None, "the FDO is not named");
    for caller in Caller::ALL {
        for path in OpenPath::ALL {
            let opened = system.open(caller, path, PID);
            let fdo_path = matches!(path, OpenPath::FdoName | OpenPath::BelowFdoName);
            match opened {
                Ok(handle) => {
                    assert!(caller.is_privileged() && !fdo_path, "{caller:?} opened {path:?}");
                    system.close(handle);
                }
                Err(refused) => {
                    let expected = if fdo_path { NtStatus::OBJECT_NAME_NOT_FOUND } else { NtStatus::ACCESS_DENIED };
                    assert!(!caller.is_privileged() || fdo_path, "{caller:?} refused {path:?}: {refused:?}");
                    assert_eq!(refused.status, expected, "{caller:?} on {path:?}");
                    if !fdo_path {
                        assert_eq!(refused.view.error, win32::ERROR_ACCESS_DENIED);
                    }
                }
            }
        }
    }
    finish(&system);
}

#[test]
fn writers_and_pending_readers_on_several_threads() {
    const WRITERS: usize = 3;
    const PER_WRITER: usize = 40;
    let system = Arc::new(system(subscribed()));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let system = Arc::clone(&system);
            let handle = open(&system);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while seen.len() < WRITERS * PER_WRITER {
                    // No input: continue from the handle's cursor, and wait for data.
                    let pending =
                        system.device_io_control_overlapped(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 1 << 16);
                    let done = pending.wait(WAIT).expect("a parked read is completed by a write");
                    assert_eq!(done.status, NtStatus::SUCCESS, "{done:?}");
                    let header = ReadLogResponse::read_from_prefix(&done.output).unwrap().0;
                    assert_eq!(header.lost_records.get(), 0);
                    let body = &done.output[ioctl::READ_LOG_RESPONSE_SIZE..done.view.bytes];
                    seen.extend(RecordDecoder::new(body).map(|r| r.header.sequence));
                }
                system.close(handle);
                seen
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let system = Arc::clone(&system);
            std::thread::spawn(move || {
                let handle = open(&system);
                for i in 0..PER_WRITER {
                    let done = system.write(handle, format!("writer {w} record {i}").as_bytes());
                    assert!(done.view.succeeded, "{done:?}");
                }
                system.close(handle);
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    for reader in readers {
        let seen = reader.join().unwrap();
        assert_eq!(
            seen,
            (0..(WRITERS * PER_WRITER) as u64).collect::<Vec<_>>(),
            "each reader sees every record once, in order"
        );
    }
    finish(&system);
}

#[test]
fn cancel_io_completes_a_parked_read_with_cancelled() {
    let system = system(SystemOptions::default());
    let handle = open(&system);
    let pending = system.device_io_control_overlapped(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096);
    assert!(!pending.is_complete(), "a read of an empty log pends");
    system.cancel(&pending);
    let done = pending.wait(WAIT).unwrap();
    assert_eq!(
        (done.status, done.view.error, done.view.bytes),
        (NtStatus::CANCELLED, win32::ERROR_OPERATION_ABORTED, 0)
    );
    assert!(system.write(handle, b"after the cancel").view.succeeded);
    finish(&system);
}

#[test]
fn closing_a_handle_cancels_its_parked_read() {
    let system = system(SystemOptions::default());
    let handle = open(&system);
    let other = open(&system);
    let pending = system.device_io_control_overlapped(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096);
    let others = system.device_io_control_overlapped(other, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096);
    system.close(handle);
    assert_eq!(pending.wait(WAIT).unwrap().status, NtStatus::CANCELLED);
    assert!(!others.is_complete(), "another handle's read stays parked");
    system.write(other, b"wakes the other reader");
    assert_eq!(others.wait(WAIT).unwrap().status, NtStatus::SUCCESS);
    finish(&system);
}

/// Finding 6: a handle cleaned up while its READ_LOG is between dispatch and parking. The model
/// runs the cleanup on another thread at the moment the driver forwards the read to its parking
/// queue; the read must complete with STATUS_CANCELLED, not wait for the next write.
#[test]
fn a_cleanup_racing_a_read_into_its_parking_does_not_strand_the_read() {
    let system = Arc::new(system(SystemOptions::default()));
    let handle = open(&system);
    let closer = Arc::new(std::sync::Mutex::new(None));
    {
        let system_for_hook = Arc::clone(&system);
        let closer = Arc::clone(&closer);
        system.before_next_forward(move || {
            let system = Arc::clone(&system_for_hook);
            let thread = std::thread::spawn(move || system.close(handle));
            // Let the cleanup run as far as it can: to its end, or until it waits for a lock this
            // thread holds.
            system_for_hook.wait_until_finished_or_blocked(&thread, WAIT);
            *closer.lock().unwrap() = Some(thread);
        });
    }
    let pending = system.device_io_control_overlapped(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 4096);
    let thread = closer.lock().unwrap().take().expect("the driver parked the read through WdfRequestForwardToIoQueue");
    thread.join().unwrap();
    let done = pending.wait(WAIT).expect("the read does not wait for a write that never comes");
    assert_eq!(done.status, NtStatus::CANCELLED);
    finish(&system);
}

#[test]
fn removal_with_open_handles_cancels_parked_reads_and_refuses_new_io() {
    let system = system(SystemOptions::default());
    let handle = open(&system);
    system.write(handle, b"before removal");
    let reader = open(&system);
    let end = read_request(ioctl::READ_MODE_END, 0, ReadCursor::default()).as_bytes().to_vec();
    let pending = system.device_io_control_overlapped(reader, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &end, 4096);
    assert!(!pending.is_complete());
    assert!(system.query_remove().is_err(), "PnP vetoes a query-remove while handles are open");
    system.remove_device();
    assert_eq!(pending.wait(WAIT).unwrap().status, NtStatus::CANCELLED);
    let refused = system.write(handle, b"after removal");
    assert_eq!((refused.status, refused.view.error), (NtStatus::INVALID_DEVICE_STATE, win32::ERROR_BAD_COMMAND));
    assert!(system.open(Caller::Administrator, OpenPath::PdoName, PID).is_err());
    assert!(!system.live_objects().is_empty(), "the device lives until its last handle closes");
    system.close(handle);
    system.close(reader);
    assert_eq!(system.live_objects().get("WDFDEVICE"), None, "deleted with the last handle");
    system.unload();
    system.assert_clean();
}

/// Finding 3: failures complete with Information 0. For METHOD_BUFFERED the I/O manager copies
/// nothing back on an error; READ_LOG (METHOD_OUT_DIRECT) still leaves its header, with the size
/// it needs, in the caller's pages.
#[test]
fn failed_requests_complete_with_information_zero() {
    let system = system(SystemOptions::default());
    let handle = open(&system);
    let small = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], 8);
    assert_eq!((small.status, small.information), (NtStatus::BUFFER_TOO_SMALL, 0));
    assert_eq!((small.view.error, small.view.bytes, small.view.copied_back), (win32::ERROR_INSUFFICIENT_BUFFER, 0, 0));
    system.write(handle, &[7; 1000]);
    let too_small =
        system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &dont_wait(ioctl::READ_MODE_OLDEST), 512);
    assert_eq!((too_small.status, too_small.information, too_small.view.bytes), (NtStatus::BUFFER_TOO_SMALL, 0, 0));
    let header = ReadLogResponse::read_from_prefix(&too_small.output).unwrap().0;
    assert_eq!(header.required_size.get(), 64 + 1032, "the header in the caller's pages says what is needed");
    finish(&system);
}

/// Finding 4: a write the driver refuses fails with an NT_ERROR status; STATUS_BUFFER_OVERFLOW is
/// a warning, which WriteFile would report as ERROR_MORE_DATA ("More data is available").
#[test]
fn oversize_writes_fail_with_an_error_not_a_warning() {
    let options = SystemOptions {
        registry: vec![RegistryEdit::SetOverride("RingLogSize".into(), RegistryValue::Dword(64 * 1024))],
        ..SystemOptions::default()
    };
    let system = system(options);
    let handle = open(&system);
    for size in [64 * 1024 + 1, 64 * 1024 - 8] {
        let refused = system.write(handle, &vec![1; size]);
        assert_eq!(refused.status, NtStatus::INVALID_BUFFER_SIZE, "{size} bytes");
        assert_eq!(
            (refused.view.succeeded, refused.view.error, refused.view.bytes),
            (false, win32::ERROR_INVALID_USER_BUFFER, 0)
        );
    }
    assert!(read_all(&system, handle).is_empty(), "nothing logged");
    finish(&system);
}

/// Finding 5: the copy made under the ring's spin lock is bounded, for writes and for reads.
#[test]
fn copies_under_the_spin_lock_stay_within_the_bound() {
    let system = system(SystemOptions::default());
    let handle = open(&system);
    for _ in 0..6 {
        assert!(system.write(handle, &vec![3; 64 * 1024]).view.succeeded);
    }
    let done =
        system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &dont_wait(ioctl::READ_MODE_OLDEST), 1 << 20);
    assert!(
        done.view.bytes <= ioctl::READ_LOG_RESPONSE_SIZE + SPIN_LOCK_COPY_LIMIT,
        "{} bytes in one read",
        done.view.bytes
    );
    assert_eq!(read_all(&system, handle).len(), 6, "the rest comes with the next reads");
    let stats = stats(&system, handle);
    assert!(stats.largest_locked_copy > 0 && stats.largest_locked_copy <= SPIN_LOCK_COPY_LIMIT as u64, "{stats:?}");
    finish(&system);
}

/// Finding 11: an administrator's override goes in the driver's persistent state key and wins
/// over the INF's Parameters; an invalid one is replaced by the default and reported (event 3).
#[test]
fn overrides_in_the_persistent_state_key_win_over_parameters() {
    let options = SystemOptions {
        registry: vec![
            RegistryEdit::SetOverride("MaxWriteSize".into(), RegistryValue::Dword(100)),
            RegistryEdit::SetOverride("EventLogBurst".into(), RegistryValue::String("lots".into())),
        ],
        ..SystemOptions::default()
    };
    let system = system(options);
    let handle = open(&system);
    assert_eq!(stats(&system, handle).max_write_size, 100);
    assert_eq!(system.write(handle, &[0; 101]).status, NtStatus::INVALID_BUFFER_SIZE);
    assert!(system.write(handle, &[0; 100]).view.succeeded);
    let defaulted = system
        .kernel()
        .written_entries()
        .iter()
        .filter(|e| {
            logbridge_core::errorlog::parse_packet(&e.packet).unwrap().header.error_code
                == logbridge_core::messages::LOGBRIDGE_PARAMETER_DEFAULTED.id
        })
        .count();
    assert_eq!(defaulted, 1, "the invalid EventLogBurst override is reported once");
    finish(&system);
}

/// Finding 10: KMDF tags what it allocates for the driver with the driver's tag.
#[test]
fn the_driver_gives_kmdf_its_pool_tag() {
    let system = system(SystemOptions::default());
    assert_eq!(system.driver_pool_tag(), Some(POOL_TAG));
    finish(&system);
}

/// A power-managed default queue holds requests while the device is not in D0.
#[test]
fn requests_sent_before_start_wait_for_d0() {
    let system = System::new(SystemOptions::default(), logbridge_kmdf::driver_entry!());
    assert!(system.load_driver().is_success() && system.add_device().is_success());
    assert!(!system.interface_present(), "interfaces are enabled at start");
    let handle = system.open(Caller::System, OpenPath::PdoName, PID).expect("the PDO's name exists before start");
    let pending = system.write_overlapped(handle, b"early");
    assert!(!pending.is_complete(), "held by the power-managed queue");
    assert!(system.start_device().is_success());
    assert!(pending.wait(WAIT).unwrap().view.succeeded);
    assert_eq!(read_all(&system, handle), vec![(0, b"early".to_vec())]);
    finish(&system);
}

#[test]
fn zero_length_writes_reach_the_driver_and_are_records() {
    let system = system(subscribed());
    let handle = open(&system);
    let done = system.write(handle, &[]);
    assert!(done.view.succeeded && done.view.bytes == 0);
    assert_eq!(read_all(&system, handle), vec![(0, Vec::new())]);
    assert_eq!(system.kernel().wmi_events().len(), 1);
    finish(&system);
}
