//! LogBridge's events in the Windows System event log, as `logbridge-ctl events` and `verify`
//! read them: the XPath query, the parsing of each rendered event, what a LogBridge event says,
//! and how it is printed.
//!
//! On Windows the commands call `EvtQuery` (channel `System`, the query of [`query_xpath`]),
//! `EvtNext` and `EvtRender(EvtRenderEventXml)`, and optionally `EvtFormatMessage`; everything
//! after those calls is here and portable, so it is tested on every host.
//!
//! # The XML this module reads
//! `EvtRender` renders an event by the event schema
//! (<https://learn.microsoft.com/windows/win32/wes/eventschema-schema>), namespace
//! `http://schemas.microsoft.com/win/2004/08/events/event`. The I/O manager turns each
//! `IO_ERROR_LOG_PACKET` the driver writes into a classic event of the System log:
//!
//! ```xml
//! <Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
//!   <System>
//!     <Provider Name="LogBridge"/>
//!     <EventID Qualifiers="24580">1</EventID>          <!-- ErrorCode: low 16 bits, Qualifiers the high 16 -->
//!     <Level>4</Level>                                  <!-- 4 Information, 3 Warning, 2 Error -->
//!     <TimeCreated SystemTime="2026-11-21T10:15:30.1234567Z"/>
//!     <EventRecordID>4242</EventRecordID>
//!     <Channel>System</Channel>
//!     <Computer>TESTVM</Computer>
//!   </System>
//!   <EventData>
//!     <Data></Data>                                     <!-- %1: the device name (empty: unnamed device) -->
//!     <Data>17</Data><Data>11</Data><Data>5120</Data><Data>hello world</Data>   <!-- %2.. -->
//!     <Binary>04000C000400...</Binary>                  <!-- packet bytes 0..40, then DumpData -->
//!   </EventData>
//! </Event>
//! ```
//!
//! * `Qualifiers` may be absent (other providers' events): it is then 0. `Level`,
//!   `EventRecordID`, `TimeCreated` and `Computer` are optional in the schema and read as 0 or
//!   empty when absent; `EventID` is required.
//! * The `Data` elements are the insertion strings in order, `%1` first; they may be empty
//!   (`<Data/>`) and may carry a `Name` attribute, which is ignored. Entities and CDATA are decoded.
//! * `Binary` is hex (either case); absent or empty means no binary data. Events with `UserData`
//!   instead of `EventData` have no strings and no binary data.
//!
//! # What a LogBridge event says
//! [`classify`] decodes the binary data with logbridge-core's own decoder
//! ([`errorlog::parse_event_data`]), checks that the packet's `ErrorCode` is the event's
//! `Qualifiers << 16 | EventID`, and reads the message's fields ([`LogBridgeEntry`]): the header
//! fields and DumpData are authoritative, the insertion strings add what the header cannot hold
//! (the full 64-bit sequence, the byte count, the suppression split).

use crate::decode;
use crate::hex;
use logbridge_core::NtStatus;
use logbridge_core::errorlog;
use logbridge_core::identity::SERVICE_NAME;
use logbridge_core::messages;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::Display;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The namespace of the event schema, which `EvtRender` uses for the whole event.
pub const EVENT_NAMESPACE: &str = "http://schemas.microsoft.com/win/2004/08/events/event";

/// The provider name of LogBridge's events: the I/O manager uses the service name as the source.
pub const PROVIDER: &str = SERVICE_NAME;

/// The forms `--since` accepts, for help texts and error messages.
pub const SINCE_FORMS: &str = "an RFC 3339 time such as 2025-01-31T12:00:00Z (fractional seconds and a \
                               +HH:MM offset allowed) or an age such as 90s, 10m, 2h, 1d";

// ---------------------------------------------------------------------------------------------
// The rendered event

/// One event as EvtRender(EvtRenderEventXml) renders it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// `System/Provider/@Name` (`@EventSourceName` if there is no `Name`; empty if neither).
    pub provider: String,
    /// `System/EventID`: the low 16 bits of the packet's `ErrorCode`.
    pub event_id: u16,
    /// `System/EventID/@Qualifiers`: the high 16 bits; 0 when the attribute is absent.
    pub qualifiers: u16,
    /// `System/Level`: 4 Information, 3 Warning, 2 Error (0 when absent).
    pub level: u8,
    /// `System/EventRecordID` (0 when absent).
    pub record_id: u64,
    /// `System/TimeCreated/@SystemTime`, verbatim (empty when absent).
    pub time_created: String,
    /// `System/Computer` (empty when absent).
    pub computer: String,
    /// The `EventData/Data` texts in order, `%1` (the device name) first.
    pub strings: Vec<String>,
    /// `EventData/Binary`, decoded; empty when absent. Serialised as lowercase hex.
    #[serde(serialize_with = "serialize_hex")]
    pub binary: Vec<u8>,
}

impl EventRecord {
    /// The driver's full ErrorCode: qualifiers << 16 | event_id.
    pub fn message_id(&self) -> u32 {
        (u32::from(self.qualifiers) << 16) | u32::from(self.event_id)
    }

    /// The driver's insertion strings %2.. (strings without the first, %1).
    pub fn driver_strings(&self) -> &[String] {
        self.strings.get(1..).unwrap_or(&[])
    }
}

fn serialize_hex<T: AsRef<[u8]>, S: serde::Serializer>(bytes: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes.as_ref()))
}

/// The first element child of `node` named `name`, in `node`'s namespace.
fn child<'a, 'input>(node: roxmltree::Node<'a, 'input>, name: &str) -> Option<roxmltree::Node<'a, 'input>> {
    let namespace = node.tag_name().namespace();
    node.children().find(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == namespace)
}

/// The element children of `node` named `name`, in `node`'s namespace, in document order.
fn children<'a, 'input: 'a>(
    node: roxmltree::Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + 'a {
    let namespace = node.tag_name().namespace();
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == namespace)
}

/// All the text inside an element (its text nodes, entities and CDATA decoded), in order.
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect()
}

fn number<T>(what: &str, text: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    text.trim().parse::<T>().map_err(|e| format!("bad {what} {text:?} in the event XML: {e}"))
}

fn describe_element(node: roxmltree::Node<'_, '_>) -> String {
    match node.tag_name().namespace() {
        Some(namespace) => format!("{{{namespace}}}{}", node.tag_name().name()),
        None => node.tag_name().name().to_owned(),
    }
}

/// Parses one rendered event. Errors are one-line messages saying what is wrong (not an Event element, missing EventID, bad number, bad hex in Binary...).
///
/// The root must be `Event` in the event-schema namespace (or in no namespace) with a `System`
/// child holding an `EventID`; see the module documentation for the rest.
pub fn parse_event_xml(xml: &str) -> Result<EventRecord, String> {
    let document = roxmltree::Document::parse(xml).map_err(|e| format!("the event XML is not well-formed: {e}"))?;
    let event = document.root_element();
    if event.tag_name().name() != "Event" || !matches!(event.tag_name().namespace(), None | Some(EVENT_NAMESPACE)) {
        return Err(format!(
            "the root element is {}, not an Event of the event schema ({EVENT_NAMESPACE})",
            describe_element(event)
        ));
    }
    let system = child(event, "System").ok_or("the Event has no System element")?;

    let provider = child(system, "Provider")
        .and_then(|p| p.attribute("Name").or_else(|| p.attribute("EventSourceName")))
        .unwrap_or_default()
        .to_owned();
    let event_id_node = child(system, "EventID").ok_or("the event has no System/EventID element")?;
    let event_id = number::<u16>("EventID", &text_of(event_id_node))?;
    let qualifiers = match event_id_node.attribute("Qualifiers") {
        Some(text) => number::<u16>("EventID Qualifiers", text)?,
        None => 0,
    };
    let level = match child(system, "Level") {
        Some(node) => number::<u8>("Level", &text_of(node))?,
        None => 0,
    };
    let record_id = match child(system, "EventRecordID") {
        Some(node) => number::<u64>("EventRecordID", &text_of(node))?,
        None => 0,
    };
    let time_created =
        child(system, "TimeCreated").and_then(|t| t.attribute("SystemTime")).unwrap_or_default().to_owned();
    let computer = child(system, "Computer").map(|c| text_of(c).trim().to_owned()).unwrap_or_default();

    let (strings, binary) = match child(event, "EventData") {
        Some(data) => {
            let strings = children(data, "Data").map(text_of).collect();
            let binary = match child(data, "Binary") {
                Some(node) => {
                    hex::parse(&text_of(node)).map_err(|e| format!("bad hex in the event's Binary element: {e}"))?
                }
                None => Vec::new(),
            };
            (strings, binary)
        }
        // UserData (or nothing): no insertion strings, no binary data.
        None => (Vec::new(), Vec::new()),
    };

    Ok(EventRecord { provider, event_id, qualifiers, level, record_id, time_created, computer, strings, binary })
}

