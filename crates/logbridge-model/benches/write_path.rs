//! The whole write path per write, for 64-byte and 4 KiB payloads.
//!
//! `model/<config>/<size>` runs `ModelDevice::write` on the checked kernel model with the default
//! options except the rate limit (burst 10000, 1000 per second, and the model clock advanced by one
//! second before each write, so every write gets an Event Log entry):
//!
//! * `all`: ring (CRC-32C + append under the lock) + Event Log packet (plan, allocate, encode,
//!   write) + WMI event (allocate, encode, `IoWMIWriteEvent`), the driver's default behaviour;
//! * `no_wmi`: no WMI consumer enabled the event (no item is built);
//! * `no_eventlog`: `EventLogBurst` 0 (no per-write entries);
//! * `ring_only`: both off.
//!
//! The model is not free: every DDI locks its ledger, checks its contract (IRQL, ring lock, the
//! packet is parsed back and checked against the message table, the WNODE is parsed back), keeps
//! a copy of every written entry and event item, tracks every request in a map, and allocates
//! entries and items on the heap. Those costs are in these figures.
//!
//! `bare/<config>/<size>` runs the same `LogBridge::write` over a minimal kernel defined here: the
//! driver's CPU work per write with the DDIs excluded. A `std::sync::Mutex` is the lock (one
//! uncontended acquisition, like the driver's spin lock); the CRC-32C engine is the one the driver
//! would choose on this processor ([`Crc32c::detected`]); `IoAllocateErrorLogEntry` and
//! `ExAllocatePool2` hand out the last buffer the matching "write" DDI was given (a one-entry free
//! list, so no allocator is timed), poisoned with 0xCD during the check before timing, as the
//! kernel's memory is not zeroed; the "write" DDIs only `black_box` what they get. No checks, no
//! records kept.
//!
//! Run with `cargo bench -p logbridge-model --bench write_path` (about a minute).

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use logbridge_core::device::{Config, LogBridge, LogLock, LogState, WriteRequest};
use logbridge_core::errorlog::EntrySize;
use logbridge_core::ioctl;
use logbridge_core::kernel::{Irql, Kernel, PASSIVE_LEVEL, PendingReadServer, WmiWriteFailure};
use logbridge_core::ratelimit::RateLimit;
use logbridge_core::record::{Crc32c, RecordDecoder};
use logbridge_core::ring::DEFAULT_CAPACITY;
use logbridge_core::time::{FileTime, TICKS_PER_SECOND};
use logbridge_core::{errorlog, wmi};
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{DeviceOptions, ModelDevice, ModelKernel};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [64, 4096];
const PID: u32 = 4242;
const RW: u32 = ioctl::FILE_READ_ACCESS | ioctl::FILE_WRITE_ACCESS;
/// Writes per model device. The model keeps every entry and event item it was given, so a fresh
/// device every few thousand writes keeps its memory bounded (setup and teardown are not timed).
const BLOCK: u64 = 4096;

/// The rate limit that lets every write through when the clock moves one second per write.
const UNLIMITED: RateLimit = RateLimit { burst: 10_000, per_second: 1000 };

#[derive(Clone, Copy, Debug)]
struct Variant {
    name: &'static str,
    wmi: bool,
    eventlog: bool,
}

const VARIANTS: [Variant; 4] = [
    Variant { name: "all", wmi: true, eventlog: true },
    Variant { name: "no_wmi", wmi: false, eventlog: true },
    Variant { name: "no_eventlog", wmi: true, eventlog: false },
    Variant { name: "ring_only", wmi: false, eventlog: false },
];

fn rate_limit(variant: Variant) -> RateLimit {
    if variant.eventlog { UNLIMITED } else { RateLimit { burst: 0, ..UNLIMITED } }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| b' ' + (i % 95) as u8).collect()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(20);
}

fn model_device(variant: Variant) -> (ModelDevice, u64) {
    let kernel = ModelKernel::new(KernelOptions { wmi_enabled: variant.wmi, ..KernelOptions::default() });
    let options = DeviceOptions {
        config: Config { rate_limit: rate_limit(variant), ..Config::default() },
        ..DeviceOptions::default()
    };
    let device = ModelDevice::create(kernel, options).expect("model device");
    let handle = device.open(RW);
    (device, handle)
}

