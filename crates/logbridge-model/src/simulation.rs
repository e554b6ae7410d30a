//! A whole run of the write path, as `logbridge-ctl simulate` shows it: writers on one or more
//! threads, a reader that follows the ring log with pending `READ_LOG` requests, a WMI subscriber,
//! and the Event Log, all on the checked kernel, with optional injected faults.

use crate::device::{DeviceOptions, IoResult, ModelDevice};
use crate::event_viewer::{EventViewer, RenderedEvent};
use crate::faults::{Ddi, FaultRule};
use crate::kernel::{KernelOptions, ModelKernel, Violation};
use logbridge_core::NtStatus;
use logbridge_core::device::{Config, read_request};
use logbridge_core::ioctl::{self, FILE_READ_ACCESS, FILE_WRITE_ACCESS, ReadLogResponse, Stats};
use logbridge_core::ratelimit::RateLimit;
use logbridge_core::record::RecordDecoder;
use logbridge_core::ring::ReadCursor;
use logbridge_core::time::FileTime;
use logbridge_core::wmi;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use zerocopy::FromBytes;

/// What each write carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// `hello from logbridge-ctl simulate, write N`.
    Default,
    /// This text for every write.
    Text(String),
    /// Printable filler of exactly this many bytes, numbered per write.
    Size(usize),
}

impl Payload {
    /// The bytes of write `index`.
    pub fn bytes(&self, index: u64) -> Vec<u8> {
        match self {
            Payload::Default => format!("hello from logbridge-ctl simulate, write {index}").into_bytes(),
            Payload::Text(text) => text.clone().into_bytes(),
            Payload::Size(size) => {
                let pattern = format!("write {index} ");
                pattern.bytes().cycle().take(*size).collect()
            }
        }
    }
}

/// Settings of a run.
#[derive(Clone, Debug)]
pub struct SimulationParams {
    /// Writes in total.
    pub writes: u64,
    /// What they carry.
    pub payload: Payload,
    /// Writer threads.
    pub threads: u32,
    /// Ring size in bytes.
    pub ring_size: usize,
    /// Faults to inject.
    pub faults: Vec<FaultRule>,
    /// Seed of random faults.
    pub seed: u64,
    /// Whether a WMI consumer has enabled the event.
    pub wmi_enabled: bool,
    /// Event-log rate limit.
    pub rate_limit: RateLimit,
    /// Largest accepted write.
    pub max_write_size: usize,
    /// Model time that passes per write, in 100 ns units (1 ms by default).
    pub ticks_per_write: u64,
}

impl Default for SimulationParams {
    fn default() -> Self {
        SimulationParams {
            writes: 20,
            payload: Payload::Default,
            threads: 1,
            ring_size: logbridge_core::ring::DEFAULT_CAPACITY,
            faults: Vec::new(),
            seed: 0,
            wmi_enabled: true,
            rate_limit: RateLimit::default(),
            max_write_size: Config::default().max_write_size,
            ticks_per_write: 10_000,
        }
    }
}

/// A record as the ring-log reader received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderRecord {
    /// Sequence number.
    pub sequence: u64,
    /// Timestamp.
    pub timestamp: FileTime,
    /// Writer's process id.
    pub process_id: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A WMI event as the subscriber received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriberEvent {
    /// Sequence number.
    pub sequence: u64,
    /// Timestamp.
    pub timestamp: FileTime,
    /// Writer's process id.
    pub process_id: u32,
    /// Size of the write.
    pub total_length: u32,
    /// The first bytes of the write.
    pub payload: Vec<u8>,
    /// Size of the event item.
    pub item_size: usize,
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct SimulationReport {
    /// `None` if the device was created; otherwise the status device add failed with.
    pub device_add_failed: Option<NtStatus>,
    /// Completion status of each write, counted.
    pub write_statuses: BTreeMap<String, u64>,
    /// What Event Viewer shows.
    pub events: Vec<RenderedEvent>,
    /// What the WMI subscriber received.
    pub wmi_events: Vec<SubscriberEvent>,
    /// What the ring-log reader received.
    pub reader_records: Vec<ReaderRecord>,
    /// Records the reader was told it lost.
    pub reader_lost_records: u64,
    /// READ_LOG requests that completed with data, and that pended first.
    pub reader_reads: u64,
    /// READ_LOG requests that had to pend.
    pub reader_pended: u64,
    /// The driver's statistics at the end.
    pub stats: Stats,
    /// Calls per faultable DDI, and faults injected.
    pub calls: BTreeMap<Ddi, u64>,
    /// Faults injected per DDI.
    pub faults_injected: BTreeMap<Ddi, u64>,
    /// Peak nonpaged memory and the number of nonpaged allocations.
    pub pool_peak: usize,
    /// Number of nonpaged allocations.
    pub pool_allocations: u64,
    /// The ring's bytes at the end, oldest first (a crash-dump view).
    pub ring_dump: Vec<u8>,
    /// Every contract violation.
    pub violations: Vec<Violation>,
    /// Problems the run's own cross-checks found (reader or WMI disagreeing with the writes).
    pub mismatches: Vec<String>,
}

impl SimulationReport {
    /// True if no contract was broken and every cross-check held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.mismatches.is_empty()
    }
}

