//! The portable half of `logbridge-ctl stress --writes N --size B --threads T [--rate R]`: how the
//! writes are split and paced, the latency statistics, and the report.
//!
//! The Windows layer reads the driver's counters (`IOCTL_LOGBRIDGE_GET_STATS`), starts `T`
//! threads, and thread `i` issues [`share_of`]`(N, T, i)` writes of `B` bytes, its `k`-th one (from
//! 0) no earlier than [`pace_offset`]`(R, T, i, k)` after the start. Each thread times its
//! `WriteFile` calls into its own [`LatencyRecorder`]; the recorders are merged at the end. With the
//! counters read again, [`StressReport::new`] builds the report, printed with
//! [`StressReport::to_text`] or serialised to JSON (`--json`).
//!
//! # Splitting and pacing
//! Write number `g` overall (from 0) is write `k = g / T` of thread `g % T`; so the first `N % T`
//! threads do one write more than the others, and the threads together issue writes `0..N`
//! exactly once. With a rate `R`, write `g` is due `g / R` seconds after the start, so the threads
//! interleave evenly and the whole run issues `R` writes per second.
//!
//! # The report
//! A summary (writes that succeeded and failed, bytes, elapsed time, writes/s, MiB/s where
//! 1 MiB = 2^20 bytes), the latency percentiles in microseconds, every driver counter before and
//! after with its change, and the Event Log accounting identity on the counters after the run (see
//! [`EventLogAccounting`]). The counters that show the driver shedding load are marked (see
//! [`WATCHED_COUNTERS`]).
//!
//! Throughput counts only the writes that succeeded; `bytes` is those writes times `B`.

use crate::windows_commands::StressArgs;
use hdrhistogram::Histogram;
use logbridge_core::ioctl::Stats;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// Significant decimal digits the latency histogram keeps (a value is known within 0.1 %).
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// The largest latency recorded, in nanoseconds (about 146 years: the largest value an
/// auto-resizing histogram can track); longer latencies are recorded as this.
pub const MAX_LATENCY_NS: u64 = (i64::MAX as u64) / 2;

/// Bytes per MiB.
const MIB: f64 = 1_048_576.0;

/// Nanoseconds per second.
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// The driver counters a user must look at under load: they grow when the driver sheds work
/// (Event Log entries rate-limited, summarised, lost to allocation failures or not reported yet,
/// WMI events that failed, writes refused, records overwritten before anyone read them).
pub const WATCHED_COUNTERS: [&str; 8] = [
    "eventlog_rate_limited",
    "eventlog_summarized",
    "eventlog_alloc_failed",
    "eventlog_unreported",
    "wmi_failed",
    "wmi_alloc_failed",
    "writes_rejected",
    "records_overwritten",
];

/// How many of the N writes thread `index` of `threads` does: the shares differ by at most one and
/// sum to N (the first `N % threads` threads do one more). With no threads, or an index that is
/// not a thread's, the share is 0.
pub fn share_of(writes: u64, threads: usize, index: usize) -> u64 {
    let (Ok(threads), Ok(index)) = (u64::try_from(threads), u64::try_from(index)) else {
        return 0;
    };
    if index >= threads {
        return 0;
    }
    let base = writes.checked_div(threads).unwrap_or(0);
    let extra = writes.checked_rem(threads).unwrap_or(0);
    if index < extra { base.saturating_add(1) } else { base }
}

/// Pacing: with `rate` writes/s overall and `threads` threads, the offset from the start at which
/// thread `index` issues its `k`-th write (0-based), so that the threads interleave evenly (global
/// write number = k * threads + index, at global / rate seconds, rounded down to the nanosecond).
/// None rate → Duration::ZERO. Saturating, never panics (rate 0 is refused by the argument parser
/// but must not panic here: it is treated as no pacing).
pub fn pace_offset(rate: Option<u32>, threads: usize, index: usize, k: u64) -> Duration {
    let Some(rate) = rate.filter(|&r| r > 0).map(u64::from) else {
        return Duration::ZERO;
    };
    let threads = u64::try_from(threads).unwrap_or(u64::MAX);
    let index = u64::try_from(index).unwrap_or(u64::MAX);
    let global = k.saturating_mul(threads).saturating_add(index);
    let secs = global.checked_div(rate).unwrap_or(0);
    let rem = global.checked_rem(rate).unwrap_or(0);
    // rem < rate <= u32::MAX, so rem * 10^9 fits a u64 and the quotient is below 10^9.
    let nanos = rem.saturating_mul(NANOS_PER_SECOND).checked_div(rate).unwrap_or(0);
    Duration::from_secs(secs).saturating_add(Duration::from_nanos(nanos))
}

