//! The driver's write path under the checked kernel model: one test per rule in the Remarks of the
//! five Microsoft pages LogBridge is built from (IoAllocateErrorLogEntry, IoWriteErrorLogEntry,
//! IoWMIWriteEvent, EVT_WDF_IO_QUEUE_IO_WRITE, NdisMWriteLogData), plus concurrency, pending and
//! cancelled reads, the IOCTL contract and fault injection.
//!
//! Every test ends with the model's contract check (`assert_clean`), so a broken DDI rule fails
//! the test with the rule's name even where the test's own assertions pass.

// Test code may panic, index and cast freely.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    missing_docs
)]

use logbridge_core::NtStatus;
use logbridge_core::device::{Config, read_request};
use logbridge_core::errorlog::{self, ERROR_LOG_MAXIMUM_SIZE};
use logbridge_core::ioctl::{self, FILE_READ_ACCESS, FILE_WRITE_ACCESS, ReadLogResponse};
use logbridge_core::kernel::{APC_LEVEL, DISPATCH_LEVEL};
use logbridge_core::messages;
use logbridge_core::ratelimit::RateLimit;
use logbridge_core::record::RecordDecoder;
use logbridge_core::ring::ReadCursor;
use logbridge_core::time::TICKS_PER_SECOND;
use logbridge_core::wmi;
use logbridge_model::event_viewer::EventViewer;
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{DeviceOptions, FaultRule, IoResult, IrqlGuard, ModelDevice, ModelKernel, Rule};
use zerocopy::FromBytes;

const RW: u32 = FILE_READ_ACCESS | FILE_WRITE_ACCESS;
const PID: u32 = 4242;

fn device_with(kernel: KernelOptions, device: DeviceOptions) -> ModelDevice {
    ModelDevice::create(ModelKernel::new(kernel), device).unwrap()
}

fn unlimited() -> Config {
    Config { rate_limit: RateLimit { burst: 10_000, per_second: 1000 }, ..Config::default() }
}

fn device() -> ModelDevice {
    device_with(KernelOptions::default(), DeviceOptions { config: unlimited(), ..DeviceOptions::default() })
}

/// Tears the device down and fails on any violation.
fn finish(device: ModelDevice) -> ModelKernel {
    let kernel = device.teardown();
    kernel.assert_clean();
    kernel
}

fn response(output: &[u8]) -> ReadLogResponse {
    ReadLogResponse::read_from_prefix(output).unwrap().0
}

/// Reads everything from the oldest record without waiting; returns (sequence, payload) pairs.
fn read_all(device: &ModelDevice, handle: u64) -> Vec<(u64, Vec<u8>)> {
    let request = read_request(ioctl::READ_MODE_OLDEST, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default());
    let done = device.read_log(handle, Some(request), 4 << 20).completed().unwrap();
    assert_eq!(done.status, NtStatus::SUCCESS);
    let header = response(&done.output);
    let body = &done.output[ioctl::READ_LOG_RESPONSE_SIZE..];
    let mut decoder = RecordDecoder::new(body);
    let records: Vec<_> = decoder.by_ref().map(|r| (r.header.sequence, r.payload.to_vec())).collect();
    assert_eq!(decoder.totals().bytes_skipped, 0, "READ_LOG returns whole records only");
    assert_eq!(records.len() as u32, header.records.get());
    records
}

// ---- IoAllocateErrorLogEntry --------------------------------------------------------------

/// "EntrySize ... must not exceed ERROR_LOG_MAXIMUM_SIZE" and the UCHAR truncates silently: every
/// write, of any length, gets an entry within the limit, and the kernel never saw a bad size.
#[test]
fn io_allocate_error_log_entry_size_never_exceeds_the_maximum() {
    let device = device();
    let h = device.open(RW);
    for len in (0..=600).chain([1000, 4096, 65536]) {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        assert_eq!(device.write(h, &payload, PID).status, NtStatus::SUCCESS, "write of {len}");
    }
    let kernel = finish(device);
    let entries = kernel.written_entries();
    assert_eq!(entries.len(), 604);
    assert!(entries.iter().all(|e| e.entry_size <= ERROR_LOG_MAXIMUM_SIZE && e.entry_size >= errorlog::PACKET_SIZE));
    assert_eq!(kernel.nulls_for_bad_size(), 0);
}

