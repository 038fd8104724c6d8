//! Streaming line reader for append-only JSONL files.
//!
//! Reads one line at a time with a hard cap on line length, so a 200 MiB line
//! or a 150 MiB file never has to sit in memory whole, and reports each line's
//! byte offset so a later run can resume exactly after the last complete line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::json::Json;

/// Lines longer than this are skipped (and reported) rather than buffered.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// One complete line (without its `\n`).
pub struct Line<'a> {
    /// 1-based line number, counted from the start offset's line.
    pub number: u64,
    /// Byte offset where the line starts.
    pub offset: u64,
    /// The line's bytes, without a trailing `\r` either.
    pub bytes: &'a [u8],
}

/// What the reader found besides complete lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// A line over [`MAX_LINE_BYTES`] was skipped.
    Skipped {
        /// Its line number.
        number: u64,
        /// Its length in bytes, newline included.
        len: u64,
    },
}

/// Result of reading a file to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinesEnd {
    /// Offset just past the last `\n` consumed.
    pub offset: u64,
    /// Bytes after that offset that did not end in `\n` (left for next time).
    pub partial_tail: bool,
    /// Number of the last line seen (complete or not).
    pub last_number: u64,
}

impl LinesEnd {
    /// How a JSONL parse that stopped here ended: the next run starts at the
    /// first line not consumed (a partial tail is read again once complete).
    pub fn into_parse_end(self, resume: serde_json::Value) -> super::ParseEnd {
        super::ParseEnd {
            offset: self.offset,
            next_line: self.last_number + 1 - u64::from(self.partial_tail),
            resume: Some(resume),
            partial_tail: self.partial_tail,
        }
    }
}

/// Reads every complete line of `path` starting at `start`, calling `on_line`
/// for each and `on_oversize` for skipped giants. `first_number` is the line
/// number of the line at `start` (1 for a full read).
pub fn read_lines(
    path: &Path,
    start: u64,
    first_number: u64,
    mut on_line: impl FnMut(Line<'_>),
    mut on_oversize: impl FnMut(Oversize),
) -> io::Result<LinesEnd> {
    let mut file = open_source(path)?;
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut offset = start;
    let mut number = first_number;
    loop {
        buf.clear();
        let (len, complete, oversize) = read_capped_line(&mut reader, &mut buf)?;
        if len == 0 {
            return Ok(LinesEnd { offset, partial_tail: false, last_number: number.saturating_sub(1) });
        }
        if !complete {
            // A final line without its newline may still be being written.
            return Ok(LinesEnd { offset, partial_tail: true, last_number: number });
        }
        if oversize {
            on_oversize(Oversize::Skipped { number, len });
        } else {
            let mut bytes = &buf[..buf.len() - 1];
            if bytes.last() == Some(&b'\r') {
                bytes = &bytes[..bytes.len() - 1];
            }
            on_line(Line { number, offset, bytes });
        }
        offset += len;
        number += 1;
        // Shrink a buffer a giant line inflated, so memory stays flat afterwards.
        if buf.capacity() > 16 * 1024 * 1024 {
            buf = Vec::with_capacity(64 * 1024);
        }
    }
}

/// Reads up to and including the next `\n`. Returns (bytes consumed, ended
/// with newline, exceeded the cap). Past the cap, bytes are consumed but not kept.
fn read_capped_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<(u64, bool, bool)> {
    let mut consumed: u64 = 0;
    let mut oversize = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, false, oversize));
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !oversize {
            if buf.len() + take > MAX_LINE_BYTES {
                oversize = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        consumed += take as u64;
        if done {
            if oversize {
                buf.clear();
                buf.push(b'\n');
            }
            return Ok((consumed, true, oversize));
        }
    }
}

/// Opens a session file for reading, safely against a swap after
/// discovery: a symlink put in its place is refused (`O_NOFOLLOW`, so
/// nothing outside the agent's root is read), a FIFO does not block the
/// open (`O_NONBLOCK`), and the descriptor itself must be a regular file
/// (`fstat` on it, not on the path, so a second swap cannot pass).
pub fn open_source(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return io::Error::other("it is a symlink now (not followed: it may lead outside the agent's folder)");
        }
        e
    })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::other(format!("not a regular file any more ({})", describe(kind))));
    }
    Ok(file)
}

/// What a non-regular file is, in a word.
fn describe(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() { "a directory" } else { "not a file" }
}

