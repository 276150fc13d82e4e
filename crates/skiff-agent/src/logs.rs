//! Container logs as the kubelet serves them: CRI log files read with `kubectl logs`'
//! options (tailLines, sinceSeconds/sinceTime, timestamps, limitBytes, follow).
//!
//! A log file holds one record per line,
//! `<RFC3339Nano UTC timestamp> <stdout|stderr> <F|P> <content>`, where `P` marks a
//! partial line that the next record continues and `F` ends a line. Reading merges the
//! two streams in file order, as the kubelet does, and puts back the newline of full
//! lines. `tailLines` counts records, `sinceTime` drops older records, `timestamps`
//! prefixes each output line with its first record's time, and `limitBytes` cuts the
//! output (prefixes included) at that many bytes.
//!
//! With `follow`, reading goes on at the end of the file until the container attempt
//! that writes it has ended (`running()` turns false) and everything it wrote is out.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

/// How often a followed file is polled for new records.
const FOLLOW_POLL: Duration = Duration::from_millis(150);

/// The options of `GET /containerLogs/...` (upstream's PodLogOptions, as the kubelet reads them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    /// Records to show from the end; None shows all.
    pub tail_lines: Option<u64>,
    /// Records older than this are skipped.
    pub since: Option<Timestamp>,
    /// Output stops after this many bytes.
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// Reads the query parameters of a log request. `now` anchors `sinceSeconds`; when
    /// both `sinceSeconds` and `sinceTime` are given the later instant wins, as in the kubelet.
    pub fn from_query(params: &[(String, String)], now: Timestamp) -> Result<LogOptions, String> {
        let get = |k: &str| params.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let flag = |k: &str| matches!(get(k), Some("true") | Some("1"));
        let int = |k: &str| -> Result<Option<i64>, String> {
            match get(k) {
                None | Some("") => Ok(None),
                Some(v) => v.parse::<i64>().map(Some).map_err(|_| format!("invalid {k}: {v:?} is not an integer")),
            }
        };
        let mut opts = LogOptions { follow: flag("follow"), previous: flag("previous"), timestamps: flag("timestamps"), ..Default::default() };
        if let Some(n) = int("tailLines")? {
            // A negative tail means all of it, as in the kubelet.
            opts.tail_lines = u64::try_from(n).ok();
        }
        if let Some(n) = int("limitBytes")? {
            if n <= 0 {
                return Err(format!("limitBytes must be greater than zero, got {n}"));
            }
            opts.limit_bytes = Some(n as u64);
        }
        if let Some(secs) = int("sinceSeconds")? {
            if secs <= 0 {
                return Err(format!("sinceSeconds must be greater than zero, got {secs}"));
            }
            opts.since = Some(now.checked_sub(jiff::SignedDuration::from_secs(secs)).unwrap_or(Timestamp::MIN));
        }
        if let Some(t) = get("sinceTime").filter(|t| !t.is_empty()) {
            let t: Timestamp = t.parse().map_err(|e| format!("invalid sinceTime {t:?}: {e}"))?;
            opts.since = Some(match opts.since {
                Some(s) if s > t => s,
                _ => t,
            });
        }
        Ok(opts)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One record of a CRI log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub time: Timestamp,
    pub stream: LogStream,
    /// A `P` record: the line goes on in the next record.
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parses one line of a CRI log file (without its newline). None for a malformed line,
/// which readers skip as the kubelet does.
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.parse::<Timestamp>().ok()?;
    let stream = match parts.next()? {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    Some(Record { time, stream, partial, content: parts.next().unwrap_or(b"") })
}

/// Formats one record the way CRI runtimes write it (for the runtime's log shim and tests).
pub fn format_record(time: Timestamp, stream: LogStream, partial: bool, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 48);
    out.extend_from_slice(rfc3339_nano(time).as_bytes());
    out.extend_from_slice(match stream {
        LogStream::Stdout => b" stdout ",
        LogStream::Stderr => b" stderr ",
    });
    out.extend_from_slice(if partial { b"P " } else { b"F " });
    out.extend_from_slice(content);
    out.push(b'\n');
    out
}