// ---------------------------------------------------------------------------------------------
// What a LogBridge event says

/// What a LogBridge event says.
///
/// Serialised (JSON) with a `kind` tag (`write`, `suppressed`, `parameter_defaulted`, `unknown`)
/// and byte strings as lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogBridgeEntry {
    /// LOGBRIDGE_WRITE: one write.
    Write {
        /// `SequenceNumber`: the low 32 bits of the record's sequence number.
        sequence_low: u32,
        /// `UniqueErrorValue`: the writer's process id.
        process_id: u32,
        /// `FinalStatus`, unsigned 32-bit.
        final_status: u32,
        /// The first bytes of the payload (DumpData). When `length` is known the zero padding
        /// that rounds DumpData up to a multiple of 4 is cut off; otherwise DumpData is whole.
        #[serde(serialize_with = "serialize_hex")]
        dump: Vec<u8>,
        /// The full 64-bit sequence number, from %2 if it parses (and agrees with `sequence_low`).
        sequence: Option<u64>,
        /// The number of bytes written, from %3 if it parses.
        length: Option<u64>,
    },
    /// LOGBRIDGE_ENTRIES_SUPPRESSED: `total` from DumpData (u64 LE); the split from %3 and %4 when they parse.
    Suppressed {
        /// Entries not written since the previous summary (DumpData, u64 little-endian).
        total: u64,
        /// How many of them were over the rate limit (%3).
        rate_limited: Option<u64>,
        /// How many because `IoAllocateErrorLogEntry` returned NULL (%4).
        alloc_failed: Option<u64>,
    },
    /// LOGBRIDGE_PARAMETER_DEFAULTED.
    ParameterDefaulted {
        /// The registry value name (%2; empty if missing).
        name: String,
        /// The value found (%3; empty if missing).
        found: String,
        /// The default used instead (%4; empty if missing).
        default: String,
    },
    /// Another message id of provider LogBridge (a newer driver).
    Unknown {
        /// The packet's `ErrorCode`.
        message_id: u32,
    },
}

const WRITE_ID: u32 = messages::LOGBRIDGE_WRITE.id;
const SUPPRESSED_ID: u32 = messages::LOGBRIDGE_ENTRIES_SUPPRESSED.id;
const PARAMETER_DEFAULTED_ID: u32 = messages::LOGBRIDGE_PARAMETER_DEFAULTED.id;

/// Classifies a LogBridge event: its binary data must decode with logbridge_core::errorlog::parse_event_data, and the packet's ErrorCode must equal record.message_id(); otherwise Err with a one-line reason.
///
/// The provider must be [`PROVIDER`] (compared without regard to ASCII case, as the Event Log
/// does). Missing or unparsable insertion strings make the fields they feed `None` or empty; they
/// are never an error, since the binary data alone identifies the entry.
pub fn classify(record: &EventRecord) -> Result<LogBridgeEntry, String> {
    if !record.provider.eq_ignore_ascii_case(PROVIDER) {
        return Err(format!("the event's provider is {:?}, not {PROVIDER}", record.provider));
    }
    if record.binary.is_empty() {
        return Err("the event has no binary data (every LogBridge event carries its packet header)".to_owned());
    }
    let data = errorlog::parse_event_data(&record.binary)
        .map_err(|e| format!("the binary data is not a packet header followed by DumpData: {e}"))?;
    let header = data.header;
    if header.error_code != record.message_id() {
        return Err(format!(
            "the packet's ErrorCode 0x{:08X} disagrees with the event's EventID {} and Qualifiers {} (0x{:08X})",
            header.error_code,
            record.event_id,
            record.qualifiers,
            record.message_id()
        ));
    }
    let strings = record.driver_strings();
    // Index 0 is %2.
    let string = |index: usize| strings.get(index).map(String::as_str);
    let decimal = |index: usize| string(index).and_then(|s| s.parse::<u64>().ok());

    match header.error_code {
        WRITE_ID => {
            let length = decimal(1);
            let kept = length
                .and_then(|n| usize::try_from(n).ok())
                .map_or(data.dump_data.len(), |n| n.min(data.dump_data.len()));
            let dump = data.dump_data.get(..kept).unwrap_or(data.dump_data).to_vec();
            let sequence = decimal(0).filter(|s| errorlog::truncate_sequence(*s) == header.sequence_number);
            Ok(LogBridgeEntry::Write {
                sequence_low: header.sequence_number,
                process_id: header.unique_error_value,
                final_status: header.final_status,
                dump,
                sequence,
                length,
            })
        }
        SUPPRESSED_ID => {
            let total = data
                .dump_data
                .get(..8)
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| {
                    format!(
                        "LOGBRIDGE_ENTRIES_SUPPRESSED carries {} bytes of DumpData, not the 8-byte total",
                        data.dump_data.len()
                    )
                })?;
            Ok(LogBridgeEntry::Suppressed { total, rate_limited: decimal(1), alloc_failed: decimal(2) })
        }
        PARAMETER_DEFAULTED_ID => Ok(LogBridgeEntry::ParameterDefaulted {
            name: string(0).unwrap_or_default().to_owned(),
            found: string(1).unwrap_or_default().to_owned(),
            default: string(2).unwrap_or_default().to_owned(),
        }),
        message_id => Ok(LogBridgeEntry::Unknown { message_id }),
    }
}

// ---------------------------------------------------------------------------------------------
// The query and --since

/// The XPath query for EvtQuery: `*[System[Provider[@Name='LogBridge']]]`, or with a time bound
/// `*[System[Provider[@Name='LogBridge'] and TimeCreated[@SystemTime>='2026-11-21T10:15:30.123Z']]]`
/// (UTC, millisecond precision, Z suffix).
/// The provider name is a fixed identifier but must still be rejected (Err) if it contains a quote or `]` rather than be injected.
///
/// Also refused: an empty name, `[`, `<`, `>`, `&` and control characters. The time is truncated
/// to the millisecond (so the bound never excludes an event at or after `since`); a time before
/// 1970 or after 9999 is an error.
pub fn query_xpath(provider: &str, since: Option<SystemTime>) -> Result<String, String> {
    if provider.is_empty()
        || provider.chars().any(|c| matches!(c, '\'' | '"' | '[' | ']' | '<' | '>' | '&') || c.is_control())
    {
        return Err(format!(
            "the provider name {provider:?} cannot go into an XPath query: it is empty or contains a quote, \
             a bracket, <, >, & or a control character"
        ));
    }
    match since {
        None => Ok(format!("*[System[Provider[@Name='{provider}']]]")),
        Some(time) => {
            let stamp = rfc3339_millis(time)?;
            Ok(format!("*[System[Provider[@Name='{provider}'] and TimeCreated[@SystemTime>='{stamp}']]]"))
        }
    }
}

/// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, truncated to the millisecond).
fn rfc3339_millis(time: SystemTime) -> Result<String, String> {
    // humantime's formatter panics before 1970 and fails after 9999: check first, and write into
    // a String (which reports a formatting error instead of panicking).
    if time < UNIX_EPOCH {
        return Err("a time before 1970-01-01T00:00:00Z cannot be queried".to_owned());
    }
    let mut out = String::new();
    std::fmt::Write::write_fmt(&mut out, format_args!("{}", humantime::format_rfc3339_millis(time)))
        .map_err(|_| "a time after the year 9999 cannot be queried".to_owned())?;
    Ok(out)
}

/// An RFC 3339 time: what humantime accepts (`Z` or `+00:00`), or a `±HH:MM` offset.
fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    let humantime_error = match humantime::parse_rfc3339(text) {
        Ok(time) => return Ok(time),
        Err(e) => e.to_string(),
    };
    let split = text.len().checked_sub(6).filter(|at| *at >= 19);
    let Some((base, offset)) = split.and_then(|at| Some((text.get(..at)?, text.get(at..)?))) else {
        return Err(humantime_error);
    };
    let bytes = offset.as_bytes();
    let sign = match bytes.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(humantime_error),
    };
    if bytes.get(3) != Some(&b':') {
        return Err(humantime_error);
    }
    let two_digits = |range: std::ops::Range<usize>| {
        offset.get(range).filter(|d| d.bytes().all(|b| b.is_ascii_digit())).and_then(|d| d.parse::<u64>().ok())
    };
    let (Some(hours), Some(minutes)) = (two_digits(1..3), two_digits(4..6)) else {
        return Err(humantime_error);
    };
    if hours > 23 || minutes > 59 {
        return Err(format!("the UTC offset {offset} is out of range"));
    }
    let local = humantime::parse_rfc3339(&format!("{base}Z")).map_err(|e| e.to_string())?;
    let shift = Duration::from_secs(hours.saturating_mul(3600).saturating_add(minutes.saturating_mul(60)));
    // UTC = local time - offset.
    let utc = if sign > 0 { local.checked_sub(shift) } else { local.checked_add(shift) };
    utc.ok_or_else(|| format!("the time {text} is out of range"))
}

/// `--since TIME`: an RFC 3339 time ("2025-01-31T12:00:00Z", also with fractional seconds or an offset if humantime accepts it) or an age before `now` ("90s", "10m", "2h", "1d", humantime durations). Err with a message that shows both accepted forms. A time in the future is an error; so is an age reaching before 1970.
///
/// Besides what humantime accepts (`Z`, `+00:00`), any `±HH:MM` offset is accepted. Ages are
/// humantime durations, so `1h 30m` works too (note `m` is minutes and `M` months).
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("--since needs a value: {SINCE_FORMS}"));
    }
    let time = match parse_rfc3339(trimmed) {
        Ok(time) => time,
        Err(time_error) => match humantime::parse_duration(trimmed) {
            Ok(age) => {
                let time = now.checked_sub(age).filter(|t| *t >= UNIX_EPOCH).ok_or_else(|| {
                    format!("--since {trimmed}: an age of {trimmed} reaches before 1970-01-01T00:00:00Z")
                })?;
                return Ok(time);
            }
            Err(age_error) => {
                // Name the problem of the form the text looks like.
                let looks_like_time = trimmed.as_bytes().get(4) == Some(&b'-');
                let detail = if looks_like_time { time_error } else { age_error.to_string() };
                return Err(format!("--since {trimmed:?} is neither {SINCE_FORMS} ({detail})"));
            }
        },
    };
    if time > now {
        return Err(format!("--since {trimmed} is in the future"));
    }
    Ok(time)
}

// ---------------------------------------------------------------------------------------------
// Output

/// The Event Viewer name of a level: 1 Critical, 2 Error, 3 Warning, 0 and 4 Information,
/// 5 Verbose; other values as `Level N`.
pub fn level_name(level: u8) -> Cow<'static, str> {
    match level {
        1 => Cow::Borrowed("Critical"),
        2 => Cow::Borrowed("Error"),
        3 => Cow::Borrowed("Warning"),
        0 | 4 => Cow::Borrowed("Information"),
        5 => Cow::Borrowed("Verbose"),
        other => Cow::Owned(format!("Level {other}")),
    }
}

/// The message text on one line: line breaks (and the blank space around them) become one space,
/// and the text is trimmed.
fn collapse_lines(message: &str) -> String {
    message.split(['\r', '\n']).map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Control characters become spaces, so that text from the event cannot break the line.
fn one_line(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(text)
    }
}

