//! A stress run in the spirit of the Linux printk ring buffer's KUnit test: writer threads write
//! self-describing records of random length as fast as they can into a small ring that overwrites
//! all the time, while one reader follows with pending reads and validates every record:
//!
//! * sequence numbers never go backwards, and every gap is exactly what the driver reported lost;
//! * every record is intact: its CRC holds (the decoder checks it), its body is one repeated byte
//!   naming its writer, its length is in range, and its process id matches its body.
//!
//! The run is bounded by time (`LOGBRIDGE_STRESS_MS`, 2000 ms by default) and by a record count.
//! It measures nothing; throughput belongs to the benchmarks.

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
use logbridge_core::device::Config;
use logbridge_core::ioctl::{self, FILE_READ_ACCESS, FILE_WRITE_ACCESS, ReadLogResponse};
use logbridge_core::ratelimit::RateLimit;
use logbridge_core::record::RecordDecoder;
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{DeviceOptions, IoResult, ModelDevice, ModelKernel};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use zerocopy::FromBytes;

const WRITERS: u32 = 3;
const MAX_RECORDS: u64 = 2_000_000;

#[test]
fn writers_and_a_validating_reader() {
    let millis = std::env::var("LOGBRIDGE_STRESS_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000u64);
    // An 8 KiB ring (as the printk test's), event log and WMI off: this stresses the ring, its
    // lock, the cursors and the pending-read path.
    let kernel = KernelOptions { wmi_enabled: false, ..KernelOptions::default() };
    let config = Config { rate_limit: RateLimit { burst: 0, per_second: 0 }, ..Config::default() };
    let device = ModelDevice::create(
        ModelKernel::new(kernel),
        DeviceOptions { ring_size: 8192, config, ..DeviceOptions::default() },
    )
    .unwrap();
    let reader = device.open(FILE_READ_ACCESS);
    let stop = AtomicBool::new(false);
    let written = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_millis(millis);

    let (seen, lost, reads) = std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (device, stop, written) = (&device, &stop, &written);
            scope.spawn(move || {
                let handle = device.open(FILE_READ_ACCESS | FILE_WRITE_ACCESS);
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(w);
                while !stop.load(Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let len = 1 + (rng % 127) as usize;
                    let body = vec![b'A' + w as u8; len];
                    assert_eq!(device.write(handle, &body, 100 + w).status, NtStatus::SUCCESS);
                    if written.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_RECORDS {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
        let (device, stop) = (&device, &stop);
        let follower = scope.spawn(move || {
            let (mut seen, mut lost, mut reads) = (0u64, 0u64, 0u64);
            let mut next_expected: Option<u64> = None;
            loop {
                if Instant::now() >= deadline {
                    stop.store(true, Ordering::Relaxed);
                }
                let done = match device.read_log(reader, None, 4096) {
                    IoResult::Completed(done) => done,
                    IoResult::Pending(id) => loop {
                        if let Some(done) = device.completion(id) {
                            break done;
                        }
                        if stop.load(Ordering::Relaxed) && device.cancel(id) {
                            return (seen, lost, reads);
                        }
                        std::thread::yield_now();
                    },
                };
                assert_eq!(done.status, NtStatus::SUCCESS);
                reads += 1;
                let header = ReadLogResponse::read_from_prefix(&done.output).unwrap().0;
                let mut sequence = header.first_sequence.get();
                if let Some(expected) = next_expected {
                    // A gap is exactly the loss the driver reported.
                    assert_eq!(sequence - expected, header.lost_records.get(), "unreported loss");
                }
                lost += header.lost_records.get();
                let mut decoder = RecordDecoder::new(&done.output[ioctl::READ_LOG_RESPONSE_SIZE..]);
                for record in decoder.by_ref() {
                    assert_eq!(record.header.sequence, sequence, "sequence went backwards or skipped");
                    let writer = record.header.process_id - 100;
                    assert!(writer < WRITERS);
                    assert!((1..=127).contains(&record.payload.len()));
                    assert!(record.payload.iter().all(|b| *b == b'A' + writer as u8), "torn record {sequence}");
                    sequence += 1;
                    seen += 1;
                }
                assert_eq!(decoder.totals().bytes_skipped, 0);
                next_expected = Some(sequence);
                if stop.load(Ordering::Relaxed) && header.records.get() == 0 {
                    return (seen, lost, reads);
                }
            }
        });
        follower.join().unwrap()
    });
    let written = written.load(Ordering::Relaxed);
    eprintln!(
        "stress: {WRITERS} writers wrote {written} records in {millis} ms; the reader validated {seen}, was told of {lost} lost, in {reads} reads"
    );
    assert!(seen > 1000, "the reader validated only {seen} records");
    assert!(seen + lost <= written);
    let stats = device.bridge().stats();
    assert_eq!(stats.writes, written);
    assert_eq!(stats.next_sequence, written);
    let kernel = device.teardown();
    kernel.assert_clean();
}
