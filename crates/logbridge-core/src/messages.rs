//! LogBridge's message table: the `ErrorCode` values of its error-log packets.
//!
//! An `IO_ERROR_LOG_PACKET.ErrorCode` is an NTSTATUS-shaped message id,
//! `Sev(2) | C(1) | R(1) | Facility(12) | Code(16)` (windows-layouts.md §2.1). LogBridge sets the
//! customer bit so that its ids never collide with Microsoft's `IO_ERR_*` codes, uses
//! `FACILITY_IO_ERROR_CODE` (4), and picks the severity per message. Event Viewer shows
//! Event ID = the low 16 bits and Qualifiers = the high 16 bits, and looks the text up in the
//! driver's message table with the full 32-bit value.
//!
//! The text of each message lives in `inf/logbridge.mc`, compiled into the driver image; a host test
//! parses that file (and compiles it with `windmc` where installed) and checks it against the table
//! below.

/// Severity field of a message id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// 0: shown by the Event Log as an error ("unknown"); LogBridge never uses it.
    Success = 0,
    /// 1: Information.
    Informational = 1,
    /// 2: Warning.
    Warning = 2,
    /// 3: Error.
    Error = 3,
}

impl Severity {
    /// The severity encoded in the top two bits of a message id.
    pub const fn of(code: u32) -> Severity {
        match code >> 30 {
            1 => Severity::Informational,
            2 => Severity::Warning,
            3 => Severity::Error,
            _ => Severity::Success,
        }
    }

    /// The Event Log level (winmeta.h): Error 2, Warning 3, Information 4; severity 0 is shown as an error.
    pub const fn event_level(self) -> u8 {
        match self {
            Severity::Informational => 4,
            Severity::Warning => 3,
            Severity::Error | Severity::Success => 2,
        }
    }

    /// The name `mc` uses in `SeverityNames`.
    pub const fn mc_name(self) -> &'static str {
        match self {
            Severity::Success => "Success",
            Severity::Informational => "Informational",
            Severity::Warning => "Warning",
            Severity::Error => "Error",
        }
    }
}

/// `FACILITY_IO_ERROR_CODE`.
pub const FACILITY_IO_ERROR_CODE: u16 = 0x4;
/// The customer bit, `APPLICATION_ERROR_MASK` (bit 29).
pub const CUSTOMER_BIT: u32 = 0x2000_0000;

/// Builds a message id the way `mc -c` does.
pub const fn message_id(severity: Severity, facility: u16, code: u16) -> u32 {
    ((severity as u32) << 30) | CUSTOMER_BIT | ((facility as u32 & 0x0FFF) << 16) | code as u32
}

/// Event ID shown by Event Viewer: the low 16 bits.
pub const fn event_id(message_id: u32) -> u16 {
    let b = message_id.to_le_bytes();
    u16::from_le_bytes([b[0], b[1]])
}

/// Qualifiers shown by Event Viewer: the high 16 bits.
pub const fn qualifiers(message_id: u32) -> u16 {
    let b = message_id.to_le_bytes();
    u16::from_le_bytes([b[2], b[3]])
}

/// One message of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// `SymbolicName` in the .mc file.
    pub symbolic_name: &'static str,
    /// The full 32-bit id (= `ErrorCode`).
    pub id: u32,
    /// How many driver insertion strings (%2..) the message uses.
    pub insertion_strings: u16,
}

impl Message {
    /// The severity bits of the id.
    pub const fn severity(&self) -> Severity {
        Severity::of(self.id)
    }
}

/// One write was logged. %2 sequence, %3 byte count, %4 process id, %5 preview of the payload.
pub const LOGBRIDGE_WRITE: Message = Message {
    symbolic_name: "LOGBRIDGE_WRITE",
    id: message_id(Severity::Informational, FACILITY_IO_ERROR_CODE, 1),
    insertion_strings: 4,
};

/// Event-log entries were not written. %2 total, %3 of them over the rate limit, %4 of them because
/// IoAllocateErrorLogEntry returned NULL, %5 the configured burst, %6 the configured rate per second.
pub const LOGBRIDGE_ENTRIES_SUPPRESSED: Message = Message {
    symbolic_name: "LOGBRIDGE_ENTRIES_SUPPRESSED",
    id: message_id(Severity::Warning, FACILITY_IO_ERROR_CODE, 2),
    insertion_strings: 5,
};

/// A registry parameter was invalid and its default is used. %2 value name, %3 value found, %4 default.
pub const LOGBRIDGE_PARAMETER_DEFAULTED: Message = Message {
    symbolic_name: "LOGBRIDGE_PARAMETER_DEFAULTED",
    id: message_id(Severity::Warning, FACILITY_IO_ERROR_CODE, 3),
    insertion_strings: 3,
};

/// The whole table, in id order.
pub const MESSAGES: [Message; 3] = [LOGBRIDGE_WRITE, LOGBRIDGE_ENTRIES_SUPPRESSED, LOGBRIDGE_PARAMETER_DEFAULTED];

/// Looks a message up by its full id.
pub fn find(id: u32) -> Option<&'static Message> {
    MESSAGES.iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_ntstatus_layout_windmc_uses() {
        // windmc -c: Error/C/IO/1 = 0xE0040001, Informational/C/IO/2 = 0x60040002 (windows-layouts.md §2.1).
        assert_eq!(message_id(Severity::Error, 4, 1), 0xE004_0001);
        assert_eq!(message_id(Severity::Informational, 4, 2), 0x6004_0002);
        assert_eq!(message_id(Severity::Warning, 4, 0x10), 0xA004_0010);
        assert_eq!(LOGBRIDGE_WRITE.id, 0x6004_0001);
        assert_eq!(LOGBRIDGE_ENTRIES_SUPPRESSED.id, 0xA004_0002);
        assert_eq!(event_id(0xE004_0001), 1);
        assert_eq!(qualifiers(0xE004_0001), 57348);
        assert_eq!(LOGBRIDGE_WRITE.severity().event_level(), 4);
        assert_eq!(LOGBRIDGE_ENTRIES_SUPPRESSED.severity().event_level(), 3);
        for m in MESSAGES {
            assert_ne!(m.id & CUSTOMER_BIT, 0, "{} must set the customer bit", m.symbolic_name);
            assert_ne!(m.severity(), Severity::Success);
            assert_eq!(find(m.id), Some(&m));
        }
        assert!(MESSAGES.windows(2).all(|w| w[0].id & 0xFFFF < w[1].id & 0xFFFF));
    }
}