/// The x86 maximum is 152: a driver built for x86 plans for it.
#[test]
fn io_allocate_error_log_entry_x86_limit_is_152() {
    let kernel =
        KernelOptions { error_log_maximum_size: errorlog::error_log_maximum_size(32), ..KernelOptions::default() };
    let config = Config { error_log_maximum_size: errorlog::error_log_maximum_size(32), ..unlimited() };
    let device = device_with(kernel, DeviceOptions { config, ..DeviceOptions::default() });
    let h = device.open(RW);
    for len in [0, 5, 100, 4096] {
        device.write(h, &vec![b'x'; len], u32::MAX);
    }
    let kernel = finish(device);
    assert_eq!(kernel.written_entries().len(), 4);
    assert!(kernel.written_entries().iter().all(|e| e.entry_size <= 152));
    assert_eq!(kernel.nulls_for_bad_size(), 0);
}

/// The model's IoAllocateErrorLogEntry refuses sizes outside 48..=max with NULL, like the kernel.
#[test]
fn io_allocate_error_log_entry_returns_null_for_out_of_range_sizes() {
    use logbridge_core::kernel::Kernel;
    let kernel = ModelKernel::new(KernelOptions { error_log_maximum_size: 152, ..KernelOptions::default() });
    // An EntrySize valid for x64 (200) is too large for an x86 kernel: NULL, not a truncated entry.
    let size = errorlog::EntrySize::new(200, 240).unwrap();
    assert!(kernel.allocate_error_log_entry(size).is_none());
    assert_eq!(kernel.nulls_for_bad_size(), 1);
    let ok = errorlog::EntrySize::new(100, 152).unwrap();
    let entry = kernel.allocate_error_log_entry(ok).unwrap();
    drop(entry); // freed unwritten: fine
    kernel.check_leaks();
    kernel.assert_clean();
}

/// "Drivers must not treat IoAllocateErrorLogEntry returning NULL as a fatal error."
#[test]
fn io_allocate_error_log_entry_null_is_not_fatal() {
    let kernel =
        KernelOptions { faults: vec![FaultRule::parse("alloc-entry:1+").unwrap()], ..KernelOptions::default() };
    let device = device_with(kernel, DeviceOptions { config: unlimited(), ..DeviceOptions::default() });
    let h = device.open(RW);
    for i in 0..5u8 {
        let done = device.write(h, &[i; 10], PID);
        assert_eq!((done.status, done.information), (NtStatus::SUCCESS, 10));
    }
    let stats = device.bridge().stats();
    // Write 1's entry got NULL; writes 2..5 each tried the summary first, got NULL, and did not
    // try their own entry: five NULLs, and all five writes wait for the next summary.
    assert_eq!(stats.eventlog_alloc_failed, 5);
    assert_eq!(device.kernel().calls()[&logbridge_model::Ddi::AllocateErrorLogEntry], 5);
    assert_eq!(stats.eventlog_unreported, 5);
    assert_eq!(stats.wmi_fired, 5, "WMI events still fire");
    assert_eq!(read_all(&device, h).len(), 5, "the ring still has every record");
    assert!(finish(device).written_entries().is_empty());
}

/// After NULLs, the next entry that can be written is preceded by a summary that counts them.
#[test]
fn io_allocate_error_log_entry_failures_are_reported_by_the_next_summary() {
    let kernel = KernelOptions {
        faults: vec![FaultRule::parse("alloc-entry:1").unwrap(), FaultRule::parse("alloc-entry:2").unwrap()],
        ..KernelOptions::default()
    };
    let device = device_with(kernel, DeviceOptions { config: unlimited(), ..DeviceOptions::default() });
    let h = device.open(RW);
    device.write(h, b"lost one", PID);
    device.write(h, b"lost two", PID);
    device.write(h, b"logged", PID);
    let kernel = finish(device);
    let viewer = EventViewer::new("").unwrap();
    let events: Vec<_> = kernel.written_entries().iter().map(|e| viewer.render(&e.packet).unwrap()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_id, messages::event_id(messages::LOGBRIDGE_ENTRIES_SUPPRESSED.id));
    assert_eq!(events[0].level_name, "Warning");
    assert_eq!(events[0].strings[..3], ["2", "0", "2"]);
    assert!(events[1].message.contains("logged"), "{}", events[1].message);
}

// ---- IoWriteErrorLogEntry -------------------------------------------------------------------

/// IoAllocateErrorLogEntry and IoWriteErrorLogEntry run at IRQL <= DISPATCH_LEVEL: a write at
/// DISPATCH_LEVEL still logs its entry (and the model found no IRQL violation).
#[test]
fn io_write_error_log_entry_at_dispatch_level_is_allowed() {
    let device = device();
    let h = device.open(RW);
    {
        let _irql = IrqlGuard::raise(DISPATCH_LEVEL);
        assert_eq!(device.write(h, b"at dispatch", PID).status, NtStatus::SUCCESS);
    }
    assert_eq!(device.bridge().stats().eventlog_written, 1);
    assert_eq!(finish(device).written_entries().len(), 1);
}

