//! GUIDs in their Windows memory layout, and LogBridge's own GUIDs.

use core::fmt;

/// A GUID as Windows stores it: `Data1` u32, `Data2` u16, `Data3` u16 (little-endian), `Data4` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid {
    /// `Data1`.
    pub data1: u32,
    /// `Data2`.
    pub data2: u16,
    /// `Data3`.
    pub data3: u16,
    /// `Data4`.
    pub data4: [u8; 8],
}

impl Guid {
    /// Builds a GUID from the 128-bit number written as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub const fn from_u128(value: u128) -> Guid {
        let b = value.to_be_bytes();
        Guid {
            data1: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_be_bytes([b[4], b[5]]),
            data3: u16::from_be_bytes([b[6], b[7]]),
            data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }

    /// The 16 bytes as they are in memory (and in a WNODE header).
    pub const fn to_bytes_le(self) -> [u8; 16] {
        let a = self.data1.to_le_bytes();
        let b = self.data2.to_le_bytes();
        let c = self.data3.to_le_bytes();
        let d = self.data4;
        [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]
    }

    /// Reads the in-memory form.
    pub const fn from_bytes_le(b: [u8; 16]) -> Guid {
        Guid {
            data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_le_bytes([b[4], b[5]]),
            data3: u16::from_le_bytes([b[6], b[7]]),
            data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, with or without braces, in any case.
    pub fn parse(text: &str) -> Option<Guid> {
        let text = text.trim();
        let inner = match text.strip_prefix('{') {
            Some(rest) => rest.strip_suffix('}')?,
            None => text,
        };
        let mut value: u128 = 0;
        let mut digits = 0u32;
        for (index, ch) in inner.char_indices() {
            if matches!(index, 8 | 13 | 18 | 23) {
                if ch != '-' {
                    return None;
                }
                continue;
            }
            let nibble = ch.to_digit(16)?;
            value = value.checked_shl(4)? | u128::from(nibble);
            digits = digits.checked_add(1)?;
        }
        (digits == 32 && inner.len() == 36).then(|| Guid::from_u128(value))
    }
}

impl fmt::Display for Guid {
    /// Lowercase `8-4-4-4-12` without braces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{self}}}")
    }
}

/// Device interface class of the LogBridge device; `logbridge-ctl` finds the device by it.
pub const GUID_DEVINTERFACE_LOGBRIDGE: Guid = Guid::from_u128(0xc97fe1c4_5e74_4d73_ba0a_09d332e34da0);

/// The WMI event class `LogBridge_WriteEvent` (see `inf/logbridge.mof`).
pub const GUID_LOGBRIDGE_WRITE_EVENT: Guid = Guid::from_u128(0x7f15bfe3_63dd_428f_95f6_a8eb1f5a56a4);

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn text_and_memory_forms_round_trip() {
        let g = GUID_LOGBRIDGE_WRITE_EVENT;
        assert_eq!(g.to_string(), "7f15bfe3-63dd-428f-95f6-a8eb1f5a56a4");
        assert_eq!(Guid::parse("{7F15BFE3-63DD-428F-95F6-A8EB1F5A56A4}"), Some(g));
        assert_eq!(Guid::from_bytes_le(g.to_bytes_le()), g);
        // Data1..Data3 are little-endian in memory, Data4 is a byte array.
        assert_eq!(&g.to_bytes_le()[..8], &[0xe3, 0xbf, 0x15, 0x7f, 0xdd, 0x63, 0x8f, 0x42]);
        assert_eq!(&g.to_bytes_le()[8..], &[0x95, 0xf6, 0xa8, 0xeb, 0x1f, 0x5a, 0x56, 0xa4]);
        assert_eq!(Guid::parse("7f15bfe3-63dd-428f-95f6-a8eb1f5a56a"), None);
        assert_eq!(Guid::parse("7f15bfe3x63dd-428f-95f6-a8eb1f5a56a4"), None);
        assert_eq!(Guid::parse("{7f15bfe3-63dd-428f-95f6-a8eb1f5a56a4"), None);
    }
}
