//! Memory accounting of the write path, counted by the checked kernel model.
//!
//! * The driver's fixed nonpaged memory is exactly the ring (`RingLogSize`) after device add.
//! * Per write: exactly one nonpaged allocation (the WNODE event item) of
//!   `wmi::event_item_size(len)` bytes when a WMI consumer enabled the event, none when not.
//! * Per logged write: exactly one `IoAllocateErrorLogEntry` (one more for the Warning summary
//!   when entries were suppressed before it), and every entry allocated is written.
//! * After each write completes, nothing is outstanding but the ring.
//!
//! The checks are functions returning `Err` with what is wrong, so that the tests at the end can
//! show each of them failing on a situation that breaks it.

use logbridge_core::device::{Config, LogBridge, LogState};
use logbridge_core::kernel::Kernel;
use logbridge_core::ratelimit::{RateLimit, TokenBucket};
use logbridge_core::ring::RingLog;
use logbridge_core::time::TICKS_PER_SECOND;
use logbridge_core::{errorlog, ioctl, wmi};
use logbridge_model::kernel::{KernelOptions, ModelLogLock, ModelNonPagedBuffer};
use logbridge_model::{Ddi, DeviceOptions, FaultRule, ModelDevice, ModelKernel, Trigger};

const RW: u32 = ioctl::FILE_READ_ACCESS | ioctl::FILE_WRITE_ACCESS;
const PID: u32 = 77;
/// Payload lengths: empty, small, around the WMI payload cap (932), 4 KiB, and `MaxWriteSize`.
const LENGTHS: [usize; 10] = [0, 1, 16, 64, 255, 932, 933, 1024, 4096, 64 * 1024];
const UNLIMITED: RateLimit = RateLimit { burst: 10_000, per_second: 1000 };

/// What the model counted at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Usage {
    /// Nonpaged bytes outstanding.
    outstanding: usize,
    /// The peak of `outstanding`.
    peak: usize,
    /// Nonpaged allocations made.
    allocations: u64,
    /// `ExAllocatePool2` calls.
    pool_calls: u64,
    /// `IoAllocateErrorLogEntry` calls.
    entry_calls: u64,
    /// Entries written with `IoWriteErrorLogEntry`.
    entries_written: usize,
    /// Event items `IoWMIWriteEvent` accepted.
    wmi_events: usize,
}

fn usage(kernel: &ModelKernel) -> Usage {
    let (outstanding, peak, allocations) = kernel.pool_usage();
    let calls = kernel.calls();
    Usage {
        outstanding,
        peak,
        allocations,
        pool_calls: calls.get(&Ddi::AllocateNonPaged).copied().unwrap_or(0),
        entry_calls: calls.get(&Ddi::AllocateErrorLogEntry).copied().unwrap_or(0),
        entries_written: kernel.written_entries().len(),
        wmi_events: kernel.wmi_events().len(),
    }
}

fn device(kernel: KernelOptions, ring_size: usize, rate_limit: RateLimit) -> ModelDevice {
    let options =
        DeviceOptions { ring_size, config: Config { rate_limit, ..Config::default() }, ..DeviceOptions::default() };
    ModelDevice::create(ModelKernel::new(kernel), options).unwrap()
}

fn wmi_kernel(enabled: bool) -> KernelOptions {
    KernelOptions { wmi_enabled: enabled, ..KernelOptions::default() }
}

/// After device add: one nonpaged allocation, of exactly the ring, and nothing else ever held.
fn check_fixed(u: Usage, ring_size: usize) -> Result<(), String> {
    if (u.outstanding, u.peak, u.allocations, u.pool_calls) != (ring_size, ring_size, 1, 1) {
        return Err(format!("after device add expected only the {ring_size}-byte ring, found {u:?}"));
    }
    if (u.entry_calls, u.entries_written, u.wmi_events) != (0, 0, 0) {
        return Err(format!("device add must not log anything, found {u:?}"));
    }
    Ok(())
}