/// Reads a whole file into memory, refusing files over `limit` bytes.
pub fn read_whole(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_source(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(io::Error::other(format!(
            "file is {} MiB, over the {} MiB limit for whole-document formats",
            len >> 20,
            limit >> 20
        )));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    Ok(out)
}

/// Decodes a line as UTF-8, replacing invalid sequences. The flag says whether
/// anything was replaced, so the caller can record it without losing the line.
pub fn decode_lossy(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    }
}

/// Drives a JSONL parse: reads complete lines from the request's offset,
/// decodes them (invalid UTF-8 is replaced and reported, never dropped),
/// parses JSON, reports unusable lines to the sink, and hands each record to
/// `on_record` with its line number and offset.
pub fn parse_jsonl(
    req: &super::ParseRequest<'_>,
    sink: &mut dyn super::ParseSink,
    mut on_record: impl FnMut(&serde_json::Value, u64, u64, &mut dyn super::ParseSink),
) -> Result<LinesEnd, super::ParseError> {
    for_each_line(req, sink, |text, number, offset, sink| match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => on_record(&v, number, offset, sink),
        Err(e) => sink.malformed(number, format!("invalid JSON: {e}")),
    })
}

/// [`parse_jsonl`] with each record as a [`Json`] tree borrowing from its
/// line: for the formats most people index, where building `Value`s was
/// a tenth of the index build ([`super::json`]).
pub fn parse_jsonl_borrowed(
    req: &super::ParseRequest<'_>,
    sink: &mut dyn super::ParseSink,
    mut on_record: impl FnMut(&Json<'_>, u64, u64, &mut dyn super::ParseSink),
) -> Result<LinesEnd, super::ParseError> {
    for_each_line(req, sink, |text, number, offset, sink| match Json::parse(text) {
        Ok(v) => on_record(&v, number, offset, sink),
        Err(e) => sink.malformed(number, format!("invalid JSON: {e}")),
    })
}

/// Reads complete lines from the request's offset and hands each one that
/// is not blank to `on_line` as text (invalid UTF-8 replaced and reported,
/// a byte order mark dropped), with its number and offset; reports lines
/// over the limit after the rest.
fn for_each_line(
    req: &super::ParseRequest<'_>,
    sink: &mut dyn super::ParseSink,
    mut on_line: impl FnMut(&str, u64, u64, &mut dyn super::ParseSink),
) -> Result<LinesEnd, super::ParseError> {
    let mut pending: Vec<(u64, String)> = Vec::new();
    let end = read_lines(
        req.path,
        req.start_offset,
        req.start_line.max(1),
        |line| {
            if line.bytes.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            let (text, replaced) = decode_lossy(line.bytes);
            if replaced {
                sink.malformed(line.number, "invalid UTF-8 (replaced with U+FFFD)".into());
            }
            // A UTF-8 byte order mark (Windows editors, some Clawdbot
            // builds) is not JSON; the line after it is.
            on_line(text.strip_prefix('\u{feff}').unwrap_or(&text), line.number, line.offset, sink);
        },
        |Oversize::Skipped { number, len }| {
            pending.push((number, format!("line of {} MiB skipped (over the line limit)", len >> 20)))
        },
    )
    .map_err(|source| super::ParseError::Io { path: req.path.to_path_buf(), source })?;
    for (line, msg) in pending {
        sink.malformed(line, msg);
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(path: &Path, start: u64) -> (Vec<(u64, u64, String)>, LinesEnd) {
        let mut out = Vec::new();
        let end = read_lines(
            path,
            start,
            1,
            |l| out.push((l.number, l.offset, String::from_utf8_lossy(l.bytes).into_owned())),
            |_| {},
        )
        .unwrap();
        (out, end)
    }

    #[test]
    fn leaves_an_unterminated_final_line_for_later() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, b"one\r\ntwo\nthr").unwrap();
        let (lines, end) = collect(&p, 0);
        assert_eq!(lines, vec![(1, 0, "one".into()), (2, 5, "two".into())]);
        assert_eq!(end.offset, 9);
        assert!(end.partial_tail);
        std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"ee\n").unwrap();
        let (lines, end) = collect(&p, 9);
        assert_eq!(lines, vec![(1, 9, "three".into())]);
        assert_eq!(end.offset, 15);
        assert!(!end.partial_tail);
    }
}
