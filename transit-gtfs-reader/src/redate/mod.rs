//! A feed re-dated to describe the days a run simulates, for serving it next to
//! GTFS-realtime.
//!
//! A simulation of a date the feed's calendar does not cover runs the service of another date
//! (the same weekday within the feed's range, [`Feed::service_date`](crate::Feed::service_date)),
//! while its GTFS-realtime names the date simulated (`start_date`). A consumer matches a trip
//! update to a trip active on that date in the static feed, so the static feed served beside
//! it must describe the simulated date: [`redate_zip`] moves every date of the feed by
//! [`Redate::shift_days`], the whole number of weeks nearest to the distance between the two
//! dates, so each weekday keeps its services and the simulated date gets exactly the service
//! of the date taken.
//!
//! What moves: `calendar.txt`'s `start_date` and `end_date`, `calendar_dates.txt`'s `date`,
//! `feed_info.txt`'s `feed_start_date` and `feed_end_date`. Only the eight digits of each date
//! change: every other byte of those files (columns, quotes, line ends, a byte-order mark)
//! stays, and every other file of the zip is copied as it is stored, compressed, without
//! being read. Holiday exceptions move with their week, so they fall on the same weekday of
//! the shifted week, not on the holiday's date: the served feed says what the simulation runs.
//!
//! When the date taken is not the same weekday as the one simulated (`--service-date` naming
//! another weekday), the shift leaves the simulated date with its own weekday's services; the
//! simulated date's rows of `calendar_dates.txt` are then replaced by exceptions that give it
//! exactly the services of the date taken (added to the file, or in a new
//! `calendar_dates.txt`).

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};

use chrono::{Datelike, Duration, NaiveDate};

use crate::error::{GtfsError, Result};
use crate::read::DAYS;

/// The dates a re-dating maps: the feed's date whose service runs, and the date simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redate {
    /// The feed's date whose service runs (a [`ServiceDate::taken`](crate::ServiceDate)).
    pub source: NaiveDate,
    /// The date simulated, which the served feed must describe.
    pub simulated: NaiveDate,
}

/// A date column of a file, to be shifted.
const CALENDAR: (&str, &[&str]) = ("calendar.txt", &["start_date", "end_date"]);
const CALENDAR_DATES: (&str, &[&str]) = ("calendar_dates.txt", &["date"]);
const FEED_INFO: (&str, &[&str]) = ("feed_info.txt", &["feed_start_date", "feed_end_date"]);

impl Redate {
    /// The re-dating that makes `simulated` run the service of `source`.
    pub fn new(source: NaiveDate, simulated: NaiveDate) -> Self {
        Redate { source, simulated }
    }

    /// Whether the feed already describes the simulated date (the date is its own).
    pub fn is_identity(&self) -> bool {
        self.source == self.simulated
    }

    /// Days every date moves: the multiple of 7 nearest to `simulated - source`, so weekdays
    /// keep their services.
    pub fn shift_days(&self) -> i64 {
        let days = (self.simulated - self.source).num_days();
        (days + 3).div_euclid(7) * 7
    }

    /// Days the simulated date lies from where the shift puts the source date (-3 to 3; not 0
    /// only when the source is another weekday).
    fn residual_days(&self) -> i64 {
        (self.simulated - self.source).num_days() - self.shift_days()
    }

    /// `date` moved by [`Redate::shift_days`], if chrono can hold it.
    pub fn shift(&self, date: NaiveDate) -> Option<NaiveDate> {
        date.checked_add_signed(Duration::days(self.shift_days()))
    }
}

