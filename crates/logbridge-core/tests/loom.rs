//! Model checking of the ring-log protocol with [loom](https://docs.rs/loom/0.7).
//!
//! Compiled only with `--cfg loom`: run `scripts/loom.sh`, which passes it to logbridge-core's own
//! crates only (a plain `RUSTFLAGS="--cfg loom"` reaches every dependency and breaks bbqueue's
//! build; see the script). A normal `cargo test` builds this file to an empty test binary.
//!
//! The code under test is the real one: [`LogBridge::write`], [`LogBridge::read_log`] and
//! [`PendingReadServer::serve_pending_read`], over a [`LogLock`] that is a `loom::sync::Mutex`.
//! Only the lock and the parked-request queue of the kernel layer are modelled here.
//!
//! # What loom does and does not see
//! `LogBridge` keeps its statistics in `core::sync::atomic` counters and a handle's cursor in a
//! [`CursorCell`] of relaxed `core` atomics. Loom does not model those (they are not
//! `loom::sync::atomic` types), so it neither explores their interleavings nor their weak-memory
//! reorderings. That is sound for the cursor: every `CursorCell` load and store happens inside
//! `LogLock::with_lock`, under the log lock, which here IS a loom mutex, so the modelled lock
//! provides the happens-before edges that order every cursor access (which is exactly the
//! argument the driver relies on with its WDFSPINLOCK). The statistics counters are
//! `fetch_add`s outside the lock whose values nothing in this file depends on, except after all
//! threads are joined.
//!
//! # The models
//! * [`ring_two_writers_one_reader`]: two writers append two records each to a 256-byte ring
//!   (so the ring wraps and overwrites), while one reader reads with its own cursor and small
//!   buffers. Every interleaving must give the reader whole, CRC-valid records with strictly
//!   increasing sequence numbers, account for every sequence it did not get in `lost_records`,
//!   and leave the two newest records in the ring.
//! * [`pending_read_is_not_lost`]: the park / re-drain protocol of [`ReadCompletion::Pending`]:
//!   a reader finds nothing, parks its request and drains the parked queue once more, while a
//!   writer appends and drains. The request must end up completed with the record.
//! * [`pending_read_without_redrain_is_lost`]: the same without the re-drain; loom must find
//!   the execution in which the request stays parked although the ring has its record.
//! * [`take_serve_put_back_drain_loses_a_wakeup`]: the re-drain with a drain that takes the
//!   parked requests out of the queue, serves them without the queue lock and puts the unserved
//!   ones back (the shape `logbridge-model`'s `PendingQueue::drain` had until this model found
//!   the race; it now serves under the queue lock); loom must find that this also loses the
//!   wake-up, which is why `Kernel::complete_pending_reads` forbids it.
//!
//! # Bounds
//! Each model runs under an explicit preemption bound ([`PREEMPTION_BOUND`], overridable with
//! `LOOM_MAX_PREEMPTIONS`) and prints how many executions loom explored.

#![cfg(loom)]
// Test code: a failed expectation must panic, indices come from the model's own small buffers,
// the arithmetic is on sizes below 1 KiB, and the casts narrow values far below 2^32.
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
use logbridge_core::device::{Config, CursorCell, LogBridge, LogLock, LogState, WriteRequest, read_request};
use logbridge_core::errorlog::EntrySize;
use logbridge_core::ioctl::{self, READ_LOG_RESPONSE_SIZE, ReadLogResponse};
use logbridge_core::kernel::{
    Completion, Irql, Kernel, PASSIVE_LEVEL, PendingReadServer, ReadCompletion, WmiWriteFailure,
};
use logbridge_core::record::{self, RecordDecoder};
use logbridge_core::ring::{MIN_CAPACITY, ReadCursor};
use logbridge_core::time::FileTime;
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use zerocopy::FromBytes;

