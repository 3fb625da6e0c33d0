//! Opens a CSV stream: sniffs its encoding and delimiter from the first
//! 64 KiB, maps its header, then yields byte records one at a time, so
//! memory does not grow with the file.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use csv_async::{AsyncReader, AsyncReaderBuilder, ByteRecord};
use tokio::io::{AsyncRead, AsyncReadExt};

use std::borrow::Cow;

use crate::columns::Columns;
use crate::values::NumberStyle;

/// How the file's bytes are text: sniffed from its start (see [`open`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

impl Encoding {
    /// One row's cells as text; `None` when a UTF-8 file's row is not UTF-8.
    pub fn decode<'a>(self, fields: &[&'a [u8]]) -> Option<Vec<Cow<'a, str>>> {
        fields
            .iter()
            .map(|raw| match self {
                Encoding::Utf8 => std::str::from_utf8(raw).ok().map(Cow::Borrowed),
                Encoding::Windows1252 => {
                    Some(encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0)
                }
            })
            .collect()
    }

    /// A header cell, with anything undecodable replaced.
    fn decode_lossy(self, raw: &[u8]) -> Cow<'_, str> {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(raw),
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
        }
    }
}

const SNIFF_BYTES: usize = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// The longest record (CSV.md): past it the upload fails, without the
/// record ever being held whole.
pub const MAX_RECORD_BYTES: u64 = 65_536;

/// Why a whole file is refused: the upload fails with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("the file is empty")]
    Empty,
    #[error("the file has a header row but no data rows")]
    NoDataRows,
    #[error("the file is not a CSV file (it contains binary data)")]
    Binary,
    #[error("{0}")]
    Header(String),
    #[error("line {line} is longer than 65,536 bytes")]
    LineTooLong { line: u64 },
    /// The stream broke off; the cause is logged where it happened.
    #[error("the uploaded file could not be read")]
    Unreadable(String),
}

pub struct Sniffed {
    pub encoding: Encoding,
    pub delimiter: u8,
    pub numbers: NumberStyle,
    pub columns: Columns,
}

type Input<R> = LineTracker<tokio::io::Chain<std::io::Cursor<Vec<u8>>, R>>;

pub struct CsvStream<R: AsyncRead + Unpin + Send> {
    reader: AsyncReader<Input<R>>,
    record: ByteRecord,
    starts: Arc<Mutex<VecDeque<u64>>>,
}

/// Reads the first 64 KiB and the header row.
pub async fn open<R: AsyncRead + Unpin + Send>(
    mut input: R,
) -> Result<(Sniffed, CsvStream<R>), FileProblem> {
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    while prefix.len() < SNIFF_BYTES {
        let read = (&mut input)
            .take((SNIFF_BYTES - prefix.len()) as u64)
            .read_to_end(&mut prefix)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "reading the uploaded file failed");
                FileProblem::Unreadable(e.to_string())
            })?;
        if read == 0 {
            break;
        }
    }
    if prefix.starts_with(UTF8_BOM) {
        prefix.drain(..UTF8_BOM.len());
    }
    if prefix.iter().all(u8::is_ascii_whitespace) {
        return Err(FileProblem::Empty);
    }
    if prefix.contains(&0) {
        return Err(FileProblem::Binary);
    }
    let encoding = match std::str::from_utf8(&prefix) {
        Ok(_) => Encoding::Utf8,
        // Cut in the middle of a character at the 64 KiB boundary: still UTF-8.
        Err(e) if e.error_len().is_none() && prefix.len() == SNIFF_BYTES => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    };
    let first_line = prefix.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (first_line.iter().filter(|b| *b == d).count(), *d == b','))
        .unwrap_or(b',');
    let numbers = if delimiter == b';' {
        NumberStyle::DecimalComma
    } else {
        NumberStyle::DecimalPoint
    };

    let starts = Arc::new(Mutex::new(VecDeque::new()));
    let tracked = LineTracker::new(
        std::io::Cursor::new(prefix).chain(input),
        delimiter,
        starts.clone(),
    );
    let reader = AsyncReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .create_reader(tracked);
    let mut stream = CsvStream {
        reader,
        record: ByteRecord::new(),
        starts,
    };
    let Some((_, header)) = stream.next().await? else {
        return Err(FileProblem::Empty);
    };
    let names: Vec<String> = header
        .iter()
        .map(|f| encoding.decode_lossy(f).into_owned())
        .collect();
    let columns = Columns::from_header(&names).map_err(FileProblem::Header)?;
    Ok((
        Sniffed {
            encoding,
            delimiter,
            numbers,
            columns,
        },
        stream,
    ))
}

