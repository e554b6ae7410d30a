//! Systematic fault injection (Driver Verifier's "systematic low resources simulation", on the
//! host): for each scenario of the matrix below, run it once to count the calls of every faultable
//! DDI, then once per call site and per failure status that DDI can return, failing exactly that
//! call. Every run must keep every contract of the checked kernel (no violation, no leak, every
//! request completed exactly once) and the scenario's own promises: each write completes with its
//! documented status, parked readers are completed with the record, and the ring stays intact.
//!
//! Matrix: write sizes 0, 1, 47, 48, 239, 240, 241, 4096, MaxWriteSize, MaxWriteSize + 1 and
//! larger than the ring; WMI enabled or not; no parked reader or two.

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
use logbridge_core::device::{Config, read_request};
use logbridge_core::ioctl::{self, FILE_READ_ACCESS, FILE_WRITE_ACCESS};
use logbridge_core::ratelimit::RateLimit;
use logbridge_core::record::RecordDecoder;
use logbridge_core::ring::ReadCursor;
use logbridge_model::kernel::KernelOptions;
use logbridge_model::systematic;
use logbridge_model::{DeviceOptions, IoResult, ModelDevice};

const RING: usize = 128 * 1024;
const MAX_WRITE: usize = 64 * 1024;
const SIZES: [usize; 11] = [0, 1, 47, 48, 239, 240, 241, 4096, MAX_WRITE, MAX_WRITE + 1, RING];

fn expected_status(len: usize) -> NtStatus {
    if len > MAX_WRITE { NtStatus::INVALID_BUFFER_SIZE } else { NtStatus::SUCCESS }
}

/// Every record from the oldest, checked whole; returns the sequence numbers. One READ_LOG returns
/// at most `SPIN_LOCK_COPY_LIMIT` bytes of records, so this reads until a read returns none.
fn ring_sequences(device: &ModelDevice, handle: u64) -> Result<Vec<u64>, String> {
    let mut sequences = Vec::new();
    let mut mode = ioctl::READ_MODE_OLDEST;
    loop {
        let request = read_request(mode, ioctl::READ_FLAG_DONT_WAIT, ReadCursor::default());
        let Some(done) = device.read_log(handle, Some(request), 1 << 20).completed() else {
            return Err("a DontWait read pended".into());
        };
        if done.status != NtStatus::SUCCESS {
            return Err(format!("reading the ring failed with {}", done.status));
        }
        let mut decoder = RecordDecoder::new(&done.output[ioctl::READ_LOG_RESPONSE_SIZE..done.information]);
        let before = sequences.len();
        sequences.extend(decoder.by_ref().map(|r| r.header.sequence));
        if decoder.totals().bytes_skipped != 0 {
            return Err("the ring returned damaged bytes".into());
        }
        if sequences.len() == before {
            return Ok(sequences);
        }
        mode = ioctl::READ_MODE_CONTINUE;
    }
}

/// One scenario: parked readers (optional), a write of `len` bytes, then a small write (so that a
/// failure in the first write's event-log path is followed by the summary path).
fn scenario(device: &ModelDevice, len: usize, readers: usize) -> Result<(), String> {
    let writer = device.open(FILE_READ_ACCESS | FILE_WRITE_ACCESS);
    let parked: Vec<_> = (0..readers)
        .map(|_| match device.read_log(device.open(FILE_READ_ACCESS), None, 256 * 1024) {
            IoResult::Pending(id) => Ok(id),
            IoResult::Completed(done) => Err(format!("a read on an empty log completed with {}", done.status)),
        })
        .collect::<Result<_, _>>()?;
    let payload: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    let first = device.write(writer, &payload, 11);
    let expected = expected_status(len);
    if first.status != expected || (expected.is_success() && first.information != len) {
        return Err(format!("write of {len}: {} / {} (expected {expected})", first.status, first.information));
    }
    let second = device.write(writer, b"after", 12);
    if (second.status, second.information) != (NtStatus::SUCCESS, 5) {
        return Err(format!("the follow-up write: {} / {}", second.status, second.information));
    }
    // Parked readers were completed by the first write that got into the ring.
    for id in parked {
        let done = device.completion(id).ok_or("a parked read was not completed by the writes")?;
        if done.status != NtStatus::SUCCESS {
            return Err(format!("a parked read completed with {}", done.status));
        }
        let first_payload = RecordDecoder::new(&done.output[ioctl::READ_LOG_RESPONSE_SIZE..])
            .next()
            .map(|r| r.payload.to_vec())
            .ok_or("a parked read completed without a record")?;
        let expected_payload = if expected.is_success() { payload.clone() } else { b"after".to_vec() };
        if first_payload != expected_payload {
            return Err("a parked read got the wrong record".into());
        }
    }
    let sequences = ring_sequences(device, writer)?;
    let expected_records = if expected.is_success() { 2 } else { 1 };
    if sequences != (0..expected_records).collect::<Vec<u64>>() {
        return Err(format!("the ring holds {sequences:?}"));
    }
    let stats = device.bridge().stats();
    let accounted = stats.eventlog_written + stats.eventlog_summarized + stats.eventlog_unreported;
    if accounted != expected_records {
        return Err(format!("{expected_records} writes but {accounted} written, summarised or awaiting a summary"));
    }
    Ok(())
}

#[test]
fn every_call_site_fails_cleanly_with_every_status() {
    let mut runs = 0;
    let mut sites = 0;
    for len in SIZES {
        for wmi_enabled in [true, false] {
            for readers in [0, 2] {
                let kernel = KernelOptions { wmi_enabled, ..KernelOptions::default() };
                let config = Config {
                    max_write_size: MAX_WRITE,
                    rate_limit: RateLimit { burst: 1000, per_second: 1000 },
                    ..Config::default()
                };
                let device = DeviceOptions { ring_size: RING, config, ..DeviceOptions::default() };
                let report = systematic::run(&kernel, &device, |device| match device {
                    Ok(device) => scenario(device, len, readers),
                    // Failing the ring's allocation fails device add, cleanly.
                    Err(status) if status == NtStatus::INSUFFICIENT_RESOURCES => Ok(()),
                    Err(status) => Err(format!("device add failed with {status}")),
                });
                assert!(
                    report.failures.is_empty(),
                    "len {len}, WMI {wmi_enabled}, {readers} readers:\n{}",
                    report.failures.iter().map(|(site, m)| format!("  {site:?}: {m}")).collect::<Vec<_>>().join("\n")
                );
                runs += report.runs;
                sites += report.sites.len();
            }
        }
    }
    eprintln!("systematic fault injection: {} scenarios, {sites} fault sites, {runs} runs", SIZES.len() * 4);
    // Each scenario fails at least the ring allocation, both entries and (with WMI) both events.
    assert!(runs >= SIZES.len() * 4 * 3, "only {runs} runs");
}