/// The default preemption bound (`LOOM_MAX_PREEMPTIONS` overrides it).
///
/// Why 3: the bugs this file is about (a wake-up lost between "nothing to read" and "parked", a
/// drain racing a drain, a torn or mis-accounted read racing two overwriting writers) need one or
/// two preemptions to show; both failing models below are already found with a bound of 1, and
/// studies of preemption bounding (CHESS, Musuvathi & Qadeer, PLDI 2007) found almost all
/// concurrency bugs within two. 3 is one more than that for margin. Unbounded, the ring model's
/// three threads with about a dozen lock operations between them have too many schedules to
/// enumerate; the cost grows about 5x per extra preemption. Measured on the 2-core machine (release
/// build, executions of `ring_two_writers_one_reader` / `pending_read_is_not_lost`): bound 2: 988 /
/// 50 in 0.1 s; 3: 8 974 / 133 in 0.6 s; 4: 58 338 / 271 in 3.6 s; 5: 291 311 / 444 in 18 s;
/// 6: 1 170 570 / 611 in 95 s. So `LOOM_MAX_PREEMPTIONS=5 scripts/loom.sh` is a cheap deeper run.
const PREEMPTION_BOUND: usize = 3;

/// Runs `f` under loom with the preemption bound, prints how many executions were explored and
/// returns that number.
fn explore(name: &str, f: impl Fn() + Sync + Send + 'static) -> usize {
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let mut builder = loom::model::Builder::new();
    // `Builder::new` reads LOOM_MAX_PREEMPTIONS; without it, use the documented default.
    builder.preemption_bound = builder.preemption_bound.or(Some(PREEMPTION_BOUND));
    let bound = builder.preemption_bound;
    let counter = executions.clone();
    let start = std::time::Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    let n = executions.load(Ordering::Relaxed);
    eprintln!(
        "loom: {name}: {n} executions explored, all passed (preemption bound {bound:?}, {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    n
}

/// Runs a model that must fail: asserts that loom finds an execution in which `f` panics with a
/// message containing `expected`, and prints after how many executions it did.
fn expect_counterexample(name: &str, expected: &'static str, f: impl Fn() + Sync + Send + 'static) {
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(PREEMPTION_BOUND));
    let bound = builder.preemption_bound;
    let counter = executions.clone();
    eprintln!("loom: {name}: expecting a counterexample; the panic message below is expected");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            f();
        });
    }));
    let n = executions.load(Ordering::Relaxed);
    let payload = match result {
        Ok(()) => panic!("loom explored {n} executions of {name} (bound {bound:?}) and found no counterexample"),
        Err(payload) => payload,
    };
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string panic>");
    assert!(message.contains(expected), "{name} failed, but not as expected: {message}");
    eprintln!("loom: {name}: counterexample found in execution {n} (preemption bound {bound:?})");
}

// ---------------------------------------------------------------------------------------------
// The log lock and two kernels.

/// The log lock: a loom mutex, so every `with_lock` is a modelled acquire/release.
#[derive(Debug)]
struct LoomLog(Mutex<LogState<Vec<u8>>>);

impl LogLock for LoomLog {
    type Storage = Vec<u8>;

    fn with_lock<R>(&self, f: impl FnOnce(&mut LogState<Vec<u8>>) -> R) -> R {
        let mut state = self.0.lock().unwrap();
        f(&mut state)
    }
}

fn bridge_with_min_ring() -> LogBridge<LoomLog> {
    let config = Config::default();
    let state = LogState::new(vec![0u8; MIN_CAPACITY], config.rate_limit).unwrap();
    LogBridge::new(config, LoomLog(Mutex::new(state)))
}

/// How the kernel layer serves the parked reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drain {
    /// Serve every parked request while holding the queue lock (queue lock, then log lock).
    UnderQueueLock,
    /// Take all parked requests out under the queue lock, serve them with no queue lock held,
    /// then put the unserved ones back: `logbridge-model`'s `PendingQueue::drain`.
    TakeServePutBack,
}

#[derive(Debug)]
struct Parked {
    cursor: Arc<CursorCell>,
    output: Vec<u8>,
}

#[derive(Debug)]
struct Done {
    completion: Completion,
    output: Vec<u8>,
}

/// A kernel whose DDIs do nothing (no error-log entries, no pool, WMI disabled), with a
/// manual queue of parked `READ_LOG` requests.
#[derive(Debug)]
struct ModelKernel {
    drain: Drain,
    parked: Mutex<Vec<Parked>>,
    done: Mutex<Vec<Done>>,
}