/// The checker itself: calling the error-log DDIs above DISPATCH_LEVEL is reported by rule.
#[test]
fn io_write_error_log_entry_above_dispatch_is_a_violation() {
    use logbridge_core::kernel::Kernel;
    let kernel = ModelKernel::new(KernelOptions::default());
    {
        let _irql = IrqlGuard::raise(DISPATCH_LEVEL + 1);
        let entry = kernel.allocate_error_log_entry(errorlog::EntrySize::new(48, 240).unwrap());
        drop(entry);
    }
    let rules: Vec<Rule> = kernel.violations().iter().map(|v| v.rule).collect();
    assert!(rules.contains(&Rule::AllocateErrorLogEntryIrql), "{rules:?}");
}

/// "IoWriteErrorLogEntry frees the entry; never call IoFreeErrorLogEntry after it": the types
/// make it impossible, and the model catches a raw free of a written entry.
#[test]
fn io_write_error_log_entry_then_free_is_caught() {
    let device = device();
    let h = device.open(RW);
    device.write(h, b"written", PID);
    let kernel = device.teardown();
    kernel.assert_clean();
    kernel.raw_free_entry(1 + 1); // id 1 is the ring buffer, id 2 the first entry
    let rules: Vec<Rule> = kernel.violations().iter().map(|v| v.rule).collect();
    assert_eq!(rules, [Rule::EntryFreedAfterWrite]);
}

/// The written packet is what Event Viewer needs: the message from our table, %2.. strings,
/// Event ID and level from ErrorCode, binary data = 40-byte header + DumpData.
#[test]
fn io_write_error_log_entry_renders_in_event_viewer() {
    let device = device();
    let h = device.open(RW);
    device.write(h, b"hello from user mode", 1234);
    let kernel = finish(device);
    let entry = &kernel.written_entries()[0];
    let event = EventViewer::new("").unwrap().render(&entry.packet).unwrap();
    assert_eq!(event.event_id, 1);
    assert_eq!(event.qualifiers, 0x6004);
    assert_eq!(event.level_name, "Information");
    assert_eq!(event.strings, ["0", "20", "1234", "hello from user mode"]);
    assert!(event.message.contains("hello from user mode") && event.message.contains("1234"), "{}", event.message);
    assert!(!event.message.contains('%'), "every insertion was substituted: {}", event.message);
    let data = errorlog::parse_event_data(&event.binary_data).unwrap();
    assert_eq!(data.header.major_function, errorlog::IRP_MJ_WRITE);
    assert_eq!(&data.dump_data[..20], b"hello from user mode");
}

// ---- IoWMIWriteEvent ------------------------------------------------------------------------

/// "IoWMIWriteEvent ... IRQL <= APC_LEVEL": at DISPATCH_LEVEL the write path does not call it
/// (and counts the skip); at APC_LEVEL it does.
#[test]
fn io_wmi_write_event_only_at_or_below_apc_level() {
    let device = device();
    let h = device.open(RW);
    {
        let _irql = IrqlGuard::raise(DISPATCH_LEVEL);
        device.write(h, b"dispatch", PID);
    }
    {
        let _irql = IrqlGuard::raise(APC_LEVEL);
        device.write(h, b"apc", PID);
    }
    let stats = device.bridge().stats();
    assert_eq!((stats.wmi_irql_skipped, stats.wmi_fired), (1, 1));
    let kernel = finish(device);
    assert_eq!(kernel.wmi_events().len(), 1);
}

/// Each IoWMIWriteEvent failure status: the item comes back and is freed by the driver exactly
/// once; no leak, the write still succeeds, the failure is counted with its status.
#[test]
fn io_wmi_write_event_failure_frees_the_item_for_each_status() {
    for status in ["unsuccessful", "buffer_overflow", "insufficient_resources"] {
        let kernel = KernelOptions {
            faults: vec![FaultRule::parse(&format!("wmi:every:{status}")).unwrap()],
            ..KernelOptions::default()
        };
        let device = device_with(kernel, DeviceOptions { config: unlimited(), ..DeviceOptions::default() });
        let h = device.open(RW);
        assert_eq!(device.write(h, b"payload", PID).status, NtStatus::SUCCESS);
        let stats = device.bridge().stats();
        assert_eq!(stats.wmi_failed, 1, "{status}");
        assert_eq!(NtStatus::from_u32(stats.wmi_last_failure_status as u32), NtStatus::from_name(status).unwrap());
        let kernel = finish(device); // a leaked or double-freed item would fail here
        assert!(kernel.wmi_events().is_empty());
        assert_eq!(kernel.pool_usage().0, 0, "{status}: nonpaged memory left outstanding");
    }
}