/// Go's `time.RFC3339Nano` in UTC: fractional seconds without trailing zeros.
pub fn rfc3339_nano(t: Timestamp) -> String {
    let base = t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.subsec_nanosecond();
    if nanos == 0 {
        return format!("{base}Z");
    }
    let frac = format!("{:09}", nanos.unsigned_abs());
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// Turns records into the bytes a log request answers with, applying `since`,
/// `timestamps` and `limitBytes`.
#[derive(Debug)]
pub struct Formatter {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<u64>,
    at_line_start: bool,
}

impl Formatter {
    pub fn new(opts: &LogOptions) -> Formatter {
        Formatter { since: opts.since, timestamps: opts.timestamps, remaining: opts.limit_bytes, at_line_start: true }
    }

    /// True once `limitBytes` is used up: nothing more will be written.
    pub fn done(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Appends the output for one record to `out`.
    pub fn push(&mut self, rec: &Record, out: &mut Vec<u8>) {
        if self.done() || self.since.is_some_and(|s| rec.time < s) {
            return;
        }
        let start = out.len();
        if self.timestamps && self.at_line_start {
            out.extend_from_slice(rfc3339_nano(rec.time).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(rec.content);
        if !rec.partial {
            out.push(b'\n');
        }
        self.at_line_start = !rec.partial;
        if let Some(rem) = self.remaining.as_mut() {
            let n = (out.len() - start) as u64;
            if n >= *rem {
                out.truncate(start + *rem as usize);
                *rem = 0;
            } else {
                *rem -= n;
            }
        }
    }
}

/// The offset at which the last `n` lines of `f` start (the whole file when it has fewer).
pub fn tail_start<F: Read + Seek>(f: &mut F, n: u64) -> io::Result<u64> {
    let end = f.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(end);
    }
    const BLOCK: u64 = 8192;
    let mut pos = end;
    let mut found = 0u64;
    let mut buf = vec![0u8; BLOCK as usize];
    // The file's final newline ends the last line; it does not start one.
    let mut skip_last = true;
    while pos > 0 {
        let size = pos.min(BLOCK);
        pos -= size;
        f.seek(SeekFrom::Start(pos))?;
        let chunk = &mut buf[..size as usize];
        f.read_exact(chunk)?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] != b'\n' {
                skip_last = false;
                continue;
            }
            if skip_last && pos + i as u64 == end - 1 {
                skip_last = false;
                continue;
            }
            found += 1;
            if found == n {
                return Ok(pos + i as u64 + 1);
            }
        }
    }
    Ok(0)
}

/// Where to write log output; false means the reader went away and reading stops.
pub trait Sink {
    fn write(&mut self, bytes: &[u8]) -> bool;
    /// Whether the reader has gone away (checked while waiting for more, when nothing is written).
    fn closed(&self) -> bool {
        false
    }
}

impl Sink for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) -> bool {
        self.extend_from_slice(bytes);
        true
    }
}

/// Reads the log file at `path` with `opts` into `sink`. Without `follow` it stops at the
/// end of the file; with it, it waits for more until `running()` is false. Blocking: run
/// it on a thread of its own.
pub fn read_log(path: &Path, opts: &LogOptions, running: &dyn Fn() -> bool, sink: &mut dyn Sink) -> io::Result<()> {
    read_log_with(path, opts, running, sink, FOLLOW_POLL)
}

fn read_log_with(path: &Path, opts: &LogOptions, running: &dyn Fn() -> bool, sink: &mut dyn Sink, poll: Duration) -> io::Result<()> {
    let mut f = File::open(path)?;
    let start = match opts.tail_lines {
        Some(n) => tail_start(&mut f, n)?,
        None => 0,
    };
    let mut fmt = Formatter::new(opts);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut on_records = |records: &[Record]| {
        if records.is_empty() {
            return !sink.closed();
        }
        for rec in records {
            fmt.push(rec, &mut out);
        }
        if !out.is_empty() {
            if !sink.write(&out) {
                return false;
            }
            out.clear();
        }
        !fmt.done()
    };
    scan(f, start, opts.follow, running, &mut on_records, poll)
}