impl ModelKernel {
    fn new(drain: Drain) -> Self {
        ModelKernel { drain, parked: Mutex::new(Vec::new()), done: Mutex::new(Vec::new()) }
    }

    /// Parks a request (KMDF: forward it to the manual queue).
    fn park(&self, request: Parked) {
        self.parked.lock().unwrap().push(request);
    }

    fn finish(&self, request: Parked, completion: Completion) {
        self.done.lock().unwrap().push(Done { completion, output: request.output });
    }
}

impl Kernel for ModelKernel {
    type ErrorLogEntry = Vec<u8>;
    type NonPagedBuffer = Vec<u8>;

    fn irql(&self) -> Irql {
        PASSIVE_LEVEL
    }

    fn system_time(&self) -> FileTime {
        FileTime(0x01DA_0000_0000_0000)
    }

    fn interrupt_time(&self) -> u64 {
        0
    }

    fn allocate_error_log_entry(&self, _size: EntrySize) -> Option<Vec<u8>> {
        None
    }

    fn write_error_log_entry(&self, _entry: Vec<u8>) {}

    fn allocate_nonpaged(&self, _size: usize) -> Option<Vec<u8>> {
        None
    }

    fn wmi_events_enabled(&self) -> bool {
        false
    }

    fn wmi_provider_id(&self) -> u32 {
        0
    }

    fn wmi_write_event(&self, item: Vec<u8>) -> Result<(), WmiWriteFailure<Vec<u8>>> {
        Err(WmiWriteFailure { status: NtStatus::UNSUCCESSFUL, item })
    }

