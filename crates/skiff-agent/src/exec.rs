//! `kubectl exec` on the agent: the websocket remote-command protocol
//! (`v5.channel.k8s.io`, `v4.channel.k8s.io` and the older `channel.k8s.io`, binary or
//! base64) and the session that runs one command with its streams on it.
//!
//! Every websocket message carries one channel: its first byte names it (0 stdin,
//! 1 stdout, 2 stderr, 3 error, 4 resize), the rest is data. In the base64 variants the
//! channel is an ASCII digit and the data base64 text. v5 adds a close signal from the
//! client, `[255, channel]`, that ends a stream (stdin: the command sees end of file).
//! Once the command has exited and its output is out, the server writes the outcome on
//! the error channel (v4 and v5: a `metav1.Status` in JSON, with reason
//! `NonZeroExitCode` and the exit code as an `ExitCode` cause; v1: the message text of a
//! failure only) and closes the websocket with a normal close frame.
//! With a TTY the command gets a pseudo-terminal as its controlling terminal, stderr
//! goes to it too, and the resize channel carries `{"Width":…,"Height":…}` messages.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5's close signal: `[CLOSE, channel]`.
pub const CLOSE: u8 = 255;

/// How long output may still come after the command has exited (from processes it left
/// running that hold its stdout open) before the session ends anyway.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// The remote-command subprotocols the agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V5,
    V4,
    V4Base64,
    V1,
    V1Base64,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [Protocol::V5, Protocol::V4, Protocol::V4Base64, Protocol::V1, Protocol::V1Base64];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::V5 => "v5.channel.k8s.io",
            Protocol::V4 => "v4.channel.k8s.io",
            Protocol::V4Base64 => "v4.base64.channel.k8s.io",
            Protocol::V1 => "channel.k8s.io",
            Protocol::V1Base64 => "base64.channel.k8s.io",
        }
    }

    fn base64(self) -> bool {
        matches!(self, Protocol::V4Base64 | Protocol::V1Base64)
    }

    /// Whether the error channel carries a Status in JSON (v4 and later).
    fn status_json(self) -> bool {
        matches!(self, Protocol::V5 | Protocol::V4 | Protocol::V4Base64)
    }

    fn supports_close(self) -> bool {
        self == Protocol::V5
    }
}

/// Picks the subprotocol from the client's `Sec-WebSocket-Protocol` list: the first one
/// the client names that is spoken here. Without the header, the unversioned binary
/// protocol is used and no protocol is echoed (`Ok((V1, false))`), as upstream does.
pub fn negotiate(header: Option<&str>) -> Result<(Protocol, bool), String> {
    let requested: Vec<&str> = header.unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if requested.is_empty() {
        return Ok((Protocol::V1, false));
    }
    for r in &requested {
        if let Some(p) = Protocol::ALL.iter().find(|p| p.name() == *r) {
            return Ok((*p, true));
        }
    }
    let supported: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
    Err(format!("requested protocol(s) are not supported: [{}]; supports [{}]", requested.join(" "), supported.join(" ")))
}

/// The websocket message carrying `data` on `channel`.
pub fn frame(p: Protocol, channel: u8, data: &[u8]) -> Message {
    if p.base64() {
        use base64::Engine;
        let mut text = String::with_capacity(1 + data.len() * 4 / 3 + 4);
        text.push(char::from(b'0' + channel));
        base64::engine::general_purpose::STANDARD.encode_string(data, &mut text);
        Message::Text(text.into())
    } else {
        let mut buf = Vec::with_capacity(data.len() + 1);
        buf.push(channel);
        buf.extend_from_slice(data);
        Message::Binary(Bytes::from(buf))
    }
}

/// What a client message means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Data(u8, Vec<u8>),
    /// v5: the client is done writing this channel.
    Close(u8),
    /// Nothing to act on (empty, control frames).
    Nothing,
}