/// Checks, before measuring, that each variant does what its name says.
fn verify_model(variant: Variant, len: usize) {
    let (device, handle) = model_device(variant);
    let bytes = payload(len);
    let writes = 100;
    for _ in 0..writes {
        device.kernel().advance(TICKS_PER_SECOND);
        let done = device.write(handle, &bytes, PID);
        assert!(done.status.is_success() && done.information == len, "{variant:?}: {done:?}");
    }
    let stats = device.bridge().stats();
    let kernel = device.teardown();
    kernel.assert_clean();
    let expect = |on: bool| if on { writes } else { 0 };
    assert_eq!(stats.writes, writes as u64);
    assert_eq!(kernel.written_entries().len(), expect(variant.eventlog), "{variant:?}");
    assert_eq!(kernel.wmi_events().len(), expect(variant.wmi), "{variant:?}");
}

fn model(c: &mut Criterion) {
    for len in SIZES {
        let bytes = payload(len);
        let mut group = c.benchmark_group(format!("model/{len}"));
        configure(&mut group);
        group.throughput(Throughput::Elements(1));
        for variant in VARIANTS {
            verify_model(variant, len);
            group.bench_function(BenchmarkId::from_parameter(variant.name), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let block = left.min(BLOCK);
                        let (device, handle) = model_device(variant);
                        let kernel = device.kernel().clone();
                        let start = Instant::now();
                        for _ in 0..block {
                            kernel.advance(TICKS_PER_SECOND);
                            black_box(device.write(handle, black_box(&bytes), PID));
                        }
                        timed += start.elapsed();
                        drop(kernel);
                        device.teardown().assert_clean();
                        left -= block;
                    }
                    timed
                });
            });
        }
        group.finish();
    }
}

/// The lock of the bare device: a mutex around the log state.
struct BareLock(Mutex<LogState<Vec<u8>>>);

impl LogLock for BareLock {
    type Storage = Vec<u8>;