    fn complete_pending_reads(&self, server: &dyn PendingReadServer) {
        match self.drain {
            Drain::UnderQueueLock => {
                let mut parked = self.parked.lock().unwrap();
                let mut keep = Vec::new();
                for mut request in parked.drain(..) {
                    match server.serve_pending_read(&request.cursor, &mut request.output) {
                        ReadCompletion::Complete(completion) => self.finish(request, completion),
                        ReadCompletion::Pending => keep.push(request),
                    }
                }
                *parked = keep;
            }
            Drain::TakeServePutBack => {
                let taken = std::mem::take(&mut *self.parked.lock().unwrap());
                let mut keep = Vec::new();
                for mut request in taken {
                    match server.serve_pending_read(&request.cursor, &mut request.output) {
                        ReadCompletion::Complete(completion) => self.finish(request, completion),
                        ReadCompletion::Pending => keep.push(request),
                    }
                }
                let mut parked = self.parked.lock().unwrap();
                // Back in front of anything parked meanwhile, in their old order.
                keep.append(&mut parked);
                *parked = keep;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading and checking responses.

/// A record as the reader decoded it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    sequence: u64,
    process_id: u32,
    payload: Vec<u8>,
}

/// Decodes a successful `READ_LOG` output: the response header and its records, which must be
/// whole and valid (nothing skipped, no bad CRC) and numbered from `first_sequence` on.
fn decode_response(output: &[u8], completion: Completion) -> (ReadLogResponse, Vec<Seen>) {
    assert_eq!(completion.status, NtStatus::SUCCESS, "READ_LOG failed: {completion:?}");
    let (response, _) = ReadLogResponse::read_from_prefix(output).unwrap();
    let bytes = response.bytes.get() as usize;
    assert_eq!(completion.information, READ_LOG_RESPONSE_SIZE + bytes);
    let body = &output[READ_LOG_RESPONSE_SIZE..READ_LOG_RESPONSE_SIZE + bytes];
    let mut decoder = RecordDecoder::new(body);
    let seen: Vec<Seen> = decoder
        .by_ref()
        .map(|r| Seen { sequence: r.header.sequence, process_id: r.header.process_id, payload: r.payload.to_vec() })
        .collect();
    let totals = decoder.totals();
    assert_eq!(totals.bytes_skipped, 0, "a response held a torn record: {totals:?}");
    assert_eq!(totals.corrupt, 0, "a response held a record with a bad CRC: {totals:?}");
    assert_eq!(seen.len() as u64, u64::from(response.records.get()));
    let size: usize = seen.iter().map(|s| record::record_size(s.payload.len()).unwrap()).sum();
    assert_eq!(size, bytes, "the records do not fill the response exactly");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.sequence, response.first_sequence.get() + i as u64, "records out of sequence");
    }
    (response, seen)
}

// ---------------------------------------------------------------------------------------------
// Model 1: two overwriting writers and a reader.

/// Payload lengths: writer `w` writes `LENGTHS[w][0]`, then `LENGTHS[w][1]`. The records are
/// 96, 120, 104 and 112 bytes: any two fit the 256-byte ring, no three do, so every append after
/// the second overwrites and the final ring holds exactly the two newest records.
const LENGTHS: [[usize; 2]; 2] = [[64, 88], [72, 80]];

/// Payload byte of writer `w`'s record `i`: at least 0x80, so no payload can spell the ASCII
/// marker `LBR1`, and unique per record.
fn tag(w: usize, i: usize) -> u8 {
    0x80 + (w * 2 + i) as u8
}

/// Output sizes of the reader's bounded loop: room for any one record; room for the 96-byte
/// record only (the others give `STATUS_BUFFER_TOO_SMALL`); room for the whole ring.
const READER_OUTPUTS: [usize; 3] =
    [READ_LOG_RESPONSE_SIZE + 120, READ_LOG_RESPONSE_SIZE + 100, READ_LOG_RESPONSE_SIZE + 256];

/// What the reader has accounted for so far.
#[derive(Debug, Default)]
struct ReaderLedger {
    next: ReadCursor,
    got: Vec<Seen>,
    lost_records: u64,
    /// Coverage: a read failed with `STATUS_BUFFER_TOO_SMALL`.
    too_small: bool,
    /// Coverage: a record the reader got wraps around the physical end of the ring.
    wrapped: bool,
}

impl ReaderLedger {
    /// Checks one `READ_LOG` (mode continue, don't wait) completion against what came before.
    fn account(&mut self, output: &[u8], completion: Completion) {
        if completion.status == NtStatus::BUFFER_TOO_SMALL {
            let (response, _) = ReadLogResponse::read_from_prefix(output).unwrap();
            let required = response.required_size.get() as usize;
            // Errors complete with Information 0; the size needed is in the response header.
            assert_eq!(completion.information, 0);
            assert!(required > output.len(), "BUFFER_TOO_SMALL for a record that fits: {required}");
            self.too_small = true;
            return;
        }
        let (response, seen) = decode_response(output, completion);
        let lost = response.lost_records.get();
        assert_eq!(response.first_sequence.get(), self.next.sequence + lost, "a gap not reported as lost");
        assert_eq!(lost == 0, response.lost_bytes.get() == 0, "lost bytes without lost records or back");
        let bytes = u64::from(response.bytes.get());
        assert_eq!(response.next_position.get(), self.next.position + response.lost_bytes.get() + bytes);
        assert_eq!(response.next_sequence.get(), response.first_sequence.get() + seen.len() as u64);
        if let Some(last) = self.got.last() {
            assert!(seen.iter().all(|s| s.sequence > last.sequence), "sequence numbers went back");
        }
        let mut position = self.next.position + response.lost_bytes.get();
        for s in &seen {
            let size = record::record_size(s.payload.len()).unwrap() as u64;
            self.wrapped |= position % MIN_CAPACITY as u64 + size > MIN_CAPACITY as u64;
            position += size;
        }
        self.next = ReadCursor { position: response.next_position.get(), sequence: response.next_sequence.get() };
        self.lost_records += lost;
        self.got.extend(seen);
    }

