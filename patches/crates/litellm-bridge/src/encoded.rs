//! A chat request body serialized once, in pieces of [`PIECE`] bytes: what every attempt
//! sends (pieces are shared, not copied), and what the bridge keeps of the request.
//!
//! On a big history the body is the largest thing the bridge holds. Built from an owned
//! `Value`, each message is dropped as soon as it is written, so the `Value` and its bytes
//! are never both whole in memory, and the pieces (all one size) reuse the freed memory.

use crate::lean::Segment;
use crate::lean::Splices;
use bytes::Bytes;
use serde_json::Value;
use std::io::Read;
use std::io::Write;

/// Size of one piece: large enough that sending is not dominated by per-piece overhead.
pub const PIECE: usize = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct EncodedBody {
    pieces: Vec<Bytes>,
    len: u64,
    /// Serialized length of `messages` and `tools` (the usage estimate's input).
    prompt_bytes: u64,
}

impl EncodedBody {
    /// Serializes `body`, leaving it untouched.
    pub fn encode(body: &Value) -> Result<Self, serde_json::Error> {
        Self::encode_owned(body.clone(), None)
    }

    /// Serializes `body`, dropping each message once written. The bytes are exactly
    /// `serde_json::to_vec(&body)`, with the texts `splices` references (see `lean.rs`)
    /// written back in as shared slices of upstream's bytes.
    pub fn encode_owned(body: Value, splices: Option<&Splices>) -> Result<Self, serde_json::Error> {
        let mut out = PieceWriter::default();
        let mut prompt_bytes = 0;
        match body {
            Value::Object(map) => {
                out.put(b"{");
                for (n, (key, value)) in map.into_iter().enumerate() {
                    if n > 0 {
                        out.put(b",");
                    }
                    serde_json::to_writer(&mut out, &key)?;
                    out.put(b":");
                    let start = out.len;
                    match value {
                        Value::Array(items) if key == "messages" => {
                            out.put(b"[");
                            for (i, item) in items.into_iter().enumerate() {
                                if i > 0 {
                                    out.put(b",");
                                }
                                match splices {
                                    Some(splices) => write_spliced(&mut out, &item, splices)?,
                                    None => serde_json::to_writer(&mut out, &item)?,
                                }
                            }
                            out.put(b"]");
                        }
                        value => serde_json::to_writer(&mut out, &value)?,
                    }
                    if key == "messages" || key == "tools" {
                        prompt_bytes += out.len - start;
                    }
                }
                out.put(b"}");
            }
            other => serde_json::to_writer(&mut out, &other)?,
        }
        Ok(out.finish(prompt_bytes))
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Serialized length of the body's `messages` and `tools`.
    pub fn prompt_bytes(&self) -> u64 {
        self.prompt_bytes
    }

    /// The body as a `Value` again, for the rare request derived from it (a continuation,
    /// a prefill, a retry without streaming).
    pub fn decode(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_reader(std::io::BufReader::new(PieceReader {
            pieces: &self.pieces,
            piece: 0,
            offset: 0,
        }))
    }

    /// All bytes in one buffer (tests, small bodies).
    pub fn to_vec(&self) -> Vec<u8> {
        self.pieces.concat()
    }

    /// A body for reqwest sharing the pieces. The caller sets `Content-Length` to
    /// [`EncodedBody::len`], so the request is sent exactly as a one-buffer body would be.
    pub fn to_request_body(&self) -> reqwest::Body {
        match self.pieces.as_slice() {
            [] => reqwest::Body::from(Bytes::new()),
            [one] => reqwest::Body::from(one.clone()),
            pieces => {
                let pieces = pieces.to_vec();
                reqwest::Body::wrap_stream(futures::stream::iter(
                    pieces.into_iter().map(Ok::<Bytes, std::io::Error>),
                ))
            }
        }
    }
}

#[derive(Default)]
struct PieceWriter {
    pieces: Vec<Bytes>,
    current: Vec<u8>,
    len: u64,
}

impl PieceWriter {
    fn put(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            if self.current.capacity() == 0 {
                self.current = Vec::with_capacity(PIECE);
            }
            let room = PIECE - self.current.len();
            let (now, rest) = bytes.split_at(bytes.len().min(room));
            self.current.extend_from_slice(now);
            bytes = rest;
            if self.current.len() == PIECE {
                self.pieces
                    .push(Bytes::from(std::mem::take(&mut self.current)));
            }
        }
    }