/// On success WMI owns the item: the driver does not free it (no double free), nothing leaks.
#[test]
fn io_wmi_write_event_success_hands_the_item_to_wmi() {
    let device = device();
    let h = device.open(RW);
    device.write(h, b"one", 7);
    let kernel = finish(device);
    let events = kernel.wmi_events();
    assert_eq!(events.len(), 1);
    let parsed = wmi::parse_wnode(&events[0]).unwrap();
    assert_eq!(parsed.header.flags, wmi::LOGBRIDGE_EVENT_FLAGS);
    assert_eq!(parsed.header.provider_id, KernelOptions::default().provider_id);
    let event = parsed.write_event().unwrap().unwrap();
    assert_eq!((event.sequence, event.process_id, event.payload), (0, 7, &b"one"[..]));
}

/// "The total size of the WNODE plus the data should not exceed 1 KB"; above the registry limit
/// IoWMIWriteEvent returns STATUS_BUFFER_OVERFLOW. LogBridge's items never exceed 1 KiB, so even a
/// kernel enforcing exactly 1024 accepts a 64 KiB write's event; a stricter limit fails cleanly.
#[test]
fn io_wmi_write_event_items_stay_within_1_kib() {
    let device = device();
    let h = device.open(RW);
    device.write(h, &vec![0xAB; 65536], PID);
    let kernel = finish(device);
    assert_eq!(kernel.wmi_events()[0].len(), wmi::MAX_EVENT_ITEM_SIZE);

    let strict = KernelOptions { wmi_max_event_size: 200, ..KernelOptions::default() };
    let device = device_with(strict, DeviceOptions { config: unlimited(), ..DeviceOptions::default() });
    let h = device.open(RW);
    device.write(h, &[1; 100], PID); // 64 + 28 + 100 = 192: fits
    device.write(h, &[2; 500], PID); // 1024 > 200: STATUS_BUFFER_OVERFLOW, freed
    let stats = device.bridge().stats();
    assert_eq!((stats.wmi_fired, stats.wmi_failed), (1, 1));
    assert_eq!(NtStatus::from_u32(stats.wmi_last_failure_status as u32), NtStatus::BUFFER_OVERFLOW);
    finish(device);
}

/// "Send only events that are enabled": with no consumer, no item is built or sent.
#[test]
fn io_wmi_write_event_not_sent_while_disabled() {
    let kernel = KernelOptions { wmi_enabled: false, ..KernelOptions::default() };
    let device = device_with(kernel, DeviceOptions { config: unlimited(), ..DeviceOptions::default() });
    let h = device.open(RW);
    device.write(h, b"nobody listens", PID);
    let (_, _, allocations_before) = device.kernel().pool_usage();
    device.kernel().set_wmi_enabled(true);
    device.write(h, b"somebody listens", PID);
    let (_, _, allocations_after) = device.kernel().pool_usage();
    assert_eq!(allocations_after - allocations_before, 1, "only the enabled write allocated an item");
    assert_eq!(device.bridge().stats().wmi_disabled, 1);
    let kernel = finish(device);
    assert_eq!(kernel.wmi_events().len(), 1);
}

/// The item lives in nonpaged memory: failing that allocation skips the event, counted, no leak.
#[test]
fn io_wmi_write_event_item_allocation_failure_is_survived() {
    // Call 1 of ExAllocatePool2 is the ring; call 2 the first event item.
    let kernel = KernelOptions { faults: vec![FaultRule::parse("nonpaged:2").unwrap()], ..KernelOptions::default() };
    let device = device_with(kernel, DeviceOptions { config: unlimited(), ..DeviceOptions::default() });
    let h = device.open(RW);
    device.write(h, b"first", PID);
    device.write(h, b"second", PID);
    assert_eq!(device.bridge().stats().wmi_alloc_failed, 1);
    let kernel = finish(device);
    assert_eq!(kernel.wmi_events().len(), 1);
}

// ---- EVT_WDF_IO_QUEUE_IO_WRITE --------------------------------------------------------------

/// Every write request is completed exactly once, with the byte count as information.
#[test]
fn evt_io_write_completes_every_request_once_with_its_length() {
    let device = device();
    let h = device.open(RW);
    for len in [1usize, 2, 100, 4096] {
        let done = device.write(h, &vec![b'a'; len], PID);
        assert_eq!((done.status, done.information), (NtStatus::SUCCESS, len));
    }
    finish(device); // RequestCompletedTwice / RequestNeverCompleted would fail here
}

