//! The crate's one error type, and the position every parse error names.
//!
//! ```text
//!   parse(xml) ──► Err(Error::UnknownAttribute { at: 3:12, element: "Target", attribute: "Prot", expected: "..." })
//!                        │
//!                        └── Display: "3:12: unknown attribute Prot on <Target>; expected one of SNI, Host, Port, ..."
//! ```
//!
//! Errors never carry a secret: the value of `AuthPass` is never echoed, not even when it is
//! malformed.

use std::fmt;

/// A place in the batch file: line and column, both counted from 1; the column counts
/// characters, not bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[allow(clippy::exhaustive_structs)] // built with struct literals by callers in other crates (inputs, not results); a new field is a breaking change on purpose
pub struct Position {
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1, in characters.
    pub column: u32,
}

impl Position {
    /// The position of byte `offset` in `source` (clamped to the end; rounded down to a
    /// character boundary).
    pub fn of(source: &str, offset: usize) -> Self {
        let mut end = offset.min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let before = source.get(..end).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let text = before.get(line_start..).unwrap_or("");
        // A byte-order mark is not a column.
        let column = text.trim_start_matches('\u{feff}').chars().count() + 1;
        Self {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Everything that can stop a batch from being read, run or delivered. Findings about the
/// targets are never errors: they are results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is larger than the parser's size bound.
    #[error("the batch is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The input is not well-formed XML.
    #[error("{at}: the XML is not well-formed: {detail}")]
    Malformed {
        /// Where.
        at: Position,
        /// What the XML reader said.
        detail: String,
    },
    /// A `<!DOCTYPE>`: refused, so no entity is ever declared or expanded.
    #[error("{at}: a DOCTYPE is not allowed (entities are never declared or expanded)")]
    Doctype {
        /// Where.
        at: Position,
    },
    /// A reference to an entity other than the five predefined ones.
    #[error(
        "{at}: the entity reference &{name}; is not allowed; expected &lt; &gt; &amp; &apos; &quot; or a character reference"
    )]
    Entity {
        /// Where.
        at: Position,
        /// The entity's name.
        name: String,
    },
    /// The root element is not `BatchTest`.
    #[error("{at}: the root element is <{found}>; expected <BatchTest>")]
    Root {
        /// Where.
        at: Position,
        /// The element found.
        found: String,
    },
    /// An element that does not belong where it is.
    #[error("{at}: unexpected element <{found}> in <{parent}>; expected {expected}")]
    UnexpectedElement {
        /// Where.
        at: Position,
        /// The element found.
        found: String,
        /// The enclosing element.
        parent: &'static str,
        /// What may appear there.
        expected: &'static str,
    },
    /// An attribute the element does not have.
    #[error("{at}: unknown attribute {attribute} on <{element}>; expected {expected}")]
    UnknownAttribute {
        /// Where.
        at: Position,
        /// The element.
        element: &'static str,
        /// The attribute found, as written.
        attribute: String,
        /// The attributes the element has.
        expected: &'static str,
    },
    /// The same attribute twice on one element.
    #[error("{at}: attribute {attribute} appears twice on <{element}>")]
    DuplicateAttribute {
        /// Where (the second one).
        at: Position,
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: String,
    },
    /// An attribute or element value that is not one of the allowed ones.
    #[error("{at}: bad value {value:?} for {name} on <{element}>; expected {expected}")]
    BadValue {
        /// Where the value is.
        at: Position,
        /// The element.
        element: &'static str,
        /// The attribute (or `text` for the element's text).
        name: &'static str,
        /// The value found (never a secret).
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A secret value (`AuthPass`) that is not acceptable; the value is not shown.
    #[error(
        "{at}: the value of {name} on <{element}> is not acceptable ({reason}); the value is not shown"
    )]
    BadSecret {
        /// Where.
        at: Position,
        /// The element.
        element: &'static str,
        /// The attribute.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A required attribute or child is missing.
    #[error("{at}: <{element}> needs {what}")]
    Missing {
        /// Where the element starts.
        at: Position,
        /// The element.
        element: &'static str,
        /// What it needs.
        what: &'static str,
    },
    /// An element that may appear only once appears again.
    #[error("{at}: <{element}> may appear only once in <{parent}>")]
    Repeated {
        /// Where the second one starts.
        at: Position,
        /// The element.
        element: &'static str,
        /// The enclosing element.
        parent: &'static str,
    },
    /// Text where the element takes none, or text in more than one piece.
    #[error("{at}: text is not allowed here in <{element}>; expected {expected}")]
    UnexpectedText {
        /// Where the text starts.
        at: Position,
        /// The element.
        element: &'static str,
        /// What may appear there.
        expected: &'static str,
    },
    /// A Target's text is not an address, a domain or an IP address (the receiver test's
    /// target grammar), nor DEFAULT.
    #[error("{at}: bad target {text:?} at character {position}: expected {expected}")]
    BadTarget {
        /// Where the text starts.
        at: Position,
        /// The text (cut to 100 characters).
        text: String,
        /// The character offset in the text (from 0) where the problem starts.
        position: usize,
        /// What was expected there.
        expected: String,
    },
    /// A size bound other than the file size was reached.
    #[error("{at}: more than {limit} {what}")]
    Limit {
        /// Where.
        at: Position,
        /// What is counted.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// The history database failed (SQLite's message).
    #[error("the history database: {detail}")]
    Store {
        /// What SQLite said.
        detail: String,
    },
    /// A batch to be stored carries an AUTH password in clear.
    #[error(
        "{at}: AuthPass is not stored in the history; name an environment variable with \
         ct:AuthPassEnv instead (the password is read from it when the batch runs)"
    )]
    StoredSecret {
        /// The target that carries it.
        at: Position,
    },
    /// A stored batch that does not exist.
    #[error("no stored batch with id {id}")]
    NoSuchBatch {
        /// The id asked for.
        id: i64,
    },
    /// A result file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The mail relay did not take a message (what a [`Mailer`](crate::delivery::Mailer)
    /// returns).
    #[error("the mail relay {}{}: {reason}", if *temporary { "failed temporarily" } else { "refused the message" }, code.map(|c| format!(" ({c})")).unwrap_or_default())]
    Mail {
        /// Whether trying again later may succeed (a 4xx reply, a lost connection).
        temporary: bool,
        /// The SMTP reply code, when there was one.
        code: Option<u16>,
        /// What the relay said, or what went wrong (never a secret).
        reason: String,
    },
    /// A message could not be delivered, after every attempt the retry policy allows.
    #[error("delivery to {to} failed after {attempts} attempt(s): {last}")]
    Delivery {
        /// The recipients.
        to: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: Box<Error>,
    },
}

impl Error {
    /// Where in the batch file the error is, when it is about the file (a parse error, or a
    /// password stored in clear): what `checktls batch check` prints as LINE:COLUMN.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Malformed { at, .. }
            | Self::Doctype { at }
            | Self::Entity { at, .. }
            | Self::Root { at, .. }
            | Self::UnexpectedElement { at, .. }
            | Self::UnknownAttribute { at, .. }
            | Self::DuplicateAttribute { at, .. }
            | Self::BadValue { at, .. }
            | Self::BadSecret { at, .. }
            | Self::Missing { at, .. }
            | Self::Repeated { at, .. }
            | Self::UnexpectedText { at, .. }
            | Self::BadTarget { at, .. }
            | Self::Limit { at, .. }
            | Self::StoredSecret { at } => Some(*at),
            _ => None,
        }
    }
}
