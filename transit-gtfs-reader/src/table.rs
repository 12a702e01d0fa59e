//! Reading one CSV file of a feed: columns by header name (unknown ones ignored), a byte-order
//! mark, CRLF and quoted fields accepted, errors naming the file, line and field.

use std::io::Read;

use serde::Deserialize;

use crate::error::{GtfsError, Result};

/// The longest field accepted: GTFS values are short, and a field this long means a broken
/// file (an unclosed quote swallowing the rest of it, say).
pub const MAX_FIELD_BYTES: usize = 1 << 20;

/// The longest line read before giving up: the csv crate holds a whole record in memory, so
/// a file without line ends (or with one endless quoted field) is stopped here, not when the
/// memory runs out.
const MAX_LINE_BYTES: usize = 16 * MAX_FIELD_BYTES;

/// A reader that fails on a line longer than [`MAX_LINE_BYTES`].
struct LineLimit<R> {
    inner: R,
    since_newline: usize,
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        self.since_newline = match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => n - last - 1,
            None => self.since_newline + n,
        };
        if self.since_newline > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                LineTooLong,
            ));
        }
        Ok(n)
    }
}

/// The error [`LineLimit`] gives, told apart from the input's own errors.
#[derive(Debug, thiserror::Error)]
#[error("a line longer than {MAX_LINE_BYTES} bytes")]
struct LineTooLong;

/// One file being read, a record at a time.
pub(crate) struct Table<'r> {
    pub(crate) file: &'static str,
    reader: csv::Reader<LineLimit<&'r mut dyn Read>>,
    headers: csv::StringRecord,
    record: csv::StringRecord,
}

impl<'r> Table<'r> {
    /// Opens the file and checks that the columns GTFS requires are there.
    pub(crate) fn new(
        file: &'static str,
        input: &'r mut dyn Read,
        required: &[&str],
    ) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .buffer_capacity(1 << 16)
            .from_reader(LineLimit {
                inner: input,
                since_newline: 0,
            });
        let headers = reader
            .headers()
            .map_err(|e| csv_error(file, None, e))?
            .clone();
        check_lengths(file, &headers, &headers, 1)?;
        for column in required {
            if !headers.iter().any(|h| h == *column) {
                return Err(GtfsError::Field {
                    file,
                    line: 1,
                    field: (*column).to_owned(),
                    message: "the header has no such column, which GTFS requires".to_owned(),
                });
            }
        }
        Ok(Table {
            file,
            reader,
            headers,
            record: csv::StringRecord::new(),
        })
    }

    /// Reads the next record; false at the end of the file.
    pub(crate) fn advance(&mut self) -> Result<bool> {
        match self.reader.read_record(&mut self.record) {
            Ok(more) => {
                if more && self.record.as_slice().len() > MAX_FIELD_BYTES {
                    check_lengths(self.file, &self.headers, &self.record, self.line())?;
                }
                Ok(more)
            }
            Err(e) => {
                if let csv::ErrorKind::Io(io) = e.kind() {
                    if io.get_ref().is_some_and(|inner| inner.is::<LineTooLong>()) {
                        return Err(GtfsError::Field {
                            file: self.file,
                            line: self.reader.position().line(),
                            field: "(record)".to_owned(),
                            message: LineTooLong.to_string(),
                        });
                    }
                }
                Err(csv_error(self.file, Some(&self.headers), e))
            }
        }
    }

    /// The current record as `T`, its fields matched to columns by name.
    pub(crate) fn row<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        // A quote left open swallows the lines after it into one field: the fields after it
        // would read as empty and be blamed instead.
        if self.record.len() < self.headers.len() && self.open_quote() {
            return Err(self.short_record());
        }
        self.record.deserialize(Some(&self.headers)).map_err(|e| {
            let ended = matches!(
                e.kind(),
                csv::ErrorKind::Deserialize { err, .. }
                    if matches!(err.kind(), csv::DeserializeErrorKind::UnexpectedEndOfRow)
            );
            if ended && self.record.len() < self.headers.len() {
                self.short_record()
            } else {
                csv_error(self.file, Some(&self.headers), e)
            }
        })
    }

    /// The current record has fewer fields than the header: the first column it lacks, and
    /// how many it has (a quote left open makes one field of the rest of the file).
    fn short_record(&self) -> GtfsError {
        let open_quote = self.open_quote();
        self.error(
            &field_name(Some(&self.headers), Some(self.record.len() as u64)),
            format!(
                "the line ends after {} of the header's {} fields{}",
                self.record.len(),
                self.headers.len(),
                if open_quote {
                    " (a quote opened on it is never closed)"
                } else {
                    ""
                }
            ),
        )
    }

    /// Whether a field of the current record runs over a line end, as one whose quote is
    /// never closed does.
    fn open_quote(&self) -> bool {
        self.record.iter().any(|f| f.contains('\n'))
    }

    /// The current record's line (1 is the header).
    pub(crate) fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    /// An error about `field` of the current record.
    pub(crate) fn error(&self, field: &str, message: impl Into<String>) -> GtfsError {
        GtfsError::Field {
            file: self.file,
            line: self.line(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The value of a column GTFS requires: present and not empty.
    pub(crate) fn required<'v>(&self, field: &str, value: Option<&'v str>) -> Result<&'v str> {
        match value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(self.error(field, "empty, but GTFS requires a value")),
        }
    }

    /// Parses a value, the error naming the field and what was expected.
    pub(crate) fn parse<T: std::str::FromStr>(
        &self,
        field: &str,
        value: &str,
        expected: &str,
    ) -> Result<T> {
        value
            .parse()
            .map_err(|_| self.error(field, format!("{value:?} is not {expected}")))
    }
}

fn check_lengths(
    file: &'static str,
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
    line: u64,
) -> Result<()> {
    match record.iter().position(|f| f.len() > MAX_FIELD_BYTES) {
        None => Ok(()),
        Some(i) => Err(GtfsError::Field {
            file,
            line,
            field: field_name(Some(headers), Some(i as u64)),
            message: format!(
                "{} bytes long, more than the {MAX_FIELD_BYTES} accepted",
                record.get(i).map_or(0, str::len)
            ),
        }),
    }
}

fn field_name(headers: Option<&csv::StringRecord>, index: Option<u64>) -> String {
    match (headers, index) {
        (Some(h), Some(i)) => h.get(i as usize).map_or_else(
            || format!("(column {} past the header's)", i + 1),
            str::to_owned,
        ),
        (None, Some(i)) => format!("(header column {})", i + 1),
        _ => "(record)".to_owned(),
    }
}

/// The csv crate's error as one naming the file, line and field.
fn csv_error(file: &'static str, headers: Option<&csv::StringRecord>, e: csv::Error) -> GtfsError {
    let line = e.position().map_or(1, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Utf8 { err, .. } => GtfsError::Field {
            file,
            line,
            field: field_name(headers, Some(err.field() as u64)),
            message: "not valid UTF-8 (GTFS files are UTF-8)".to_owned(),
        },
        csv::ErrorKind::Deserialize { err, .. } => GtfsError::Field {
            file,
            line,
            field: field_name(headers, err.field()),
            message: err.kind().to_string(),
        },
        csv::ErrorKind::Io(err) => GtfsError::File {
            file,
            message: format!("cannot read it: {err}"),
        },
        other => GtfsError::File {
            file,
            message: format!("not readable as CSV: {other:?}"),
        },
    }
}