/// The zip feed read from `input`, re-dated by `redate`, written to `output` (returned).
///
/// Every date of `calendar.txt` (`start_date`, `end_date`), `calendar_dates.txt` (`date`) and
/// `feed_info.txt` (`feed_start_date`, `feed_end_date`) moves by [`Redate::shift_days`], whole
/// weeks, so each weekday keeps its services and holiday exceptions move with their week.
/// Only each date's eight digits change: columns, quotes, line ends and a byte-order mark stay.
/// When the source is another weekday than the date simulated, the simulated date's rows of
/// `calendar_dates.txt` are replaced by exceptions giving it exactly the source's services
/// (in a new `calendar_dates.txt` if the feed has none).
///
/// Files are kept in their order with their names and times; those three are rewritten
/// (deflated), every other one copied as stored, compressed, without being read. A folder
/// prefix inside the zip (the files under `feed/`) is found as the reader finds it.
pub fn redate_zip<R: Read + Seek, W: Write + Seek>(
    input: R,
    output: W,
    redate: &Redate,
) -> Result<W> {
    let mut archive = zip::ZipArchive::new(input).map_err(|source| GtfsError::NotZip {
        what: "the feed to re-date".to_owned(),
        source,
    })?;
    let prefix = crate::source::feed_folder(&archive);
    let zip_error = |file: &'static str| {
        move |e: zip::result::ZipError| GtfsError::File {
            file,
            message: format!("re-dating the zip: {e}"),
        }
    };
    // The calendar files, read first: the exceptions of a source of another weekday need both.
    let mut read = |file: &'static str| -> Result<Option<Vec<u8>>> {
        match archive.by_name(&format!("{prefix}{file}")) {
            Ok(mut entry) => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| GtfsError::File {
                    file,
                    message: format!("cannot read it from the zip: {e}"),
                })?;
                Ok(Some(bytes))
            }
            Err(zip::result::ZipError::FileNotFound) => Ok(None),
            Err(e) => Err(zip_error(file)(e)),
        }
    };
    let calendar = read(CALENDAR.0)?;
    let calendar_dates = read(CALENDAR_DATES.0)?;
    let feed_info = read(FEED_INFO.0)?;
    let patch = match redate.residual_days() {
        0 => None,
        _ => Some(exceptions(
            calendar.as_deref(),
            calendar_dates.as_deref(),
            redate,
        )?),
    };
    let mut rewritten: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(bytes) = &calendar {
        rewritten.insert(
            format!("{prefix}{}", CALENDAR.0),
            redate_table(CALENDAR.0, bytes, CALENDAR.1, redate, None)?,
        );
    }
    let mut new_calendar_dates = None;
    match (&calendar_dates, &patch) {
        (Some(bytes), patch) => {
            rewritten.insert(
                format!("{prefix}{}", CALENDAR_DATES.0),
                redate_table(
                    CALENDAR_DATES.0,
                    bytes,
                    CALENDAR_DATES.1,
                    redate,
                    patch.as_ref(),
                )?,
            );
        }
        (None, Some(patch)) if !patch.is_empty() => {
            let mut bytes = b"service_id,date,exception_type\n".to_vec();
            for (service, added) in patch {
                bytes.extend_from_slice(&exception_row(
                    &["service_id", "date", "exception_type"],
                    service,
                    redate.simulated,
                    *added,
                    b"\n",
                ));
            }
            new_calendar_dates = Some(bytes);
        }
        (None, _) => {}
    }
    if let Some(bytes) = &feed_info {
        rewritten.insert(
            format!("{prefix}{}", FEED_INFO.0),
            redate_table(FEED_INFO.0, bytes, FEED_INFO.1, redate, None)?,
        );
    }

    let mut zip = zip::ZipWriter::new(output);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_error("the zip"))?;
        let name = entry.name().map_err(zip_error("the zip"))?.into_owned();
        match rewritten.remove(&name) {
            Some(bytes) => {
                let options =
                    deflated.last_modified_time(entry.last_modified().unwrap_or_default());
                drop(entry);
                zip.start_file(name, options)
                    .map_err(zip_error("the zip"))?;
                zip.write_all(&bytes)
                    .map_err(|e| zip_error("the zip")(zip::result::ZipError::Io(e)))?;
            }
            None => zip.raw_copy_file(entry).map_err(zip_error("the zip"))?,
        }
    }
    if let Some(bytes) = new_calendar_dates {
        zip.start_file(format!("{prefix}{}", CALENDAR_DATES.0), deflated)
            .map_err(zip_error(CALENDAR_DATES.0))?;
        zip.write_all(&bytes)
            .map_err(|e| zip_error(CALENDAR_DATES.0)(zip::result::ZipError::Io(e)))?;
    }
    zip.finish().map_err(zip_error("the zip"))
}