/// What one write may have done between `before` and `after`: `items` event items of
/// `item_size` bytes each, `entries` error-log entries; and nothing but the ring outstanding.
fn check_write(
    kernel: &ModelKernel,
    before: Usage,
    after: Usage,
    ring_size: usize,
    items: u64,
    item_size: usize,
    entries: u64,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if after.outstanding != ring_size {
        problems.push(format!("{} bytes outstanding after the write, expected the ring only", after.outstanding));
    }
    if after.allocations - before.allocations != items || after.pool_calls - before.pool_calls != items {
        problems.push(format!(
            "{} nonpaged allocations ({} ExAllocatePool2 calls), expected {items}",
            after.allocations - before.allocations,
            after.pool_calls - before.pool_calls
        ));
    }
    if (after.wmi_events - before.wmi_events) as u64 != items {
        problems.push(format!("{} event items delivered, expected {items}", after.wmi_events - before.wmi_events));
    }
    if items > 0 {
        let sizes: Vec<usize> = kernel.wmi_events()[before.wmi_events..].iter().map(Vec::len).collect();
        if sizes.iter().any(|s| *s != item_size) {
            problems.push(format!("event items of {sizes:?} bytes, expected {item_size}"));
        }
        // The peak during the write covers the ring and the item at once (fresh devices only
        // have the ring as their earlier peak).
        if after.peak < ring_size + item_size {
            problems.push(format!("peak {} below ring + item {}", after.peak, ring_size + item_size));
        }
    }
    if after.entry_calls - before.entry_calls != entries {
        problems.push(format!(
            "{} IoAllocateErrorLogEntry calls, expected {entries}",
            after.entry_calls - before.entry_calls
        ));
    }
    if (after.entries_written - before.entries_written) as u64 != entries {
        problems
            .push(format!("{} entries written, expected {entries}", after.entries_written - before.entries_written));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

#[test]
fn fixed_nonpaged_memory_is_exactly_the_ring() {
    for ring_size in [64 * 1024, 1 << 20, 4 << 20] {
        let device = device(wmi_kernel(true), ring_size, UNLIMITED);
        check_fixed(usage(device.kernel()), ring_size).unwrap();
        let handle = device.open(RW);
        check_fixed(usage(device.kernel()), ring_size).unwrap();
        device.close(handle);
        let kernel = device.teardown();
        kernel.assert_clean();
        assert_eq!(kernel.pool_usage().0, 0, "the ring is freed at unload");
    }
}

#[test]
fn each_write_with_wmi_allocates_exactly_its_event_item() {
    let ring_size = 1 << 20;
    for len in LENGTHS {
        // A fresh device per length, so the peak reflects this write alone.
        let device = device(wmi_kernel(true), ring_size, UNLIMITED);
        let handle = device.open(RW);
        let payload = vec![0x5A; len];
        for round in 0..3 {
            device.kernel().advance(TICKS_PER_SECOND);
            let before = usage(device.kernel());
            let done = device.write(handle, &payload, PID);
            assert!(done.status.is_success() && done.information == len, "{len}: {done:?}");
            let after = usage(device.kernel());
            check_write(device.kernel(), before, after, ring_size, 1, wmi::event_item_size(len), 1)
                .unwrap_or_else(|e| panic!("payload {len}, write {round}: {e}"));
        }
        assert_eq!(usage(device.kernel()).peak, ring_size + wmi::event_item_size(len));
        // The error-log entry comes from the I/O manager's own allocation (not ExAllocatePool2),
        // capped at ERROR_LOG_MAXIMUM_SIZE, and is freed by it after IoWriteErrorLogEntry.
        let entry = device.kernel().written_entries().last().map(|e| e.entry_size).unwrap_or(0);
        assert!((errorlog::PACKET_SIZE..=errorlog::ERROR_LOG_MAXIMUM_SIZE).contains(&entry), "entry of {entry} bytes");
        println!("payload {len:6}: WNODE item {:5} bytes, error-log entry {entry:3} bytes", wmi::event_item_size(len));
        device.teardown().assert_clean();
    }
}

#[test]
fn each_write_without_wmi_allocates_nothing() {
    let ring_size = 1 << 20;
    let device = device(wmi_kernel(false), ring_size, UNLIMITED);
    let handle = device.open(RW);
    for len in LENGTHS {
        device.kernel().advance(TICKS_PER_SECOND);
        let before = usage(device.kernel());
        device.write(handle, &vec![1; len], PID);
        let after = usage(device.kernel());
        check_write(device.kernel(), before, after, ring_size, 0, 0, 1)
            .unwrap_or_else(|e| panic!("payload {len}: {e}"));
    }
    assert_eq!(usage(device.kernel()).peak, ring_size, "never more than the ring");
    device.teardown().assert_clean();
}

#[test]
fn error_log_entries_one_per_logged_write_plus_one_summary_after_suppression() {
    let ring_size = 64 * 1024;
    // Burst 3, 1 per second; the clock does not move until we say so.
    let device = device(wmi_kernel(false), ring_size, RateLimit { burst: 3, per_second: 1 });
    let handle = device.open(RW);
    for i in 0..5u64 {
        let before = usage(device.kernel());
        device.write(handle, b"entry", PID);
        let logged = u64::from(i < 3);
        check_write(device.kernel(), before, usage(device.kernel()), ring_size, 0, 0, logged)
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
    // One token later: the summary of the two suppressed entries, then this write's entry.
    device.kernel().advance(TICKS_PER_SECOND);
    let before = usage(device.kernel());
    device.write(handle, b"after the pause", PID);
    check_write(device.kernel(), before, usage(device.kernel()), ring_size, 0, 0, 2).unwrap();
    // EventLogBurst 0: no entries at all (a 1 MiB ring, so that a 64 KiB write fits).
    let quiet = self::device(wmi_kernel(true), 1 << 20, RateLimit { burst: 0, per_second: 1000 });
    let h = quiet.open(RW);
    for len in LENGTHS {
        quiet.kernel().advance(TICKS_PER_SECOND);
        let before = usage(quiet.kernel());
        quiet.write(h, &vec![2; len], PID);
        check_write(quiet.kernel(), before, usage(quiet.kernel()), 1 << 20, 1, wmi::event_item_size(len), 0)
            .unwrap_or_else(|e| panic!("payload {len}: {e}"));
    }
    device.teardown().assert_clean();
    quiet.teardown().assert_clean();
}

/// When IoWMIWriteEvent fails the driver frees the item itself: still nothing but the ring.
#[test]
fn a_failed_wmi_event_is_freed_before_the_write_completes() {
    let ring_size = 1 << 20;
    let faults = vec![FaultRule { ddi: Ddi::WmiWriteEvent, trigger: Trigger::Every, status: None }];
    let device = device(KernelOptions { faults, ..wmi_kernel(true) }, ring_size, UNLIMITED);
    let handle = device.open(RW);
    for len in LENGTHS {
        device.kernel().advance(TICKS_PER_SECOND);
        let (outstanding, _, allocations) = device.kernel().pool_usage();
        device.write(handle, &vec![3; len], PID);
        let (outstanding_after, _, allocations_after) = device.kernel().pool_usage();
        assert_eq!((outstanding, outstanding_after), (ring_size, ring_size), "payload {len}");
        assert_eq!(allocations_after - allocations, 1, "payload {len}: the item was still allocated");
    }
    assert_eq!(device.bridge().stats().wmi_failed, LENGTHS.len() as u64);
    device.teardown().assert_clean();
}

// ---- The checks can fail. ----

#[test]
fn check_fixed_fails_on_a_wrong_ring_size_or_an_extra_allocation() {
    let device = device(wmi_kernel(true), 64 * 1024, UNLIMITED);
    assert!(check_fixed(usage(device.kernel()), 1 << 20).is_err(), "a different RingLogSize is caught");
    let extra = device.kernel().allocate_nonpaged(16);
    let err = check_fixed(usage(device.kernel()), 64 * 1024).unwrap_err();
    assert!(err.contains("expected only"), "{err}");
    drop(extra);
    // Freed, but the peak and the allocation count still show it.
    assert!(check_fixed(usage(device.kernel()), 64 * 1024).is_err());
    device.teardown().assert_clean();
}

#[test]
fn check_write_fails_on_a_held_buffer_a_missing_item_a_wrong_size_or_a_wrong_entry_count() {
    let ring_size = 64 * 1024;
    let device = device(wmi_kernel(true), ring_size, UNLIMITED);
    let handle = device.open(RW);
    let len = 100;
    let item = wmi::event_item_size(len);

    // A buffer allocated during the "write" and still held: outstanding and allocations are off.
    device.kernel().advance(TICKS_PER_SECOND);
    let before = usage(device.kernel());
    device.write(handle, &[4; 100], PID);
    let held = device.kernel().allocate_nonpaged(32);
    let after = usage(device.kernel());
    let err = check_write(device.kernel(), before, after, ring_size, 1, item, 1).unwrap_err();
    assert!(err.contains("outstanding") && err.contains("nonpaged allocations"), "{err}");
    drop(held);

    // The right write, checked against wrong expectations.
    device.kernel().advance(TICKS_PER_SECOND);
    let before = usage(device.kernel());
    device.write(handle, &[5; 100], PID);
    let after = usage(device.kernel());
    check_write(device.kernel(), before, after, ring_size, 1, item, 1).unwrap();
    let err = check_write(device.kernel(), before, after, ring_size, 0, 0, 1).unwrap_err();
    assert!(err.contains("expected 0"), "an item where none is expected is caught: {err}");
    let err = check_write(device.kernel(), before, after, ring_size, 1, item + 8, 1).unwrap_err();
    assert!(err.contains("event items of"), "a wrong item size is caught: {err}");
    let err = check_write(device.kernel(), before, after, ring_size, 1, item, 0).unwrap_err();
    assert!(err.contains("IoAllocateErrorLogEntry"), "an unexpected entry is caught: {err}");
    let err = check_write(device.kernel(), before, after, ring_size, 1, item, 2).unwrap_err();
    assert!(err.contains("entries written"), "a missing entry is caught: {err}");

    // WMI disabled: expecting an item fails.
    device.kernel().set_wmi_enabled(false);
    device.kernel().advance(TICKS_PER_SECOND);
    let before = usage(device.kernel());
    device.write(handle, &[6; 100], PID);
    let after = usage(device.kernel());
    check_write(device.kernel(), before, after, ring_size, 0, 0, 1).unwrap();
    assert!(check_write(device.kernel(), before, after, ring_size, 1, item, 1).is_err());
    device.teardown().assert_clean();
}

// ---- The device context. ----

/// The device context as far as the core decides it: `LogBridge<L>` holds the settings
/// (`Config`: three words), the ring capacity (one word), one `AtomicU64` per statistics counter
/// updated outside the lock (16 today) and the lock `L`, which holds `LogState`: the `RingLog`
/// header (its storage handle, the capacity, its mask and seven u64 positions and counters), the
/// `TokenBucket` (settings, credit and last time) and the seven per-write counters kept under the
/// lock (56 bytes). The 1 MiB ring itself is separate nonpaged memory (see above).
///
/// Budget: the core's own fields within four 64-byte cache lines (256 bytes: 32 bytes of settings
/// and capacity leave room for 28 counters), the ring header 72 bytes, the bucket 32, the locked
/// counters 56, so the core decides at most 360 bytes of the context. With the model's lock type (a std `Mutex` word, the
/// model's 48-byte storage handle and its 16-byte kernel handle) the whole `LogBridge` stays within
/// 448 bytes (seven cache lines). In the driver the lock is a WDFSPINLOCK handle and the storage a
/// pointer and length, so its context is smaller than the model's.
#[test]
fn device_context_size() {
    use std::mem::size_of;
    let bridge = size_of::<LogBridge<ModelLogLock>>();
    let lock = size_of::<ModelLogLock>();
    let state = size_of::<LogState<ModelNonPagedBuffer>>();
    let ring = size_of::<RingLog<ModelNonPagedBuffer>>();
    let storage = size_of::<ModelNonPagedBuffer>();
    let bucket = size_of::<TokenBucket>();
    let own = bridge - lock;
    println!("LogBridge<ModelLogLock>             {bridge:4} bytes");
    println!("  core's own fields                 {own:4} bytes (Config, capacity, statistics counters)");
    println!("  ModelLogLock                      {lock:4} bytes (std Mutex + LogState + the model's kernel handle)");
    println!("    LogState<ModelNonPagedBuffer>   {state:4} bytes");
    println!("      RingLog<ModelNonPagedBuffer>  {ring:4} bytes (of which the model's storage handle {storage})");
    println!("      TokenBucket                   {bucket:4} bytes");
    println!("      counters under the lock       {:4} bytes", state - ring - bucket);
    let core_part = own + (state - storage);
    println!("  decided by the core               {core_part:4} bytes");

    assert!(own <= 256, "core's own fields: {own} bytes");
    assert!(ring - storage <= 16 + 7 * 8, "ring header: {} bytes", ring - storage);
    assert!(bucket <= 8 + 8 + 16, "token bucket: {bucket} bytes");
    assert!(state - ring - bucket <= 7 * 8, "counters under the lock: {} bytes", state - ring - bucket);
    assert!(core_part <= 360, "decided by the core: {core_part} bytes");
    assert!(bridge <= 448, "LogBridge<ModelLogLock> is {bridge} bytes");
}
