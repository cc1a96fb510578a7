//! A small HTTP/1.1 client over a plain socket, for `codex-litellm serve`: whole answers
//! (de-chunked), and event streams read one SSE event at a time with its arrival time, so
//! a test can see keepalive comments, measure the first text byte, or hang up mid-stream.
//! Every read has a time limit: a server that hangs fails the test instead of stalling it.

use std::io::BufRead as _;
use std::io::BufReader;
use std::io::Read as _;
use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;

/// How long any read may wait for the server.
pub const READ_LIMIT: Duration = Duration::from_secs(180);

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// An open response whose body is read piece by piece.
pub struct Open {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    started: Instant,
    chunked: bool,
    /// Bytes of the body left (content-length) or of the current chunk.
    left: Option<usize>,
    done: bool,
    pending: Vec<u8>,
}

/// Sends `method path` with `body` (JSON) and `key` (Bearer) to `addr` (`host:port`);
/// returns once the answer's head has arrived.
pub fn open(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Open> {
    let started = Instant::now();
    let stream = send(addr, method, path, key, body)?;
    read_head(stream, started)
}

/// Sends the request and returns at once, without reading anything (a client that may
/// hang up before the answer starts: `shutdown` the socket).
pub fn send(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(READ_LIMIT))?;
    stream.set_nodelay(true)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(key) = key {
        head += &format!("Authorization: Bearer {key}\r\n");
    }
    if method == "POST" {
        head += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head += "\r\n";
    (&stream).write_all(head.as_bytes())?;
    (&stream).write_all(body.as_bytes())?;
    Ok(stream)
}

fn read_head(stream: TcpStream, started: Instant) -> std::io::Result<Open> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("not an HTTP status line: {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let chunked = get("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let left = get("content-length").and_then(|v| v.parse().ok());
    Ok(Open {
        status,
        headers,
        reader,
        started,
        chunked,
        left: if chunked { None } else { left },
        done: false,
        pending: Vec::new(),
    })
}

fn bad(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl Open {
    /// The next piece of the body (`None` at its end).
    pub fn piece(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        if self.chunked {
            let mut size = String::new();
            self.reader.read_line(&mut size)?;
            let hex = size.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(hex, 16)
                .map_err(|_| bad(format!("bad chunk size line {size:?}")))?;
            let mut data = vec![0; n + 2]; // the chunk and its CRLF
            self.reader.read_exact(&mut data)?;
            data.truncate(n);
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            return Ok(Some(data));
        }
        let want = self.left.map_or(64 * 1024, |l| l.min(64 * 1024));
        if want == 0 {
            self.done = true;
            return Ok(None);
        }
        let mut data = vec![0; want];
        let n = self.reader.read(&mut data)?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        data.truncate(n);
        self.left = self.left.map(|l| l - n);
        Ok(Some(data))
    }

    /// The rest of the body.
    pub fn finish(mut self) -> std::io::Result<Answer> {
        let mut body = std::mem::take(&mut self.pending);
        while let Some(piece) = self.piece()? {
            body.extend(piece);
        }
        Ok(Answer {
            status: self.status,
            headers: self.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// The next SSE event (a `data:` event or a `:` comment, without its blank line) and
    /// the seconds since the request was sent; `None` at the end of the stream.
    pub fn event(&mut self) -> std::io::Result<Option<(f64, String)>> {
        loop {
            if let Some(at) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.pending.drain(..at + 2).collect();
                let text = String::from_utf8_lossy(&event[..at]).into_owned();
                return Ok(Some((self.started.elapsed().as_secs_f64(), text)));
            }
            match self.piece()? {
                Some(piece) => self.pending.extend(piece),
                None if self.pending.is_empty() => return Ok(None),
                None => {
                    let rest = std::mem::take(&mut self.pending);
                    let text = String::from_utf8_lossy(&rest).into_owned();
                    return Ok(Some((self.started.elapsed().as_secs_f64(), text)));
                }
            }
        }
    }

    /// Hangs up (closing the socket both ways), as a client that goes away.
    pub fn hang_up(self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

/// `method path` to the end.
pub fn call(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Answer> {
    open(addr, method, path, key, body)?.finish()
}

/// The JSON object of an SSE `data:` event (`None` for comments and `[DONE]`).
pub fn data(event: &str) -> Option<Value> {
    let payload: String = event
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim_start)
        .collect();
    serde_json::from_str(&payload).ok()
}
