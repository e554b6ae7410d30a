//! Criterion benchmarks of the hot paths of `logbridge-core`:
//!
//! * `ring_append`: appending a record to a 1 MiB ring, with and without the CRC-32C that
//!   `PreparedRecord::new` computes, against a plain memcpy of the same payload into a 1 MiB
//!   buffer at a rotating offset (the floor any ring could reach).
//! * `record_decode`: `RecordDecoder` over a 1 MiB stream of 256-byte records, clean and with one
//!   corrupted byte every 4 KiB.
//! * `packet`: planning and encoding the Event Log packet of a write, and encoding its WMI event.
//!
//! Run with `cargo bench -p logbridge-core --bench core`. Each benchmark warms up for 1 s and
//! measures for 2 s, so the whole run takes about a minute plus compile time.

// Benchmark code runs on the host, not in the kernel: indexing, unwrapping a setup that cannot
// fail, offset arithmetic and small casts are fine here. `criterion_group!` generates undocumented
// public functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::panic,
    missing_docs
)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use logbridge_core::NtStatus;
use logbridge_core::errorlog::{self, ERROR_LOG_MAXIMUM_SIZE, WriteFacts};
use logbridge_core::record::{self, PreparedRecord, RECORD_HEADER_SIZE, RecordDecoder};
use logbridge_core::ring::{DEFAULT_CAPACITY, RingLog};
use logbridge_core::time::FileTime;
use logbridge_core::wmi;
use std::hint::black_box;
use std::time::Duration;

const PAYLOAD_SIZES: [usize; 3] = [64, 1024, 4096];
const TIMESTAMP: FileTime = FileTime(133_444_736_000_000_000);
const PID: u32 = 4242;

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(131) >> 3) as u8).collect()
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(30);
}

fn ring_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_append");
    configure(&mut group);
    for size in PAYLOAD_SIZES {
        let bytes = payload(size);
        group.throughput(Throughput::Bytes(size as u64));

        // Baseline: copy the payload into a 1 MiB buffer where the ring would put it: 32 bytes into
        // each record slot, moving on by the record size and wrapping, so that both stream through
        // the same memory with the same alignment.
        group.bench_with_input(BenchmarkId::new("memcpy_baseline", size), &bytes, |b, src| {
            let mut dst = vec![0u8; DEFAULT_CAPACITY];
            let stride = record::record_size(src.len()).unwrap();
            let mut slot = 0usize;
            b.iter(|| {
                if slot + stride > dst.len() {
                    slot = 0;
                }
                let at = slot + RECORD_HEADER_SIZE;
                dst[at..at + src.len()].copy_from_slice(black_box(src));
                slot += stride;
                black_box(&dst);
            });
        });

        // The copy under the lock: header (CRC finalised over 28 bytes) and payload into the ring.
        // The ring is in steady state, so every append also drops an old record.
        group.bench_with_input(BenchmarkId::new("append_prepared", size), &bytes, |b, src| {
            let mut ring = RingLog::new(vec![0u8; DEFAULT_CAPACITY]).unwrap();
            let prepared = PreparedRecord::new(src, TIMESTAMP, PID).unwrap();
            b.iter(|| ring.append(black_box(&prepared)).unwrap());
        });

        // The whole ring cost of a write: CRC-32C of the payload (outside the lock) plus append.
        group.bench_with_input(BenchmarkId::new("checksum_and_append", size), &bytes, |b, src| {
            let mut ring = RingLog::new(vec![0u8; DEFAULT_CAPACITY]).unwrap();
            b.iter(|| {
                let prepared = PreparedRecord::new(black_box(src), TIMESTAMP, PID).unwrap();
                ring.append(&prepared).unwrap()
            });
        });
    }
    group.finish();
}