/// AllowZeroLengthRequests: a zero-length write is an empty record with an entry and an event.
#[test]
fn evt_io_write_zero_length_write_is_an_empty_record() {
    let device = device();
    let h = device.open(RW);
    let done = device.write(h, b"", PID);
    assert_eq!((done.status, done.information), (NtStatus::SUCCESS, 0));
    assert_eq!(read_all(&device, h), vec![(0, vec![])]);
    assert_eq!(device.bridge().stats().zero_length_writes, 1);
    let kernel = finish(device);
    let event = EventViewer::new("").unwrap().render(&kernel.written_entries()[0].packet).unwrap();
    assert_eq!(event.strings[1], "0");
    assert_eq!(event.strings[3], "(empty)");
    let items = kernel.wmi_events();
    let wmi_event = wmi::parse_wnode(&items[0]).unwrap().write_event().unwrap().unwrap();
    assert_eq!(wmi_event.total_length, 0);
}

/// Oversize writes: above MaxWriteSize, or larger than the ring → STATUS_INVALID_BUFFER_SIZE (an
/// NT_ERROR status, Information 0). Nothing is logged for them, and nothing already logged changes.
#[test]
fn evt_io_write_oversize_writes_are_refused_without_side_effects() {
    let config = Config { max_write_size: 100, ..unlimited() };
    let device =
        device_with(KernelOptions::default(), DeviceOptions { ring_size: 4096, config, ..DeviceOptions::default() });
    let h = device.open(RW);
    device.write(h, b"kept", PID);
    let before = read_all(&device, h);
    assert_eq!(device.write(h, &[0; 101], PID).status, NtStatus::INVALID_BUFFER_SIZE);
    let too_large = device.write(h, &[0; 5000], PID);
    assert_eq!((too_large.status, too_large.information), (NtStatus::INVALID_BUFFER_SIZE, 0));
    assert!(
        too_large.status.is_error(),
        "a refused write is an NT_ERROR, not a warning WriteFile reports as ERROR_MORE_DATA"
    );
    assert_eq!(read_all(&device, h), before);
    let stats = device.bridge().stats();
    assert_eq!((stats.writes, stats.writes_rejected, stats.next_sequence), (1, 2, 1));
    let kernel = finish(device);
    assert_eq!(kernel.written_entries().len(), 1);
    assert_eq!(kernel.wmi_events().len(), 1);
}

/// A write through a handle without write access never reaches the driver.
#[test]
fn evt_io_write_needs_write_access() {
    let device = device();
    let reader = device.open(FILE_READ_ACCESS);
    assert_eq!(device.write(reader, b"x", PID).status, NtStatus::ACCESS_DENIED);
    assert_eq!(device.bridge().stats().writes, 0);
    finish(device);
}

// ---- NdisMWriteLogData ----------------------------------------------------------------------

/// "If the size of the data is larger than the log, NDIS_STATUS_BUFFER_OVERFLOW": a record that
/// cannot fit the whole ring is refused (the ring's `RecordTooLarge`), and the ring is unchanged.
/// The routine's NDIS status is not an IRP status: the write completes with
/// STATUS_INVALID_BUFFER_SIZE, an NT_ERROR (STATUS_BUFFER_OVERFLOW would be a warning).
#[test]
fn ndis_write_log_data_larger_than_the_log_is_buffer_overflow() {
    let config = Config { max_write_size: 1 << 20, ..unlimited() };
    let device =
        device_with(KernelOptions::default(), DeviceOptions { ring_size: 1024, config, ..DeviceOptions::default() });
    let h = device.open(RW);
    device.write(h, &[7; 100], PID);
    let max_payload = 1024 - 32;
    assert_eq!(device.write(h, &vec![1; max_payload + 1], PID).status, NtStatus::INVALID_BUFFER_SIZE);
    assert_eq!(read_all(&device, h), vec![(0, vec![7; 100])]);
    // Exactly the whole log still fits (and overwrites everything before it).
    assert_eq!(device.write(h, &vec![2; max_payload], PID).status, NtStatus::SUCCESS);
    assert_eq!(read_all(&device, h), vec![(1, vec![2; max_payload])]);
    finish(device);
}