/// Reads one client message. Err for a malformed message (the session ends).
pub fn parse(p: Protocol, msg: &Message) -> Result<Inbound, String> {
    let raw: &[u8] = match msg {
        Message::Binary(b) => b,
        Message::Text(t) => t.as_bytes(),
        _ => return Ok(Inbound::Nothing),
    };
    let Some((&first, rest)) = raw.split_first() else { return Ok(Inbound::Nothing) };
    if p.supports_close() && first == CLOSE {
        return match rest {
            [ch] => Ok(Inbound::Close(*ch)),
            _ => Err(format!("single channel byte should follow stream close signal, got {} bytes", rest.len())),
        };
    }
    if p.base64() {
        use base64::Engine;
        let ch = first.wrapping_sub(b'0');
        let data = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|e| format!("invalid base64 on channel {ch}: {e}"))?;
        return Ok(Inbound::Data(ch, data));
    }
    Ok(Inbound::Data(first, rest.to_vec()))
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code (128 + signal for a command killed by a signal).
    Exited(i32),
    /// It could not be run.
    Failed(String),
}

impl Outcome {
    pub fn of(status: ExitStatus) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        Outcome::Exited(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    }
}

/// The message for the error channel, or None when nothing is to be sent (success in v1).
pub fn status_message(p: Protocol, outcome: &Outcome, argv: &[String]) -> Option<Vec<u8>> {
    let status: Value = match outcome {
        Outcome::Exited(0) => json!({"metadata": {}, "status": "Success"}),
        Outcome::Exited(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", argv.join(" ")),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Outcome::Failed(why) => {
            let inner = format!("error executing command in container: {why}");
            json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("Internal error occurred: {inner}"),
                "reason": "InternalError",
                "details": {"causes": [{"message": inner}]},
                "code": 500,
            })
        }
    };
    if p.status_json() {
        return serde_json::to_vec(&status).ok();
    }
    match outcome {
        Outcome::Exited(0) => None,
        _ => status["message"].as_str().map(|m| m.as_bytes().to_vec()),
    }
}

/// The options of `GET /exec/...` (kubelet's remotecommand options).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecOptions {
    pub fn from_query(params: &[(String, String)]) -> Result<ExecOptions, String> {
        let o = ExecOptions::streams_from_query(params)?;
        if o.command.is_empty() {
            return Err("you must specify at least one command for the container".into());
        }
        Ok(o)
    }

    /// The stream options alone (attach has no command).
    pub fn streams_from_query(params: &[(String, String)]) -> Result<ExecOptions, String> {
        let flag = |k: &str| params.iter().any(|(key, v)| key == k && matches!(v.as_str(), "1" | "true"));
        let mut o = ExecOptions {
            command: params.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect(),
            stdin: flag("input"),
            stdout: flag("output"),
            stderr: flag("error"),
            tty: flag("tty"),
        };
        if o.tty {
            // A terminal has one output stream.
            o.stderr = false;
        }
        if !o.stdin && !o.stdout && !o.stderr {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        Ok(o)
    }
}

/// A terminal size from the resize channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// Splits resize channel data into sizes (a message may hold several JSON objects, or
/// one may be split across messages: `buf` keeps what is not complete yet).
pub fn parse_sizes(buf: &mut Vec<u8>) -> Vec<TerminalSize> {
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<TerminalSize>();
    loop {
        match it.next() {
            Some(Ok(s)) => {
                out.push(s);
                consumed = it.byte_offset();
            }
            Some(Err(e)) if e.is_eof() => break,
            Some(Err(_)) => {
                // Garbage: drop everything seen so far.
                consumed = buf.len();
                break;
            }
            None => {
                consumed = buf.len();
                break;
            }
        }
    }
    buf.drain(..consumed);
    out
}

/// The controlling side of a pseudo-terminal, for async reads and writes.
struct PtyMaster(AsyncFd<OwnedFd>);