/// The services whose running on the simulated date the shifted calendar gets wrong, and
/// whether each must be added (`true`) or removed: what makes the simulated date run exactly
/// the source date's services when the two are different weekdays.
fn exceptions(
    calendar: Option<&[u8]>,
    calendar_dates: Option<&[u8]>,
    redate: &Redate,
) -> Result<BTreeMap<String, bool>> {
    // service_id -> (weekdays bit 0 Monday, range) of calendar.txt.
    let mut weekly: BTreeMap<String, (u8, NaiveDate, NaiveDate)> = BTreeMap::new();
    // service_id -> the source date's exception, if any.
    let mut on_source: BTreeMap<String, bool> = BTreeMap::new();
    let mut services: Vec<String> = Vec::new();
    if let Some(bytes) = calendar {
        let table = Csv::parse(CALENDAR.0, bytes)?;
        for record in table.rows() {
            let service = table.text(record, "service_id").unwrap_or_default();
            let mut days = 0u8;
            for (bit, day) in DAYS.iter().enumerate() {
                if table.text(record, day).as_deref() == Some("1") {
                    days |= 1 << bit;
                }
            }
            let start = table.date(record, "start_date")?;
            let end = table.date(record, "end_date")?;
            if let (Some(start), Some(end)) = (start, end) {
                weekly.insert(service.clone(), (days, start, end));
            }
            services.push(service);
        }
    }
    if let Some(bytes) = calendar_dates {
        let table = Csv::parse(CALENDAR_DATES.0, bytes)?;
        for record in table.rows() {
            let service = table.text(record, "service_id").unwrap_or_default();
            if table.date(record, "date")? == Some(redate.source) {
                let added = table.text(record, "exception_type").as_deref() == Some("1");
                on_source.insert(service.clone(), added);
            }
            services.push(service);
        }
    }
    services.sort();
    services.dedup();
    let by_calendar = |service: &str, date: NaiveDate| {
        weekly.get(service).is_some_and(|(days, start, end)| {
            *start <= date
                && date <= *end
                && days & (1 << date.weekday().num_days_from_monday()) != 0
        })
    };
    // The simulated date in the feed's own dates, where the shift puts it.
    let unshifted = redate
        .simulated
        .checked_sub_signed(Duration::days(redate.shift_days()))
        .ok_or(GtfsError::File {
            file: CALENDAR.0,
            message: format!("{} cannot be re-dated", redate.simulated),
        })?;
    let mut patch = BTreeMap::new();
    for service in services {
        let wanted = on_source
            .get(&service)
            .copied()
            .unwrap_or_else(|| by_calendar(&service, redate.source));
        // The simulated date's own rows are dropped, so the calendar alone decides it.
        if wanted != by_calendar(&service, unshifted) {
            patch.insert(service, wanted);
        }
    }
    Ok(patch)
}

/// A row of `calendar_dates.txt` in `columns`' order, ending with `eol`.
fn exception_row(
    columns: &[&str],
    service: &str,
    date: NaiveDate,
    added: bool,
    eol: &[u8],
) -> Vec<u8> {
    let fields: Vec<String> = columns
        .iter()
        .map(|column| match *column {
            "service_id" if service.contains([',', '"', '\r', '\n']) => {
                format!("\"{}\"", service.replace('"', "\"\""))
            }
            "service_id" => service.to_owned(),
            "date" => date.format("%Y%m%d").to_string(),
            "exception_type" => if added { "1" } else { "2" }.to_owned(),
            _ => String::new(),
        })
        .collect();
    let mut row = fields.join(",").into_bytes();
    row.extend_from_slice(eol);
    row
}

