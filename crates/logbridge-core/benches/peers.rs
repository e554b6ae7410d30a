//! The side-by-side ring benchmark: LogBridge's ring log against Rust peers, one criterion group per
//! payload size (16, 64, 255, 1024 and 4096 bytes), every contender in the same run, with
//! `Throughput::Bytes(payload bytes)` so criterion prints bytes of payload per second.
//!
//! Contenders in each `peers/<size>` group (`*_write_read` moves one record in and out again; the
//! buffers are in steady state and never fill):
//!
//! * `memcpy_write`: a copy of the payload into a 1 MiB buffer at rotating offsets, as in
//!   `benches/core.rs`: 32 bytes into each record-sized slot, moving on by the ring's record size
//!   and wrapping. The physical limit of any append. `memcpy_write_read` adds the copy out of the
//!   slot into the consumer's buffer: the limit of a write+read pair. Moving the destination
//!   through the buffer keeps source and destination from sitting at the same offset modulo 4 KiB
//!   on every iteration (4K aliasing); the ring's own writes move the same way.
//! * LogBridge (`RingLog` of 1 MiB in a `std::sync::Mutex`, as the driver holds its spin lock):
//!   `logbridge_append` appends a `PreparedRecord` whose CRC-32C was computed outside (as the driver
//!   does outside its lock); `logbridge_prepare_append` is `PreparedRecord::new` + append (the full
//!   cost); `logbridge_read` reads one whole record through a reader cursor (the appends that feed
//!   it are not timed); `logbridge_write_read` is prepare + append + read, each under its own lock
//!   acquisition, with the record's CRC computed the way the driver computes it (the engine
//!   `Crc32c::detected` picks: SSE4.2 here); `logbridge_write_read_software_crc` the same with the
//!   table CRC (the driver on a processor without the instructions), and
//!   `logbridge_write_read_prepared` the same without the CRC of the payload.
//!   LogBridge's ring keeps history (overwrite-oldest): in steady state every append also drops the
//!   oldest record, and reading does not free space.
//! * `bbqueue_write_read`: bbqueue 0.7 in framed mode (u16 length header): producer `grant(len)`,
//!   copy, `commit`; consumer `read`, copy of the frame out, `release`. Inline storage of 1 MiB in a
//!   `static` (the crate's documented "static usage"; its heap `BoxedSlice` storage needs the
//!   `alloc` feature, which the dev-dependency does not enable).
//! * `ringbuf_write_read`: ringbuf 0.4 `HeapRb<u8>` of 1 MiB; `push_slice` of a u32 length prefix
//!   and the payload; `pop_slice` of the prefix and then of the payload.
//! * `mutex_vecdeque_write_read`: `Mutex<VecDeque<u8>>` with 1 MiB reserved, a u32 length prefix,
//!   push under one lock acquisition, pop under another.
//! * `crc32c_software` and `crc32c_hardware` are not contenders: they split LogBridge's cost: the
//!   CRC-32C of the payload with the slice-by-16 tables, and with the engine the driver would use
//!   here (`logbridge-crc32c`'s three-lane SSE4.2 loop).
//!
//! Every consumer copies the record out into its own buffer (bbqueue could hand it out in place;
//! LogBridge's reader copies into the IOCTL buffer), so all pairs do the same two copies.
//! Producer and consumer run on the same thread: this measures the cost of the operations, not
//! cross-core cache traffic.
//!
//! The `multi_writer/<size>` groups (255 and 4096 bytes) run 1, 2 and 4 writer threads, each doing
//! the same number of appends; the time is the wall time of all of them, the throughput the total
//! payload bytes. `mutex_increment` is not a contender: it takes the lock and increments a counter,
//! the floor of any design that takes one shared lock per record. Every contender keeps its buffer from filling the way LogBridge does, by dropping
//! the oldest record (LogBridge: inherent; VecDeque: pops the oldest frame under the lock; bbqueue
//! and ringbuf: the single thread releases or skips the oldest frame). bbqueue and ringbuf are SPSC,
//! so they run with one writer only.
//!
//! Run with `cargo bench -p logbridge-core --bench peers` (about 5 minutes on 2 cores).

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