/// "Records need markers": the ring is a byte stream; a dump of it, starting anywhere, yields the
/// records by their markers, and the torn start of an overwritten record is skipped, not misread.
#[test]
fn ndis_write_log_data_records_are_found_by_markers() {
    let device = device_with(
        KernelOptions::default(),
        DeviceOptions { ring_size: 2048, config: unlimited(), ..DeviceOptions::default() },
    );
    let h = device.open(RW);
    for i in 0..40u8 {
        device.write(h, &[i; 100], PID); // 136-byte records: 40 * 136 is not a multiple of 2048
    }
    let dump = device.bridge().log().dump();
    let mut decoder = RecordDecoder::new(&dump);
    let sequences: Vec<u64> = decoder.by_ref().map(|r| r.header.sequence).collect();
    let retained: Vec<u64> = read_all(&device, h).into_iter().map(|(s, _)| s).collect();
    assert_eq!(sequences, retained);
    // The dump covers the last 2048 bytes of the stream; what lies before the tail is what is left
    // of overwritten records, and all of it (and only it) is skipped.
    let stats = device.bridge().stats();
    let torn = stats.ring_tail - (stats.ring_head - 2048);
    assert!(torn > 0, "this write pattern leaves a torn record at the start of the dump");
    assert_eq!(decoder.totals().bytes_skipped, torn);
    assert_eq!(decoder.totals().corrupt, 0);
    finish(device);
}

/// "The log is in nonpaged memory": the ring storage is a nonpaged allocation, freed at unload.
#[test]
fn ndis_write_log_data_ring_is_nonpaged_and_freed_at_unload() {
    let device =
        device_with(KernelOptions::default(), DeviceOptions { ring_size: 64 * 1024, ..DeviceOptions::default() });
    let (outstanding, _, allocations) = device.kernel().pool_usage();
    assert_eq!((outstanding, allocations), (64 * 1024, 1));
    let kernel = finish(device);
    assert_eq!(kernel.pool_usage().0, 0);
}

/// "An outstanding read is satisfied as soon as data is written": a READ_LOG with nothing to read
/// pends, and the next write completes it with that record.
#[test]
fn ndis_write_log_data_pending_read_completed_by_a_later_write() {
    let device = device();
    let reader = device.open(FILE_READ_ACCESS);
    let writer = device.open(RW);
    let IoResult::Pending(id) = device.read_log(reader, None, 4096) else { panic!("an empty log must pend the read") };
    assert_eq!(device.completion(id), None);
    device.write(writer, b"wake up", PID);
    let done = device.completion(id).expect("the write completed the parked read");
    assert_eq!(done.status, NtStatus::SUCCESS);
    let header = response(&done.output);
    assert_eq!((header.records.get(), header.first_sequence.get()), (1, 0));
    let record = RecordDecoder::new(&done.output[64..]).next().unwrap();
    assert_eq!(record.payload, b"wake up");
    assert_eq!(record.header.process_id, PID);
    finish(device);
}

/// A parked read that is cancelled completes once with STATUS_CANCELLED; a later write does not
/// complete it again. Closing a handle cancels its parked reads.
#[test]
fn pending_reads_cancelled_or_closed_complete_once() {
    let device = device();
    let reader = device.open(FILE_READ_ACCESS);
    let writer = device.open(RW);
    let IoResult::Pending(cancelled) = device.read_log(reader, None, 4096) else { panic!() };
    assert!(device.cancel(cancelled));
    assert!(!device.cancel(cancelled), "cancelling twice does nothing");
    assert_eq!(device.completion(cancelled).unwrap().status, NtStatus::CANCELLED);
    let other = device.open(FILE_READ_ACCESS);
    let IoResult::Pending(closed) = device.read_log(other, None, 4096) else { panic!() };
    device.close(other);
    assert_eq!(device.completion(closed).unwrap().status, NtStatus::CANCELLED);
    device.write(writer, b"after", PID);
    assert_eq!(device.completion(cancelled).unwrap().status, NtStatus::CANCELLED);
    finish(device);
}

/// The flight recorder overwrites the oldest records, and a reader that fell behind is told how
/// many records and bytes it lost.
#[test]
fn ring_overwrites_oldest_and_reports_loss_to_a_reader_behind() {
    let device = device_with(
        KernelOptions::default(),
        DeviceOptions { ring_size: 1024, config: unlimited(), ..DeviceOptions::default() },
    );
    let reader = device.open(FILE_READ_ACCESS);
    let writer = device.open(RW);
    for i in 0..30u8 {
        device.write(writer, &[i; 40], PID); // 72-byte records: 14 fit
    }
    let done = device.read_log(reader, None, 64 * 1024).completed().unwrap();
    let header = response(&done.output);
    assert_eq!(header.lost_records.get(), 16);
    assert_eq!(header.lost_bytes.get(), 16 * 72);
    assert_eq!((header.first_sequence.get(), header.records.get()), (16, 14));
    assert_eq!(device.bridge().stats().records_overwritten, 16);
    finish(device);
}