/// Runs the simulation.
pub fn run(params: &SimulationParams) -> Result<SimulationReport, String> {
    let kernel_options = KernelOptions {
        faults: params.faults.clone(),
        seed: params.seed,
        wmi_enabled: params.wmi_enabled,
        ..KernelOptions::default()
    };
    let config = Config { rate_limit: params.rate_limit, max_write_size: params.max_write_size, ..Config::default() };
    let device_options = DeviceOptions { ring_size: params.ring_size, config, ..DeviceOptions::default() };
    let device_name = device_options.device_name.clone();
    let kernel = ModelKernel::new(kernel_options);
    let mut report = SimulationReport::default();
    let device = match ModelDevice::create(kernel.clone(), device_options) {
        Ok(device) => device,
        Err(status) => {
            kernel.check_leaks();
            report.device_add_failed = Some(status);
            report.violations = kernel.violations();
            report.calls = kernel.calls();
            report.faults_injected = kernel.faults_injected();
            return Ok(report);
        }
    };
    let threads = params.threads.max(1);
    let reader = device.open(FILE_READ_ACCESS);
    let next_write = AtomicUsize::new(0);
    let statuses = std::sync::Mutex::new(BTreeMap::<String, u64>::new());
    let writers_done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (device, next_write, statuses, writers_done) = (&device, &next_write, &statuses, &writers_done);
            scope.spawn(move || {
                let handle = device.open(FILE_READ_ACCESS | FILE_WRITE_ACCESS);
                loop {
                    let index = next_write.fetch_add(1, Ordering::Relaxed) as u64;
                    if index >= params.writes {
                        break;
                    }
                    device.kernel().advance(params.ticks_per_write);
                    let done = device.write(handle, &params.payload.bytes(index), 4000 + t);
                    let key = done.status.name().unwrap_or("other").to_owned();
                    *statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_insert(0) += 1;
                }
                device.close(handle);
                writers_done.fetch_add(1, Ordering::Release);
            });
        }
        follow(&device, reader, &writers_done, threads, &mut report);
    });
    report.write_statuses = statuses.into_inner().unwrap_or_else(|p| p.into_inner());
    report.stats = device.bridge().stats();
    report.ring_dump = device.bridge().log().dump();
    let kernel = device.teardown();
    collect_outputs(&kernel, &device_name, &mut report)?;
    cross_check(params, &mut report);
    Ok(report)
}

/// What the Event Viewer shows and the WMI subscriber received, from the checked kernel's record
/// of written entries and fired items.
pub fn collect_outputs(kernel: &ModelKernel, device_name: &str, report: &mut SimulationReport) -> Result<(), String> {
    let viewer = EventViewer::new(device_name)?;
    for entry in kernel.written_entries() {
        report.events.push(viewer.render(&entry.packet)?);
    }
    for item in kernel.wmi_events() {
        let parsed = wmi::parse_wnode(&item).map_err(|e| e.to_string())?;
        if let Some(Ok(event)) = parsed.write_event() {
            report.wmi_events.push(SubscriberEvent {
                sequence: event.sequence,
                timestamp: event.timestamp,
                process_id: event.process_id,
                total_length: event.total_length,
                payload: event.payload.to_vec(),
                item_size: item.len(),
            });
        }
    }
    report.calls = kernel.calls();
    report.faults_injected = kernel.faults_injected();
    let (_, peak, allocations) = kernel.pool_usage();
    report.pool_peak = peak;
    report.pool_allocations = allocations;
    report.violations = kernel.violations();
    Ok(())
}