use bbqueue::nicknames::Churrasco;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use logbridge_core::record::{self, Crc32c, Crc32cKind, PreparedRecord, RECORD_HEADER_SIZE};
use logbridge_core::ring::{DEFAULT_CAPACITY, RingLog};
use logbridge_core::time::FileTime;
use ringbuf::HeapRb;
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use std::collections::VecDeque;
use std::hint::black_box;
use std::io::Read;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [16, 64, 255, 1024, 4096];
const MULTI_SIZES: [usize; 2] = [255, 4096];
const THREADS: [usize; 3] = [1, 2, 4];
/// Every buffer is 1 MiB.
const RING: usize = DEFAULT_CAPACITY;
/// Records appended (untimed) before each timed run of reads: 64 * 4128 bytes stay well inside
/// the ring, so the reader never falls behind.
const READ_BATCH: u64 = 64;
const TIMESTAMP: FileTime = FileTime(133_444_736_000_000_000);
const PID: u32 = 4242;

/// bbqueue's inline storage, in statics (zeroed, in .bss): one for the pairs, one for the writers.
static BBQ_PAIR: Churrasco<RING> = Churrasco::new();
static BBQ_MULTI: Churrasco<RING> = Churrasco::new();

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(131) >> 3) as u8).collect()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(20);
}

type Ring = Mutex<RingLog<Vec<u8>>>;

fn new_ring() -> Ring {
    Mutex::new(RingLog::new(vec![0u8; RING]).unwrap())
}

/// The memcpy floor: the payload into a 1 MiB buffer where the ring would put it, and optionally
/// back out of there into `out`.
struct Memcpy {
    dst: Vec<u8>,
    stride: usize,
    slot: usize,
}

impl Memcpy {
    fn new(len: usize) -> Self {
        Memcpy { dst: vec![0u8; RING], stride: record::record_size(len).unwrap(), slot: 0 }
    }

    #[inline]
    fn write(&mut self, src: &[u8]) -> usize {
        if self.slot + self.stride > self.dst.len() {
            self.slot = 0;
        }
        let at = self.slot + RECORD_HEADER_SIZE;
        self.dst[at..at + src.len()].copy_from_slice(src);
        self.slot += self.stride;
        at
    }

    #[inline]
    fn read(&self, at: usize, out: &mut [u8]) {
        let len = out.len();
        out.copy_from_slice(&self.dst[at..at + len]);
    }
}

/// LogBridge write + read: CRC outside the lock (unless `prepared` is given), append under the
/// lock, then one record read under the lock.
#[inline]
fn logbridge_pair(ring: &Ring, cursor: &mut logbridge_core::ring::ReadCursor, src: &[u8], out: &mut [u8]) -> u64 {
    let prepared = PreparedRecord::new(src, TIMESTAMP, PID).unwrap();
    ring.lock().unwrap().append(&prepared).unwrap();
    ring.lock().unwrap().read(cursor, out).unwrap().records
}

#[inline]
fn bbqueue_pair(bbq: &'static Churrasco<RING>, src: &[u8], out: &mut [u8]) {
    let len = src.len() as u16;
    let mut grant = bbq.framed_producer().grant(len).unwrap();
    grant.copy_from_slice(src);
    grant.commit(len);
    let frame = bbq.framed_consumer().read().unwrap();
    out[..frame.len()].copy_from_slice(&frame);
    frame.release();
}

#[inline]
fn ringbuf_pair<P: Producer<Item = u8>, C: Consumer<Item = u8>>(
    prod: &mut P,
    cons: &mut C,
    src: &[u8],
    out: &mut [u8],
) -> usize {
    let pushed = prod.push_slice(&(src.len() as u32).to_le_bytes()) + prod.push_slice(src);
    debug_assert_eq!(pushed, 4 + src.len());
    let mut prefix = [0u8; 4];
    cons.pop_slice(&mut prefix);
    let len = u32::from_le_bytes(prefix) as usize;
    cons.pop_slice(&mut out[..len])
}

#[inline]
fn vecdeque_pair(queue: &Mutex<VecDeque<u8>>, src: &[u8], out: &mut [u8]) -> usize {
    {
        let mut q = queue.lock().unwrap();
        q.extend((src.len() as u32).to_le_bytes());
        q.extend(src.iter());
    }
    let mut q = queue.lock().unwrap();
    let mut prefix = [0u8; 4];
    q.read_exact(&mut prefix).unwrap();
    let len = u32::from_le_bytes(prefix) as usize;
    q.read_exact(&mut out[..len]).unwrap();
    len
}