/// Latency recorder per thread, mergeable: an auto-resizing `hdrhistogram::Histogram<u64>` of
/// nanoseconds with [`LATENCY_SIGNIFICANT_DIGITS`] significant digits. Values are saturated (to
/// [`MAX_LATENCY_NS`]) rather than refused.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    /// `None` only if the histogram could not be created, which cannot happen with the constant
    /// parameters used (3 significant digits); then nothing is recorded.
    histogram: Option<Histogram<u64>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        LatencyRecorder { histogram: new_histogram() }
    }

    /// Records one latency (saturated to [`MAX_LATENCY_NS`]).
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).min(MAX_LATENCY_NS);
        if let Some(histogram) = self.histogram_mut()
            && histogram.record(ns).is_err()
        {
            // Only if growing the histogram failed: clamp into its current range instead.
            histogram.saturating_record(ns);
        }
    }

    /// Adds every latency `other` recorded to this recorder.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        let Some(source) = other.histogram.as_ref().filter(|h| !h.is_empty()) else {
            return;
        };
        if let Some(histogram) = self.histogram_mut()
            && histogram.add(source).is_err()
        {
            // Only if growing the histogram failed: add value by value, clamped into its range.
            for value in source.iter_recorded() {
                histogram.saturating_record_n(value.value_iterated_to(), value.count_at_value());
            }
        }
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.histogram.as_ref().map_or(0, Histogram::len)
    }

    /// Count, min, percentiles, max and mean in microseconds; all zero when nothing was recorded.
    /// Each value is within the histogram's precision (0.1 %) of the exact one.
    pub fn summary(&self) -> LatencySummary {
        let Some(h) = self.histogram.as_ref().filter(|h| !h.is_empty()) else {
            return LatencySummary::default();
        };
        LatencySummary {
            count: h.len(),
            min_us: ns_to_us(h.min() as f64),
            p50_us: ns_to_us(h.value_at_quantile(0.50) as f64),
            p90_us: ns_to_us(h.value_at_quantile(0.90) as f64),
            p99_us: ns_to_us(h.value_at_quantile(0.99) as f64),
            max_us: ns_to_us(h.max() as f64),
            mean_us: ns_to_us(h.mean()),
        }
    }

    fn histogram_mut(&mut self) -> Option<&mut Histogram<u64>> {
        if self.histogram.is_none() {
            self.histogram = new_histogram();
        }
        self.histogram.as_mut()
    }
}

fn new_histogram() -> Option<Histogram<u64>> {
    let mut histogram = Histogram::new(LATENCY_SIGNIFICANT_DIGITS).ok()?;
    histogram.auto(true);
    Some(histogram)
}

/// Nanoseconds to microseconds; anything not finite becomes 0.
fn ns_to_us(ns: f64) -> f64 {
    finite_or_zero(ns / 1000.0)
}

fn finite_or_zero(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

/// Latency statistics of a run, in microseconds (all zero when there are no samples).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Smallest latency.
    pub min_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest latency.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

/// One driver counter before and after the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CounterDelta {
    /// The counter's name (the `Stats` field name).
    pub name: &'static str,
    /// Its value before the run.
    pub before: u64,
    /// Its value after the run.
    pub after: u64,
    /// `after - before`: negative when the counter went down (a clear or a driver restart).
    pub delta: i128,
}

impl CounterDelta {
    /// True for the counters of [`WATCHED_COUNTERS`].
    pub fn is_watched(&self) -> bool {
        WATCHED_COUNTERS.contains(&self.name)
    }
}

/// Every driver counter before and after (wire order), with after - before (negative when a counter
/// went down, e.g. a clear or a driver restart).
pub fn counter_deltas(before: &Stats, after: &Stats) -> Vec<CounterDelta> {
    before
        .fields()
        .iter()
        .zip(after.fields().iter())
        .map(|(&(name, before), &(_, after))| CounterDelta {
            name,
            before,
            after,
            delta: i128::from(after).saturating_sub(i128::from(before)),
        })
        .collect()
}

