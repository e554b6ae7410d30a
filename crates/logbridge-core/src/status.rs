//! NTSTATUS values used by LogBridge, with their names.
//!
//! Values from the Windows SDK `ntstatus.h` (see `shared/reference/windows-layouts.md` §6).

use core::fmt;

/// An NTSTATUS: a 32-bit value whose top two bits are the severity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct NtStatus(pub i32);

macro_rules! statuses {
    ($($name:ident = $value:literal,)*) => {
        impl NtStatus {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($value), ").")]
                pub const $name: NtStatus = NtStatus::from_u32($value);
            )*

            /// The symbolic name, for the values LogBridge knows.
            pub const fn name(self) -> Option<&'static str> {
                match self.as_u32() {
                    $($value => Some(concat!("STATUS_", stringify!($name))),)*
                    _ => None,
                }
            }

            /// Looks a status up by its name, with or without the `STATUS_` prefix, in any case.
            pub fn from_name(name: &str) -> Option<NtStatus> {
                let bare = name.strip_prefix("STATUS_").or_else(|| name.strip_prefix("status_")).unwrap_or(name);
                $(
                    if bare.eq_ignore_ascii_case(stringify!($name)) {
                        return Some(NtStatus::$name);
                    }
                )*
                None
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000,
    PENDING = 0x0000_0103,
    BUFFER_OVERFLOW = 0x8000_0005,
    DEVICE_BUSY = 0x8000_0011,
    NO_MORE_ENTRIES = 0x8000_001A,
    UNSUCCESSFUL = 0xC000_0001,
    NOT_IMPLEMENTED = 0xC000_0002,
    INFO_LENGTH_MISMATCH = 0xC000_0004,
    INVALID_PARAMETER = 0xC000_000D,
    NO_SUCH_DEVICE = 0xC000_000E,
    INVALID_DEVICE_REQUEST = 0xC000_0010,
    NO_MEMORY = 0xC000_0017,
    ACCESS_DENIED = 0xC000_0022,
    BUFFER_TOO_SMALL = 0xC000_0023,
    OBJECT_TYPE_MISMATCH = 0xC000_0024,
    OBJECT_NAME_NOT_FOUND = 0xC000_0034,
    DELETE_PENDING = 0xC000_0056,
    REVISION_MISMATCH = 0xC000_0059,
    INVALID_SECURITY_DESCR = 0xC000_0079,
    INSUFFICIENT_RESOURCES = 0xC000_009A,
    DEVICE_NOT_READY = 0xC000_00A3,
    NOT_SUPPORTED = 0xC000_00BB,
    INTERNAL_ERROR = 0xC000_00E5,
    CANCELLED = 0xC000_0120,
    INVALID_DEVICE_STATE = 0xC000_0184,
    INVALID_BUFFER_SIZE = 0xC000_0206,
    NOT_FOUND = 0xC000_0225,
    WDF_PAUSED = 0xC020_0203,
    WDF_BUSY = 0xC020_0204,
}

impl NtStatus {
    /// The status from its unsigned 32-bit spelling (`0xC0000001`).
    pub const fn from_u32(value: u32) -> NtStatus {
        NtStatus(i32::from_ne_bytes(value.to_ne_bytes()))
    }

    /// The unsigned 32-bit spelling.
    pub const fn as_u32(self) -> u32 {
        u32::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// `NT_SUCCESS`: success and informational values.
    pub const fn is_success(self) -> bool {
        self.0 >= 0
    }

    /// `NT_ERROR`: severity 3.
    pub const fn is_error(self) -> bool {
        self.as_u32() >> 30 == 3
    }

    /// `NT_WARNING`: severity 2 (STATUS_BUFFER_OVERFLOW is a warning).
    pub const fn is_warning(self) -> bool {
        self.as_u32() >> 30 == 2
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:08X})", self.as_u32()),
            None => write!(f, "0x{:08X}", self.as_u32()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_classes_match_ntstatus_h() {
        assert_eq!(NtStatus::BUFFER_OVERFLOW.as_u32(), 0x8000_0005);
        assert!(NtStatus::BUFFER_OVERFLOW.is_warning());
        assert!(!NtStatus::BUFFER_OVERFLOW.is_success());
        assert!(NtStatus::INSUFFICIENT_RESOURCES.is_error());
        assert!(NtStatus::PENDING.is_success());
        assert_eq!(NtStatus::UNSUCCESSFUL.0, -1_073_741_823);
        assert_eq!(NtStatus::from_name("buffer_overflow"), Some(NtStatus::BUFFER_OVERFLOW));
        assert_eq!(NtStatus::from_name("STATUS_CANCELLED"), Some(NtStatus::CANCELLED));
        assert_eq!(NtStatus::from_name("nope"), None);
        assert_eq!(std::format!("{}", NtStatus::CANCELLED), "STATUS_CANCELLED (0xC0000120)");
    }
}