/// Checks, before measuring, that every contender moves the bytes it claims to, through more
/// than one trip around its buffer.
fn verify(len: usize) {
    let src = payload(len);
    let trips = 3 * RING / record::record_size(len).unwrap() + 10;
    let mut out = vec![0u8; record::record_size(len).unwrap()];

    assert_eq!(Crc32c::detected().checksum(&src), record::CRC32C.checksum(&src));

    let ring = new_ring();
    let mut cursor = ring.lock().unwrap().cursor_at_end();
    for _ in 0..trips {
        out.fill(0);
        assert_eq!(logbridge_pair(&ring, &mut cursor, &src, &mut out), 1);
        assert_eq!(&out[RECORD_HEADER_SIZE..RECORD_HEADER_SIZE + len], &src[..]);
    }

    let mut memcpy = Memcpy::new(len);
    for _ in 0..trips {
        let at = memcpy.write(&src);
        out[..len].fill(0);
        memcpy.read(at, &mut out[..len]);
        assert_eq!(&out[..len], &src[..]);
    }

    for _ in 0..trips {
        out[..len].fill(0);
        bbqueue_pair(&BBQ_PAIR, &src, &mut out);
        assert_eq!(&out[..len], &src[..]);
    }
    assert!(BBQ_PAIR.framed_consumer().read().is_err(), "bbqueue is empty after each pair");

    let (mut prod, mut cons) = HeapRb::<u8>::new(RING).split();
    for _ in 0..trips {
        out[..len].fill(0);
        assert_eq!(ringbuf_pair(&mut prod, &mut cons, &src, &mut out), len);
        assert_eq!(&out[..len], &src[..]);
    }
    assert!(cons.is_empty());

    let queue = Mutex::new(VecDeque::with_capacity(RING));
    for _ in 0..trips {
        out[..len].fill(0);
        assert_eq!(vecdeque_pair(&queue, &src, &mut out), len);
        assert_eq!(&out[..len], &src[..]);
    }
    assert!(queue.lock().unwrap().is_empty());
}