impl PtyMaster {
    async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut guard = self.0.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(std::io::Error::from)) {
                // EIO: every process holding the terminal has gone.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    async fn write_all(&self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.0.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(std::io::Error::from)) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    fn resize(&self, size: TerminalSize) {
        let ws = libc::winsize { ws_row: size.height, ws_col: size.width, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer, which outlives the call.
        unsafe {
            libc::ioctl(self.0.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

enum Out {
    Data(u8, Bytes),
    Eof,
}

async fn pump<R: AsyncRead + Unpin>(mut r: R, channel: u8, tx: mpsc::Sender<Out>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send(Out::Data(channel, Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Out::Eof).await;
}

async fn pump_pty(pty: Arc<PtyMaster>, tx: mpsc::Sender<Out>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match pty.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send(Out::Data(STDOUT, Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Out::Eof).await;
}

/// Where stdin data goes.
enum Input {
    None,
    Pipe(mpsc::UnboundedSender<Option<Bytes>>),
}

/// Runs `cmd` (the command of `opts`, made ready by the runtime) with its streams on the
/// websocket `ws`, then reports how it ended and closes the websocket.
pub async fn run_session<S>(mut ws: WebSocketStream<S>, proto: Protocol, opts: ExecOptions, mut cmd: std::process::Command)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The client learns the streams are up from an empty message on the lowest output channel.
    let first = if opts.stdout {
        STDOUT
    } else if opts.stderr {
        STDERR
    } else {
        ERROR
    };
    if ws.send(frame(proto, first, &[])).await.is_err() {
        return;
    }
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(16);
    let mut outputs = 0;
    let mut pty: Option<Arc<PtyMaster>> = None;
    let spawned = if opts.tty { spawn_tty(&mut cmd, &opts) } else { spawn_pipes(&mut cmd, &opts) };
    let (mut child, stdin_writer) = match spawned {
        Ok(Spawned { child, stdin, stdout, stderr, master }) => {
            if let Some(m) = master {
                tokio::spawn(pump_pty(m.clone(), out_tx.clone()));
                outputs += 1;
                pty = Some(m);
            }
            if let Some(o) = stdout {
                tokio::spawn(pump(o, STDOUT, out_tx.clone()));
                outputs += 1;
            }
            if let Some(e) = stderr {
                tokio::spawn(pump(e, STDERR, out_tx.clone()));
                outputs += 1;
            }
            (child, stdin)
        }
        Err(why) => {
            finish(&mut ws, proto, &Outcome::Failed(why), &opts.command).await;
            return;
        }
    };
    drop(out_tx);
    // stdin: a task writes what the client sends, in order, and closes it at the end.
    let input = match stdin_writer {
        StdinWriter::None => Input::None,
        StdinWriter::Pipe(mut w) => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Option<Bytes>>();
            tokio::spawn(async move {
                while let Some(Some(chunk)) = rx.recv().await {
                    if w.write_all(&chunk).await.is_err() || w.flush().await.is_err() {
                        break;
                    }
                }
            });
            Input::Pipe(tx)
        }
        StdinWriter::Pty(m) => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Option<Bytes>>();
            tokio::spawn(async move {
                while let Some(Some(chunk)) = rx.recv().await {
                    if m.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            });
            Input::Pipe(tx)
        }
    };
    let mut input = Some(input);
    let mut resize_buf = Vec::new();
    let mut exit: Option<ExitStatus> = None;
    let drain_deadline = tokio::time::sleep(Duration::from_secs(86_400 * 365));
    tokio::pin!(drain_deadline);
    loop {
        if exit.is_some() && outputs == 0 {
            break;
        }
        tokio::select! {
            msg = ws.next() => {
                let msg = match msg {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        // The client went away: so does the command.
                        let _ = child.start_kill();
                        return;
                    }
                    Some(Ok(m)) => m,
                };
                match parse(proto, &msg) {
                    Ok(Inbound::Data(STDIN, data)) => {
                        if let Some(Input::Pipe(tx)) = &input {
                            let _ = tx.send(Some(Bytes::from(data)));
                        }
                    }
                    Ok(Inbound::Close(STDIN)) => {
                        // The terminal stays open for the command; only pipes are closed.
                        if !opts.tty {
                            if let Some(Input::Pipe(tx)) = input.take() {
                                let _ = tx.send(None);
                            }
                        }
                    }
                    Ok(Inbound::Data(RESIZE, data)) => {
                        resize_buf.extend_from_slice(&data);
                        for size in parse_sizes(&mut resize_buf) {
                            if let Some(p) = &pty {
                                p.resize(size);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("exec: {e}");
                        let _ = child.start_kill();
                        return;
                    }
                }
            }
            out = out_rx.recv(), if outputs > 0 => match out {
                Some(Out::Data(ch, data)) => {
                    if ws.send(frame(proto, ch, &data)).await.is_err() {
                        let _ = child.start_kill();
                        return;
                    }
                }
                Some(Out::Eof) => outputs -= 1,
                None => outputs = 0,
            },
            status = child.wait(), if exit.is_none() => {
                exit = Some(status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(1 << 8)));
                drain_deadline.as_mut().reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            }
            _ = &mut drain_deadline, if exit.is_some() => break,
        }
    }
    drop(input);
    let outcome = Outcome::of(exit.unwrap_or_else(|| std::os::unix::process::ExitStatusExt::from_raw(0)));
    finish(&mut ws, proto, &outcome, &opts.command).await;
}

/// `kubectl attach` (without `-i`/`-t`): the container's output as its runtime writes it
/// to the log file `log`, from now until the attempt ends (`running()` turns false) or
/// the client goes away; stdout records on the stdout channel, stderr on stderr.
pub async fn run_attach<S>(mut ws: WebSocketStream<S>, proto: Protocol, opts: ExecOptions, log: std::path::PathBuf, running: Box<dyn Fn() -> bool + Send>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = if opts.stdout { STDOUT } else { STDERR };
    if ws.send(frame(proto, first, &[])).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Out>(16);
    let reader = tokio::task::spawn_blocking(move || {
        let result = crate::logs::follow_from_end(&log, &*running, &mut |records: &[crate::logs::Record]| {
            if records.is_empty() {
                return !tx.is_closed();
            }
            for r in records {
                let channel = match r.stream {
                    crate::logs::LogStream::Stdout if opts.stdout => STDOUT,
                    crate::logs::LogStream::Stderr if opts.stderr => STDERR,
                    _ => continue,
                };
                let mut data = r.content.to_vec();
                if !r.partial {
                    data.push(b'\n');
                }
                if tx.blocking_send(Out::Data(channel, Bytes::from(data))).is_err() {
                    return false;
                }
            }
            true
        });
        let _ = tx.blocking_send(Out::Eof);
        result
    });
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            out = rx.recv() => match out {
                Some(Out::Data(ch, data)) => {
                    if ws.send(frame(proto, ch, &data)).await.is_err() {
                        return;
                    }
                }
                Some(Out::Eof) | None => break,
            },
        }
    }
    let outcome = match reader.await {
        Ok(Ok(())) => Outcome::Exited(0),
        Ok(Err(e)) => Outcome::Failed(format!("reading the container's output: {e}")),
        Err(e) => Outcome::Failed(e.to_string()),
    };
    finish(&mut ws, proto, &outcome, &[]).await;
}

/// Sends the outcome on the error channel and closes the websocket normally.
async fn finish<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, proto: Protocol, outcome: &Outcome, argv: &[String]) {
    if let Some(msg) = status_message(proto, outcome, argv) {
        let _ = ws.send(frame(proto, ERROR, &msg)).await;
    }
    let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
    // Wait (briefly) for the client's close frame so that ours is not cut off by a reset.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

enum StdinWriter {
    None,
    Pipe(tokio::process::ChildStdin),
    Pty(Arc<PtyMaster>),
}

struct Spawned {
    child: tokio::process::Child,
    stdin: StdinWriter,
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    master: Option<Arc<PtyMaster>>,
}

fn spawn_error(cmd: &std::process::Command, e: &std::io::Error) -> String {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("exec: {program:?}: executable file not found in $PATH"),
        std::io::ErrorKind::PermissionDenied => format!("exec: {program:?}: permission denied"),
        _ => format!("exec: {program:?}: {e}"),
    }
}

fn spawn_pipes(cmd: &mut std::process::Command, opts: &ExecOptions) -> Result<Spawned, String> {
    let pipe = |yes: bool| if yes { Stdio::piped() } else { Stdio::null() };
    cmd.stdin(pipe(opts.stdin)).stdout(pipe(opts.stdout)).stderr(pipe(opts.stderr));
    let mut tcmd = tokio::process::Command::from(std::mem::replace(cmd, std::process::Command::new("/")));
    tcmd.kill_on_drop(true);
    let mut child = tcmd.spawn().map_err(|e| spawn_error(tcmd.as_std(), &e))?;
    let stdin = child.stdin.take().map_or(StdinWriter::None, StdinWriter::Pipe);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    Ok(Spawned { child, stdin, stdout, stderr, master: None })
}

fn spawn_tty(cmd: &mut std::process::Command, opts: &ExecOptions) -> Result<Spawned, String> {
    use std::os::unix::process::CommandExt;
    let pty = nix::pty::openpty(None, None).map_err(|e| format!("allocating a terminal: {e}"))?;
    let slave = pty.slave;
    let io = |fd: &OwnedFd| fd.try_clone().map(Stdio::from).map_err(|e| format!("allocating a terminal: {e}"));
    cmd.stdin(io(&slave)?).stdout(io(&slave)?).stderr(io(&slave)?);
    if !cmd.get_envs().any(|(k, _)| k == "TERM") {
        cmd.env("TERM", "xterm");
    }
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut tcmd = tokio::process::Command::from(std::mem::replace(cmd, std::process::Command::new("/")));
    tcmd.kill_on_drop(true);
    let child = tcmd.spawn().map_err(|e| spawn_error(tcmd.as_std(), &e))?;
    // The command's copies are its own now; ours must go, or reads never see the end.
    drop(tcmd);
    drop(slave);
    nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).map_err(|e| format!("terminal: {e}"))?;
    // SAFETY: the descriptor belongs to the OwnedFd moved in, open for as long as the AsyncFd lives.
    let master = unsafe { AsyncFd::register(pty.master) }.map_err(|e| format!("terminal: {e}"))?;
    let master = Arc::new(PtyMaster(master));
    let stdin = if opts.stdin { StdinWriter::Pty(master.clone()) } else { StdinWriter::None };
    Ok(Spawned { child, stdin, stdout: None, stderr: None, master: Some(master) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(Some("v5.channel.k8s.io")), Ok((Protocol::V5, true)));
        assert_eq!(negotiate(Some("v4.channel.k8s.io, v5.channel.k8s.io")), Ok((Protocol::V4, true)));
        assert_eq!(negotiate(Some("foo,base64.channel.k8s.io")), Ok((Protocol::V1Base64, true)));
        assert_eq!(negotiate(None), Ok((Protocol::V1, false)));
        let err = negotiate(Some("v6.channel.k8s.io")).unwrap_err();
        assert!(err.starts_with("requested protocol(s) are not supported: [v6.channel.k8s.io]; supports [v5.channel.k8s.io"), "{err}");
    }

    #[test]
    fn framing() {
        assert_eq!(frame(Protocol::V5, STDOUT, b"hi"), Message::Binary(Bytes::from_static(&[1, b'h', b'i'])));
        assert_eq!(frame(Protocol::V4Base64, STDERR, b"hi"), Message::Text("2aGk=".into()));
        assert_eq!(parse(Protocol::V5, &Message::Binary(Bytes::from_static(&[0, b'x']))), Ok(Inbound::Data(0, b"x".to_vec())));
        assert_eq!(parse(Protocol::V5, &Message::Binary(Bytes::from_static(&[255, 0]))), Ok(Inbound::Close(0)));
        assert!(parse(Protocol::V5, &Message::Binary(Bytes::from_static(&[255, 0, 1]))).is_err());
        // Before v5, 255 is just an (unknown) channel.
        assert_eq!(parse(Protocol::V4, &Message::Binary(Bytes::from_static(&[255, 0]))), Ok(Inbound::Data(255, vec![0])));
        assert_eq!(parse(Protocol::V4Base64, &Message::Text("0aGk=".into())), Ok(Inbound::Data(0, b"hi".to_vec())));
        assert_eq!(parse(Protocol::V5, &Message::Binary(Bytes::new())), Ok(Inbound::Nothing));
        assert_eq!(parse(Protocol::V5, &Message::Ping(Bytes::new())), Ok(Inbound::Nothing));
    }

    #[test]
    fn statuses() {
        let argv: Vec<String> = ["sh", "-c", "exit 3"].iter().map(|s| s.to_string()).collect();
        let ok: Value = serde_json::from_slice(&status_message(Protocol::V5, &Outcome::Exited(0), &argv).expect("v5")).expect("json");
        assert_eq!(ok, json!({"metadata": {}, "status": "Success"}));
        let fail: Value = serde_json::from_slice(&status_message(Protocol::V4, &Outcome::Exited(3), &argv).expect("v4")).expect("json");
        assert_eq!(fail["reason"], "NonZeroExitCode");
        assert_eq!(fail["details"]["causes"], json!([{"reason": "ExitCode", "message": "3"}]));
        assert_eq!(fail["message"], "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3");
        assert_eq!(status_message(Protocol::V1, &Outcome::Exited(0), &argv), None);
        let v1 = status_message(Protocol::V1, &Outcome::Exited(3), &argv).expect("v1");
        assert!(String::from_utf8_lossy(&v1).starts_with("command terminated with non-zero exit code"));
        let failed: Value = serde_json::from_slice(&status_message(Protocol::V5, &Outcome::Failed("exec: \"nope\": executable file not found in $PATH".into()), &argv).expect("v5")).expect("json");
        assert_eq!(failed["reason"], "InternalError");
        assert_eq!(failed["message"], "Internal error occurred: error executing command in container: exec: \"nope\": executable file not found in $PATH");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(Outcome::of(ExitStatus::from_raw(3 << 8)), Outcome::Exited(3));
        assert_eq!(Outcome::of(ExitStatus::from_raw(9)), Outcome::Exited(137));
    }

    #[test]
    fn options() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let o = ExecOptions::from_query(&q(&[("command", "sh"), ("command", "-c"), ("command", "echo a"), ("output", "1"), ("error", "1"), ("tty", "1"), ("input", "1")])).expect("ok");
        assert_eq!(o, ExecOptions { command: vec!["sh".into(), "-c".into(), "echo a".into()], stdin: true, stdout: true, stderr: false, tty: true });
        assert_eq!(ExecOptions::from_query(&q(&[("command", "ls")])), Err("you must specify at least 1 of stdin, stdout, stderr".to_string()));
        assert!(ExecOptions::from_query(&q(&[("output", "1")])).is_err());
    }

    #[test]
    fn resize_messages() {
        let mut buf = br#"{"Width":80,"Height":24}{"Width":100,"#.to_vec();
        assert_eq!(parse_sizes(&mut buf), vec![TerminalSize { width: 80, height: 24 }]);
        buf.extend_from_slice(br#""Height":30}"#);
        assert_eq!(parse_sizes(&mut buf), vec![TerminalSize { width: 100, height: 30 }]);
        assert!(buf.is_empty());
        let mut junk = b"nope".to_vec();
        assert!(parse_sizes(&mut junk).is_empty());
        assert!(junk.is_empty());
    }
}
