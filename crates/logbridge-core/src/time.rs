//! Windows system time: 100-nanosecond intervals since 1601-01-01 UTC (`KeQuerySystemTime`).

/// 100 ns intervals between 1601-01-01 and 1970-01-01.
pub const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
/// 100 ns intervals per second.
pub const TICKS_PER_SECOND: u64 = 10_000_000;

/// A Windows system time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileTime(pub u64);

impl FileTime {
    /// Seconds and nanoseconds since the Unix epoch (negative before 1970).
    pub fn to_unix(self) -> (i64, u32) {
        let t = i128::from(self.0).saturating_sub(i128::from(UNIX_EPOCH_AS_FILETIME));
        let ticks = i128::from(TICKS_PER_SECOND);
        // A u64 tick count divided by 10^7 always fits an i64, and the remainder is below 10^7.
        let secs = i64::try_from(t.div_euclid(ticks)).unwrap_or(i64::MAX);
        let nanos = u32::try_from(t.rem_euclid(ticks).saturating_mul(100)).unwrap_or(0);
        (secs, nanos)
    }

    /// The time at `secs` seconds and `nanos` nanoseconds after the Unix epoch, or `None` if it
    /// is before 1601 or does not fit.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<FileTime> {
        let ticks = i128::from(secs)
            .checked_mul(i128::from(TICKS_PER_SECOND))?
            .checked_add(i128::from(nanos / 100))?
            .checked_add(i128::from(UNIX_EPOCH_AS_FILETIME))?;
        u64::try_from(ticks).ok().map(FileTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_values_from_the_reference() {
        assert_eq!(FileTime(133_444_736_000_000_000).to_unix(), (1_700_000_000, 0));
        assert_eq!(FileTime(116_444_736_000_000_000).to_unix(), (0, 0));
        assert_eq!(FileTime(0).to_unix(), (-11_644_473_600, 0));
        assert_eq!(FileTime(116_444_736_000_000_001).to_unix(), (0, 100));
        assert_eq!(FileTime::from_unix(1_700_000_000, 0), Some(FileTime(133_444_736_000_000_000)));
        assert_eq!(FileTime::from_unix(-11_644_473_601, 0), None);
    }
}