    fn with_lock<R>(&self, f: impl FnOnce(&mut LogState<Vec<u8>>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A buffer from the bare kernel's free list: `len` bytes of a larger allocation (an error-log
/// entry is the kernel's rounded size, an event item its exact size).
struct Recycled {
    bytes: Box<[u8]>,
    len: usize,
}

impl AsMut<[u8]> for Recycled {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
}

/// A kernel that does the least a real one must, with the DDIs' own cost left out: allocations come
/// from a one-entry free list per kind that the matching "write" DDI refills.
struct BareKernel {
    wmi: bool,
    clock: AtomicU64,
    crc32c: Crc32c,
    /// Poison every buffer handed out (during the checks, not while timing).
    poison: Cell<bool>,
    free_entry: Cell<Option<Recycled>>,
    free_item: Cell<Option<Recycled>>,
}

impl BareKernel {
    fn hand_out(&self, free: &Cell<Option<Recycled>>, capacity: usize, len: usize) -> Recycled {
        let mut bytes = free.take().map_or_else(|| vec![0u8; capacity].into_boxed_slice(), |last| last.bytes);
        if self.poison.get() {
            bytes.fill(0xCD);
        }
        Recycled { bytes, len }
    }
}

impl Kernel for BareKernel {
    type ErrorLogEntry = Recycled;
    type NonPagedBuffer = Recycled;

    fn irql(&self) -> Irql {
        PASSIVE_LEVEL
    }

    fn system_time(&self) -> FileTime {
        FileTime(133_444_736_000_000_000 + self.clock.load(Ordering::Relaxed))
    }

    fn interrupt_time(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    fn crc32c(&self) -> Crc32c {
        self.crc32c
    }

    fn allocate_error_log_entry(&self, size: EntrySize) -> Option<Recycled> {
        // IoAllocateErrorLogEntry rounds up to the pointer size and does not zero.
        Some(self.hand_out(&self.free_entry, 256, (size.bytes() + 7) & !7))
    }

    fn write_error_log_entry(&self, entry: Recycled) {
        black_box(&entry.bytes[..entry.len]);
        self.free_entry.set(Some(entry));
    }

    fn allocate_nonpaged(&self, size: usize) -> Option<Recycled> {
        Some(self.hand_out(&self.free_item, wmi::MAX_EVENT_ITEM_SIZE.max(size), size))
    }

    fn wmi_events_enabled(&self) -> bool {
        self.wmi
    }

    fn wmi_provider_id(&self) -> u32 {
        0x4C42_0001
    }

    fn wmi_write_event(&self, item: Recycled) -> Result<(), WmiWriteFailure<Recycled>> {
        black_box(&item.bytes[..item.len]);
        self.free_item.set(Some(item));
        Ok(())
    }

    fn complete_pending_reads(&self, _server: &dyn PendingReadServer) {}
}

fn bare_device(variant: Variant) -> (LogBridge<BareLock>, BareKernel) {
    let state = LogState::new(vec![0u8; DEFAULT_CAPACITY], rate_limit(variant)).expect("ring");
    let config = Config { rate_limit: rate_limit(variant), ..Config::default() };
    let kernel = BareKernel {
        wmi: variant.wmi,
        clock: AtomicU64::new(0),
        crc32c: Crc32c::detected(),
        poison: Cell::new(true),
        free_entry: Cell::new(None),
        free_item: Cell::new(None),
    };
    (LogBridge::new(config, BareLock(Mutex::new(state))), kernel)
}

/// Checks, before timing, that the bare device's outputs are whole: the last error-log entry parses
/// with its preview, the last event item carries the payload, and the ring's records decode with
/// their CRC (as the engine in use computed it).
fn check_bare_outputs(bridge: &LogBridge<BareLock>, kernel: &BareKernel, variant: Variant, bytes: &[u8]) {
    if variant.eventlog {
        let mut entry = kernel.free_entry.take().expect("an entry was written");
        let packet = errorlog::parse_packet(entry.as_mut()).expect("the entry parses");
        assert_eq!(packet.strings().count(), 4);
        assert!(!entry.as_mut().contains(&0xCD), "every byte of the entry was written");
        kernel.free_entry.set(Some(entry));
    }
    if variant.wmi {
        let mut item = kernel.free_item.take().expect("an item was written");
        let parsed = wmi::parse_wnode(item.as_mut()).expect("the item parses");
        let event = parsed.write_event().expect("LogBridge's GUID").expect("the event parses");
        assert_eq!(event.total_length as usize, bytes.len());
        kernel.free_item.set(Some(item));
    }
    let dump = bridge.log().with_lock(|state| {
        let mut out = vec![0u8; state.ring.capacity()];
        let (n, _) = state.ring.copy_recent(&mut out);
        out.truncate(n);
        out
    });
    let mut decoder = RecordDecoder::new(&dump);
    assert_eq!(decoder.by_ref().filter(|r| r.payload == bytes).count(), 100);
    assert_eq!(decoder.totals().corrupt, 0);
}

fn bare(c: &mut Criterion) {
    for len in SIZES {
        let bytes = payload(len);
        let mut group = c.benchmark_group(format!("bare/{len}"));
        configure(&mut group);
        group.throughput(Throughput::Elements(1));
        for variant in [VARIANTS[0], VARIANTS[3]] {
            let (bridge, kernel) = bare_device(variant);
            for _ in 0..100 {
                kernel.clock.fetch_add(TICKS_PER_SECOND, Ordering::Relaxed);
                let done = bridge.write(&kernel, WriteRequest { payload: &bytes, process_id: PID });
                assert!(done.status.is_success() && done.information == len);
            }
            let stats = bridge.stats();
            let expect = |on: bool| if on { 100 } else { 0 };
            assert_eq!((stats.eventlog_written, stats.wmi_fired), (expect(variant.eventlog), expect(variant.wmi)));
            check_bare_outputs(&bridge, &kernel, variant, &bytes);
            kernel.poison.set(false);
            group.bench_function(BenchmarkId::from_parameter(variant.name), |b| {
                b.iter(|| {
                    kernel.clock.fetch_add(TICKS_PER_SECOND, Ordering::Relaxed);
                    bridge.write(&kernel, WriteRequest { payload: black_box(&bytes), process_id: PID })
                });
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = model, bare
}
criterion_main!(benches);