/// A 1 MiB stream of 256-byte records (224-byte payloads, no padding).
fn record_stream() -> Vec<u8> {
    let body = payload(224);
    let mut stream = Vec::with_capacity(DEFAULT_CAPACITY);
    let mut sequence = 0u64;
    while stream.len() < DEFAULT_CAPACITY {
        let prepared = PreparedRecord::new(&body, TIMESTAMP, PID).unwrap();
        assert_eq!(prepared.size(), 256);
        stream.extend_from_slice(&prepared.header_bytes(sequence));
        stream.extend_from_slice(&body);
        sequence += 1;
    }
    stream
}

fn record_decode(c: &mut Criterion) {
    let clean = record_stream();
    let mut corrupt = clean.clone();
    // One byte in the payload of every 16th record (every 4 KiB).
    for at in (100..corrupt.len()).step_by(4096) {
        corrupt[at] ^= 0x5A;
    }
    let records = (clean.len() / 256) as u64;
    let corrupted = (clean.len() / 4096) as u64;

    // Check what is being measured before measuring it.
    let mut decoder = RecordDecoder::new(&clean);
    assert_eq!(decoder.by_ref().count() as u64, records);
    assert_eq!((decoder.totals().bytes_skipped, decoder.totals().corrupt), (0, 0));
    let mut decoder = RecordDecoder::new(&corrupt);
    assert_eq!(decoder.by_ref().count() as u64, records - corrupted);
    assert_eq!(decoder.totals().corrupt, corrupted);
    assert_eq!(decoder.totals().bytes_skipped, corrupted * 256);

    let mut group = c.benchmark_group("record_decode");
    configure(&mut group);
    group.throughput(Throughput::Bytes(clean.len() as u64));
    for (name, stream) in [("clean_1MiB", &clean), ("corrupt_byte_every_4KiB", &corrupt)] {
        group.bench_with_input(BenchmarkId::from_parameter(name), stream, |b, stream| {
            b.iter(|| {
                let mut decoder = RecordDecoder::new(black_box(stream));
                let payload_bytes: usize = decoder.by_ref().map(|r| r.payload.len()).sum();
                (payload_bytes, decoder.totals())
            });
        });
    }
    group.finish();
}

fn packet(c: &mut Criterion) {
    let text: Vec<u8> = b"LogBridge benchmark: a 64-byte line of plain ASCII text, 0123456".to_vec();
    assert_eq!(text.len(), 64);
    let binary = payload(4096);
    let mut group = c.benchmark_group("packet");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    for (name, bytes) in [("text_64B", &text), ("binary_4KiB", &binary)] {
        // As the write path does it: size and encode in one pass on the stack, then copy into the
        // entry (here a 256-byte buffer standing in for IoAllocateErrorLogEntry's).
        group.bench_with_input(BenchmarkId::new("eventlog_build", name), bytes, |b, bytes| {
            let mut entry = [0u8; 256];
            b.iter(|| {
                let facts = WriteFacts {
                    sequence: 1_234_567,
                    process_id: PID,
                    payload: black_box(bytes),
                    final_status: NtStatus::SUCCESS,
                };
                let strings = errorlog::write_packet_strings(&facts);
                let spec = errorlog::write_packet_spec(&facts, &strings, ERROR_LOG_MAXIMUM_SIZE);
                let mut image = errorlog::PacketImage::new();
                let plan = image.encode(&spec, ERROR_LOG_MAXIMUM_SIZE).unwrap();
                image.write_to(&mut entry[..(plan.entry_size.bytes() + 7) & !7]).unwrap();
                black_box(&entry);
                plan.entry_size
            });
        });
        group.bench_with_input(BenchmarkId::new("wmi_encode_write_event", name), bytes, |b, bytes| {
            let mut item = vec![0u8; wmi::MAX_EVENT_ITEM_SIZE];
            b.iter(|| {
                let size = wmi::encode_write_event(&mut item, 7, TIMESTAMP, 1_234_567, PID, black_box(bytes)).unwrap();
                black_box(&item);
                size
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = ring_append, record_decode, packet
}
criterion_main!(benches);