/// What [`scan`] hands records to: false stops the scan (the reader went away, or wants
/// no more). Called with an empty batch while waiting, so that a reader that has gone is
/// noticed even when nothing is written.
pub type OnRecords<'a> = dyn FnMut(&[Record]) -> bool + 'a;

/// Reads the records of `f` from byte `start`, in batches, until the end of the file, or,
/// with `follow`, until `running()` turns false and what the attempt wrote is read.
pub fn scan(mut f: File, start: u64, follow: bool, running: &dyn Fn() -> bool, on_records: &mut OnRecords, poll: Duration) -> io::Result<()> {
    f.seek(SeekFrom::Start(start))?;
    // Bytes read but not yet ending in a newline (a record the writer is still writing).
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut last = false;
    loop {
        let n = f.read(&mut chunk)?;
        pending.extend_from_slice(&chunk[..n]);
        if n == 0 && !last {
            // At the end of what is written so far.
            if !follow {
                last = true;
            } else if !running() {
                // The attempt has ended: what it wrote before that is read once more, then stop.
                f.read_to_end(&mut pending)?;
                last = true;
            } else if !on_records(&[]) {
                return Ok(());
            } else {
                std::thread::sleep(poll);
                continue;
            }
        }
        // Whole records only, unless this is the end: then a last record without its
        // newline (the writer died mid-line) counts too.
        let complete = if last { pending.len() } else { pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
        let records: Vec<Record> = pending[..complete].split(|b| *b == b'\n').filter_map(parse_record).collect();
        let more = records.is_empty() || on_records(&records);
        drop(records);
        pending.drain(..complete);
        if !more || last {
            return Ok(());
        }
    }
}

/// Follows the log of a running attempt from its current end (`kubectl attach`): each new
/// record goes to `on_record` until the attempt ends or `on_record` returns false.
pub fn follow_from_end(path: &Path, running: &dyn Fn() -> bool, on_records: &mut OnRecords) -> io::Result<()> {
    let mut f = File::open(path)?;
    let end = f.seek(SeekFrom::End(0))?;
    scan(f, end, true, running, on_records, FOLLOW_POLL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    const FILE: &str = "\
2024-05-01T10:00:00.000000001Z stdout F first line
2024-05-01T10:00:01.5Z stderr F an error
2024-05-01T10:00:02Z stdout P partial 
2024-05-01T10:00:03.120000000Z stdout F end
not a cri line
2024-05-01T10:00:04Z stdout F 
2024-05-01T10:00:05Z stdout F last
";

    fn write_file(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("0.log");
        std::fs::write(&p, content).expect("write");
        (dir, p)
    }

    fn read(content: &str, opts: LogOptions) -> String {
        let (_d, p) = write_file(content);
        let mut out = Vec::new();
        read_log(&p, &opts, &|| false, &mut out).expect("read");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn parses_records() {
        let r = parse_record(b"2024-05-01T10:00:00.5Z stderr P hello world").expect("record");
        assert_eq!((r.stream, r.partial, r.content), (LogStream::Stderr, true, &b"hello world"[..]));
        assert_eq!(r.time, ts("2024-05-01T10:00:00.5Z"));
        let r = parse_record(b"2024-05-01T10:00:00Z stdout F").expect("empty content");
        assert_eq!(r.content, b"");
        assert!(parse_record(b"garbage").is_none());
        assert!(parse_record(b"2024-05-01T10:00:00Z stdin F x").is_none());
        assert!(parse_record(b"2024-05-01T10:00:00Z stdout X x").is_none());
        let line = format_record(ts("2024-05-01T10:00:00.25Z"), LogStream::Stdout, false, b"a b");
        assert_eq!(line, b"2024-05-01T10:00:00.25Z stdout F a b\n");
        assert_eq!(parse_record(&line).map(|r| r.content.to_vec()), Some(b"a b".to_vec()));
    }

    #[test]
    fn rfc3339_nano_trims_zeros() {
        assert_eq!(rfc3339_nano(ts("2024-05-01T10:00:00Z")), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339_nano(ts("2024-05-01T10:00:00.120Z")), "2024-05-01T10:00:00.12Z");
        assert_eq!(rfc3339_nano(ts("2024-05-01T10:00:00.000000001Z")), "2024-05-01T10:00:00.000000001Z");
        assert_eq!(rfc3339_nano(ts("2024-05-01T12:00:00.5+02:00")), "2024-05-01T10:00:00.5Z");
    }

    #[test]
    fn reads_everything_merging_partial_lines() {
        assert_eq!(read(FILE, LogOptions::default()), "first line\nan error\npartial end\n\nlast\n");
    }

    #[test]
    fn timestamps_prefix_each_line_once() {
        let out = read(FILE, LogOptions { timestamps: true, ..Default::default() });
        assert_eq!(
            out,
            "2024-05-01T10:00:00.000000001Z first line\n2024-05-01T10:00:01.5Z an error\n2024-05-01T10:00:02Z partial end\n2024-05-01T10:00:04Z \n2024-05-01T10:00:05Z last\n"
        );
    }

    #[test]
    fn tail_counts_records_from_the_end() {
        assert_eq!(read(FILE, LogOptions { tail_lines: Some(2), ..Default::default() }), "\nlast\n");
        assert_eq!(read(FILE, LogOptions { tail_lines: Some(1), ..Default::default() }), "last\n");
        assert_eq!(read(FILE, LogOptions { tail_lines: Some(0), ..Default::default() }), "");
        assert_eq!(read(FILE, LogOptions { tail_lines: Some(100), ..Default::default() }), read(FILE, LogOptions::default()));
        // Without a final newline the last (unfinished) line counts as one.
        assert_eq!(read("2024-05-01T10:00:00Z stdout F a\n2024-05-01T10:00:00Z stdout F b", LogOptions { tail_lines: Some(1), ..Default::default() }), "b\n");
        let mut c = Cursor::new(b"a\nb\nc\n".to_vec());
        assert_eq!(tail_start(&mut c, 1).ok(), Some(4));
        assert_eq!(tail_start(&mut c, 3).ok(), Some(0));
        let mut empty = Cursor::new(Vec::new());
        assert_eq!(tail_start(&mut empty, 5).ok(), Some(0));
        // Across block boundaries.
        let big: String = (0..5000).map(|i| format!("2024-05-01T10:00:00Z stdout F line {i}\n")).collect();
        assert_eq!(read(&big, LogOptions { tail_lines: Some(3), ..Default::default() }), "line 4997\nline 4998\nline 4999\n");
    }

    #[test]
    fn since_skips_older_records() {
        let opts = LogOptions { since: Some(ts("2024-05-01T10:00:03Z")), ..Default::default() };
        assert_eq!(read(FILE, opts), "end\n\nlast\n");
        let params = vec![("sinceSeconds".to_string(), "10".to_string()), ("sinceTime".to_string(), "2024-05-01T10:00:00Z".to_string())];
        let opts = LogOptions::from_query(&params, ts("2024-05-01T10:00:12Z")).expect("options");
        assert_eq!(opts.since, Some(ts("2024-05-01T10:00:02Z")), "the later of the two");
    }

    #[test]
    fn limit_bytes_cuts_output() {
        assert_eq!(read(FILE, LogOptions { limit_bytes: Some(14), ..Default::default() }), "first line\nan ");
        let out = read(FILE, LogOptions { limit_bytes: Some(35), timestamps: true, ..Default::default() });
        assert_eq!(out, "2024-05-01T10:00:00.000000001Z firs");
    }

    #[test]
    fn query_options() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let now = ts("2024-05-01T10:00:00Z");
        let o = LogOptions::from_query(&q(&[("follow", "true"), ("tailLines", "5"), ("timestamps", "true"), ("limitBytes", "10"), ("previous", "true")]), now).expect("ok");
        assert_eq!(o, LogOptions { follow: true, previous: true, timestamps: true, tail_lines: Some(5), since: None, limit_bytes: Some(10) });
        assert_eq!(LogOptions::from_query(&q(&[("tailLines", "-1")]), now).map(|o| o.tail_lines), Ok(None));
        assert!(LogOptions::from_query(&q(&[("tailLines", "x")]), now).is_err());
        assert!(LogOptions::from_query(&q(&[("sinceTime", "yesterday")]), now).is_err());
        assert!(LogOptions::from_query(&q(&[("limitBytes", "0")]), now).is_err());
    }

    #[test]
    fn follow_reads_new_records_until_the_attempt_ends() {
        let (_d, p) = write_file("2024-05-01T10:00:00Z stdout F one\n");
        let running = Arc::new(AtomicBool::new(true));
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        struct Chan(std::sync::mpsc::Sender<Vec<u8>>);
        impl Sink for Chan {
            fn write(&mut self, b: &[u8]) -> bool {
                self.0.send(b.to_vec()).is_ok()
            }
        }
        let reader = {
            let (p, running) = (p.clone(), running.clone());
            std::thread::spawn(move || {
                let opts = LogOptions { follow: true, ..Default::default() };
                read_log_with(&p, &opts, &|| running.load(Ordering::SeqCst), &mut Chan(tx), Duration::from_millis(5))
            })
        };
        assert_eq!(rx.recv().ok(), Some(b"one\n".to_vec()));
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).expect("open");
        // A record written in two pieces comes out once it is whole.
        f.write_all(b"2024-05-01T10:00:01Z stdout F tw").expect("write");
        f.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(30));
        f.write_all(b"o\n").expect("write");
        assert_eq!(rx.recv().ok(), Some(b"two\n".to_vec()));
        f.write_all(b"2024-05-01T10:00:02Z stderr F three\n").expect("write");
        running.store(false, Ordering::SeqCst);
        let mut rest = Vec::new();
        while let Ok(chunk) = rx.recv() {
            rest.extend(chunk);
        }
        assert_eq!(rest, b"three\n");
        assert!(reader.join().expect("join").is_ok());
    }

    #[test]
    fn following_from_the_end_sees_only_new_records() {
        let (_d, p) = write_file("2024-05-01T10:00:00Z stdout F old\n");
        let running = Arc::new(AtomicBool::new(true));
        let reader = {
            let (p, running) = (p.clone(), running.clone());
            std::thread::spawn(move || {
                let mut seen: Vec<(LogStream, bool, Vec<u8>)> = Vec::new();
                follow_from_end(&p, &|| running.load(Ordering::SeqCst), &mut |recs: &[Record]| {
                    seen.extend(recs.iter().map(|r| (r.stream, r.partial, r.content.to_vec())));
                    true
                })
                .map(|_| seen)
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(b"2024-05-01T10:00:01Z stderr P new \n2024-05-01T10:00:01Z stderr F one\n").expect("write");
        std::thread::sleep(Duration::from_millis(400));
        running.store(false, Ordering::SeqCst);
        let seen = reader.join().expect("join").expect("read");
        assert_eq!(seen, vec![(LogStream::Stderr, true, b"new ".to_vec()), (LogStream::Stderr, false, b"one".to_vec())]);
    }

    #[test]
    fn follow_stops_when_the_reader_goes_away() {
        let (_d, p) = write_file("2024-05-01T10:00:00Z stdout F one\n");
        struct Gone;
        impl Sink for Gone {
            fn write(&mut self, _: &[u8]) -> bool {
                false
            }
        }
        let opts = LogOptions { follow: true, ..Default::default() };
        assert!(read_log_with(&p, &opts, &|| true, &mut Gone, Duration::from_millis(5)).is_ok());
    }
}
