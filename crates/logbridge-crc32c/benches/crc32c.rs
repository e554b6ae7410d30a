//! CRC-32C engines side by side: the software tables and every hardware engine this processor
//! runs, at the payload sizes of the ring benchmarks and at 64 KiB (`MaxWriteSize`'s limit), with
//! `Throughput::Bytes`, so criterion prints bytes per second.
//!
//! Run with `cargo bench -p logbridge-crc32c --bench crc32c` (about a minute).

// Benchmark code runs on the host; `criterion_group!` generates undocumented public functions.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::arithmetic_side_effects, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_crc32c::{Crc32c, Crc32cKind, SOFTWARE};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 6] = [16, 64, 255, 1024, 4096, 65536];

fn engines(c: &mut Criterion) {
    for size in SIZES {
        let data: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(131) >> 3) as u8).collect();
        let mut group = c.benchmark_group(format!("crc32c/{size}"));
        group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(20);
        group.throughput(Throughput::Bytes(size as u64));
        for engine in Crc32cKind::ALL.into_iter().filter_map(Crc32c::with_kind) {
            assert_eq!(engine.checksum(&data), SOFTWARE.checksum(&data));
            group.bench_function(engine.kind().name(), |b| b.iter(|| engine.checksum(black_box(&data))));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = engines
}
criterion_main!(benches);