fn or_unknown(value: Option<u64>) -> String {
    value.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

/// What the entry is, in a few words (one line).
fn describe_entry(entry: &Result<LogBridgeEntry, String>) -> String {
    match entry {
        Ok(LogBridgeEntry::Write { sequence_low, process_id, final_status, sequence, length, .. }) => {
            let mut text = format!(
                "write seq {} (low32 {sequence_low}) pid {process_id} {} bytes",
                or_unknown(*sequence),
                or_unknown(*length)
            );
            if *final_status != 0 {
                text.push_str(&format!(" status {}", NtStatus::from_u32(*final_status)));
            }
            text
        }
        Ok(LogBridgeEntry::Suppressed { total, rate_limited, alloc_failed }) => format!(
            "suppressed {total} entries ({} over the rate limit, {} allocation failures)",
            or_unknown(*rate_limited),
            or_unknown(*alloc_failed)
        ),
        Ok(LogBridgeEntry::ParameterDefaulted { name, found, default }) => {
            format!("parameter {name:?} defaulted: found {found:?}, using {default:?}")
        }
        Ok(LogBridgeEntry::Unknown { message_id }) => format!("message 0x{message_id:08X} (unknown to this version)"),
        Err(reason) => format!("undecodable ({})", one_line(reason)),
    }
}

/// The message on one line, or (without one) the driver's insertion strings, quoted.
fn message_or_strings(record: &EventRecord, message: Option<&str>) -> String {
    if let Some(text) = message.map(collapse_lines).filter(|text| !text.is_empty()) {
        return one_line(&text).into_owned();
    }
    if record.driver_strings().is_empty() {
        return "(no message text, no insertion strings)".to_owned();
    }
    record
        .driver_strings()
        .iter()
        .zip(2u32..)
        .map(|(string, number)| format!("%{number}={string:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One event as `logbridge-ctl events` prints it (text): one line, e.g.
/// "2026-11-21T10:15:30.1234567Z  #4242  Information  write seq 17 (low32 17) pid 5120 11 bytes  LogBridge record 17: 11 bytes written by process 5120. Preview: hello world"
/// Message text (from EvtFormatMessage) when given, with line breaks collapsed to spaces; without it, a rendering of the driver strings. Your choice of the exact layout, but: timestamp, record id, level name, what the entry is, and the message.
///
/// The layout is `TIME  #RECORD  LEVEL  WHAT  MESSAGE`, fields separated by two spaces. Without a
/// message the driver strings are shown as `%2="17" %3="11" ...`. Control characters from the
/// event become spaces, so the result never contains a line break.
pub fn format_event_line(
    record: &EventRecord,
    entry: &Result<LogBridgeEntry, String>,
    message: Option<&str>,
) -> String {
    let time = if record.time_created.is_empty() { "(no time)" } else { record.time_created.as_str() };
    format!(
        "{}  #{}  {}  {}  {}",
        one_line(time),
        record.record_id,
        level_name(record.level),
        describe_entry(entry),
        message_or_strings(record, message)
    )
}

/// The JSON of an entry, or `{"kind":"undecodable","reason":...}`.
fn entry_json(entry: &Result<LogBridgeEntry, String>) -> Value {
    let undecodable = |reason: String| {
        let mut object = Map::new();
        object.insert("kind".to_owned(), Value::from("undecodable"));
        object.insert("reason".to_owned(), Value::from(reason));
        Value::Object(object)
    };
    match entry {
        Ok(entry) => serde_json::to_value(entry).unwrap_or_else(|e| undecodable(format!("cannot serialise: {e}"))),
        Err(reason) => undecodable(reason.clone()),
    }
}

/// The same as one JSON object (for `--json`, one object per line): record fields, "message", and "entry" (the LogBridgeEntry, or {"kind":"undecodable","reason":...}); binary and dump as lowercase hex strings.
///
/// Keys: `provider`, `event_id`, `qualifiers`, `message_id` (the full 32-bit id), `level`,
/// `level_name`, `record_id`, `time_created`, `computer`, `strings` (`%1` first), `binary`,
/// `message` (the message text with line breaks collapsed, or null), `entry`, and `event_data`:
/// the binary data decoded as `decode event-data` prints it ([`decode::EventDataJson`]), or null
/// when it does not decode.
pub fn event_json(record: &EventRecord, entry: &Result<LogBridgeEntry, String>, message: Option<&str>) -> Value {
    let mut object = Map::new();
    let mut put = |key: &str, value: Value| {
        object.insert(key.to_owned(), value);
    };
    put("provider", Value::from(record.provider.clone()));
    put("event_id", Value::from(record.event_id));
    put("qualifiers", Value::from(record.qualifiers));
    put("message_id", Value::from(record.message_id()));
    put("level", Value::from(record.level));
    put("level_name", Value::from(level_name(record.level).into_owned()));
    put("record_id", Value::from(record.record_id));
    put("time_created", Value::from(record.time_created.clone()));
    put("computer", Value::from(record.computer.clone()));
    put("strings", Value::from(record.strings.clone()));
    put("binary", Value::from(hex::encode(&record.binary)));
    put("message", message.map_or(Value::Null, |m| Value::from(collapse_lines(m))));
    put("entry", entry_json(entry));
    let event_data = decode::event_data_json(&record.binary).ok().and_then(|data| serde_json::to_value(data).ok());
    put("event_data", event_data.unwrap_or(Value::Null));
    Value::Object(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use logbridge_core::device::{self as core_device, Config, Parameter, ParameterDefaulted, RegistryValue};
    use logbridge_core::errorlog::{ERROR_LOG_MAXIMUM_SIZE, InsertionString, PacketSpec, WriteFacts};
    use logbridge_core::ioctl::{FILE_READ_ACCESS, FILE_WRITE_ACCESS};
    use logbridge_core::messages::{Message, Severity};
    use logbridge_core::ratelimit::RateLimit;
    use logbridge_core::time::TICKS_PER_SECOND;
    use logbridge_model::event_viewer::EventViewer;
    use logbridge_model::kernel::KernelOptions;
    use logbridge_model::{DeviceOptions, ModelDevice, ModelKernel};
    use proptest::prelude::*;
    use serde_json::json;

    const TIME: &str = "2026-11-21T10:15:30.1234567Z";

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
    }

    /// What goes into a rendered event.
    struct Fixture {
        provider: String,
        event_id: u16,
        qualifiers: Option<u16>,
        level: u8,
        record_id: u64,
        strings: Vec<String>,
        binary: Vec<u8>,
        lowercase_hex: bool,
    }

    /// The event XML as EvtRender(EvtRenderEventXml) renders it (the documented event schema).
    fn event_xml(f: &Fixture) -> String {
        let qualifiers = f.qualifiers.map(|q| format!(" Qualifiers=\"{q}\"")).unwrap_or_default();
        let data: String = f.strings.iter().map(|s| format!("<Data>{}</Data>", escape(s))).collect();
        let binary = if f.binary.is_empty() {
            String::new()
        } else if f.lowercase_hex {
            format!("<Binary>{}</Binary>", ::hex::encode(&f.binary))
        } else {
            format!("<Binary>{}</Binary>", ::hex::encode_upper(&f.binary))
        };
        format!(
            "<Event xmlns=\"{EVENT_NAMESPACE}\"><System><Provider Name=\"{}\"/><EventID{qualifiers}>{}</EventID>\
             <Version>0</Version><Level>{}</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>\
             <TimeCreated SystemTime=\"{TIME}\"/><EventRecordID>{}</EventRecordID><Correlation/>\
             <Execution ProcessID=\"4\" ThreadID=\"120\"/><Channel>System</Channel><Computer>TESTVM</Computer>\
             <Security/></System><EventData>{data}{binary}</EventData></Event>",
            escape(&f.provider),
            f.event_id,
            f.level,
            f.record_id
        )
    }

    /// What the I/O manager and the Event Log make of a packet: EventID and Qualifiers from
    /// ErrorCode, the level from its severity, `%1` empty (unnamed device) then the packet's
    /// strings, and binary data = the first 40 bytes and DumpData.
    fn fixture_of_packet(packet: &[u8], record_id: u64) -> Fixture {
        let parsed = errorlog::parse_packet(packet).unwrap();
        let code = parsed.header.error_code;
        let mut strings = vec![String::new()];
        strings.extend(parsed.strings().map(|s| s.to_string()));
        Fixture {
            provider: "LogBridge".to_owned(),
            event_id: messages::event_id(code),
            qualifiers: Some(messages::qualifiers(code)),
            level: Severity::of(code).event_level(),
            record_id,
            strings,
            binary: errorlog::event_data_of(packet).unwrap().to_vec(),
            lowercase_hex: false,
        }
    }

    fn xml_of_packet(packet: &[u8], record_id: u64) -> String {
        event_xml(&fixture_of_packet(packet, record_id))
    }

    fn encode(spec: &PacketSpec<'_>) -> Vec<u8> {
        let plan = errorlog::plan_packet(spec, ERROR_LOG_MAXIMUM_SIZE).unwrap();
        let mut entry = vec![0xAA; plan.entry_size.bytes()];
        errorlog::encode_packet(&mut entry, spec, &plan).unwrap();
        entry
    }

    /// A write's packet, built as the driver builds it.
    fn write_packet(sequence: u64, process_id: u32, payload: &[u8], final_status: NtStatus) -> Vec<u8> {
        let facts = WriteFacts { sequence, process_id, payload, final_status };
        let strings = errorlog::write_packet_strings(&facts);
        encode(&errorlog::write_packet_spec(&facts, &strings, ERROR_LOG_MAXIMUM_SIZE))
    }

    /// The summary packet, with the spec of the driver's `log_summary_entry`.
    fn summary_packet(sequence: u64, rate_limited: u64, alloc_failed: u64, limit: RateLimit) -> Vec<u8> {
        let counts = errorlog::SuppressedCounts { rate_limited, alloc_failed };
        let strings = errorlog::summary_packet_strings(&counts, limit);
        let dump = counts.dump();
        encode(&errorlog::summary_packet_spec(sequence, &dump, &strings))
    }

    fn hello_record() -> (Vec<u8>, EventRecord) {
        let packet = write_packet((1 << 32) + 17, 5120, b"hello world", NtStatus::SUCCESS);
        let record = parse_event_xml(&xml_of_packet(&packet, 4242)).unwrap();
        (packet, record)
    }

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    // ---- parse_event_xml + classify on the driver's packets -----------------------------------

    #[test]
    fn a_write_event_gives_back_every_field() {
        let (packet, record) = hello_record();
        assert_eq!(
            record,
            EventRecord {
                provider: "LogBridge".into(),
                event_id: 1,
                qualifiers: 24580,
                level: 4,
                record_id: 4242,
                time_created: TIME.into(),
                computer: "TESTVM".into(),
                strings: vec!["".into(), "4294967313".into(), "11".into(), "5120".into(), "hello world".into()],
                binary: errorlog::event_data_of(&packet).unwrap().to_vec(),
            }
        );
        assert_eq!(record.binary.len(), 40 + 12, "11 payload bytes padded to 12");
        assert_eq!(record.message_id(), 0x6004_0001);
        assert_eq!(record.driver_strings(), ["4294967313", "11", "5120", "hello world"]);
        assert_eq!(
            classify(&record).unwrap(),
            LogBridgeEntry::Write {
                sequence_low: 17,
                process_id: 5120,
                final_status: 0,
                dump: b"hello world".to_vec(),
                sequence: Some((1 << 32) + 17),
                length: Some(11),
            }
        );
    }

    #[test]
    fn a_long_binary_write_keeps_the_first_payload_bytes_and_its_status() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let packet = write_packet(u64::MAX, u32::MAX, &payload, NtStatus::CANCELLED);
        let mut fixture = fixture_of_packet(&packet, 1);
        fixture.lowercase_hex = true;
        let xml = event_xml(&fixture);
        assert!(xml.contains("08090a0b0c0d0e0f"), "lowercase hex: {xml}");
        let record = parse_event_xml(&xml).unwrap();
        let kept = errorlog::default_max_dump_bytes(ERROR_LOG_MAXIMUM_SIZE);
        assert_eq!(kept, 32);
        assert_eq!(
            classify(&record).unwrap(),
            LogBridgeEntry::Write {
                sequence_low: u32::MAX,
                process_id: u32::MAX,
                final_status: 0xC000_0120,
                dump: payload[..kept].to_vec(),
                sequence: Some(u64::MAX),
                length: Some(300),
            }
        );
    }

    #[test]
    fn write_strings_that_do_not_parse_or_disagree_are_none() {
        let (packet, record) = hello_record();
        let data = errorlog::parse_event_data(&record.binary).unwrap();
        assert_eq!(data.dump_data, b"hello world\0");

        // %2 whose low 32 bits are not SequenceNumber; %3 missing: the whole DumpData is kept.
        let mut fixture = fixture_of_packet(&packet, 1);
        fixture.strings = vec![String::new(), "18".into()];
        let entry = classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap();
        assert_eq!(
            entry,
            LogBridgeEntry::Write {
                sequence_low: 17,
                process_id: 5120,
                final_status: 0,
                dump: b"hello world\0".to_vec(),
                sequence: None,
                length: None,
            }
        );
        // Not numbers at all, and no strings at all.
        for strings in [vec![String::new(), "x".into(), "eleven".into()], vec![]] {
            fixture.strings = strings;
            let entry = classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap();
            assert!(matches!(entry, LogBridgeEntry::Write { sequence: None, length: None, sequence_low: 17, .. }));
        }
    }

    /// The driver's own write path in the checked kernel model: five writes get entries, fifteen
    /// are rate-limited, and a second later a Warning summary precedes the next write's entry.
    #[test]
    fn the_driver_paths_events_classify_with_their_messages() {
        let config = Config { rate_limit: RateLimit { burst: 5, per_second: 1 }, ..Config::default() };
        let device = ModelDevice::create(
            ModelKernel::new(KernelOptions::default()),
            DeviceOptions { config, ..Default::default() },
        )
        .unwrap();
        let handle = device.open(FILE_READ_ACCESS | FILE_WRITE_ACCESS);
        for i in 0..20u8 {
            device.write(handle, &[b'a' + i], 77);
        }
        device.kernel().advance(TICKS_PER_SECOND);
        device.write(handle, b"after a second", 77);
        let kernel = device.teardown();
        kernel.assert_clean();
        let viewer = EventViewer::new("").unwrap();
        let written = kernel.written_entries();
        assert_eq!(written.len(), 7);

        let mut entries = Vec::new();
        for (index, entry) in written.iter().enumerate() {
            let record = parse_event_xml(&xml_of_packet(&entry.packet, 100 + index as u64)).unwrap();
            let rendered = viewer.render(&entry.packet).unwrap();
            assert_eq!(
                (record.event_id, record.qualifiers, record.level),
                (rendered.event_id, rendered.qualifiers, rendered.level)
            );
            let classified = classify(&record);
            let line = format_event_line(&record, &classified, Some(&rendered.message));
            assert!(!line.contains(['\r', '\n']), "{line}");
            entries.push((classified.unwrap(), line));
        }
        let sequences: Vec<u64> = entries
            .iter()
            .filter_map(|(entry, _)| match entry {
                LogBridgeEntry::Write { sequence, sequence_low, process_id: 77, .. } => {
                    assert_eq!(errorlog::truncate_sequence(sequence.unwrap()), *sequence_low);
                    *sequence
                }
                _ => None,
            })
            .collect();
        assert_eq!(sequences.len(), 6);
        assert!(sequences[..5].windows(2).all(|w| w[1] == w[0] + 1), "{sequences:?}");
        assert_eq!(sequences[5], sequences[4] + 16, "fifteen writes in between were rate-limited");
        assert_eq!(
            entries[0].0,
            LogBridgeEntry::Write {
                sequence_low: errorlog::truncate_sequence(sequences[0]),
                process_id: 77,
                final_status: 0,
                dump: b"a".to_vec(),
                sequence: Some(sequences[0]),
                length: Some(1),
            }
        );
        assert_eq!(
            entries[5].0,
            LogBridgeEntry::Suppressed { total: 15, rate_limited: Some(15), alloc_failed: Some(0) }
        );
        let summary_line = &entries[5].1;
        assert!(
            summary_line
                .contains("#105  Warning  suppressed 15 entries (15 over the rate limit, 0 allocation failures)"),
            "{summary_line}"
        );
        assert!(summary_line.contains("LogBridge suppressed 15 event-log entries"), "{summary_line}");
        assert!(
            summary_line
                .contains("per second) and 0 because IoAllocateErrorLogEntry returned NULL. The suppressed writes"),
            "{summary_line}"
        );
        assert!(
            matches!(&entries[6].0, LogBridgeEntry::Write { dump, length: Some(14), .. } if dump == b"after a second")
        );
        assert!(entries[6].1.ends_with("Preview: after a second"), "{}", entries[6].1);
    }

    #[test]
    fn a_summary_takes_its_total_from_dump_data() {
        let total = (1u64 << 40) + 5;
        let packet = summary_packet(99, total - 2, 2, RateLimit { burst: 100, per_second: 20 });
        let mut fixture = fixture_of_packet(&packet, 7);
        assert_eq!(fixture.strings[1], total.to_string());
        // %2 is not what the total is read from: DumpData is.
        fixture.strings[1] = "1".into();
        let record = parse_event_xml(&event_xml(&fixture)).unwrap();
        assert_eq!((record.event_id, record.qualifiers, record.level), (2, 0xA004, 3));
        assert_eq!(
            classify(&record).unwrap(),
            LogBridgeEntry::Suppressed { total, rate_limited: Some(total - 2), alloc_failed: Some(2) }
        );
        // Without the split strings.
        fixture.strings.truncate(2);
        assert_eq!(
            classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap(),
            LogBridgeEntry::Suppressed { total, rate_limited: None, alloc_failed: None }
        );
        // A summary whose DumpData cannot hold the total.
        let short = encode(&PacketSpec {
            message: messages::LOGBRIDGE_ENTRIES_SUPPRESSED,
            major_function: errorlog::IRP_MJ_WRITE,
            unique_error_value: 0,
            final_status: NtStatus::SUCCESS,
            sequence_number: 0,
            dump: &[1, 2, 3, 4],
            max_dump_bytes: 4,
            strings: &[],
        });
        let err = classify(&parse_event_xml(&xml_of_packet(&short, 1)).unwrap()).unwrap_err();
        assert!(err.contains("4 bytes of DumpData") && err.contains("8-byte total"), "{err}");
    }

    #[test]
    fn a_parameter_defaulted_event_from_the_driver_classifies() {
        let kernel = ModelKernel::new(KernelOptions::default());
        let cases = [
            (Parameter::EventLogBurst, RegistryValue::Dword(20_000), "20000", "100"),
            (Parameter::MaxWriteSize, RegistryValue::NotADword, "(not a REG_DWORD)", "65536"),
        ];
        for (parameter, found, _, _) in cases {
            let defaulted = ParameterDefaulted { parameter, found, used: parameter.default_value() };
            assert!(core_device::log_parameter_defaulted(&kernel, &defaulted, ERROR_LOG_MAXIMUM_SIZE));
        }
        let written = kernel.written_entries();
        assert_eq!(written.len(), 2);
        for (entry, (parameter, _, found, default)) in written.iter().zip(cases) {
            let record = parse_event_xml(&xml_of_packet(&entry.packet, 1)).unwrap();
            assert_eq!((record.event_id, record.level), (3, 3));
            assert_eq!(
                classify(&record).unwrap(),
                LogBridgeEntry::ParameterDefaulted {
                    name: parameter.name().into(),
                    found: found.into(),
                    default: default.into()
                }
            );
        }
    }

    #[test]
    fn another_logbridge_message_id_is_unknown() {
        let future = Message {
            symbolic_name: "LOGBRIDGE_FUTURE",
            id: messages::message_id(Severity::Error, messages::FACILITY_IO_ERROR_CODE, 9),
            insertion_strings: 1,
        };
        let strings = [InsertionString::Text("something new")];
        let packet = encode(&PacketSpec {
            message: future,
            major_function: 0,
            unique_error_value: 0,
            final_status: NtStatus::SUCCESS,
            sequence_number: 0,
            dump: &[],
            max_dump_bytes: 0,
            strings: &strings,
        });
        let record = parse_event_xml(&xml_of_packet(&packet, 1)).unwrap();
        assert_eq!(record.level, 2);
        let entry = classify(&record);
        assert_eq!(entry, Ok(LogBridgeEntry::Unknown { message_id: 0xE004_0009 }));
        let line = format_event_line(&record, &entry, None);
        assert!(line.contains("Error  message 0xE0040009 (unknown to this version)  %2=\"something new\""), "{line}");
        assert_eq!(
            event_json(&record, &entry, None)["entry"],
            json!({"kind": "unknown", "message_id": 0xE004_0009_u32})
        );
    }

    // ---- classify refusals ------------------------------------------------------------------

    #[test]
    fn classify_refuses_what_is_not_a_consistent_logbridge_event() {
        let (packet, _) = hello_record();
        let mut fixture = fixture_of_packet(&packet, 1);

        // The packet's ErrorCode disagrees with EventID / Qualifiers.
        fixture.event_id = 2;
        fixture.qualifiers = Some(0xA004);
        let err = classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap_err();
        assert!(err.contains("ErrorCode 0x60040001 disagrees") && err.contains("0xA0040002"), "{err}");
        fixture.event_id = 1;
        fixture.qualifiers = None;
        let err = classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap_err();
        assert!(err.contains("Qualifiers 0 (0x00000001)"), "{err}");
        fixture.qualifiers = Some(0x6004);

        // No binary data, a cut header, the whole packet instead of the event data.
        for (binary, expected) in [
            (Vec::new(), "no binary data"),
            (packet[..20].to_vec(), "shorter than the 40-byte header"),
            (packet.clone(), "bytes follow the DumpData"),
        ] {
            fixture.binary = binary;
            let err = classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap_err();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains('\n'));
        }

        // Another provider, even with LogBridge's binary data.
        fixture.binary = errorlog::event_data_of(&packet).unwrap().to_vec();
        fixture.provider = "Disk".into();
        let err = classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).unwrap_err();
        assert!(err.contains("\"Disk\", not LogBridge"), "{err}");
        fixture.provider = "logbridge".into();
        assert!(classify(&parse_event_xml(&event_xml(&fixture)).unwrap()).is_ok(), "provider names ignore case");
    }

    // ---- parse_event_xml on the schema's variations -------------------------------------------

    #[test]
    fn absent_qualifiers_are_zero_and_absent_optional_elements_are_empty() {
        let xml = format!(
            "<Event xmlns='{EVENT_NAMESPACE}'><System><Provider Name='Service Control Manager' \
             Guid='{{555908d1-a6d7-4695-8e1e-26931d2012f4}}' EventSourceName='Service Control Manager'/>\
             <EventID>7036</EventID></System><EventData><Data Name='param1'>Print Spooler</Data></EventData></Event>"
        );
        let record = parse_event_xml(&xml).unwrap();
        assert_eq!(record.provider, "Service Control Manager");
        assert_eq!((record.event_id, record.qualifiers, record.message_id()), (7036, 0, 7036));
        assert_eq!((record.level, record.record_id), (0, 0));
        assert_eq!((record.time_created.as_str(), record.computer.as_str()), ("", ""));
        assert_eq!(record.strings, ["Print Spooler"]);
        assert!(record.driver_strings().is_empty());
        assert!(record.binary.is_empty());
        let err = classify(&record).unwrap_err();
        assert!(err.contains("not LogBridge"), "{err}");
    }

    #[test]
    fn a_user_data_event_has_no_strings_or_binary() {
        let xml = format!(
            "<Event xmlns=\"{EVENT_NAMESPACE}\"><System><Provider Name=\"LogBridge\"/>\
             <EventID Qualifiers=\"24580\">1</EventID><Level>4</Level><EventRecordID>9</EventRecordID></System>\
             <UserData><Thing xmlns=\"urn:x\"><Data>not an insertion string</Data><Binary>00</Binary></Thing></UserData></Event>"
        );
        let record = parse_event_xml(&xml).unwrap();
        assert_eq!((record.event_id, record.qualifiers, record.record_id), (1, 24580, 9));
        assert!(record.strings.is_empty());
        assert!(record.binary.is_empty());
        assert!(record.driver_strings().is_empty());
        assert!(classify(&record).unwrap_err().contains("no binary data"));
    }

    #[test]
    fn data_texts_decode_entities_and_keep_order_and_empty_forms() {
        let xml = format!(
            "<Event xmlns=\"{EVENT_NAMESPACE}\"><System><Provider Name=\"LogBridge\"/><EventID>1</EventID>\
             <Computer>\n  TESTVM\n</Computer></System><EventData>\
             <Data/><Data Name=\"b\">a &amp; b &lt;c&gt; &#x263A; &quot;q&quot; &apos;</Data><Data></Data>\
             <Data><![CDATA[x<y]]></Data><Data>  spaced  </Data><Data>line&#10;break</Data>\
             <Binary>\n 0102\n 0304 \n</Binary></EventData></Event>"
        );
        let record = parse_event_xml(&xml).unwrap();
        assert_eq!(record.strings, ["", "a & b <c> \u{263A} \"q\" '", "", "x<y", "  spaced  ", "line\nbreak"]);
        assert_eq!(record.computer, "TESTVM");
        assert_eq!(record.binary, [1, 2, 3, 4], "whitespace inside Binary is ignored");
        // The line stays one line even with a line break in a string.
        let line = format_event_line(&record, &Err("x".into()), None);
        assert!(!line.contains('\n') && line.contains(r#"%6="line\nbreak""#), "{line}");
    }

    #[test]
    fn the_root_must_be_an_event_of_the_schema() {
        let ok = "<Event><System><EventID>5</EventID></System></Event>";
        assert_eq!(parse_event_xml(ok).unwrap().event_id, 5, "no namespace at all is accepted");
        let err =
            parse_event_xml("<Event xmlns='urn:other'><System><EventID>5</EventID></System></Event>").unwrap_err();
        assert!(err.contains("{urn:other}Event, not an Event"), "{err}");
        let err = parse_event_xml(&format!("<Events xmlns='{EVENT_NAMESPACE}'/>")).unwrap_err();
        assert!(err.contains("Events"), "{err}");
        // Elements of another namespace are not the schema's.
        let err = parse_event_xml(&format!(
            "<Event xmlns='{EVENT_NAMESPACE}'><System><x:EventID xmlns:x='urn:x'>1</x:EventID></System></Event>"
        ))
        .unwrap_err();
        assert!(err.contains("no System/EventID"), "{err}");
    }

    #[test]
    fn malformed_events_are_refused_with_a_one_line_reason() {
        let system = |inner: &str| format!("<Event xmlns='{EVENT_NAMESPACE}'><System>{inner}</System></Event>");
        let cases = [
            (String::new(), "not well-formed"),
            ("<Event><System>".to_owned(), "not well-formed"),
            ("just text".to_owned(), "not well-formed"),
            (format!("<Event xmlns='{EVENT_NAMESPACE}'/>"), "no System element"),
            (system("<Provider Name='LogBridge'/>"), "no System/EventID"),
            (system("<EventID></EventID>"), "bad EventID \"\""),
            (system("<EventID>70000</EventID>"), "bad EventID \"70000\""),
            (system("<EventID>x</EventID>"), "bad EventID \"x\""),
            (system("<EventID Qualifiers='abc'>1</EventID>"), "bad EventID Qualifiers \"abc\""),
            (system("<EventID Qualifiers='65536'>1</EventID>"), "bad EventID Qualifiers"),
            (system("<EventID>1</EventID><Level>300</Level>"), "bad Level \"300\""),
            (system("<EventID>1</EventID><EventRecordID>-1</EventRecordID>"), "bad EventRecordID \"-1\""),
        ];
        for (xml, expected) in cases {
            let err = parse_event_xml(&xml).unwrap_err();
            assert!(err.contains(expected), "{xml}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn binary_must_be_hex_of_whole_bytes() {
        let (packet, _) = hello_record();
        let mut fixture = fixture_of_packet(&packet, 1);
        let good = event_xml(&fixture);
        let hex_upper = ::hex::encode_upper(&fixture.binary);
        assert!(good.contains(&hex_upper));
        let err = parse_event_xml(&good.replace(&hex_upper, &hex_upper[1..])).unwrap_err();
        assert!(err.contains("Binary") && err.contains("odd number"), "{err}");
        let err = parse_event_xml(&good.replace(&hex_upper, "00ZZ")).unwrap_err();
        assert!(err.contains("Binary") && err.contains("'Z' at position 3"), "{err}");
        let err = parse_event_xml(&good.replace(&hex_upper, "0x00")).unwrap_err();
        assert!(err.contains("'x'"), "{err}");
        // Empty Binary is no binary data.
        let record = parse_event_xml(&good.replace(&hex_upper, "")).unwrap();
        assert!(record.binary.is_empty());
        fixture.lowercase_hex = true;
        assert_eq!(parse_event_xml(&event_xml(&fixture)).unwrap().binary, fixture.binary);
    }

    // ---- query_xpath and parse_since ------------------------------------------------------------

    #[test]
    fn the_query_is_exact_with_and_without_a_time() {
        assert_eq!(query_xpath("LogBridge", None).unwrap(), "*[System[Provider[@Name='LogBridge']]]");
        assert_eq!(
            query_xpath("LogBridge", Some(at(TIME))).unwrap(),
            "*[System[Provider[@Name='LogBridge'] and TimeCreated[@SystemTime>='2026-11-21T10:15:30.123Z']]]"
        );
        assert_eq!(
            query_xpath(PROVIDER, Some(UNIX_EPOCH + Duration::from_secs(1_738_324_800))).unwrap(),
            "*[System[Provider[@Name='LogBridge'] and TimeCreated[@SystemTime>='2025-01-31T12:00:00.000Z']]]"
        );
        // Truncated, not rounded: .9999 stays in the same millisecond.
        assert!(query_xpath("LogBridge", Some(at("2026-01-01T00:00:00.9999Z"))).unwrap().contains("00:00:00.999Z"));
    }

    #[test]
    fn the_query_refuses_injection_and_unrepresentable_times() {
        for bad in ["Log'Bridge", "LogBridge']] or *[System", "a]b", "a\"b", "a[b", "", "a\nb", "a<b", "a&b"] {
            let err = query_xpath(bad, None).unwrap_err();
            assert!(err.contains("cannot go into an XPath query"), "{bad:?}: {err}");
        }
        assert!(query_xpath("Service Control Manager", None).is_ok());
        let err = query_xpath("LogBridge", UNIX_EPOCH.checked_sub(Duration::from_secs(1))).unwrap_err();
        assert!(err.contains("before 1970"), "{err}");
        let err = query_xpath("LogBridge", Some(UNIX_EPOCH + Duration::from_secs(253_402_300_800))).unwrap_err();
        assert!(err.contains("9999"), "{err}");
    }

    #[test]
    fn since_accepts_rfc3339_times() {
        let now = at("2026-11-21T10:15:30Z");
        let noon = UNIX_EPOCH + Duration::from_secs(1_738_324_800);
        for text in [
            "2025-01-31T12:00:00Z",
            " 2025-01-31T12:00:00Z\n",
            "2025-01-31T12:00:00+00:00",
            "2025-01-31T14:00:00+02:00",
            "2025-01-31T06:30:00-05:30",
            "2025-01-31T12:00:00.000Z",
        ] {
            assert_eq!(parse_since(text, now).unwrap(), noon, "{text}");
        }
        assert_eq!(parse_since("2025-01-31T12:00:00.250Z", now).unwrap(), noon + Duration::from_millis(250));
        assert_eq!(parse_since("2025-01-31T14:00:00.5+02:00", now).unwrap(), noon + Duration::from_millis(500));
        assert_eq!(parse_since("2026-11-21T10:15:30Z", now).unwrap(), now, "now itself is not the future");
    }

    #[test]
    fn since_accepts_ages_in_every_unit() {
        let now = at("2026-11-21T10:15:30Z");
        for (text, seconds) in
            [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86_400), ("1w", 604_800), ("1h 30m", 5400), ("0s", 0)]
        {
            assert_eq!(parse_since(text, now).unwrap(), now - Duration::from_secs(seconds), "{text}");
        }
    }

    #[test]
    fn since_refuses_garbage_the_future_and_ages_before_1970() {
        let now = at("2026-11-21T10:15:30Z");
        for text in [
            "yesterday",
            "",
            "  ",
            "90",
            "10 parsecs",
            "2025-13-01T00:00:00Z",
            "2025-01-31T12:00:00+24:00",
            "2025-01-31",
        ] {
            let err = parse_since(text, now).unwrap_err();
            assert!(
                err.contains("RFC 3339") && err.contains("2025-01-31T12:00:00Z") && err.contains("90s"),
                "{text:?}: {err}"
            );
            assert!(!err.contains('\n'));
        }
        // The detail names the problem of the form the text looks like.
        assert!(parse_since("2025-01-31T12:00:00", now).unwrap_err().contains("format"));
        assert!(parse_since("10 parsecs", now).unwrap_err().contains("parsecs"));
        let err = parse_since("2026-11-21T10:15:31Z", now).unwrap_err();
        assert!(err.contains("in the future"), "{err}");
        let err = parse_since("2999-01-01T00:00:00Z", now).unwrap_err();
        assert!(err.contains("in the future"), "{err}");
        let err = parse_since("100y", now).unwrap_err();
        assert!(err.contains("before 1970"), "{err}");
        let early = UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(parse_since("100s", early).unwrap(), UNIX_EPOCH);
        assert!(parse_since("101s", early).unwrap_err().contains("before 1970"));
    }

    // ---- output -----------------------------------------------------------------------------

    #[test]
    fn an_event_line_has_every_piece() {
        let (_, record) = hello_record();
        let entry = classify(&record);
        let message = "LogBridge record 4294967313: 11 bytes written by process 5120.\r\n Preview: hello world\r\n";
        assert_eq!(
            format_event_line(&record, &entry, Some(message)),
            "2026-11-21T10:15:30.1234567Z  #4242  Information  write seq 4294967313 (low32 17) pid 5120 11 bytes  \
             LogBridge record 4294967313: 11 bytes written by process 5120. Preview: hello world"
        );
        assert_eq!(
            format_event_line(&record, &entry, None),
            "2026-11-21T10:15:30.1234567Z  #4242  Information  write seq 4294967313 (low32 17) pid 5120 11 bytes  \
             %2=\"4294967313\" %3=\"11\" %4=\"5120\" %5=\"hello world\""
        );
        // An empty message falls back to the strings.
        assert!(format_event_line(&record, &entry, Some("\r\n")).ends_with("%5=\"hello world\""));

        let failed = LogBridgeEntry::Write {
            sequence_low: 1,
            process_id: 2,
            final_status: NtStatus::CANCELLED.as_u32(),
            dump: vec![],
            sequence: None,
            length: None,
        };
        let line = format_event_line(&record, &Ok(failed), None);
        assert!(line.contains("write seq ? (low32 1) pid 2 ? bytes status STATUS_CANCELLED (0xC0000120)"), "{line}");

        let defaulted =
            LogBridgeEntry::ParameterDefaulted { name: "Ring\nLogSize".into(), found: "5".into(), default: "1".into() };
        let line = format_event_line(&record, &Ok(defaulted), Some("a\tb"));
        assert!(line.contains(r#"parameter "Ring\nLogSize" defaulted: found "5", using "1"  a b"#), "{line}");

        let undecodable = Err("the event has no binary data".to_owned());
        let mut bare = record.clone();
        bare.level = 2;
        bare.time_created.clear();
        bare.strings.clear();
        let line = format_event_line(&bare, &undecodable, None);
        assert_eq!(
            line,
            "(no time)  #4242  Error  undecodable (the event has no binary data)  (no message text, no insertion strings)"
        );
    }

    #[test]
    fn level_names_are_event_viewers() {
        let names: Vec<_> = (0..=6).map(level_name).collect();
        assert_eq!(names, ["Information", "Critical", "Error", "Warning", "Information", "Verbose", "Level 6"]);
    }

    #[test]
    fn event_json_has_the_record_the_message_and_the_entry() {
        let (packet, record) = hello_record();
        let entry = classify(&record);
        let value = event_json(&record, &entry, Some("line one\r\nline two\r\n"));
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = [
            "provider",
            "event_id",
            "qualifiers",
            "message_id",
            "level",
            "level_name",
            "record_id",
            "time_created",
            "computer",
            "strings",
            "binary",
            "message",
            "entry",
            "event_data",
        ];
        expected.sort_unstable();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected);
        assert_eq!(value["binary"], json!(::hex::encode(errorlog::event_data_of(&packet).unwrap())));
        assert!(value["binary"].as_str().unwrap().starts_with("04000c0004"), "lowercase hex of the header");
        assert_eq!(value["message_id"], json!(0x6004_0001_u32));
        assert_eq!(value["level_name"], json!("Information"));
        assert_eq!(value["message"], json!("line one line two"));
        assert_eq!(value["strings"], json!(["", "4294967313", "11", "5120", "hello world"]));
        assert_eq!(
            value["entry"],
            json!({
                "kind": "write", "sequence_low": 17, "process_id": 5120, "final_status": 0,
                "dump": "68656c6c6f20776f726c64", "sequence": 4_294_967_313_u64, "length": 11,
            })
        );
        assert_eq!(value["event_data"]["error_code"], json!(0x6004_0001_u32));
        assert_eq!(value["event_data"]["dump_data"], json!("68656c6c6f20776f726c6400"));
        // The record's own serialisation agrees with the keys it shares.
        let derived = serde_json::to_value(&record).unwrap();
        for (key, field) in derived.as_object().unwrap() {
            assert_eq!(&value[key], field, "{key}");
        }

        let mut bare = record.clone();
        bare.binary.clear();
        let value = event_json(&bare, &Err("no binary data".into()), None);
        assert_eq!(value["entry"], json!({"kind": "undecodable", "reason": "no binary data"}));
        assert_eq!(value["message"], Value::Null);
        assert_eq!(value["event_data"], Value::Null);
        assert_eq!(value["binary"], json!(""));
        let suppressed = LogBridgeEntry::Suppressed { total: 3, rate_limited: None, alloc_failed: Some(3) };
        assert_eq!(
            event_json(&bare, &Ok(suppressed), None)["entry"],
            json!({"kind": "suppressed", "total": 3, "rate_limited": null, "alloc_failed": 3})
        );
    }

    #[test]
    fn a_document_type_declaration_is_refused() {
        let xml = "<!DOCTYPE Event [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\
                   <Event><System><EventID>1</EventID></System><EventData><Data>&b;</Data></EventData></Event>";
        let err = parse_event_xml(xml).unwrap_err();
        assert!(err.contains("not well-formed"), "{err}");
    }

    proptest! {
        #[test]
        fn since_never_panics(text in "\\PC{0,40}", seconds in any::<u64>()) {
            let now = UNIX_EPOCH.checked_add(Duration::from_secs(seconds % 400_000_000_000)).unwrap();
            if let Ok(time) = parse_since(&text, now) {
                prop_assert!(time <= now && time >= UNIX_EPOCH);
            }
        }

        #[test]
        fn parsing_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
            if let Ok(record) = parse_event_xml(&text) {
                let entry = classify(&record);
                prop_assert!(!format_event_line(&record, &entry, None).contains('\n'));
                let _ = event_json(&record, &entry, Some(&text));
            }
        }

        #[test]
        fn parsing_never_panics_on_mutated_fixtures(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..8),
            summary in any::<bool>(),
        ) {
            let packet = if summary {
                summary_packet(5, 3, 4, RateLimit { burst: 1, per_second: 2 })
            } else {
                write_packet(42, 7, b"payload <&> \"text\"", NtStatus::SUCCESS)
            };
            let mut chars: Vec<char> = xml_of_packet(&packet, 3).chars().collect();
            for (index, op, ch) in edits {
                let at = index.index(chars.len() + 1);
                match op {
                    0 if at < chars.len() => { chars.remove(at); }
                    1 if at < chars.len() => chars[at] = ch,
                    _ => chars.insert(at, ch),
                }
            }
            let xml: String = chars.into_iter().collect();
            if let Ok(record) = parse_event_xml(&xml) {
                let entry = classify(&record);
                let line = format_event_line(&record, &entry, Some(&xml));
                prop_assert!(!line.contains(['\n', '\r']), "{}", line);
                prop_assert!(event_json(&record, &entry, None).is_object());
            }
        }

        /// Any write the driver logs comes back whole from its rendered event.
        #[test]
        fn every_write_round_trips(
            sequence in any::<u64>(),
            pid in any::<u32>(),
            payload in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                "[ -~]{0,300}".prop_map(String::into_bytes),
            ],
        ) {
            let packet = write_packet(sequence, pid, &payload, NtStatus::SUCCESS);
            let record = parse_event_xml(&xml_of_packet(&packet, 1)).unwrap();
            let kept = payload.len().min(errorlog::default_max_dump_bytes(ERROR_LOG_MAXIMUM_SIZE));
            prop_assert_eq!(
                classify(&record).unwrap(),
                LogBridgeEntry::Write {
                    sequence_low: errorlog::truncate_sequence(sequence),
                    process_id: pid,
                    final_status: 0,
                    dump: payload[..kept].to_vec(),
                    sequence: Some(sequence),
                    length: Some(payload.len() as u64),
                }
            );
        }
    }
}