fn peers(c: &mut Criterion) {
    for size in SIZES {
        verify(size);
        let src = payload(size);
        let record_size = record::record_size(size).unwrap();
        let mut group = c.benchmark_group(format!("peers/{size}"));
        configure(&mut group);
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_function("memcpy_write", |b| {
            let mut memcpy = Memcpy::new(size);
            b.iter(|| {
                memcpy.write(black_box(&src));
                black_box(&memcpy.dst);
            });
        });

        group.bench_function("memcpy_write_read", |b| {
            let mut memcpy = Memcpy::new(size);
            let mut out = vec![0u8; size];
            b.iter(|| {
                let at = memcpy.write(black_box(&src));
                black_box(&memcpy.dst);
                memcpy.read(at, &mut out);
                black_box(&out);
            });
        });

        group.bench_function("logbridge_append", |b| {
            let ring = new_ring();
            let prepared = PreparedRecord::new(&src, TIMESTAMP, PID).unwrap();
            b.iter(|| ring.lock().unwrap().append(black_box(&prepared)).unwrap());
        });

        group.bench_function("logbridge_prepare_append", |b| {
            let ring = new_ring();
            b.iter(|| {
                let prepared = PreparedRecord::new(black_box(&src), TIMESTAMP, PID).unwrap();
                ring.lock().unwrap().append(&prepared).unwrap()
            });
        });

        group.bench_function("logbridge_read", |b| {
            let ring = new_ring();
            let prepared = PreparedRecord::new(&src, TIMESTAMP, PID).unwrap();
            let mut cursor = ring.lock().unwrap().cursor_at_end();
            // Exactly one record fits, so each read returns one record.
            let mut out = vec![0u8; record_size];
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let batch = left.min(READ_BATCH);
                    {
                        let mut ring = ring.lock().unwrap();
                        for _ in 0..batch {
                            ring.append(&prepared).unwrap();
                        }
                    }
                    let start = Instant::now();
                    for _ in 0..batch {
                        let outcome = ring.lock().unwrap().read(&mut cursor, black_box(&mut out)).unwrap();
                        debug_assert_eq!(outcome.records, 1);
                        black_box(&out);
                    }
                    timed += start.elapsed();
                    left -= batch;
                }
                timed
            });
        });

        group.bench_function("logbridge_write_read", |b| {
            let ring = new_ring();
            let mut cursor = ring.lock().unwrap().cursor_at_end();
            let mut out = vec![0u8; record_size];
            b.iter(|| {
                let records = logbridge_pair(&ring, &mut cursor, black_box(&src), &mut out);
                black_box(&out);
                records
            });
        });

        group.bench_function("logbridge_write_read_prepared", |b| {
            let ring = new_ring();
            let prepared = PreparedRecord::new(&src, TIMESTAMP, PID).unwrap();
            let mut cursor = ring.lock().unwrap().cursor_at_end();
            let mut out = vec![0u8; record_size];
            b.iter(|| {
                ring.lock().unwrap().append(black_box(&prepared)).unwrap();
                let records = ring.lock().unwrap().read(&mut cursor, &mut out).unwrap().records;
                black_box(&out);
                records
            });
        });

        group.bench_function("logbridge_write_read_software_crc", |b| {
            let ring = new_ring();
            let mut cursor = ring.lock().unwrap().cursor_at_end();
            let mut out = vec![0u8; record_size];
            b.iter(|| {
                let prepared = PreparedRecord::with_crc32c(black_box(&src), TIMESTAMP, PID, Crc32c::SOFTWARE).unwrap();
                ring.lock().unwrap().append(&prepared).unwrap();
                let records = ring.lock().unwrap().read(&mut cursor, &mut out).unwrap().records;
                black_box(&out);
                records
            });
        });

        group.bench_function("crc32c_software", |b| b.iter(|| record::CRC32C.checksum(black_box(&src))));

        let engine = Crc32c::detected();
        if engine.kind() != Crc32cKind::Software {
            group.bench_function("crc32c_hardware", |b| b.iter(|| engine.checksum(black_box(&src))));
        }

        group.bench_function("bbqueue_write_read", |b| {
            let mut out = vec![0u8; size];
            b.iter(|| {
                bbqueue_pair(&BBQ_PAIR, black_box(&src), &mut out);
                black_box(&out);
            });
        });

        group.bench_function("ringbuf_write_read", |b| {
            let (mut prod, mut cons) = HeapRb::<u8>::new(RING).split();
            let mut out = vec![0u8; size];
            b.iter(|| {
                let n = ringbuf_pair(&mut prod, &mut cons, black_box(&src), &mut out);
                black_box(&out);
                n
            });
        });

        group.bench_function("mutex_vecdeque_write_read", |b| {
            let queue = Mutex::new(VecDeque::with_capacity(RING));
            let mut out = vec![0u8; size];
            b.iter(|| {
                let n = vecdeque_pair(&queue, black_box(&src), &mut out);
                black_box(&out);
                n
            });
        });

        group.finish();
    }
}

/// Runs `work(iters)` on `threads` threads released together; returns the wall time until the
/// last one is done.
fn run_threads(threads: usize, iters: u64, work: &(dyn Fn(u64) + Sync)) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    work(iters);
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for handle in handles {
            handle.join().unwrap();
        }
        start.elapsed()
    })
}

/// Appends to a `VecDeque` ring of at most `RING` bytes, dropping the oldest frames to make room.
fn vecdeque_append_overwrite(queue: &Mutex<VecDeque<u8>>, src: &[u8]) {
    let mut q = queue.lock().unwrap();
    while q.len() + 4 + src.len() > RING {
        let len = u32::from_le_bytes([q[0], q[1], q[2], q[3]]) as usize;
        q.drain(..4 + len);
    }
    q.extend((src.len() as u32).to_le_bytes());
    q.extend(src.iter());
}

/// bbqueue append that releases the oldest frames until the grant fits.
fn bbqueue_append_overwrite(bbq: &'static Churrasco<RING>, src: &[u8]) {
    let len = src.len() as u16;
    loop {
        match bbq.framed_producer().grant(len) {
            Ok(mut grant) => {
                grant.copy_from_slice(src);
                grant.commit(len);
                return;
            }
            Err(_) => bbq.framed_consumer().read().unwrap().release(),
        }
    }
}