impl<R: AsyncRead + Unpin + Send> CsvStream<R> {
    /// The next non-blank record and the physical line it starts on.
    pub async fn next(&mut self) -> Result<Option<(u64, &ByteRecord)>, FileProblem> {
        loop {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .await
                .map_err(read_problem)?;
            if !more {
                return Ok(None);
            }
            let line = self
                .starts
                .lock()
                .expect("not poisoned")
                .pop_front()
                .unwrap_or(0);
            let blank = self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace));
            if !blank {
                return Ok(Some((line, &self.record)));
            }
        }
    }
}

/// What the CSV reader's error means for the upload.
fn read_problem(error: csv_async::Error) -> FileProblem {
    if let csv_async::ErrorKind::Io(io) = error.kind() {
        if let Some(too_long) = io.get_ref().and_then(|e| e.downcast_ref::<RecordTooLong>()) {
            return FileProblem::LineTooLong {
                line: too_long.line,
            };
        }
    }
    tracing::warn!(error = %error, "reading the uploaded file failed");
    FileProblem::Unreadable(error.to_string())
}

/// The error the tracker reads when a record passes [`MAX_RECORD_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("line {line} is longer than 65,536 bytes")]
struct RecordTooLong {
    line: u64,
}

/// Finds the physical line on which each record starts, as the bytes pass
/// to the CSV reader (which counts lines lazily and skips empty lines), and
/// stops the reading when a record grows past [`MAX_RECORD_BYTES`].
/// Mirrors csv_core's quoting: a quote opens a quoted field only at the
/// start of a field.
///
/// It exists because the csv crate's own positions cannot name the line a
/// person sees in an editor: blank lines are skipped without being counted
/// (BurntSushi/rust-csv#208) and a CRLF line ending is reported inconsistently
/// (BurntSushi/rust-csv#395); both issues are open.
struct LineTracker<R> {
    inner: R,
    delimiter: u8,
    state: ScanState,
    line: u64,
    starts: Arc<Mutex<VecDeque<u64>>>,
    /// The line the current record started on, and its bytes so far.
    record_start: u64,
    record_bytes: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScanState {
    LineStart,
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl<R> LineTracker<R> {
    fn new(inner: R, delimiter: u8, starts: Arc<Mutex<VecDeque<u64>>>) -> Self {
        Self {
            inner,
            delimiter,
            state: ScanState::LineStart,
            line: 1,
            starts,
            record_start: 1,
            record_bytes: 0,
        }
    }

    fn scan(&mut self, bytes: &[u8]) -> Result<(), RecordTooLong> {
        use ScanState::*;
        let mut starts = self.starts.lock().expect("not poisoned");
        for &b in bytes {
            if self.state == LineStart {
                if b == b'\n' || b == b'\r' {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    continue;
                }
                starts.push_back(self.line);
                self.state = FieldStart;
                self.record_start = self.line;
                self.record_bytes = 0;
            }
            self.record_bytes += 1;
            let end_of_record = |s: &mut ScanState| *s = LineStart;
            match (self.state, b) {
                (Quoted, b'"') => self.state = QuoteInQuoted,
                (Quoted, _) => {}
                (QuoteInQuoted, b'"') => self.state = Quoted,
                (FieldStart, b'"') => self.state = Quoted,
                (_, b'\n') | (_, b'\r') => end_of_record(&mut self.state),
                (_, d) if d == self.delimiter => self.state = FieldStart,
                _ => self.state = Unquoted,
            }
            if b == b'\n' {
                self.line += 1;
            }
            // The terminating newline is not part of the record.
            if self.state != LineStart && self.record_bytes > MAX_RECORD_BYTES {
                return Err(RecordTooLong {
                    line: self.record_start,
                });
            }
        }
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LineTracker<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let fresh = &buf.filled()[before..];
            if let Err(too_long) = self.scan(fresh) {
                return Poll::Ready(Err(std::io::Error::other(too_long)));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(bytes: &[u8]) -> Result<(Sniffed, Vec<(u64, Vec<String>)>), FileProblem> {
        let (sniffed, mut stream) = open(bytes).await?;
        let mut out = Vec::new();
        while let Some((line, record)) = stream.next().await? {
            out.push((
                line,
                record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            ));
        }
        Ok((sniffed, out))
    }

    const HEADER: &str = "order_id,ordered_at,item_name,quantity,unit_price";

    #[tokio::test]
    async fn bom_crlf_quotes_and_blank_lines() {
        let file = format!("\u{feff}{HEADER}\r\n\r\nA,2026-01-29 19:05,\"Soup, \"\"hot\"\"\nof the day\",1,2\r\n\r\nB,2026-01-29 19:06,Tea,1,3\r\n");
        let (sniffed, rows) = lines(file.as_bytes()).await.unwrap();
        assert_eq!(sniffed.encoding, Encoding::Utf8);
        assert_eq!(sniffed.delimiter, b',');
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 3, "physical line of the row's start");
        assert_eq!(rows[0].1[2], "Soup, \"hot\"\nof the day");
        assert_eq!(rows[1].0, 6);
    }

    #[tokio::test]
    async fn semicolons_tabs_and_windows_1252_are_detected() {
        let (sniffed, _) = lines(
            b"order_id;ordered_at;item_name;quantity;unit_price\nA;2026-01-29 19:05;x;1;2,50\n",
        )
        .await
        .unwrap();
        assert_eq!(
            (sniffed.delimiter, sniffed.numbers),
            (b';', NumberStyle::DecimalComma)
        );
        let (sniffed, _) = lines(b"order_id\tordered_at\titem_name\tquantity\tunit_price\n")
            .await
            .unwrap();
        assert_eq!(sniffed.delimiter, b'\t');
        let (sniffed, rows) = lines(
            format!("{HEADER}\nA,2026-01-29 19:05,Cr\u{e8}me,1,2\n")
                .replace('è', "\u{e8}")
                .as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(sniffed.encoding, Encoding::Utf8);
        assert_eq!(rows.len(), 1);
        let mut latin = format!("{HEADER}\nA,2026-01-29 19:05,Cr").into_bytes();
        latin.extend_from_slice(b"\xe8me,1,2\n");
        let (sniffed, _) = lines(&latin).await.unwrap();
        assert_eq!(sniffed.encoding, Encoding::Windows1252);
    }

    #[tokio::test]
    async fn whole_file_problems() {
        assert_eq!(lines(b"").await.err(), Some(FileProblem::Empty));
        assert_eq!(lines(b" \r\n\n").await.err(), Some(FileProblem::Empty));
        assert_eq!(
            lines(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").await.err(),
            Some(FileProblem::Binary)
        );
        assert_eq!(
            lines(b"ordered_at,item_name,quantity,unit_price\n")
                .await
                .err(),
            Some(FileProblem::Header(
                "missing required column: order_id".into()
            ))
        );
        let (_, rows) = lines(format!("{HEADER}\n").as_bytes()).await.unwrap();
        assert!(rows.is_empty());
    }
}
