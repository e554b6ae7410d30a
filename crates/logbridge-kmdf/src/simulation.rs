//! `logbridge-ctl simulate --kmdf`: the same run as `logbridge_model::simulation` (writers on
//! threads, a reader following the ring log with parked `READ_LOG`s, a WMI subscriber, the Event
//! Log), but through the driver's own code on the KMDF and I/O-manager model: every write is a
//! `WriteFile` on a handle opened by `CreateFile`, every read a `DeviceIoControl`.

use crate::rules::KmdfViolation;
use crate::security::{Caller, OpenPath};
use crate::system::{Handle, RegistryEdit, System, SystemOptions};
use crate::{DriverEntryFn, RegistryValue};
use logbridge_core::NtStatus;
use logbridge_core::device::read_request;
use logbridge_core::ioctl::{self, Stats};
use logbridge_core::ring::ReadCursor;
use logbridge_model::kernel::KernelOptions;
use logbridge_model::simulation::{self, SimulationParams, SimulationReport};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use zerocopy::IntoBytes;

const READ_BUFFER: usize = 256 * 1024;
const WAIT: Duration = Duration::from_secs(30);

/// The report of a run through the driver's own code.
#[derive(Debug, Default)]
pub struct KmdfSimulationReport {
    /// What the core simulation reports too (outputs, statistics, kernel violations, cross-checks).
    pub base: SimulationReport,
    /// How often each WDF and kernel routine was called.
    pub routine_calls: BTreeMap<&'static str, u64>,
    /// The KMDF and I/O-manager rules broken.
    pub kmdf_violations: Vec<KmdfViolation>,
}

impl KmdfSimulationReport {
    /// True if no rule was broken and every cross-check held.
    pub fn passed(&self) -> bool {
        self.base.passed() && self.kmdf_violations.is_empty()
    }
}

/// Runs the simulation on the driver whose entry point is `entry`.
pub fn run(params: &SimulationParams, entry: DriverEntryFn) -> Result<KmdfSimulationReport, String> {
    let dword = |value: usize| RegistryValue::Dword(u32::try_from(value).unwrap_or(u32::MAX));
    let options = SystemOptions {
        kernel: KernelOptions { faults: params.faults.clone(), seed: params.seed, ..KernelOptions::default() },
        // The administrator's overrides: where the driver reads them first.
        registry: vec![
            RegistryEdit::SetOverride("RingLogSize".into(), dword(params.ring_size)),
            RegistryEdit::SetOverride("EventLogBurst".into(), RegistryValue::Dword(params.rate_limit.burst)),
            RegistryEdit::SetOverride(
                "EventLogRatePerSecond".into(),
                RegistryValue::Dword(params.rate_limit.per_second),
            ),
            RegistryEdit::SetOverride("MaxWriteSize".into(), dword(params.max_write_size)),
        ],
        wmi_subscribed: params.wmi_enabled,
    };
    let system = System::new(options, entry);
    let mut report = KmdfSimulationReport::default();
    if let Err(status) = system.boot() {
        // DriverEntry or EvtDriverDeviceAdd failed (the core simulation's device_add_failed).
        report.base.device_add_failed = Some(status);
        return Ok(finish(system, report));
    }
    let open = |pid| system.open(Caller::Administrator, OpenPath::Interface, pid);
    let reader = open(3999).map_err(|e| format!("the reader's CreateFile failed: {}", e.status))?;
    let threads = params.threads.max(1);
    let next_write = AtomicUsize::new(0);
    let statuses = std::sync::Mutex::new(BTreeMap::<String, u64>::new());
    let writers_done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (system, next_write, statuses, writers_done) = (&system, &next_write, &statuses, &writers_done);
            scope.spawn(move || {
                let Ok(handle) = system.open(Caller::Administrator, OpenPath::Interface, 4000 + t) else {
                    writers_done.fetch_add(1, Ordering::Release);
                    return;
                };
                loop {
                    let index = next_write.fetch_add(1, Ordering::Relaxed) as u64;
                    if index >= params.writes {
                        break;
                    }
                    system.kernel().advance(params.ticks_per_write);
                    let done = system.write(handle, &params.payload.bytes(index));
                    let key = done.status.name().unwrap_or("other").to_owned();
                    *statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_insert(0) += 1;
                }
                system.close(handle);
                writers_done.fetch_add(1, Ordering::Release);
            });
        }
        follow(&system, reader, &writers_done, threads as usize, &mut report.base);
    });
    report.base.write_statuses = statuses.into_inner().unwrap_or_else(|p| p.into_inner());
    report.base.stats = stats(&system, reader).unwrap_or_default();
    system.close(reader);
    let mut report = finish(system, report);
    simulation::cross_check(params, &mut report.base);
    Ok(report)
}

fn stats(system: &System, handle: Handle) -> Option<Stats> {
    let done = system.device_io_control(handle, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], ioctl::STATS_SIZE);
    Stats::from_bytes(&done.output)
}

/// Tears the system down and collects what the Event Log, the WMI subscriber and the verifier saw.
fn finish(system: System, mut report: KmdfSimulationReport) -> KmdfSimulationReport {
    system.teardown();
    if let Err(error) = simulation::collect_outputs(system.kernel(), "", &mut report.base) {
        report.base.mismatches.push(error);
    }
    report.routine_calls = system.routine_calls();
    for violation in system.violations() {
        if let crate::Violation::Kmdf(v) = violation {
            report.kmdf_violations.push(v);
        }
    }
    report
}

/// The reader: READ_LOG in a loop, waiting on parked requests, until the writers are done and
/// the log is drained; a parked read left when they are is cancelled (`CancelIoEx`).
fn follow(system: &System, reader: Handle, writers_done: &AtomicUsize, writers: usize, report: &mut SimulationReport) {
    let all_done = || writers_done.load(Ordering::Acquire) >= writers;
    loop {
        let finished = all_done();
        let input = if finished {
            read_request(ioctl::READ_MODE_CONTINUE, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default())
                .as_bytes()
                .to_vec()
        } else {
            Vec::new()
        };
        let pending = system.device_io_control_overlapped(reader, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &input, READ_BUFFER);
        if !pending.is_complete() {
            report.reader_pended += 1;
        }
        let done = loop {
            if let Some(done) = pending.wait(Duration::from_millis(5)) {
                break Some(done);
            }
            if all_done() {
                system.cancel(&pending);
                break pending.wait(WAIT);
            }
        };
        let Some(done) = done else {
            report.mismatches.push("a cancelled READ_LOG never completed".into());
            return;
        };
        if done.status == NtStatus::CANCELLED {
            continue;
        }
        if done.status != NtStatus::SUCCESS {
            report.mismatches.push(format!("READ_LOG completed with {}", done.status));
            return;
        }
        let returned = done.output.get(..done.view.bytes).unwrap_or(&done.output);
        let Some(progress) = simulation::record_read(report, returned) else { return };
        if finished && !progress {
            return;
        }
    }
}
