//! A deliberately small HTTP/1.1 server side: one request per connection, byte-level control
//! over the response (cuts, stalls, invalid bytes).

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::render::Plan;
use crate::scenario::Framing;

const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// In arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The peer closed (or failed) before sending a whole request.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The bytes are not an HTTP/1.x request we can serve; answer with this status.
    #[error("{message}")]
    Bad {
        status: u16,
        message: String,
        /// Method and path, when the request line could be read.
        method: Option<String>,
        path: Option<String>,
    },
}

fn bad(status: u16, message: impl Into<String>) -> ReadError {
    ReadError::Bad {
        status,
        message: message.into(),
        method: None,
        path: None,
    }
}

struct Reader<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Reader<'_> {
    async fn fill(&mut self) -> Result<(), ReadError> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 8192];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| ReadError::Closed(e.to_string()))?;
        if n == 0 {
            return Err(ReadError::Closed("eof".to_string()));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads up to and including `\r\n`; returns the line without it.
    async fn line(&mut self, max: usize) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(i) = find(self.available(), b"\r\n") {
                let line = self.available()[..i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.available().len() > max {
                return Err(bad(400, "line too long"));
            }
            self.fill().await?;
        }
    }

    async fn exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.available().len() < n {
            self.fill().await?;
        }
        let out = self.available()[..n].to_vec();
        self.pos += n;
        Ok(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request (head and body). Answers `Expect: 100-continue` on the way.
pub(crate) async fn read_request(stream: &mut TcpStream) -> Result<HttpRequest, ReadError> {
    let mut reader = Reader {
        stream,
        buf: Vec::new(),
        pos: 0,
    };
    // Head.
    let head_end = loop {
        if let Some(i) = find(reader.available(), b"\r\n\r\n") {
            break i;
        }
        if reader.available().len() > MAX_HEAD_BYTES {
            return Err(bad(431, "request head too large"));
        }
        reader.fill().await?;
    };
    let head = String::from_utf8_lossy(&reader.available()[..head_end]).to_string();
    reader.pos += head_end + 4;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(400, format!("malformed request line `{request_line}`")));
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let line_path = path.clone();
    let with_line = |status: u16, message: String| ReadError::Bad {
        status,
        message,
        method: Some(method.to_string()),
        path: Some(line_path.clone()),
    };
    if !version.starts_with("HTTP/1.") {
        return Err(with_line(505, format!("unsupported version `{version}`")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(with_line(400, format!("malformed header line `{line}`")));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = HttpRequest {
        method: method.to_string(),
        path,
        query,
        headers,
        body: Vec::new(),
    };

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let content_length = match request.header("content-length") {
        None => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_BODY_BYTES => Some(n),
            Ok(_) => return Err(with_line(413, "request body too large".to_string())),
            Err(_) => return Err(with_line(400, format!("bad content-length `{v}`"))),
        },
    };
    let has_body = chunked || content_length.is_some_and(|n| n > 0);
    if has_body
        && request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        reader
            .stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|e| ReadError::Closed(e.to_string()))?;
    }
    if chunked {
        let mut body = Vec::new();
        loop {
            let size_line = reader.line(1024).await?;
            let size_text = String::from_utf8_lossy(&size_line);
            let size_hex = size_text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| with_line(400, format!("bad chunk size `{size_text}`")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !reader.line(MAX_HEAD_BYTES).await?.is_empty() {}
                break;
            }
            if body.len() + size > MAX_BODY_BYTES {
                return Err(with_line(413, "request body too large".to_string()));
            }
            body.extend(reader.exact(size).await?);
            if !reader.line(2).await?.is_empty() {
                return Err(with_line(400, "chunk not followed by CRLF".to_string()));
            }
        }
        request.body = body;
    } else if let Some(n) = content_length {
        request.body = reader.exact(n).await?;
    }
    Ok(request)
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Mock Status",
    }
}

/// How sending a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything sent, connection closed normally.
    Complete,
    /// Closed on purpose after `cut_after_bytes`.
    Cut,
    /// Held open on purpose (stall / keep-open) until the client left or the cap passed.
    HeldOpen,
}

/// Sends `plan` on `stream`, misbehaving as it says. I/O errors mean the client went away.
pub(crate) async fn write_response(
    stream: &mut TcpStream,
    plan: &Plan,
) -> std::io::Result<Outcome> {
    if plan.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.delay_ms)).await;
    }
    let total: usize = plan.units.iter().map(Vec::len).sum();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        plan.status,
        reason_phrase(plan.status)
    );
    for (name, value) in &plan.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match plan.framing {
        Some(Framing::Chunked) => head.push_str("transfer-encoding: chunked\r\n"),
        Some(Framing::Length) => head.push_str(&format!("content-length: {total}\r\n")),
        Some(Framing::Close) | None => {}
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;

    let chunked = plan.framing == Some(Framing::Chunked);
    let mut sent = 0usize;
    for (i, unit) in plan.units.iter().enumerate() {
        if plan.stall_after_events.is_some_and(|n| i >= n) {
            hold_open(stream, plan.hold_open_max_ms).await;
            return Ok(Outcome::HeldOpen);
        }
        if i > 0 && plan.chunk_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(plan.chunk_delay_ms)).await;
        }
        if unit.is_empty() {
            // An empty HTTP chunk would end a chunked body.
            continue;
        }
        let take = plan
            .cut_after_bytes
            .map_or(unit.len(), |n| n.saturating_sub(sent).min(unit.len()));
        if take > 0 {
            let mut out = Vec::with_capacity(unit.len() + 16);
            if chunked {
                out.extend_from_slice(format!("{:x}\r\n", unit.len()).as_bytes());
            }
            out.extend_from_slice(&unit[..take]);
            if chunked && take == unit.len() {
                out.extend_from_slice(b"\r\n");
            }
            stream.write_all(&out).await?;
            sent += take;
        }
        if plan.cut_after_bytes.is_some_and(|n| sent >= n) {
            // Stop here: no final chunk, fewer bytes than content-length.
            cut(stream).await;
            return Ok(Outcome::Cut);
        }
    }
    if plan.keep_open_after_done || plan.stall_after_events.is_some() {
        // Everything sent, but the body is never ended and the socket stays open.
        hold_open(stream, plan.hold_open_max_ms).await;
        return Ok(Outcome::HeldOpen);
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(Outcome::Complete)
}

/// Closes the connection (FIN) without ending the body.
async fn cut(stream: &mut TcpStream) {
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// Keeps the socket open, sending nothing, until the peer closes it or `max_ms` passes.
async fn hold_open(stream: &mut TcpStream, max_ms: u64) {
    let _ = stream.flush().await;
    let wait_for_close = async {
        let mut sink = [0u8; 1024];
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(max_ms), wait_for_close).await;
}

/// A minimal complete response (used for 400/404 and the models list).
pub(crate) fn simple_plan(status: u16, body: serde_json::Value) -> Plan {
    Plan {
        status,
        headers: vec![("content-type".to_string(), "application/json".to_string())],
        units: vec![body.to_string().into_bytes()],
        framing: Some(Framing::Length),
        delay_ms: 0,
        chunk_delay_ms: 0,
        cut_after_bytes: None,
        stall_after_events: None,
        keep_open_after_done: false,
        hold_open_max_ms: 0,
    }
}