/// Concurrent writers on several threads with a reader that follows: every record arrives once,
/// in sequence order, intact; no contract violation.
#[test]
fn concurrent_writers_and_a_following_reader() {
    let device = device_with(
        KernelOptions::default(),
        DeviceOptions { ring_size: 1 << 20, config: unlimited(), ..DeviceOptions::default() },
    );
    let reader = device.open(FILE_READ_ACCESS);
    const THREADS: u32 = 4;
    const PER_THREAD: u32 = 200;
    let received = std::thread::scope(|scope| {
        for t in 0..THREADS {
            let device = &device;
            scope.spawn(move || {
                let h = device.open(RW);
                for i in 0..PER_THREAD {
                    let payload = format!("thread {t} write {i}");
                    assert_eq!(device.write(h, payload.as_bytes(), 1000 + t).status, NtStatus::SUCCESS);
                }
            });
        }
        let follower = scope.spawn(|| {
            let mut got: Vec<(u64, u32, Vec<u8>)> = Vec::new();
            while got.len() < (THREADS * PER_THREAD) as usize {
                let done = match device.read_log(reader, None, 8192) {
                    IoResult::Completed(done) => done,
                    IoResult::Pending(id) => loop {
                        if let Some(done) = device.completion(id) {
                            break done;
                        }
                        std::thread::yield_now();
                    },
                };
                assert_eq!(done.status, NtStatus::SUCCESS);
                assert_eq!(response(&done.output).lost_records.get(), 0);
                got.extend(
                    RecordDecoder::new(&done.output[64..])
                        .map(|r| (r.header.sequence, r.header.process_id, r.payload.to_vec())),
                );
            }
            got
        });
        follower.join().unwrap()
    });
    let sequences: Vec<u64> = received.iter().map(|r| r.0).collect();
    assert_eq!(sequences, (0..u64::from(THREADS * PER_THREAD)).collect::<Vec<_>>());
    for t in 0..THREADS {
        let mine: Vec<String> =
            received.iter().filter(|r| r.1 == 1000 + t).map(|r| String::from_utf8(r.2.clone()).unwrap()).collect();
        let expected: Vec<String> = (0..PER_THREAD).map(|i| format!("thread {t} write {i}")).collect();
        assert_eq!(mine, expected, "thread {t}'s writes arrive in its order");
    }
    let kernel = finish(device);
    assert_eq!(kernel.wmi_events().len(), (THREADS * PER_THREAD) as usize);
}

// ---- Rate limiting ---------------------------------------------------------------------------

/// A burst beyond the bucket gets no entries; when tokens return, a Warning summary says how many
/// were not written, and every write is still in the ring and in WMI.
#[test]
fn rate_limit_suppresses_and_summarises() {
    let config = Config { rate_limit: RateLimit { burst: 5, per_second: 1 }, ..Config::default() };
    let device = device_with(KernelOptions::default(), DeviceOptions { config, ..DeviceOptions::default() });
    let h = device.open(RW);
    for i in 0..20u8 {
        device.write(h, &[b'a' + i], PID);
    }
    device.kernel().advance(TICKS_PER_SECOND);
    device.write(h, b"after a second", PID);
    let stats = device.bridge().stats();
    assert_eq!((stats.eventlog_written, stats.eventlog_rate_limited, stats.eventlog_summaries), (6, 15, 1));
    assert_eq!(stats.wmi_fired, 21);
    assert_eq!(read_all(&device, h).len(), 21);
    let kernel = finish(device);
    let viewer = EventViewer::new("").unwrap();
    let events: Vec<_> = kernel.written_entries().iter().map(|e| viewer.render(&e.packet).unwrap()).collect();
    let summary = &events[5];
    assert_eq!(summary.level_name, "Warning");
    assert_eq!(summary.strings[..5], ["15", "15", "0", "5", "1"]);
    assert!(events[6].message.contains("after a second"));
}

// ---- IOCTL contract ---------------------------------------------------------------------------

