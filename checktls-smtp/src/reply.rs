//! SMTP replies (RFC 5321 §4.2): a bounded, incremental parser.
//!
//! ```text
//!   bytes from the server ──► ReplyParser::feed ──► next_reply() ──► Reply { code, enhanced, lines }
//!                              (bounded: line length, lines per reply, bytes per reply)
//! ```
//!
//! ```
//! use checktls_smtp::reply::{ReplyParser, Limits};
//!
//! let mut p = ReplyParser::new(Limits::default());
//! p.feed(b"250-2.0.0 mx.example.com\r\n250-STARTTLS\r\n250 2.0.0 OK\r\n");
//! let reply = p.next_reply().unwrap().unwrap();
//! assert_eq!(reply.code, 250);
//! assert_eq!(reply.lines.len(), 3);
//! assert_eq!(reply.enhanced.unwrap().to_string(), "2.0.0");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// Bounds on what the parser keeps, against hostile servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Limits {
    /// The longest line, without its line ending. RFC 5321 allows 512 octets; servers exceed
    /// it. Default: 8192.
    pub max_line: usize,
    /// The most lines in one reply. Default: 256.
    pub max_lines: usize,
    /// The most bytes in one reply. Default: 64 KiB.
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 8192,
            max_lines: 256,
            max_reply: 64 * 1024,
        }
    }
}

/// An enhanced status code (RFC 3463), e.g. `2.1.5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnhancedCode {
    /// Class: 2, 4 or 5.
    pub class: u8,
    /// Subject.
    pub subject: u16,
    /// Detail.
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply: a code and one or more lines of text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code of the first line, when present.
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line, after the code and separator (lossy UTF-8).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
    /// The first line's text.
    pub fn text(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }
    /// The reply as the server sent it, one line per line (`250-...`, `250 ...`).
    pub fn wire_lines(&self) -> Vec<String> {
        let n = self.lines.len();
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let sep = if i + 1 == n { ' ' } else { '-' };
                if l.is_empty() && i + 1 == n {
                    format!("{}", self.code)
                } else {
                    format!("{}{sep}{l}", self.code)
                }
            })
            .collect()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.wire_lines().join(" / "))
    }
}

/// Why bytes from the server are not a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplyError {
    /// A line longer than [`Limits::max_line`].
    #[error("a reply line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A reply of more than [`Limits::max_lines`] lines or [`Limits::max_reply`] bytes.
    #[error("a reply of more than {limit_lines} lines or {limit_bytes} bytes")]
    ReplyTooLarge {
        /// The line limit.
        limit_lines: usize,
        /// The byte limit.
        limit_bytes: usize,
    },
    /// A line that does not start with a three-digit code and a separator.
    #[error("not an SMTP reply line: {line:?}")]
    Malformed {
        /// The line (at most 80 characters).
        line: String,
    },
    /// A multi-line reply whose lines carry different codes.
    #[error("reply lines with different codes ({first} then {then})")]
    MixedCodes {
        /// The first line's code.
        first: u16,
        /// The offending line's code.
        then: u16,
    },
}

/// An incremental reply parser: feed it bytes as they come, take replies as they complete.
#[derive(Clone, Debug, Default)]
pub struct ReplyParser {
    limits: Limits,
    buf: Vec<u8>,
    lines: Vec<String>,
    code: Option<u16>,
    reply_bytes: usize,
}

impl ReplyParser {
    /// A parser with these bounds.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Adds bytes received. Nothing is parsed until [`next_reply`](Self::next_reply).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet part of a reply.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Forgets bytes received and not yet parsed (plaintext injected before TLS is discarded).
    pub fn discard_pending(&mut self) -> Vec<u8> {
        self.lines.clear();
        self.code = None;
        self.reply_bytes = 0;
        std::mem::take(&mut self.buf)
    }

    /// Whether the buffered bytes without a line end already exceed the line limit: the caller
    /// stops reading.
    pub fn over_limit(&self) -> bool {
        !self.buf.contains(&b'\n') && self.buf.len() > self.limits.max_line + 1
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > self.limits.max_line + 1 {
                    return Err(ReplyError::LineTooLong {
                        limit: self.limits.max_line,
                    });
                }
                return Ok(None);
            };
            let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > self.limits.max_line {
                return Err(ReplyError::LineTooLong {
                    limit: self.limits.max_line,
                });
            }
            self.reply_bytes += line.len() + 2;
            if self.lines.len() >= self.limits.max_lines || self.reply_bytes > self.limits.max_reply
            {
                return Err(ReplyError::ReplyTooLarge {
                    limit_lines: self.limits.max_lines,
                    limit_bytes: self.limits.max_reply,
                });
            }
            let (code, last, text) = parse_line(&line)?;
            match self.code {
                Some(first) if first != code => {
                    return Err(ReplyError::MixedCodes { first, then: code });
                }
                _ => self.code = Some(code),
            }
            self.lines.push(text);
            if last {
                let lines = std::mem::take(&mut self.lines);
                self.code = None;
                self.reply_bytes = 0;
                let enhanced = lines.first().and_then(|l| enhanced_code(l, code));
                return Ok(Some(Reply {
                    code,
                    enhanced,
                    lines,
                }));
            }
        }
    }
}