/// One CSV file's bytes with every date of `columns` moved by `redate`, each in place (only
/// its eight digits change). With `patch` (calendar_dates.txt of a source of another weekday):
/// the simulated date's rows dropped and `patch`'s exceptions appended.
pub(crate) fn redate_table(
    file: &'static str,
    bytes: &[u8],
    columns: &[&str],
    redate: &Redate,
    patch: Option<&BTreeMap<String, bool>>,
) -> Result<Vec<u8>> {
    let table = Csv::parse(file, bytes)?;
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut copied = 0;
    for record in table.rows() {
        let mut dates: Vec<(usize, NaiveDate)> = Vec::new();
        for column in columns {
            if let Some((at, date)) = table.date_at(record, column)? {
                let moved = redate.shift(date).ok_or_else(|| GtfsError::Field {
                    file,
                    line: record.line,
                    field: (*column).to_owned(),
                    message: format!("{date} cannot be moved by {} days", redate.shift_days()),
                })?;
                dates.push((at, moved));
            }
        }
        let dropped = patch.is_some() && dates.iter().any(|(_, d)| *d == redate.simulated);
        if dropped {
            out.extend_from_slice(bytes.get(copied..record.start).unwrap_or_default());
            copied = record.next;
            continue;
        }
        dates.sort_by_key(|(at, _)| *at);
        for (at, moved) in dates {
            out.extend_from_slice(bytes.get(copied..at).unwrap_or_default());
            out.extend_from_slice(moved.format("%Y%m%d").to_string().as_bytes());
            copied = at + 8;
        }
    }
    out.extend_from_slice(bytes.get(copied..).unwrap_or_default());
    if let Some(patch) = patch.filter(|p| !p.is_empty()) {
        let eol = table.eol();
        if !out.ends_with(b"\n") && !out.ends_with(b"\r") {
            out.extend_from_slice(eol);
        }
        let names: Vec<&str> = table.header.iter().map(String::as_str).collect();
        for (service, added) in patch {
            out.extend_from_slice(&exception_row(
                &names,
                service,
                redate.simulated,
                *added,
                eol,
            ));
        }
    }
    Ok(out)
}

/// A record of a [`Csv`]: where it lies and where its fields do.
#[derive(Debug)]
struct Record {
    /// Its first byte.
    start: usize,
    /// The first byte after its line end.
    next: usize,
    /// Its line in the file (1 for the header).
    line: u64,
    /// Each field's bytes, quotes and spaces included.
    fields: Vec<(usize, usize)>,
}

/// A CSV file split into records and fields, as positions in its bytes, so a field can be
/// changed in place and everything else kept byte for byte. It splits as the csv crate reads:
/// a byte-order mark skipped, `\n`, `\r\n` or `\r` ending a record outside quotes, a quote
/// opening a quoted field only as its first byte, `""` a quote inside one, blank lines skipped.
#[derive(Debug)]
struct Csv<'b> {
    file: &'static str,
    bytes: &'b [u8],
    /// The header's names, unquoted and trimmed.
    header: Vec<String>,
    /// The header's line end.
    header_eol: &'b [u8],
    records: Vec<Record>,
}

