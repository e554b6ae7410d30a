//! Reading LogBridge's entries back from the System event log (`EvtQuery`, `EvtNext`,
//! `EvtRender` as XML, `EvtFormatMessage`). Parsing and decoding are in [`crate::eventlog`].

use crate::error::CtlError;
use crate::eventlog::{self, EventRecord, LogBridgeEntry};
use crate::install;
use crate::win::device::win32_code;
use std::time::SystemTime;
use windows::Win32::System::EventLog::{
    EVT_HANDLE, EvtClose, EvtFormatMessage, EvtFormatMessageEvent, EvtNext, EvtOpenPublisherMetadata, EvtQuery,
    EvtQueryChannelPath, EvtQueryForwardDirection, EvtQueryReverseDirection, EvtRender, EvtRenderEventXml,
};
use windows::core::{HSTRING, PCWSTR};

/// An EVT_HANDLE closed on drop.
struct EvtHandle(EVT_HANDLE);

impl Drop for EvtHandle {
    fn drop(&mut self) {
        if !self.0.is_invalid() {
            // SAFETY: the handle is owned here and closed exactly once.
            let _ = unsafe { EvtClose(self.0) };
        }
    }
}

/// One entry read back.
#[derive(Clone, Debug)]
pub struct QueriedEvent {
    /// The parsed event.
    pub record: EventRecord,
    /// What it says.
    pub entry: Result<LogBridgeEntry, String>,
    /// The message text from the driver's message table, if Windows could render it.
    pub message: Option<String>,
}

/// LogBridge's entries in the System log, oldest first: since `since`, the newest `max`.
pub fn query(since: Option<SystemTime>, max: Option<u32>) -> Result<Vec<QueriedEvent>, CtlError> {
    let xpath = eventlog::query_xpath(logbridge_core::identity::SERVICE_NAME, since).map_err(CtlError::BadInput)?;
    let direction = if max.is_some() { EvtQueryReverseDirection } else { EvtQueryForwardDirection };
    let channel = HSTRING::from("System");
    let query_text = HSTRING::from(xpath.as_str());
    // SAFETY: both strings are NUL-terminated and outlive the call; local session (None).
    let results = unsafe { EvtQuery(None, &channel, &query_text, EvtQueryChannelPath.0 | direction.0) }
        .map_err(|e| CtlError::Failed(format!("EvtQuery(System, {xpath}): {}", e.message())))?;
    let results = EvtHandle(results);
    let provider = HSTRING::from(logbridge_core::identity::SERVICE_NAME);
    // SAFETY: `provider` outlives the call; no log file path, default locale, flags 0.
    let publisher = unsafe { EvtOpenPublisherMetadata(None, &provider, PCWSTR::null(), 0, 0) }.ok().map(EvtHandle);
    let limit = max.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let mut events = Vec::new();
    'outer: while events.len() < limit {
        let mut batch = [0isize; 32];
        let mut returned: u32 = 0;
        // SAFETY: `batch` and `returned` outlive the call; INFINITE timeout on a local query.
        if let Err(e) = unsafe { EvtNext(results.0, &mut batch, u32::MAX, 0, &mut returned) } {
            if win32_code(&e) == Some(install::ERROR_NO_MORE_ITEMS) {
                break;
            }
            return Err(CtlError::Failed(format!("EvtNext: {}", e.message())));
        }
        let handles: Vec<EvtHandle> =
            batch.iter().take(usize::try_from(returned).unwrap_or(0)).map(|&raw| EvtHandle(EVT_HANDLE(raw))).collect();
        for handle in &handles {
            if events.len() >= limit {
                break 'outer;
            }
            let xml = render_xml(handle.0)?;
            let record = eventlog::parse_event_xml(&xml)
                .map_err(|e| CtlError::Failed(format!("an event of the System log did not parse: {e}")))?;
            let entry = eventlog::classify(&record);
            let message = publisher.as_ref().and_then(|p| format_message(p.0, handle.0));
            events.push(QueriedEvent { record, entry, message });
        }
        if handles.is_empty() {
            break;
        }
    }
    if max.is_some() {
        events.reverse();
    }
    Ok(events)
}

/// `EvtRender(EvtRenderEventXml)`, growing the buffer once to the size it asks for.
fn render_xml(event: EVT_HANDLE) -> Result<String, CtlError> {
    let mut used: u32 = 0;
    let mut properties: u32 = 0;
    // SAFETY: a size query: no buffer, `used` and `properties` outlive the call.
    let sized = unsafe { EvtRender(None, event, EvtRenderEventXml.0, 0, None, &mut used, &mut properties) };
    if let Err(e) = sized
        && win32_code(&e) != Some(install::ERROR_INSUFFICIENT_BUFFER)
    {
        return Err(CtlError::Failed(format!("EvtRender: {}", e.message())));
    }
    let units = usize::try_from(used).unwrap_or(0).div_ceil(2).max(1);
    let mut buffer = vec![0u16; units];
    let bytes = u32::try_from(units.saturating_mul(2)).unwrap_or(u32::MAX);
    // SAFETY: `buffer` holds `bytes` bytes and outlives the call.
    unsafe {
        EvtRender(None, event, EvtRenderEventXml.0, bytes, Some(buffer.as_mut_ptr().cast()), &mut used, &mut properties)
    }
    .map_err(|e| CtlError::Failed(format!("EvtRender: {}", e.message())))?;
    Ok(install::until_nul(&buffer))
}

/// `EvtFormatMessage(EvtFormatMessageEvent)`: the event's message from the driver's message table
/// (`EventMessageFile`), or None if Windows cannot render it.
fn format_message(publisher: EVT_HANDLE, event: EVT_HANDLE) -> Option<String> {
    let mut used: u32 = 0;
    // SAFETY: a size query: no buffer; `used` outlives the call.
    let sized =
        unsafe { EvtFormatMessage(Some(publisher), Some(event), 0, None, EvtFormatMessageEvent.0, None, &mut used) };
    if let Err(e) = sized
        && win32_code(&e) != Some(install::ERROR_INSUFFICIENT_BUFFER)
    {
        return None;
    }
    let mut buffer = vec![0u16; usize::try_from(used).unwrap_or(0).max(1)];
    // SAFETY: `buffer` is a writable slice that outlives the call.
    unsafe {
        EvtFormatMessage(Some(publisher), Some(event), 0, None, EvtFormatMessageEvent.0, Some(&mut buffer), &mut used)
    }
    .ok()?;
    Some(install::until_nul(&buffer))
}