fn parse_line(line: &[u8]) -> Result<(u16, bool, String), ReplyError> {
    let malformed = || ReplyError::Malformed {
        line: String::from_utf8_lossy(line).chars().take(80).collect(),
    };
    let digits = line.get(..3).ok_or_else(malformed)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(200..600).contains(&code) {
        return Err(malformed());
    }
    let (last, rest) = match line.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, line.get(4..).unwrap_or_default()),
        Some(b'-') => (false, line.get(4..).unwrap_or_default()),
        Some(_) => return Err(malformed()),
    };
    Ok((code, last, String::from_utf8_lossy(rest).into_owned()))
}

/// RFC 3463: "class.subject.detail" at the start of the text, class matching the code's first
/// digit.
fn enhanced_code(text: &str, code: u16) -> Option<EnhancedCode> {
    let word = text.split_ascii_whitespace().next()?;
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || u16::from(class) != code / 100 || subject > 999 || detail > 999 {
        return None;
    }
    Some(EnhancedCode {
        class,
        subject,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Result<Vec<Reply>, ReplyError> {
        let mut p = ReplyParser::new(Limits::default());
        p.feed(bytes);
        let mut out = Vec::new();
        while let Some(r) = p.next_reply()? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn single_and_multi_line() {
        let r = parse_all(b"220 mx ESMTP\r\n250-a\r\n250-b\r\n250 c\r\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].code, 220);
        assert_eq!(r[0].text(), "mx ESMTP");
        assert_eq!(r[1].lines, ["a", "b", "c"]);
        assert_eq!(r[1].wire_lines(), ["250-a", "250-b", "250 c"]);
    }

    #[test]
    fn bare_lf_and_code_only_lines() {
        let r = parse_all(b"250\n354 go ahead\n").unwrap();
        assert_eq!(r[0].code, 250);
        assert_eq!(r[0].lines, [""]);
        assert_eq!(r[1].code, 354);
        assert!(r[1].is_intermediate());
    }

    #[test]
    fn enhanced_codes() {
        let r = parse_all(b"550 5.1.1 <x@y>: Recipient address rejected\r\n").unwrap();
        assert_eq!(
            r[0].enhanced,
            Some(EnhancedCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        // The class must match the code.
        let r = parse_all(b"250 5.1.1 odd\r\n").unwrap();
        assert_eq!(r[0].enhanced, None);
    }

    #[test]
    fn incremental_feeding() {
        let mut p = ReplyParser::new(Limits::default());
        for b in b"250-a\r\n250 b\r\n" {
            assert_eq!(p.next_reply().unwrap(), None);
            p.feed(&[*b]);
        }
        assert_eq!(p.next_reply().unwrap().unwrap().lines, ["a", "b"]);
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn bounds() {
        let limits = Limits {
            max_line: 16,
            max_lines: 3,
            max_reply: 1024,
        };
        let mut p = ReplyParser::new(limits);
        p.feed(&[b'2'; 40]);
        assert!(p.over_limit());
        assert!(matches!(
            p.next_reply(),
            Err(ReplyError::LineTooLong { .. })
        ));
        let mut p = ReplyParser::new(limits);
        p.feed(b"250-a\r\n250-a\r\n250-a\r\n250-a\r\n250 a\r\n");
        assert!(matches!(
            p.next_reply(),
            Err(ReplyError::ReplyTooLarge { .. })
        ));
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"hello\r\n"[..],
            b"25\r\n",
            b"250x\r\n",
            b"999 no\r\n",
            b"abc def\r\n",
        ] {
            assert!(parse_all(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse_all(b"250-a\r\n251 b\r\n"),
            Err(ReplyError::MixedCodes {
                first: 250,
                then: 251
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut p = ReplyParser::new(Limits { max_line: 64, max_lines: 8, max_reply: 256 });
            p.feed(&bytes);
            for _ in 0..1000 {
                match p.next_reply() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }

        #[test]
        fn wire_lines_round_trip(code in 200u16..600, lines in proptest::collection::vec("[ -~]{0,40}", 1..6)) {
            // A line's text may not be empty except the last (code-only) line.
            let lines: Vec<String> = lines.into_iter().map(|l| if l.is_empty() { "x".into() } else { l }).collect();
            let reply = Reply { code, enhanced: None, lines };
            let wire = reply.wire_lines().join("\r\n") + "\r\n";
            let back = parse_all(wire.as_bytes()).unwrap();
            proptest::prop_assert_eq!(back.len(), 1);
            proptest::prop_assert_eq!(&back[0].lines, &reply.lines);
            proptest::prop_assert_eq!(back[0].code, code);
        }
    }
}