    fn read(&mut self, bridge: &LogBridge<LoomLog>, cursor: &CursorCell, output_len: usize) {
        let request = read_request(ioctl::READ_MODE_CONTINUE, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default());
        let mut output = vec![0u8; output_len];
        match bridge.read_log(cursor, zerocopy::IntoBytes::as_bytes(&request), &mut output) {
            ReadCompletion::Complete(completion) => self.account(&output, completion),
            ReadCompletion::Pending => panic!("a READ_FLAG_DONT_WAIT read was pended"),
        }
    }
}

/// Checks that a record is one the writers wrote: its payload identifies writer and index.
fn identify(record: &Seen) -> (usize, usize) {
    let w = record.process_id as usize;
    let i = (0..2).find(|&i| record.payload.first() == Some(&tag(w, i))).expect("a payload no writer wrote");
    assert_eq!(record.payload.len(), LENGTHS[w][i]);
    assert!(record.payload.iter().all(|&b| b == tag(w, i)), "a payload with foreign bytes");
    (w, i)
}

/// Coverage of the ring model: in how many executions the reader's own loop (not the final read
/// after the join) lost records, got `STATUS_BUFFER_TOO_SMALL`, got a record that wraps the
/// buffer end. All three must happen in some execution, or the model does not test what it says.
static LOST_IN_LOOP: AtomicUsize = AtomicUsize::new(0);
static TOO_SMALL_IN_LOOP: AtomicUsize = AtomicUsize::new(0);
static WRAPPED_IN_LOOP: AtomicUsize = AtomicUsize::new(0);

#[test]
fn ring_two_writers_one_reader() {
    let executions = explore("ring_two_writers_one_reader", || {
        let bridge = Arc::new(bridge_with_min_ring());
        let kernel = Arc::new(ModelKernel::new(Drain::UnderQueueLock));
        // Opened before any write, so its cursor starts at position 0, sequence 0.
        let cursor = Arc::new(bridge.open_cursor());

        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (bridge, kernel) = (bridge.clone(), kernel.clone());
                thread::spawn(move || {
                    for (i, &len) in LENGTHS[w].iter().enumerate() {
                        let payload = vec![tag(w, i); len];
                        let done = bridge.write(&*kernel, WriteRequest { payload: &payload, process_id: w as u32 });
                        assert_eq!(done, Completion::success(len));
                    }
                })
            })
            .collect();
        let reader = {
            let (bridge, cursor) = (bridge.clone(), cursor.clone());
            thread::spawn(move || {
                let mut ledger = ReaderLedger::default();
                for output_len in READER_OUTPUTS {
                    ledger.read(&bridge, &cursor, output_len);
                }
                ledger
            })
        };
        for writer in writers {
            writer.join().unwrap();
        }
        let mut ledger = reader.join().unwrap();
        for (happened, counter) in [
            (ledger.lost_records > 0, &LOST_IN_LOOP),
            (ledger.too_small, &TOO_SMALL_IN_LOOP),
            (ledger.wrapped, &WRAPPED_IN_LOOP),
        ] {
            if happened {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }

        // Read the rest: now every sequence number must be either got or reported lost.
        ledger.read(&bridge, &cursor, READ_LOG_RESPONSE_SIZE + MIN_CAPACITY);
        assert_eq!(ledger.next.sequence, 4);
        assert_eq!(ledger.got.len() as u64 + ledger.lost_records, 4, "a sequence number neither got nor lost");

        // The final ring: exactly the two newest records, whole.
        let stats = bridge.stats();
        assert_eq!((stats.writes, stats.next_sequence, stats.oldest_sequence), (4, 4, 2));
        assert_eq!((stats.records_overwritten, stats.ring_repairs), (2, 0));
        let mut output = vec![0u8; READ_LOG_RESPONSE_SIZE + MIN_CAPACITY];
        let oldest = read_request(ioctl::READ_MODE_OLDEST, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default());
        let completion =
            match bridge.read_log(&CursorCell::default(), zerocopy::IntoBytes::as_bytes(&oldest), &mut output) {
                ReadCompletion::Complete(completion) => completion,
                ReadCompletion::Pending => panic!("a READ_FLAG_DONT_WAIT read was pended"),
            };
        let (_, retained) = decode_response(&output, completion);
        assert_eq!(retained.iter().map(|s| s.sequence).collect::<Vec<_>>(), [2, 3]);

        // Every record seen (by the reader or in the final ring) is one a writer wrote, the same
        // sequence number always names the same record, and each writer's records are in its order.
        let mut by_sequence = BTreeMap::new();
        for record in ledger.got.iter().chain(&retained) {
            let who = identify(record);
            assert_eq!(*by_sequence.entry(record.sequence).or_insert(who), who, "one sequence, two records");
        }
        let mut order: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(w, i) in by_sequence.values() {
            order.entry(w).or_default().push(i);
        }
        assert!(order.values().all(|is| is.windows(2).all(|p| p[0] < p[1])), "a writer's records out of order");
    });
    let (lost, too_small, wrapped) = (
        LOST_IN_LOOP.load(Ordering::Relaxed),
        TOO_SMALL_IN_LOOP.load(Ordering::Relaxed),
        WRAPPED_IN_LOOP.load(Ordering::Relaxed),
    );
    eprintln!(
        "loom: ring_two_writers_one_reader: of {executions} executions, the reader lost records in {lost}, \
         got STATUS_BUFFER_TOO_SMALL in {too_small}, read a record wrapping the buffer end in {wrapped}"
    );
    assert!(lost > 0 && too_small > 0 && wrapped > 0, "the model missed a case it is meant to cover");
}