/// ringbuf append that skips the oldest frames until there is room.
fn ringbuf_append_overwrite<P: Producer<Item = u8>, C: Consumer<Item = u8>>(prod: &mut P, cons: &mut C, src: &[u8]) {
    while prod.vacant_len() < 4 + src.len() {
        let mut prefix = [0u8; 4];
        cons.pop_slice(&mut prefix);
        cons.skip(u32::from_le_bytes(prefix) as usize);
    }
    prod.push_slice(&(src.len() as u32).to_le_bytes());
    prod.push_slice(src);
}

fn multi_writer(c: &mut Criterion) {
    let logbridge = new_ring();
    let vecdeque = Mutex::new(VecDeque::<u8>::with_capacity(RING));
    let ringbuf = Mutex::new(HeapRb::<u8>::new(RING).split());
    let counter = Mutex::new(0u64);
    for size in MULTI_SIZES {
        let src = payload(size);
        // Check the overwrite emulations before measuring them: ten trips around each buffer.
        let trips = 10 * RING / size;
        for _ in 0..trips {
            vecdeque_append_overwrite(&vecdeque, &src);
            bbqueue_append_overwrite(&BBQ_MULTI, &src);
            let mut guard = ringbuf.lock().unwrap();
            let (prod, cons) = &mut *guard;
            ringbuf_append_overwrite(prod, cons, &src);
        }
        assert!(vecdeque.lock().unwrap().len() > RING - 2 * (size + 4));
        assert!(ringbuf.lock().unwrap().1.occupied_len() > RING - 2 * (size + 4));

        let mut group = c.benchmark_group(format!("multi_writer/{size}"));
        configure(&mut group);
        for threads in THREADS {
            group.throughput(Throughput::Bytes((size * threads) as u64));
            group.bench_function(BenchmarkId::new("logbridge_prepare_append", threads), |b| {
                b.iter_custom(|iters| {
                    run_threads(threads, iters, &|n| {
                        for _ in 0..n {
                            let prepared = PreparedRecord::new(black_box(&src), TIMESTAMP, PID).unwrap();
                            logbridge.lock().unwrap().append(&prepared).unwrap();
                        }
                    })
                });
            });
            group.bench_function(BenchmarkId::new("logbridge_append", threads), |b| {
                let prepared = PreparedRecord::new(&src, TIMESTAMP, PID).unwrap();
                b.iter_custom(|iters| {
                    run_threads(threads, iters, &|n| {
                        for _ in 0..n {
                            logbridge.lock().unwrap().append(black_box(&prepared)).unwrap();
                        }
                    })
                });
            });
            // The floor of any design with one lock per record: an empty critical section (one
            // counter increment), so only the lock's cache line moves between the cores.
            group.bench_function(BenchmarkId::new("mutex_increment", threads), |b| {
                b.iter_custom(|iters| {
                    run_threads(threads, iters, &|n| {
                        for _ in 0..n {
                            *counter.lock().unwrap() += 1;
                        }
                    })
                });
            });
            group.bench_function(BenchmarkId::new("mutex_vecdeque_append", threads), |b| {
                b.iter_custom(|iters| {
                    run_threads(threads, iters, &|n| {
                        for _ in 0..n {
                            vecdeque_append_overwrite(&vecdeque, black_box(&src));
                        }
                    })
                });
            });
            if threads == 1 {
                // SPSC: one producer only.
                group.bench_function(BenchmarkId::new("bbqueue_append", threads), |b| {
                    b.iter_custom(|iters| {
                        run_threads(threads, iters, &|n| {
                            for _ in 0..n {
                                bbqueue_append_overwrite(&BBQ_MULTI, black_box(&src));
                            }
                        })
                    });
                });
                group.bench_function(BenchmarkId::new("ringbuf_append", threads), |b| {
                    b.iter_custom(|iters| {
                        run_threads(threads, iters, &|n| {
                            // Taken once per run: the single writer owns both ends.
                            let mut guard = ringbuf.lock().unwrap();
                            let (prod, cons) = &mut *guard;
                            for _ in 0..n {
                                ringbuf_append_overwrite(prod, cons, black_box(&src));
                            }
                        })
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = peers, multi_writer
}
criterion_main!(benches);