/// The reader: READ_LOG in a loop, waiting on parked requests, until the writers are done and the
/// log is drained.
fn follow(device: &ModelDevice, reader: u64, writers_done: &AtomicUsize, writers: u32, report: &mut SimulationReport) {
    let all_done = || writers_done.load(Ordering::Acquire) >= writers as usize;
    loop {
        let finished = all_done();
        let request = finished
            .then(|| read_request(ioctl::READ_MODE_CONTINUE, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default()));
        let done = match device.read_log(reader, request, 256 * 1024) {
            IoResult::Completed(done) => done,
            IoResult::Pending(id) => {
                report.reader_pended += 1;
                loop {
                    if let Some(done) = device.completion(id) {
                        break done;
                    }
                    if all_done() && device.cancel(id) {
                        break match device.completion(id) {
                            Some(done) => done,
                            None => return,
                        };
                    }
                    std::thread::yield_now();
                }
            }
        };
        if done.status == NtStatus::CANCELLED {
            continue;
        }
        if done.status != NtStatus::SUCCESS {
            report.mismatches.push(format!("READ_LOG completed with {}", done.status));
            return;
        }
        let Some(progress) = record_read(report, &done.output) else { return };
        if finished && !progress {
            return;
        }
    }
}

/// Takes a completed READ_LOG's output (its response header and records) into the report. `None` if
/// it has no response header; else whether it brought records or reported a loss.
pub fn record_read(report: &mut SimulationReport, output: &[u8]) -> Option<bool> {
    let (header, _) = ReadLogResponse::read_from_prefix(output).ok()?;
    report.reader_reads += 1;
    report.reader_lost_records += header.lost_records.get();
    let body = output.get(ioctl::READ_LOG_RESPONSE_SIZE..).unwrap_or(&[]);
    let before = report.reader_records.len();
    report.reader_records.extend(RecordDecoder::new(body).map(|r| ReaderRecord {
        sequence: r.header.sequence,
        timestamp: r.header.timestamp,
        process_id: r.header.process_id,
        payload: r.payload.to_vec(),
    }));
    Some(report.reader_records.len() > before || header.lost_records.get() > 0)
}

/// The reader and the WMI subscriber must agree with what was written (also used by the KMDF
/// model's simulation, which runs the driver's own code).
pub fn cross_check(params: &SimulationParams, report: &mut SimulationReport) {
    let accepted = report.write_statuses.get("STATUS_SUCCESS").copied().unwrap_or(0);
    let got = report.reader_records.len() as u64 + report.reader_lost_records;
    if got != accepted {
        report.mismatches.push(format!(
            "the reader saw {} records and was told of {} lost, but {accepted} writes succeeded",
            report.reader_records.len(),
            report.reader_lost_records
        ));
    }
    if report.reader_records.windows(2).any(|w| w[0].sequence >= w[1].sequence) {
        report.mismatches.push("the reader saw sequence numbers go backwards or repeat".into());
    }
    for record in &report.reader_records {
        let expected = match &params.payload {
            Payload::Text(text) => Some(text.as_bytes().to_vec()),
            other => payload_index(other, &record.payload).map(|index| other.bytes(index)),
        };
        if expected.is_some_and(|expected| expected != record.payload) {
            report.mismatches.push(format!("record {} carries a payload no write had", record.sequence));
        }
    }
    let fired = report.stats.wmi_fired;
    if report.wmi_events.len() as u64 != fired {
        report
            .mismatches
            .push(format!("the subscriber got {} events, the driver fired {fired}", report.wmi_events.len()));
    }
    let written = report.stats.eventlog_written + report.stats.eventlog_summaries;
    if report.events.len() as u64 != written {
        report
            .mismatches
            .push(format!("Event Viewer shows {} entries, the driver wrote {written}", report.events.len()));
    }
}

/// Which write index a payload belongs to, when the payload says.
fn payload_index(payload: &Payload, bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?;
    match payload {
        Payload::Default => text.rsplit(' ').next()?.parse().ok(),
        Payload::Size(_) => text.strip_prefix("write ")?.split(' ').next()?.parse().ok(),
        Payload::Text(_) => None,
    }
}