// ---------------------------------------------------------------------------------------------
// Model 2: park and re-drain.

const LOST_WAKEUP: &str = "LOST WAKE-UP";
const PAYLOAD: &[u8] = b"wake the parked reader";

/// One reader (`READ_LOG`, continue and wait, from the end) and one writer. With `redrain`, the
/// reader drains the queue once more after parking, as [`ReadCompletion::Pending`] requires.
fn park_and_write(drain: Drain, redrain: bool) {
    let bridge = Arc::new(bridge_with_min_ring());
    let kernel = Arc::new(ModelKernel::new(drain));
    let cursor = Arc::new(bridge.open_cursor());

    let reader = {
        let (bridge, kernel, cursor) = (bridge.clone(), kernel.clone(), cursor.clone());
        thread::spawn(move || {
            let mut output = vec![0u8; READ_LOG_RESPONSE_SIZE + MIN_CAPACITY];
            match bridge.read_log(&cursor, &[], &mut output) {
                ReadCompletion::Complete(completion) => {
                    kernel.done.lock().unwrap().push(Done { completion, output });
                }
                ReadCompletion::Pending => {
                    kernel.park(Parked { cursor, output });
                    if redrain {
                        // Close the window between "nothing to read" and "parked".
                        kernel.complete_pending_reads(&*bridge);
                    }
                }
            }
        })
    };
    let writer = {
        let (bridge, kernel) = (bridge.clone(), kernel.clone());
        thread::spawn(move || {
            // Appends, then completes the parked reads that now have data.
            let done = bridge.write(&*kernel, WriteRequest { payload: PAYLOAD, process_id: 7 });
            assert_eq!(done, Completion::success(PAYLOAD.len()));
        })
    };
    reader.join().unwrap();
    writer.join().unwrap();

    let parked = kernel.parked.lock().unwrap().len();
    let done = kernel.done.lock().unwrap();
    assert!(
        parked == 0 && done.len() == 1,
        "{LOST_WAKEUP}: the read is still parked ({parked} parked, {} completed) although the ring holds its record",
        done.len()
    );
    let (response, seen) = decode_response(&done[0].output, done[0].completion);
    assert_eq!(response.lost_records.get(), 0);
    assert_eq!(seen, [Seen { sequence: 0, process_id: 7, payload: PAYLOAD.to_vec() }]);
}

#[test]
fn pending_read_is_not_lost() {
    explore("pending_read_is_not_lost", || park_and_write(Drain::UnderQueueLock, true));
}

/// Without the re-drain, a write that lands between the reader's empty read and its parking
/// drains an empty queue, and the request sleeps with data in the ring.
#[test]
fn pending_read_without_redrain_is_lost() {
    expect_counterexample("pending_read_without_redrain_is_lost", LOST_WAKEUP, || {
        park_and_write(Drain::UnderQueueLock, false);
    });
}

/// The re-drain is not enough if a drain serves the parked requests outside the queue lock: the
/// reader's re-drain takes its own request out, finds nothing, the writer appends and drains an
/// empty queue, and the re-drain puts the request back, parked with data in the ring.
#[test]
fn take_serve_put_back_drain_loses_a_wakeup() {
    expect_counterexample("take_serve_put_back_drain_loses_a_wakeup", LOST_WAKEUP, || {
        park_and_write(Drain::TakeServePutBack, true);
    });
}