#[test]
fn ioctl_bad_requests_get_documented_statuses() {
    let device = device();
    let rw = device.open(RW);
    let read_only = device.open(FILE_READ_ACCESS);
    let status = |r: IoResult| r.completed().unwrap().status;
    assert_eq!(status(device.device_control(rw, 0x0022_2FFC, &[], 64)), NtStatus::INVALID_DEVICE_REQUEST);
    let small = device.device_control(rw, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], 8).completed().unwrap();
    // Errors complete with Information 0: the I/O manager would not copy it back anyway.
    assert_eq!((small.status, small.information), (NtStatus::BUFFER_TOO_SMALL, 0));
    let small = device.device_control(rw, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[], 63).completed().unwrap();
    assert_eq!((small.status, small.information), (NtStatus::BUFFER_TOO_SMALL, 0));
    assert_eq!(
        status(device.device_control(read_only, ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, &[], 0)),
        NtStatus::ACCESS_DENIED
    );
    assert_eq!(
        status(device.device_control(rw, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &[1, 2, 3], 4096)),
        NtStatus::INVALID_PARAMETER
    );
    let mut wrong_version = read_request(0, 0, ReadCursor::default());
    wrong_version.version.set(2);
    assert_eq!(status(device.read_log(rw, Some(wrong_version), 4096)), NtStatus::REVISION_MISMATCH);
    let future =
        read_request(ioctl::READ_MODE_POSITION, ioctl::READ_FLAG_DONT_WAIT, ReadCursor { position: 4096, sequence: 9 });
    assert_eq!(status(device.read_log(rw, Some(future), 4096)), NtStatus::INVALID_PARAMETER);
    // A header forged inside a payload is not a record boundary: refused, nothing read.
    let mut forged = b"LBR1".to_vec();
    forged.extend_from_slice(&200u32.to_le_bytes());
    forged.extend_from_slice(&77u64.to_le_bytes());
    forged.extend_from_slice(&[0; 16]);
    device.write(rw, &forged, PID);
    let inside =
        read_request(ioctl::READ_MODE_POSITION, ioctl::READ_FLAG_DONT_WAIT, ReadCursor { position: 32, sequence: 77 });
    assert_eq!(status(device.read_log(rw, Some(inside), 4096)), NtStatus::INVALID_PARAMETER);
    let genuine =
        read_request(ioctl::READ_MODE_POSITION, ioctl::READ_FLAG_DONT_WAIT, ReadCursor { position: 0, sequence: 0 });
    assert_eq!(status(device.read_log(rw, Some(genuine), 4096)), NtStatus::SUCCESS);
    assert_eq!(status(device.device_control(rw, ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, &[], 0)), NtStatus::SUCCESS);
    // A record bigger than the output buffer: BUFFER_TOO_SMALL, and the header says what is needed.
    device.write(rw, &[9; 1000], PID);
    let oldest = read_request(ioctl::READ_MODE_OLDEST, 0, ReadCursor::default());
    let too_small = device.read_log(rw, Some(oldest), 512).completed().unwrap();
    assert_eq!(too_small.status, NtStatus::BUFFER_TOO_SMALL);
    assert_eq!(response(&too_small.output).required_size.get(), 64 + 1032);
    assert_eq!(too_small.information, 0);
    let stats = device.device_control(rw, ioctl::IOCTL_LOGBRIDGE_GET_STATS, &[], 4096).completed().unwrap();
    let stats = ioctl::Stats::from_bytes(&stats.output).unwrap();
    assert_eq!((stats.writes, stats.ring_records), (2, 1));
    assert_eq!(status(device.device_control(rw, ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, &[], 0)), NtStatus::SUCCESS);
    assert_eq!(device.bridge().stats().ring_records, 0);
    finish(device);
}

// ---- Systematic fault injection -----------------------------------------------------------

/// Fails every faultable DDI call of a small scenario in turn, with every status it can return:
/// no violation, no leak, every write completes with STATUS_SUCCESS and is in the ring.
#[test]
fn systematic_fault_injection_over_a_small_scenario() {
    let device_options = DeviceOptions { ring_size: 8192, config: unlimited(), ..DeviceOptions::default() };
    let report = logbridge_model::systematic::run(&KernelOptions::default(), &device_options, |device| {
        let device = match device {
            Ok(device) => device,
            Err(status) if status == NtStatus::INSUFFICIENT_RESOURCES => return Ok(()),
            Err(status) => return Err(format!("device add failed with {status}")),
        };
        let reader = device.open(FILE_READ_ACCESS);
        let h = device.open(RW);
        let pending = device.read_log(reader, None, 4096);
        for len in [0usize, 1, 47, 48, 239, 240, 241, 4096] {
            let done = device.write(h, &vec![b'z'; len], PID);
            if (done.status, done.information) != (NtStatus::SUCCESS, len) {
                return Err(format!("write of {len} completed with {} / {}", done.status, done.information));
            }
        }
        if let IoResult::Pending(id) = pending
            && device.completion(id).map(|c| c.status) != Some(NtStatus::SUCCESS)
        {
            return Err("the parked read was not completed by the writes".into());
        }
        if read_all(device, h).len() != 8 {
            return Err("the ring lost a record".into());
        }
        Ok(())
    });
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.runs > 20, "only {} runs", report.runs);
}