/// The Event Log accounting identity of the driver's statistics: every completed write got an
/// entry, was accounted for by a summary entry, is still waiting for a summary, or was skipped for
/// its IRQL, so `eventlog_written + eventlog_summarized + eventlog_unreported +
/// eventlog_irql_skipped == writes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct EventLogAccounting {
    /// `eventlog_written`.
    pub eventlog_written: u64,
    /// `eventlog_summarized`.
    pub eventlog_summarized: u64,
    /// `eventlog_unreported`.
    pub eventlog_unreported: u64,
    /// `eventlog_irql_skipped`.
    pub eventlog_irql_skipped: u64,
    /// The sum of the four (exact: computed in 128 bits).
    pub accounted: u128,
    /// `writes`.
    pub writes: u64,
    /// True if `accounted == writes`.
    pub holds: bool,
}

impl EventLogAccounting {
    /// Checks the identity on `stats`.
    pub fn of(stats: &Stats) -> Self {
        let accounted = [stats.eventlog_written, stats.eventlog_summarized, stats.eventlog_unreported]
            .into_iter()
            .fold(u128::from(stats.eventlog_irql_skipped), |sum, v| sum.saturating_add(u128::from(v)));
        EventLogAccounting {
            eventlog_written: stats.eventlog_written,
            eventlog_summarized: stats.eventlog_summarized,
            eventlog_unreported: stats.eventlog_unreported,
            eventlog_irql_skipped: stats.eventlog_irql_skipped,
            accounted,
            writes: stats.writes,
            holds: accounted == u128::from(stats.writes),
        }
    }
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct StressReport {
    /// Writes that succeeded.
    pub writes: u64,
    /// Writes that failed.
    pub failed_writes: u64,
    /// Writes asked for (`--writes`); more than `writes + failed_writes` if the run was cut short.
    pub requested_writes: u64,
    /// Bytes written: `writes * size`.
    pub bytes: u64,
    /// Writer threads (`--threads`).
    pub threads: usize,
    /// Size of each write in bytes (`--size`).
    pub size: usize,
    /// Writes per second asked for (`--rate`); `null` for as fast as possible.
    pub rate: Option<u32>,
    /// Wall-clock time of the writes, in seconds.
    pub elapsed_s: f64,
    /// Successful writes per second (0 if no time elapsed).
    pub writes_per_s: f64,
    /// MiB (2^20 bytes) written per second (0 if no time elapsed).
    pub mib_per_s: f64,
    /// Latency of the writes (successful and failed).
    pub latency: LatencySummary,
    /// Every driver counter before and after, in wire order.
    pub counters: Vec<CounterDelta>,
    /// The Event Log accounting identity on the counters after the run.
    pub eventlog_accounting: EventLogAccounting,
    /// The first write error, if any write failed.
    pub first_error: Option<String>,
}

impl StressReport {
    /// Builds the report (throughput from elapsed; elapsed 0 → rates 0, never NaN/inf).
    #[allow(clippy::too_many_arguments, reason = "the signature the Windows layer calls")]
    pub fn new(
        args: &StressArgs,
        succeeded: u64,
        failed: u64,
        first_error: Option<String>,
        elapsed: Duration,
        latency: &LatencyRecorder,
        before: &Stats,
        after: &Stats,
    ) -> StressReport {
        let bytes = succeeded.saturating_mul(u64::try_from(args.size).unwrap_or(u64::MAX));
        let elapsed_s = elapsed.as_secs_f64();
        let per_second = |amount: f64| if elapsed_s > 0.0 { finite_or_zero(amount / elapsed_s) } else { 0.0 };
        StressReport {
            writes: succeeded,
            failed_writes: failed,
            requested_writes: args.writes,
            bytes,
            threads: args.threads,
            size: args.size,
            rate: args.rate,
            elapsed_s,
            writes_per_s: per_second(succeeded as f64),
            mib_per_s: per_second(bytes as f64 / MIB),
            latency: latency.summary(),
            counters: counter_deltas(before, after),
            eventlog_accounting: EventLogAccounting::of(after),
            first_error,
        }
    }

