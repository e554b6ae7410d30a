//! What Event Viewer shows for an error-log entry.
//!
//! The I/O manager turns the packet into an event of the System log with source = the driver's
//! service name, inserts the device object's name as `%1` before the driver's strings, and the
//! Event Log keeps the first 40 bytes of the packet plus DumpData as the event's binary data.
//! Event Viewer then shows Event ID = the low 16 bits of ErrorCode, Qualifiers = the high 16 bits,
//! the level from the severity bits, and the message text from the driver's message table with
//! the insertion strings substituted (windows-layouts.md §2).

use crate::message_file::{LOGBRIDGE_MC, MessageFile};
use logbridge_core::errorlog;
use logbridge_core::messages::{self, Severity};

/// The event source (the service name).
pub const SOURCE: &str = "LogBridge";

/// One rendered event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEvent {
    /// Event ID.
    pub event_id: u16,
    /// Qualifiers.
    pub qualifiers: u16,
    /// Level (2 Error, 3 Warning, 4 Information).
    pub level: u8,
    /// Level name as Event Viewer shows it.
    pub level_name: &'static str,
    /// The message text.
    pub message: String,
    /// The driver's insertion strings (%2 onward).
    pub strings: Vec<String>,
    /// The binary data: packet header (40 bytes) and DumpData.
    pub binary_data: Vec<u8>,
    /// The packet's SequenceNumber.
    pub sequence_number: u32,
}

/// Renders entries with the driver's message file.
#[derive(Debug)]
pub struct EventViewer {
    messages: MessageFile,
    device_name: String,
}

impl EventViewer {
    /// A viewer using `inf/logbridge.mc`; `device_name` is what the I/O manager inserts as `%1`.
    pub fn new(device_name: &str) -> Result<EventViewer, String> {
        Ok(EventViewer { messages: MessageFile::parse(LOGBRIDGE_MC)?, device_name: device_name.to_owned() })
    }

    /// Renders one written packet.
    pub fn render(&self, packet: &[u8]) -> Result<RenderedEvent, String> {
        let parsed = errorlog::parse_packet(packet).map_err(|e| e.to_string())?;
        let header = parsed.header;
        let strings: Vec<String> = parsed.strings().map(|s| s.to_string()).collect();
        let mut inserts: Vec<&str> = vec![self.device_name.as_str()];
        inserts.extend(strings.iter().map(String::as_str));
        let event_id = messages::event_id(header.error_code);
        let message = match self.messages.format(header.error_code, &inserts) {
            Some(text) => text.trim_end_matches(['\r', '\n']).to_owned(),
            None => format!(
                "The description for Event ID {event_id} from source {SOURCE} cannot be found. \
                 Either the component that raises this event is not installed on your local computer \
                 or the installation is corrupted."
            ),
        };
        let severity = Severity::of(header.error_code);
        let binary_data = errorlog::event_data_of(packet).map(<[u8]>::to_vec).unwrap_or_default();
        Ok(RenderedEvent {
            event_id,
            qualifiers: messages::qualifiers(header.error_code),
            level: severity.event_level(),
            level_name: match severity.event_level() {
                4 => "Information",
                3 => "Warning",
                _ => "Error",
            },
            message,
            strings,
            binary_data,
            sequence_number: header.sequence_number,
        })
    }
}