impl<'b> Csv<'b> {
    fn parse(file: &'static str, bytes: &'b [u8]) -> Result<Self> {
        let mut at = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let mut line = 1u64;
        let mut records = Vec::new();
        while at < bytes.len() {
            let (start, start_line) = (at, line);
            let mut fields = Vec::new();
            let mut field_start = at;
            // A quote opens a quoted field only as its first byte (elsewhere it is text, as
            // the csv crate reads it); in one, `""` is a quote and a lone `"` closes it.
            let mut quoted = false;
            let end = loop {
                let Some(&byte) = bytes.get(at) else {
                    break at;
                };
                match byte {
                    b'"' if quoted && bytes.get(at + 1) == Some(&b'"') => at += 1,
                    b'"' if quoted => quoted = false,
                    b'"' if at == field_start => quoted = true,
                    b'\n' if quoted => line += 1,
                    _ if quoted => {}
                    b',' => {
                        fields.push((field_start, at));
                        field_start = at + 1;
                    }
                    b'\n' | b'\r' => break at,
                    _ => {}
                }
                at += 1;
            };
            fields.push((field_start, end));
            // The line end: \r\n, \n or \r.
            at = match bytes.get(end..end + 2) {
                Some(b"\r\n") => end + 2,
                _ => (end + 1).min(bytes.len()),
            };
            if at > end {
                line += 1;
            }
            if end == start {
                continue; // a blank line
            }
            records.push(Record {
                start,
                next: at,
                line: start_line,
                fields,
            });
        }
        let mut records = records.into_iter();
        let first = records.next().ok_or(GtfsError::File {
            file,
            message: "the file is empty: it has no header".to_owned(),
        })?;
        let header = first
            .fields
            .iter()
            .map(|&(a, b)| {
                String::from_utf8_lossy(unquote(bytes.get(a..b).unwrap_or_default()).1).into_owned()
            })
            .collect();
        let header_eol = bytes.get(first.next - eol_len(bytes, first.next)..first.next);
        Ok(Csv {
            file,
            bytes,
            header,
            header_eol: header_eol.unwrap_or_default(),
            records: records.collect(),
        })
    }

    fn rows(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    /// The header's line end, `\n` if it has none.
    fn eol(&self) -> &'b [u8] {
        if self.header_eol.is_empty() {
            b"\n"
        } else {
            self.header_eol
        }
    }

    /// The field of `column` in `record`, unquoted and trimmed, with its offset in the file.
    fn field(&self, record: &Record, column: &str) -> Option<(usize, &'b [u8])> {
        let index = self.header.iter().position(|h| h == column)?;
        let &(a, b) = record.fields.get(index)?;
        let (offset, value) = unquote(self.bytes.get(a..b)?);
        Some((a + offset, value))
    }

    fn text(&self, record: &Record, column: &str) -> Option<String> {
        self.field(record, column)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The date of `column` in `record` and the offset of its eight digits; `None` when the
    /// column or the value is absent.
    fn date_at(&self, record: &Record, column: &str) -> Result<Option<(usize, NaiveDate)>> {
        let Some((at, value)) = self.field(record, column) else {
            return Ok(None);
        };
        if value.is_empty() {
            return Ok(None);
        }
        let date = std::str::from_utf8(value)
            .ok()
            .filter(|v| v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| NaiveDate::parse_from_str(v, "%Y%m%d").ok())
            .ok_or_else(|| GtfsError::Field {
                file: self.file,
                line: record.line,
                field: column.to_owned(),
                message: format!(
                    "{:?} is not a date (YYYYMMDD)",
                    String::from_utf8_lossy(value)
                ),
            })?;
        Ok(Some((at, date)))
    }

    fn date(&self, record: &Record, column: &str) -> Result<Option<NaiveDate>> {
        Ok(self.date_at(record, column)?.map(|(_, d)| d))
    }
}

/// How many bytes of line end precede `next` (the byte after a record).
fn eol_len(bytes: &[u8], next: usize) -> usize {
    match next.checked_sub(2).and_then(|a| bytes.get(a..next)) {
        Some(b"\r\n") => 2,
        _ => match next.checked_sub(1).and_then(|a| bytes.get(a)) {
            Some(b'\n' | b'\r') => 1,
            _ => 0,
        },
    }
}

/// A field's value without surrounding spaces and quotes, and its offset in the field.
fn unquote(field: &[u8]) -> (usize, &[u8]) {
    fn trimmed(f: &[u8], offset: usize) -> (usize, &[u8]) {
        let start = f
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(f.len());
        let end = f
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |e| e + 1);
        (offset + start, f.get(start..end).unwrap_or_default())
    }
    let (offset, value) = trimmed(field, 0);
    match value {
        [b'"', inner @ .., b'"'] => trimmed(inner, offset + 1),
        _ => (offset, value),
    }
}

#[cfg(test)]
mod tests;