    /// The human report: a summary block (writes ok/failed, bytes, elapsed, writes/s, MiB/s), a
    /// latency line (p50/p90/p99/max in µs), then the counter table with before/after/delta
    /// columns, the counters of [`WATCHED_COUNTERS`] marked with `*` (and `<- changed` when their
    /// delta is not 0), and a line saying whether the Event Log accounting identity holds on the
    /// counters after the run.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the results are ignored for that reason.
        let rate = self.rate.map_or_else(|| "as fast as possible".to_string(), |r| format!("{r} writes/s"));
        let _ = writeln!(
            out,
            "stress: {} writes of {} bytes on {} threads, {rate}",
            self.requested_writes, self.size, self.threads
        );
        let _ = writeln!(out, "  writes ok:      {}", self.writes);
        let _ = write!(out, "  writes failed:  {}", self.failed_writes);
        if let Some(error) = &self.first_error {
            let _ = write!(out, " (first error: {error})");
        }
        out.push('\n');
        let not_done = self.requested_writes.saturating_sub(self.writes.saturating_add(self.failed_writes));
        if not_done > 0 {
            let _ = writeln!(out, "  not issued:     {not_done} (the run was cut short)");
        }
        let _ = writeln!(out, "  bytes written:  {} ({:.3} MiB)", self.bytes, self.bytes as f64 / MIB);
        let _ = writeln!(out, "  elapsed:        {:.3} s", self.elapsed_s);
        let _ = writeln!(out, "  throughput:     {:.1} writes/s, {:.3} MiB/s", self.writes_per_s, self.mib_per_s);
        let l = &self.latency;
        let _ = writeln!(
            out,
            "latency (µs):    p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  (min {:.1}, mean {:.1}, {} samples)",
            l.p50_us, l.p90_us, l.p99_us, l.max_us, l.min_us, l.mean_us, l.count
        );
        out.push('\n');
        self.counter_table(&mut out);
        let a = &self.eventlog_accounting;
        let _ = writeln!(
            out,
            "Event Log accounting after the run: eventlog_written {} + eventlog_summarized {} + \
             eventlog_unreported {} + eventlog_irql_skipped {} = {}, writes = {}: {}",
            a.eventlog_written,
            a.eventlog_summarized,
            a.eventlog_unreported,
            a.eventlog_irql_skipped,
            a.accounted,
            a.writes,
            if a.holds { "holds" } else { "DOES NOT HOLD" }
        );
        out
    }

    fn counter_table(&self, out: &mut String) {
        let name_width = self.counters.iter().map(|c| c.name.len()).chain([7]).max().unwrap_or(7);
        let number_width = |f: &dyn Fn(&CounterDelta) -> String, header: &str| {
            self.counters.iter().map(|c| f(c).len()).chain([header.len()]).max().unwrap_or(0)
        };
        let before_width = number_width(&|c| c.before.to_string(), "before");
        let after_width = number_width(&|c| c.after.to_string(), "after");
        let delta_width = number_width(&|c| signed(c.delta), "delta");
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>before_width$}  {:>after_width$}  {:>delta_width$}",
            "counter", "before", "after", "delta"
        );
        for c in &self.counters {
            let marker = match (c.is_watched(), c.delta != 0) {
                (true, true) => "  * <- changed",
                (true, false) => "  *",
                (false, _) => "",
            };
            let line = format!(
                "{:<name_width$}  {:>before_width$}  {:>after_width$}  {:>delta_width$}{marker}",
                c.name,
                c.before,
                c.after,
                signed(c.delta)
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = writeln!(
            out,
            "* = watch under load: Event Log entries rate-limited, summarized, not allocated or not yet \
             reported; WMI events that failed; writes rejected; records overwritten"
        );
    }
}