    /// Appends `bytes` as a piece of its own, shared, not copied.
    fn put_shared(&mut self, bytes: Bytes) {
        if !self.current.is_empty() {
            self.pieces.push(Bytes::copy_from_slice(&self.current));
            self.current.clear();
        }
        self.len += bytes.len() as u64;
        if !bytes.is_empty() {
            self.pieces.push(bytes);
        }
    }

    fn finish(mut self, prompt_bytes: u64) -> EncodedBody {
        if !self.current.is_empty() {
            self.current.shrink_to_fit();
            self.pieces.push(Bytes::from(self.current));
        }
        EncodedBody {
            pieces: self.pieces,
            len: self.len,
            prompt_bytes,
        }
    }
}

impl Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as `serde_json::to_writer` writes it, with referenced texts written back in.
fn write_spliced(
    out: &mut PieceWriter,
    value: &Value,
    splices: &Splices,
) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            out.put(b"{");
            for (n, (key, value)) in map.iter().enumerate() {
                if n > 0 {
                    out.put(b",");
                }
                serde_json::to_writer(&mut *out, key)?;
                out.put(b":");
                write_spliced(out, value, splices)?;
            }
            out.put(b"}");
        }
        Value::Array(items) => {
            out.put(b"[");
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.put(b",");
                }
                write_spliced(out, item, splices)?;
            }
            out.put(b"]");
        }
        Value::String(text) => match splices.segments(text) {
            None => serde_json::to_writer(&mut *out, text)?,
            Some(segments) => {
                out.put(b"\"");
                for segment in segments {
                    match segment {
                        Segment::Text(text) => {
                            let quoted = serde_json::to_vec(text)?;
                            out.put(&quoted[1..quoted.len() - 1]);
                        }
                        Segment::Escaped(bytes) => out.put_shared(bytes),
                    }
                }
                out.put(b"\"");
            }
        },
        other => serde_json::to_writer(&mut *out, other)?,
    }
    Ok(())
}

struct PieceReader<'a> {
    pieces: &'a [Bytes],
    piece: usize,
    offset: usize,
}

impl Read for PieceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(piece) = self.pieces.get(self.piece) {
            let rest = &piece[self.offset..];
            if rest.is_empty() {
                self.piece += 1;
                self.offset = 0;
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.offset += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// Bytes `value` serializes to, counted without building them.
pub fn serialized_len(value: &Value) -> u64 {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn big_body() -> Value {
        let big = "h\"é\n".repeat(PIECE / 2);
        json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "You are Codex."},
                {"role": "user", "content": big},
                {"role": "user", "content": "x".repeat(PIECE * 2 + 7)},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]},
            ],
            "stream": true,
            "tools": [{"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}],
        })
    }

    #[test]
    fn pieces_are_exactly_the_one_buffer_serialization() {
        let body = big_body();
        let expected = serde_json::to_vec(&body).unwrap();
        let encoded = EncodedBody::encode_owned(body.clone(), None).unwrap();
        assert_eq!(encoded.len(), expected.len() as u64);
        assert_eq!(encoded.to_vec(), expected);
        assert!(encoded.pieces.len() > 2, "{}", encoded.pieces.len());
        assert!(
            encoded
                .pieces
                .iter()
                .rev()
                .skip(1)
                .all(|p| p.len() == PIECE)
        );
        assert_eq!(encoded.decode().unwrap(), body);
        let prompt = serialized_len(&body["messages"]) + serialized_len(&body["tools"]);
        assert_eq!(encoded.prompt_bytes(), prompt);
    }

    #[test]
    fn small_and_non_object_bodies() {
        for body in [
            json!({}),
            json!({"model": "m"}),
            json!([1, "two"]),
            json!(null),
        ] {
            let encoded = EncodedBody::encode(&body).unwrap();
            assert_eq!(encoded.to_vec(), serde_json::to_vec(&body).unwrap());
            assert_eq!(encoded.decode().unwrap(), body);
            assert_eq!(serialized_len(&body), encoded.len());
        }
    }
}