/// A delta with its sign: `+5`, `-3`, `0`.
fn signed(delta: i128) -> String {
    if delta > 0 { format!("+{delta}") } else { delta.to_string() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use logbridge_core::ioctl::STATS_FIELD_COUNT;
    use proptest::prelude::*;

    fn args(writes: u64, size: usize, threads: usize, rate: Option<u32>) -> StressArgs {
        StressArgs { writes, size, threads, rate }
    }

    /// Stats where the identity holds: 100 writes, 90 entries, 6 summarised, 4 unreported.
    fn stats_after() -> Stats {
        Stats {
            writes: 100,
            bytes_written: 6400,
            eventlog_written: 90,
            eventlog_summarized: 6,
            eventlog_unreported: 4,
            eventlog_rate_limited: 10,
            records_overwritten: 3,
            ring_records: 50,
            ..Stats::default()
        }
    }

    #[test]
    fn shares_sum_to_n_and_differ_by_at_most_one() {
        for (writes, threads) in [(10, 3), (9, 3), (0, 4), (1, 1), (1_000_003, 7), (u64::MAX, 5)] {
            let shares: Vec<u64> = (0..threads).map(|i| share_of(writes, threads, i)).collect();
            let sum: u128 = shares.iter().map(|&s| u128::from(s)).sum();
            assert_eq!(sum, u128::from(writes), "{writes} over {threads}");
            let (min, max) = (*shares.iter().min().unwrap(), *shares.iter().max().unwrap());
            assert!(max - min <= 1, "{writes} over {threads}: {shares:?}");
        }
        assert_eq!((0..3).map(|i| share_of(10, 3, i)).collect::<Vec<_>>(), [4, 3, 3]);
    }

    #[test]
    fn more_threads_than_writes_leave_some_idle() {
        let shares: Vec<u64> = (0..5).map(|i| share_of(3, 5, i)).collect();
        assert_eq!(shares, [1, 1, 1, 0, 0]);
        // Not a thread, or no threads at all: nothing to do, no panic.
        assert_eq!(share_of(3, 5, 5), 0);
        assert_eq!(share_of(3, 0, 0), 0);
        assert_eq!(share_of(u64::MAX, usize::MAX, usize::MAX - 1), 1);
        assert_eq!(share_of(u64::MAX - 1, usize::MAX, usize::MAX - 2), 1);
        assert_eq!(share_of(u64::MAX - 1, usize::MAX, usize::MAX - 1), 0);
        assert_eq!(share_of(u64::MAX, 1, 0), u64::MAX);
    }

    #[test]
    fn pace_offsets_interleave_the_threads() {
        // 4 writes/s over 2 threads: thread 0 at 0, 0.5, 1.0 s; thread 1 at 0.25, 0.75 s.
        let at = |index, k| pace_offset(Some(4), 2, index, k);
        assert_eq!(at(0, 0), Duration::ZERO);
        assert_eq!(at(1, 0), Duration::from_millis(250));
        assert_eq!(at(0, 1), Duration::from_millis(500));
        assert_eq!(at(1, 1), Duration::from_millis(750));
        assert_eq!(at(0, 2), Duration::from_secs(1));
        // Rounded down to the nanosecond.
        assert_eq!(pace_offset(Some(3), 1, 0, 1), Duration::from_nanos(333_333_333));
        assert_eq!(pace_offset(Some(3), 1, 0, 4), Duration::from_nanos(1_333_333_333));
        // No rate, or rate 0: no pacing.
        assert_eq!(pace_offset(None, 2, 1, 10), Duration::ZERO);
        assert_eq!(pace_offset(Some(0), 2, 1, 10), Duration::ZERO);
    }

    #[test]
    fn pace_offsets_grow_per_thread_and_cover_the_schedule() {
        let (writes, threads, rate) = (23_u64, 4_usize, 7_u32);
        let mut all = Vec::new();
        for index in 0..threads {
            let offsets: Vec<Duration> =
                (0..share_of(writes, threads, index)).map(|k| pace_offset(Some(rate), threads, index, k)).collect();
            assert!(offsets.windows(2).all(|w| w[0] < w[1]), "thread {index}: {offsets:?}");
            all.extend(offsets);
        }
        // Together the threads issue writes 0..N, write g at g / rate seconds.
        all.sort();
        let expected: Vec<Duration> =
            (0..writes).map(|g| Duration::from_nanos(g * 1_000_000_000 / u64::from(rate))).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn pace_offsets_saturate_instead_of_panicking() {
        let huge = pace_offset(Some(1), usize::MAX, usize::MAX, u64::MAX);
        assert_eq!(huge, Duration::from_secs(u64::MAX));
        assert!(pace_offset(Some(1), 3, 2, u64::MAX) >= pace_offset(Some(1), 3, 2, u64::MAX - 1));
        assert_eq!(pace_offset(Some(u32::MAX), 1, 0, 1), Duration::ZERO); // 0.23 ns rounds down
        assert_eq!(pace_offset(Some(u32::MAX), 1, 0, u64::from(u32::MAX)), Duration::from_secs(1));
        assert_eq!(pace_offset(Some(2), 0, 1, 5), Duration::from_millis(500)); // 0 threads: global = index
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut recorder = LatencyRecorder::new();
        for us in 1..=1000 {
            recorder.record(Duration::from_micros(us));
        }
        let s = recorder.summary();
        assert_eq!(s.count, 1000);
        // 3 significant digits: every value within 0.1 % of the exact one.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(s.min_us, 1.0), "{s:?}");
        assert!(close(s.p50_us, 500.0), "{s:?}");
        assert!(close(s.p90_us, 900.0), "{s:?}");
        assert!(close(s.p99_us, 990.0), "{s:?}");
        assert!(close(s.max_us, 1000.0), "{s:?}");
        assert!(close(s.mean_us, 500.5), "{s:?}");
        assert!(s.min_us <= s.p50_us && s.p50_us <= s.p90_us && s.p90_us <= s.p99_us && s.p99_us <= s.max_us);
    }

    #[test]
    fn recorders_merge() {
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        for us in 1..=500 {
            a.record(Duration::from_micros(us));
        }
        for us in 501..=1000 {
            b.record(Duration::from_micros(us));
        }
        // b has values a's histogram has not grown to yet: the merge must resize.
        b.record(Duration::from_secs(10));
        a.merge(&b);
        assert_eq!(a.count(), 1001);
        assert_eq!(b.count(), 501);
        let s = a.summary();
        assert!((s.min_us - 1.0).abs() < 0.01, "{s:?}");
        assert!((s.p50_us - 501.0).abs() <= 1.0, "{s:?}");
        assert!((s.max_us - 10_000_000.0).abs() <= 10_000.0, "{s:?}");
        // Merging an empty recorder changes nothing.
        a.merge(&LatencyRecorder::new());
        assert_eq!(a.count(), 1001);
        // Merging into an empty one copies.
        let mut c = LatencyRecorder::new();
        c.merge(&b);
        assert_eq!(c.summary(), b.summary());
    }

    #[test]
    fn an_empty_recorder_summarises_to_zeros() {
        let recorder = LatencyRecorder::default();
        assert_eq!(recorder.count(), 0);
        let s = recorder.summary();
        assert_eq!(s, LatencySummary::default());
        for v in [s.min_us, s.p50_us, s.p90_us, s.p99_us, s.max_us, s.mean_us] {
            assert_eq!(v, 0.0);
        }
    }

    #[test]
    fn extreme_latencies_are_saturated_not_refused() {
        let mut recorder = LatencyRecorder::new();
        recorder.record(Duration::ZERO);
        recorder.record(Duration::MAX);
        assert_eq!(recorder.count(), 2);
        let s = recorder.summary();
        assert_eq!(s.min_us, 0.0);
        let cap_us = MAX_LATENCY_NS as f64 / 1000.0;
        assert!(s.max_us >= cap_us * 0.999 && s.max_us <= cap_us * 1.001, "{s:?}");
        assert!(s.mean_us.is_finite());
    }

    #[test]
    fn counter_deltas_cover_every_counter_in_wire_order() {
        let before = Stats { writes: 50, ring_records: 80, clears: 1, ..Stats::default() };
        let after = stats_after();
        let deltas = counter_deltas(&before, &after);
        assert_eq!(deltas.len(), STATS_FIELD_COUNT);
        let names: Vec<&str> = deltas.iter().map(|d| d.name).collect();
        let wire: Vec<&str> = after.fields().iter().map(|f| f.0).collect();
        assert_eq!(names, wire);
        let find = |name| deltas.iter().find(|d| d.name == name).unwrap().clone();
        assert_eq!(find("writes"), CounterDelta { name: "writes", before: 50, after: 100, delta: 50 });
        // A counter that went down: a clear, or the driver restarted.
        assert_eq!(find("ring_records"), CounterDelta { name: "ring_records", before: 80, after: 50, delta: -30 });
        assert_eq!(find("clears").delta, -1);
        let extremes = counter_deltas(&Stats { writes: u64::MAX, ..Stats::default() }, &Stats::default());
        assert_eq!(extremes.iter().find(|d| d.name == "writes").unwrap().delta, -i128::from(u64::MAX));
    }

    #[test]
    fn watched_counters_exist() {
        let names: Vec<&str> = Stats::default().fields().iter().map(|f| f.0).collect();
        for watched in WATCHED_COUNTERS {
            assert!(names.contains(&watched), "{watched} is not a Stats counter");
        }
    }

    #[test]
    fn the_accounting_identity_is_checked() {
        let good = EventLogAccounting::of(&stats_after());
        assert!(good.holds);
        assert_eq!(good.accounted, 100);
        let bad = EventLogAccounting::of(&Stats { eventlog_written: 89, ..stats_after() });
        assert!(!bad.holds);
        assert_eq!(bad.accounted, 99);
        let overflow = Stats { eventlog_written: u64::MAX, eventlog_summarized: 1, writes: 0, ..Stats::default() };
        let a = EventLogAccounting::of(&overflow);
        assert_eq!(a.accounted, u128::from(u64::MAX) + 1);
        assert!(!a.holds);
    }

    #[test]
    fn the_report_computes_throughput() {
        let mut latency = LatencyRecorder::new();
        latency.record(Duration::from_micros(100));
        let report = StressReport::new(
            &args(100, 1024, 4, Some(50)),
            96,
            4,
            Some("ERROR_NO_SYSTEM_RESOURCES".into()),
            Duration::from_secs(2),
            &latency,
            &Stats::default(),
            &stats_after(),
        );
        assert_eq!(report.bytes, 96 * 1024);
        assert_eq!(report.writes_per_s, 48.0);
        assert!((report.mib_per_s - 96.0 * 1024.0 / 1_048_576.0 / 2.0).abs() < 1e-12);
        assert_eq!(report.latency.count, 1);
        assert!(report.eventlog_accounting.holds);
    }

    #[test]
    fn zero_elapsed_gives_zero_rates() {
        let report = StressReport::new(
            &args(0, 0, 1, None),
            0,
            0,
            None,
            Duration::ZERO,
            &LatencyRecorder::new(),
            &Stats::default(),
            &Stats::default(),
        );
        assert_eq!((report.writes_per_s, report.mib_per_s, report.elapsed_s), (0.0, 0.0, 0.0));
        let report = StressReport::new(
            &args(10, usize::MAX, 1, None),
            10,
            0,
            None,
            Duration::ZERO,
            &LatencyRecorder::new(),
            &Stats::default(),
            &Stats::default(),
        );
        assert_eq!(report.bytes, u64::MAX);
        assert_eq!(report.mib_per_s, 0.0);
        // Serialisable: no NaN or infinity (which serde_json would turn into null).
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["writes_per_s"], serde_json::json!(0.0));
        assert_eq!(value["latency"]["p99_us"], serde_json::json!(0.0));
    }

    #[test]
    fn the_report_json_has_every_key() {
        let report = StressReport::new(
            &args(10, 8, 2, None),
            10,
            0,
            None,
            Duration::from_millis(500),
            &LatencyRecorder::new(),
            &Stats::default(),
            &stats_after(),
        );
        let value = serde_json::to_value(&report).unwrap();
        let object = value.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "bytes",
                "counters",
                "elapsed_s",
                "eventlog_accounting",
                "failed_writes",
                "first_error",
                "latency",
                "mib_per_s",
                "rate",
                "requested_writes",
                "size",
                "threads",
                "writes",
                "writes_per_s",
            ]
        );
        assert_eq!(value["rate"], serde_json::Value::Null);
        assert_eq!(value["first_error"], serde_json::Value::Null);
        assert_eq!(value["writes_per_s"], serde_json::json!(20.0));
        let mut latency_keys: Vec<&str> = value["latency"].as_object().unwrap().keys().map(String::as_str).collect();
        latency_keys.sort_unstable();
        assert_eq!(latency_keys, ["count", "max_us", "mean_us", "min_us", "p50_us", "p90_us", "p99_us"]);
        assert_eq!(value["counters"].as_array().unwrap().len(), STATS_FIELD_COUNT);
        assert_eq!(
            value["counters"][10],
            serde_json::json!({"name": "writes", "before": 0, "after": 100, "delta": 100})
        );
        assert_eq!(value["eventlog_accounting"]["holds"], serde_json::json!(true));
    }

    #[test]
    fn the_text_report_marks_what_to_watch() {
        let mut latency = LatencyRecorder::new();
        for us in [10, 20, 30] {
            latency.record(Duration::from_micros(us));
        }
        let before = Stats { ring_records: 80, ..Stats::default() };
        let report = StressReport::new(
            &args(100, 64, 4, Some(1000)),
            99,
            1,
            Some("write failed: the device is gone".into()),
            Duration::from_secs(1),
            &latency,
            &before,
            &stats_after(),
        );
        let text = report.to_text();
        assert!(text.contains("100 writes of 64 bytes on 4 threads, 1000 writes/s"), "{text}");
        assert!(text.contains("writes ok:      99"), "{text}");
        assert!(text.contains("writes failed:  1 (first error: write failed: the device is gone)"), "{text}");
        assert!(text.contains("bytes written:  6336"), "{text}");
        assert!(text.contains("99.0 writes/s"), "{text}");
        assert!(text.contains("latency (µs):    p50 20.0  p90 30.0  p99 30.0  max 30.0"), "{text}");
        assert!(!text.contains("not issued"), "{text}");
        let line = |name: &str| {
            // Counter rows start at column 0 (the summary lines are indented).
            text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("{name}: {text}"))
        };
        // Watched and changed, watched and unchanged, not watched.
        assert!(line("eventlog_rate_limited").ends_with("+10  * <- changed"), "{text}");
        assert!(line("records_overwritten").ends_with("+3  * <- changed"), "{text}");
        assert!(line("wmi_failed").ends_with("0  *"), "{text}");
        for watched in WATCHED_COUNTERS {
            assert!(line(watched).contains('*'), "{watched}: {text}");
        }
        assert!(!line("writes").contains('*'), "{text}");
        assert!(line("writes").ends_with("+100"), "{text}");
        let ring: Vec<&str> = line("ring_records").split_whitespace().collect();
        assert_eq!(ring, ["ring_records", "80", "50", "-30"], "{text}");
        assert!(text.contains("= 100, writes = 100: holds"), "{text}");
        assert!(!text.contains("DOES NOT HOLD"), "{text}");
        // The table header and the columns line up.
        let header = line("counter");
        assert_eq!(header.find("before").map(|i| i + 6), line("ring_records").find("80").map(|i| i + 2));
    }

    #[test]
    fn the_text_report_says_when_the_identity_fails() {
        let after = Stats { eventlog_unreported: 0, ..stats_after() };
        let report = StressReport::new(
            &args(100, 64, 1, None),
            40,
            0,
            None,
            Duration::from_secs(1),
            &LatencyRecorder::new(),
            &Stats::default(),
            &after,
        );
        let text = report.to_text();
        assert!(text.contains("as fast as possible"), "{text}");
        assert!(
            text.contains("eventlog_unreported 0 + eventlog_irql_skipped 0 = 96, writes = 100: DOES NOT HOLD"),
            "{text}"
        );
        assert!(text.contains("not issued:     60"), "{text}");
        assert!(text.contains("writes failed:  0\n"), "{text}");
    }

    proptest! {
        #[test]
        fn shares_always_sum_to_n(writes in any::<u64>(), threads in 1usize..200) {
            let shares: Vec<u64> = (0..threads).map(|i| share_of(writes, threads, i)).collect();
            prop_assert_eq!(shares.iter().map(|&s| u128::from(s)).sum::<u128>(), u128::from(writes));
            let min = *shares.iter().min().unwrap();
            let max = *shares.iter().max().unwrap();
            prop_assert!(max - min <= 1);
            prop_assert!(shares.windows(2).all(|w| w[0] >= w[1]));
        }

        #[test]
        fn pacing_never_panics(rate in any::<Option<u32>>(), threads in any::<usize>(), index in any::<usize>(),
                               k in any::<u64>()) {
            let offset = pace_offset(rate, threads, index, k);
            prop_assert!(offset <= pace_offset(rate, threads, index, k.saturating_add(1)));
        }
    }
}
