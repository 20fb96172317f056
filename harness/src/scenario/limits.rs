//! Limits on scenario input, checked before anything is allocated for it: the file's size
//! (read through `Read::take`, special files refused before any read), the YAML nesting
//! depth (a linear pre-scan, since libyaml's scanner is quadratic in flow nesting: 200,000
//! `[` took 85 s), the number of YAML values once aliases are expanded (a "billion laughs"
//! file is refused after counting at most the limit, before any value is built), the number
//! of cases and the series of a case. Each limit has its own error that names it and the
//! environment variable that changes it (see `docs/reliability.md`).

use std::cell::Cell;
use std::io::Read;
use std::path::Path;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, VariantAccess, Visitor};

use super::raw::scrape::RawExporter;
use super::ScenarioError;

/// One limit: its environment variable, its default and what it bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// The environment variable that overrides it (a whole number).
    pub(crate) env: &'static str,
    /// The value when the variable is not set.
    pub(crate) default: u64,
}

/// Bytes of one scenario file.
pub(crate) const FILE_BYTES: Limit = Limit {
    env: "SCRAPE_HARNESS_MAX_SCENARIO_BYTES",
    default: 16 * 1024 * 1024,
};
/// Nesting levels of YAML collections (block and flow together).
pub(crate) const YAML_DEPTH: Limit = Limit {
    env: "SCRAPE_HARNESS_MAX_YAML_DEPTH",
    default: 64,
};
/// YAML values of one file, every alias counted as the values it names.
pub(crate) const YAML_VALUES: Limit = Limit {
    env: "SCRAPE_HARNESS_MAX_YAML_VALUES",
    default: 1_000_000,
};
/// Cases of one run (every file and kind together).
pub(crate) const CASES: Limit = Limit {
    env: "SCRAPE_HARNESS_MAX_CASES",
    default: 10_000,
};
/// `exporter.series` of one case.
pub(crate) const SERIES: Limit = Limit {
    env: "SCRAPE_HARNESS_MAX_SERIES",
    default: 1_000_000,
};
/// `exporter.faults.oversize_body_bytes` of one case.
pub(crate) const BODY_BYTES: Limit = Limit {
    env: "SCRAPE_HARNESS_MAX_BODY_BYTES",
    default: 256 * 1024 * 1024,
};
/// The highest `bcrypt_cost` a scenario may ask for: each step doubles the time of a hash,
/// and 16 already takes seconds per password (31 pinned a core for minutes).
pub(crate) const MAX_BCRYPT_COST: u32 = 16;
/// The lowest cost bcrypt accepts.
pub(crate) const MIN_BCRYPT_COST: u32 = 4;

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// [`FILE_BYTES`].
    pub(crate) file_bytes: u64,
    /// [`YAML_DEPTH`].
    pub(crate) depth: usize,
    /// [`YAML_VALUES`].
    pub(crate) values: usize,
    /// [`CASES`].
    pub(crate) cases: usize,
    /// [`SERIES`].
    pub(crate) series: usize,
    /// [`BODY_BYTES`].
    pub(crate) body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let n = |l: Limit| usize::try_from(l.default).unwrap_or(usize::MAX);
        Self {
            file_bytes: FILE_BYTES.default,
            depth: n(YAML_DEPTH),
            values: n(YAML_VALUES),
            cases: n(CASES),
            series: n(SERIES),
            body_bytes: n(BODY_BYTES),
        }
    }
}

impl Limits {
    /// The defaults, each overridden by its environment variable when set.
    pub(crate) fn from_env() -> Result<Self, ScenarioError> {
        let read = |l: Limit| -> Result<u64, ScenarioError> {
            let Some(value) = std::env::var_os(l.env) else {
                return Ok(l.default);
            };
            value
                .to_str()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| ScenarioError::BadLimit {
                    env: l.env,
                    value: value.to_string_lossy().into_owned(),
                    default: l.default,
                })
        };
        let n = |l: Limit| read(l).map(|v| usize::try_from(v).unwrap_or(usize::MAX));
        Ok(Self {
            file_bytes: read(FILE_BYTES)?,
            depth: n(YAML_DEPTH)?,
            values: n(YAML_VALUES)?,
            cases: n(CASES)?,
            series: n(SERIES)?,
            body_bytes: n(BODY_BYTES)?,
        })
    }
}

/// The sizes a case's exporter asks for, within `limits`: `series` and
/// `faults.oversize_body_bytes` become allocations, so a value past the limit is refused
/// here rather than aborting the process on allocation. `(field, message)` otherwise.
pub(crate) fn exporter_sizes(e: &RawExporter, limits: &Limits) -> Result<(), (String, String)> {
    if let Some(series) = e.series.filter(|s| *s > limits.series) {
        return Err((
            "exporter.series".into(),
            format!(
                "{series} is above {}, the limit of samples per exporter (each is kept in \
                 memory and rendered on every scrape); use fewer, or raise {}",
                limits.series, SERIES.env
            ),
        ));
    }
    if let Some(bytes) = e
        .faults
        .oversize_body_bytes
        .filter(|b| *b > limits.body_bytes)
    {
        return Err((
            "exporter.faults.oversize_body_bytes".into(),
            format!(
                "{bytes} is above {}, the limit of a padded body (it is built in memory); use \
                 less (a body just above the job's `body_size_limit` is enough), or raise {}",
                limits.body_bytes, BODY_BYTES.env
            ),
        ));
    }
    Ok(())
}

/// What a path is when it is not a regular file.
fn special_kind(ft: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Why a file named by a scenario cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputFileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is {0}, not a regular file; give a regular file")]
    Special(&'static str),
    #[error("is larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

/// `Some(kind)` when `path` exists and is not a regular file (symlinks followed): what a
/// scenario may not name, since a FIFO blocks its reader and a device never ends.
pub(crate) fn special_file(path: &Path) -> Option<&'static str> {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| special_kind(m.file_type()))
}

/// Reads at most `limit` bytes of the regular file `path`: anything else is refused before a
/// byte is read (the file is opened non-blocking and checked again on the open descriptor, so
/// a FIFO swapped in after the first check cannot block), and a longer file is refused
/// without reading past the limit.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, InputFileError> {
    if let Some(kind) = special_kind(std::fs::metadata(path)?.file_type()) {
        return Err(InputFileError::Special(kind));
    }
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)?;
    let file = std::fs::File::from(fd);
    if let Some(kind) = special_kind(file.metadata()?.file_type()) {
        return Err(InputFileError::Special(kind));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(InputFileError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Reads a scenario file within `limits`: errors name the file and the limit.
pub(crate) fn read_scenario_file(path: &Path, limits: &Limits) -> Result<String, ScenarioError> {
    let file = path.display().to_string();
    let bytes = read_bounded(path, limits.file_bytes).map_err(|e| match e {
        InputFileError::Io(source) => ScenarioError::Read {
            file: file.clone(),
            source,
        },
        InputFileError::Special(kind) => ScenarioError::NotAFile {
            file: file.clone(),
            kind,
        },
        InputFileError::TooLarge { limit } => ScenarioError::TooLarge {
            file: file.clone(),
            limit,
        },
    })?;
    String::from_utf8(bytes).map_err(|e| ScenarioError::Read {
        file,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Checks `text` (of `file`) against the limits that must hold before the YAML parser sees
/// it: size, nesting depth, values after alias expansion.
pub(crate) fn check_text(file: &str, text: &str, limits: &Limits) -> Result<(), ScenarioError> {
    if text.len() as u64 > limits.file_bytes {
        return Err(ScenarioError::TooLarge {
            file: file.to_owned(),
            limit: limits.file_bytes,
        });
    }
    if let Err(line) = nesting_within(text, limits.depth) {
        return Err(ScenarioError::TooDeep {
            file: file.to_owned(),
            line,
            limit: limits.depth,
        });
    }
    count_values(file, text, limits.values)
}

/// Counts the YAML values of `text`, each alias as the values it names, and stops at
/// `limit`: no value is built, so an alias bomb costs at most `limit` visits.
fn count_values(file: &str, text: &str, limit: usize) -> Result<(), ScenarioError> {
    let state = CountState {
        left: Cell::new(limit),
        exceeded: Cell::new(false),
    };
    let result = Count(&state).deserialize(serde_norway::Deserializer::from_str(text));
    let too_many = || ScenarioError::TooManyValues {
        file: file.to_owned(),
        limit,
    };
    match result {
        Ok(()) => Ok(()),
        Err(_) if state.exceeded.get() => Err(too_many()),
        // serde_norway's own bound on alias jumps (100 per event of the file).
        Err(e) if e.to_string().starts_with("repetition limit exceeded") => Err(too_many()),
        // Syntax errors are reported by the parse that follows, with their position.
        Err(_) => Ok(()),
    }
}

struct CountState {
    left: Cell<usize>,
    exceeded: Cell<bool>,
}

/// A visitor that counts every value and fails once the budget is spent.
#[derive(Clone, Copy)]
struct Count<'a>(&'a CountState);

impl Count<'_> {
    fn take<E: serde::de::Error>(self) -> Result<(), E> {
        let left = self.0.left.get();
        if left == 0 {
            self.0.exceeded.set(true);
            return Err(E::custom("too many YAML values"));
        }
        self.0.left.set(left - 1);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.take()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.take()
    }
    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<(), E> {
        self.take()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.take()
    }
    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<(), E> {
        self.take()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.take()
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.take()
    }
    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<(), E> {
        self.take()
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.take()
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.take()
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.take()?;
        self.deserialize(d)
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.take()?;
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.take()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.take()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged value (`!tag value`).
        self.take()?;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

/// `Err(line)` (1-based) where `text` nests YAML collections deeper than `limit`, block
/// indentation levels and flow brackets together; linear in the length of `text`.
///
/// This follows libyaml's scanner where it decides what a character is (the start of a
/// token; a quoted, plain or block scalar and where it ends; an indentation level), so that
/// no bracket the parser would take as a flow collection is missed: a quote inside a plain
/// scalar does not hide what follows it. Where the scan and YAML could still disagree, it
/// counts more, never less.
pub(crate) fn nesting_within(text: &str, limit: usize) -> Result<(), usize> {
    Scan {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
        flows: Vec::new(),
        inner: Vec::new(),
        last_close: None,
        levels: Vec::new(),
        key_col: None,
        limit,
    }
    .run()
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    /// 1-based line of `i`.
    line: usize,
    /// Index of the first byte of the line of `i`.
    line_start: usize,
    /// Open flow collections, innermost last: `[`, `{`, or `m` for the single-pair mapping a
    /// `key: value` entry of a flow sequence makes (`[a: b]` nests a mapping in the sequence).
    flows: Vec<u8>,
    /// For each entry of `flows`, the deepest nesting seen inside it so far (relative).
    inner: Vec<usize>,
    /// The nesting of the flow collection that closed just before this token, if one did: a
    /// collection used as a key (`[a]: b`) is nested in the mapping that only the `:` opens.
    last_close: Option<usize>,
    /// libyaml's block indentation levels, innermost last: column and kind (`m` mapping,
    /// `s` sequence, `i` a sequence at its mapping's column, `a:\n- x`).
    levels: Vec<(isize, u8)>,
    /// Column of the token that may be the key of a block mapping on this line.
    key_col: Option<usize>,
    limit: usize,
}

impl Scan<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }
    fn col(&self) -> usize {
        self.i - self.line_start
    }
    fn is_break(c: u8) -> bool {
        c == b'\n' || c == b'\r'
    }
    fn is_blank(c: u8) -> bool {
        c == b' ' || c == b'\t'
    }
    /// Blank, line break or end of text.
    fn blankz(&self, i: usize) -> bool {
        let c = self.at(i);
        c == 0 || Self::is_blank(c) || Self::is_break(c)
    }
    fn eof(&self) -> bool {
        self.i >= self.b.len()
    }
    /// Steps over one byte, counting lines.
    fn bump(&mut self) {
        let c = self.at(self.i);
        if c == b'\n' || (c == b'\r' && self.at(self.i + 1) != b'\n') {
            self.line += 1;
            self.line_start = self.i + 1;
        }
        self.i += 1;
    }
    fn flow(&self) -> usize {
        self.flows.len()
    }
    fn open(&mut self, kind: u8) -> Result<(), usize> {
        self.flows.push(kind);
        self.inner.push(0);
        self.check()
    }
    /// Closes the innermost flow collection; its nesting (itself included).
    fn close(&mut self) -> usize {
        self.flows.pop();
        let depth = 1 + self.inner.pop().unwrap_or(0);
        if let Some(parent) = self.inner.last_mut() {
            *parent = (*parent).max(depth);
        }
        depth
    }
    /// Ends the single-pair mapping of a flow sequence's entry, if one is open.
    fn close_pair(&mut self) {
        if self.flows.last() == Some(&b'm') {
            self.close();
        }
    }
    fn depth(&self) -> usize {
        self.levels.len() + self.flows.len()
    }
    fn check(&self) -> Result<(), usize> {
        if self.depth() > self.limit {
            Err(self.line)
        } else {
            Ok(())
        }
    }
    /// The current block indentation (-1 at the top).
    fn indent(&self) -> isize {
        self.levels.last().map_or(-1, |l| l.0)
    }
    fn roll_indent(&mut self, col: usize, kind: u8) -> Result<(), usize> {
        let col = col as isize;
        if self.flow() == 0 && self.indent() < col {
            self.levels.push((col, kind));
            self.check()?;
        }
        Ok(())
    }
    fn unroll_indent(&mut self, col: isize) {
        if self.flow() > 0 {
            return;
        }
        while self.indent() > col {
            self.levels.pop();
        }
    }
    /// Whether a document marker (`---`, `...`) starts at `i`, at the start of a line.
    fn document_marker(&self) -> bool {
        self.col() == 0
            && (self.b[self.i..].starts_with(b"---") || self.b[self.i..].starts_with(b"..."))
            && self.blankz(self.i + 3)
    }
    fn skip_to_eol(&mut self) {
        while !self.eof() && !Self::is_break(self.at(self.i)) {
            self.i += 1;
        }
    }
    /// Blanks, line breaks and comments up to the next token.
    fn skip_to_token(&mut self) {
        loop {
            let c = self.at(self.i);
            if self.eof() {
                return;
            }
            if Self::is_blank(c) || (self.i == 0 && self.b.starts_with("\u{feff}".as_bytes())) {
                self.i += if Self::is_blank(c) { 1 } else { 3 };
            } else if c == b'#' {
                self.skip_to_eol();
            } else if Self::is_break(c) {
                self.bump();
                if self.flow() == 0 {
                    self.key_col = None;
                }
            } else {
                return;
            }
        }
    }

    fn run(mut self) -> Result<(), usize> {
        loop {
            self.skip_to_token();
            if self.eof() {
                return Ok(());
            }
            let col = self.col();
            self.unroll_indent(col as isize);
            let c = self.at(self.i);
            if col == 0 && c == b'%' {
                self.skip_to_eol();
                continue;
            }
            if self.document_marker() {
                self.unroll_indent(-1);
                self.i += 3;
                continue;
            }
            let next_blankz = self.blankz(self.i + 1);
            let closed = self.last_close.take();
            // A sequence at its mapping's column ends at the first token there that is not
            // `- `.
            if self.flow() == 0
                && self.levels.last() == Some(&(col as isize, b'i'))
                && !(c == b'-' && next_blankz)
            {
                self.levels.pop();
            }
            match c {
                b'[' | b'{' => {
                    self.key_col.get_or_insert(col);
                    self.open(c)?;
                    self.i += 1;
                }
                b']' | b'}' => {
                    self.close_pair();
                    if self.flow() > 0 {
                        self.last_close = Some(self.close());
                    }
                    self.i += 1;
                }
                b',' => {
                    self.close_pair();
                    self.i += 1;
                }
                b'-' if next_blankz => {
                    if self.flow() == 0 && self.levels.last() == Some(&(col as isize, b'm')) {
                        self.levels.push((col as isize, b'i'));
                        self.check()?;
                    }
                    self.roll_indent(col, b's')?;
                    self.key_col = None;
                    self.i += 1;
                }
                b'?' if self.flow() > 0 || next_blankz => {
                    self.roll_indent(col, b'm')?;
                    if self.flows.last() == Some(&b'[') {
                        self.open(b'm')?;
                    }
                    self.key_col = None;
                    self.i += 1;
                }
                b':' if self.flow() > 0 || next_blankz => self.value_indicator(col, closed)?,
                b'*' | b'&' => {
                    self.key_col.get_or_insert(col);
                    self.i += 1;
                    while self.at(self.i).is_ascii_alphanumeric()
                        || matches!(self.at(self.i), b'-' | b'_')
                    {
                        self.i += 1;
                    }
                }
                b'!' => {
                    self.key_col.get_or_insert(col);
                    while !self.blankz(self.i) {
                        self.i += 1;
                    }
                }
                b'|' | b'>' if self.flow() == 0 => self.block_scalar(),
                b'\'' | b'"' => {
                    self.key_col.get_or_insert(col);
                    self.quoted(c);
                }
                _ => {
                    self.key_col.get_or_insert(col);
                    self.plain();
                }
            }
        }
    }

    /// A `:` that starts a value: the mapping it opens (at its key's column), and a
    /// collection just closed as its key, which sits inside that mapping.
    fn value_indicator(&mut self, col: usize, closed: Option<usize>) -> Result<(), usize> {
        let key = self.key_col.take().unwrap_or(col);
        self.roll_indent(key, b'm')?;
        if self.flows.last() == Some(&b'[') {
            self.open(b'm')?;
        }
        if let Some(key_depth) = closed {
            if let Some(pair) = self.inner.last_mut() {
                *pair = (*pair).max(key_depth);
            }
            if self.depth() + key_depth > self.limit {
                return Err(self.line);
            }
        }
        self.i += 1;
        Ok(())
    }

    /// A quoted scalar from its opening quote to its closing one (or the end of the text).
    fn quoted(&mut self, quote: u8) {
        self.i += 1;
        while !self.eof() {
            let c = self.at(self.i);
            if quote == b'\'' && c == b'\'' {
                if self.at(self.i + 1) == b'\'' {
                    self.i += 2;
                    continue;
                }
                self.i += 1;
                return;
            }
            if quote == b'"' && c == b'\\' {
                self.i += 1;
                if !self.eof() {
                    self.bump();
                }
                continue;
            }
            if quote == b'"' && c == b'"' {
                self.i += 1;
                return;
            }
            self.bump();
        }
    }

    /// A plain scalar, ended as libyaml ends it: `: `, ` #`, a flow indicator in a flow
    /// collection, a document marker, or a line less indented than the block.
    fn plain(&mut self) {
        let min_col = self.indent() + 1;
        loop {
            if self.document_marker() || self.at(self.i) == b'#' {
                return;
            }
            while !self.blankz(self.i) {
                let c = self.at(self.i);
                if c == b':' && self.blankz(self.i + 1) {
                    return;
                }
                if self.flow() > 0 && matches!(c, b',' | b'[' | b']' | b'{' | b'}') {
                    return;
                }
                if self.flow() > 0
                    && c == b':'
                    && matches!(self.at(self.i + 1), b',' | b'[' | b']' | b'{' | b'}')
                {
                    return;
                }
                self.i += 1;
            }
            if self.eof() {
                return;
            }
            let mut broke = false;
            while !self.eof()
                && (Self::is_blank(self.at(self.i)) || Self::is_break(self.at(self.i)))
            {
                broke |= Self::is_break(self.at(self.i));
                self.bump();
            }
            if broke && self.flow() == 0 {
                self.key_col = None;
            }
            if self.flow() == 0 && (self.col() as isize) < min_col {
                return;
            }
        }
    }

    /// A block scalar (`|` or `>`): its header, then every line indented at least as much as
    /// its content (the first non-empty line's indentation, or the explicit indicator).
    fn block_scalar(&mut self) {
        self.i += 1;
        let mut explicit = None;
        while !self.blankz(self.i) {
            let c = self.at(self.i);
            if c.is_ascii_digit() {
                explicit = Some(usize::from(c - b'0'));
            }
            self.i += 1;
        }
        self.skip_to_eol();
        let indent = self.indent();
        let base = usize::try_from(indent.max(0)).unwrap_or(0);
        let mut content = explicit.map(|d| if indent < 0 { d } else { base + d });
        let min = usize::try_from(indent + 1).unwrap_or(0).max(1);
        while !self.eof() {
            // At a line break: look at the next line.
            self.bump();
            let start = self.i;
            let mut n = 0;
            while self.at(start + n) == b' ' {
                n += 1;
            }
            let rest = self.at(start + n);
            if Self::is_break(rest) || rest == 0 {
                self.i = start + n;
                if rest == 0 {
                    return;
                }
                continue;
            }
            let need = *content.get_or_insert(n.max(min));
            if n < need {
                // Not part of the scalar: scan it as usual.
                self.i = start;
                return;
            }
            self.i = start + n;
            self.skip_to_eol();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str, limit: usize) -> bool {
        nesting_within(text, limit).is_ok()
    }

    #[test]
    fn flow_nesting_is_counted_and_refused_with_its_line() {
        assert!(depth_ok("a: [[[1]]]\n", 4));
        assert_eq!(nesting_within("a: [[[1]]]\n", 3), Err(1));
        assert_eq!(nesting_within("a: 1\nb: {c: [[[x]]]}\n", 4), Err(2));
    }

    #[test]
    fn block_nesting_is_counted_like_the_parser_does() {
        let yaml = "a:\n  b:\n    c:\n      - - - x\n";
        // a, b, c, then three sequences: 6 levels.
        assert!(depth_ok(yaml, 6));
        assert_eq!(nesting_within(yaml, 5), Err(4));
        // Going back out releases the levels.
        let wide = "a:\n  b:\n    c: 1\nd:\n  e: 2\n".repeat(50);
        assert!(depth_ok(&wide, 3));
    }

    #[test]
    fn brackets_in_scalars_and_comments_are_not_nesting() {
        let yaml = "a: \"[[[[[[\"\nb: '[[[[['' [[['\nc: x [[[[[[ y\nd: |\n  [[[[[[[\n  {{{{{{{\ne: 1 # [[[[[[[\n";
        assert!(depth_ok(yaml, 2), "{:?}", nesting_within(yaml, 2));
    }

    #[test]
    fn a_quote_inside_a_plain_scalar_does_not_hide_what_follows() {
        // YAML reads `x "` as a plain scalar: the brackets after it are flow collections.
        let yaml = "a: x \"\nb: [[[[[[[[[[]]]]]]]]]]\n";
        assert_eq!(nesting_within(yaml, 5), Err(2));
        let multi_line = "a: x\n  \"\nb: [[[[[[[[[[]]]]]]]]]]\n";
        assert_eq!(nesting_within(multi_line, 5), Err(3));
        // In a flow collection, `a "` is a plain scalar and `"]"` a quoted one.
        let flow = "[a \", \"]\", ".repeat(10);
        assert!(nesting_within(&flow, 5).is_err());
    }

    #[test]
    fn mappings_that_only_a_later_token_opens_are_counted() {
        // A collection as a key: the mapping opens at `:`, around it (found by proptest).
        assert_eq!(nesting_within("[]: a\n", 1), Err(1));
        assert!(depth_ok("[]: a\n", 2));
        assert_eq!(nesting_within("[[[x]]]: a\n", 3), Err(1));
        // A `key: value` entry of a flow sequence is a mapping in it.
        assert_eq!(nesting_within("[a: [[x]]]\n", 3), Err(1));
        assert!(depth_ok("[a: [[x]]]\n", 4));
        assert!(depth_ok("[a: b, c: d, [e]]\n", 2));
        // A sequence at its mapping's column (`a:\n- x`) is a level (found by proptest), and
        // ends at the next key.
        assert_eq!(nesting_within("a:\n- a\n", 1), Err(2));
        assert!(depth_ok("a:\n- x\nb:\n- y\nc: 1\n", 2));
    }

    #[test]
    fn a_block_scalar_ends_where_its_indentation_ends() {
        let yaml = "- a: |\n    text\n  b: [[[[[[[[[[\n";
        assert_eq!(nesting_within(yaml, 5), Err(3));
    }

    /// Nesting of a parsed value: collections in collections.
    fn value_depth(v: &serde_norway::Value) -> usize {
        use serde_norway::Value;
        match v {
            Value::Sequence(s) => 1 + s.iter().map(value_depth).max().unwrap_or(0),
            Value::Mapping(m) => {
                1 + m
                    .iter()
                    .map(|(k, v)| value_depth(k).max(value_depth(v)))
                    .max()
                    .unwrap_or(0)
            }
            Value::Tagged(t) => value_depth(&t.value),
            _ => 0,
        }
    }

    #[test]
    fn the_scan_never_counts_less_than_the_parser_nests() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut texts: Vec<(String, String)> = Vec::new();
        for dir in ["scenarios", "scenarios/tests", "scenarios/labs"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for e in entries {
                let path = e.expect("entry").path();
                if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    let text = std::fs::read_to_string(&path).expect("read");
                    texts.push((path.display().to_string(), text));
                }
            }
        }
        assert!(texts.len() >= 5, "{} files", texts.len());
        for (name, text) in [
            (
                "flow in block",
                "a:\n  - {b: [1, {c: [2]}]}\n  - d: |\n      [[[\n",
            ),
            ("quoted keys", "\"a\": {'b': [\"]\", [x]]}\n"),
            ("plain with quotes", "a: it's \"x\n  y\"\nb: [[[2]]]\n"),
        ] {
            texts.push((name.to_owned(), text.to_owned()));
        }
        for (name, text) in &texts {
            let value: serde_norway::Value =
                serde_norway::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let depth = value_depth(&value);
            assert!(
                nesting_within(text, depth).is_ok() || depth == 0,
                "{name}: {depth}"
            );
            if depth > 0 {
                assert!(
                    nesting_within(text, depth - 1).is_err(),
                    "{name}: the scan counted less than {depth} levels"
                );
            }
        }
    }

    /// Pieces of YAML that decide its structure, for the property below.
    const TOKENS: [&str; 24] = [
        "[", "]", "{", "}", ", ", "a", "b c", ": ", ":", "\"x\"", "'y'", "\"", "'", " # c", "\n",
        "\n  ", "\n    ", "- ", "? ", "|\n", ">-\n", "&a ", "*a", "!t ",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Texts made of the characters that decide YAML's structure: whenever the parser
        /// reads one, the scan counts at least its nesting.
        #[test]
        fn the_scan_never_counts_less_on_tricky_text(
            tokens in proptest::collection::vec(proptest::sample::select(TOKENS.to_vec()), 0..40)
        ) {
            let text = tokens.concat();
            if let Ok(value) = serde_norway::from_str::<serde_norway::Value>(&text) {
                let depth = value_depth(&value);
                if depth > 0 {
                    proptest::prop_assert!(
                        nesting_within(&text, depth - 1).is_err(),
                        "{:?}: the scan counted less than {} levels", text, depth
                    );
                }
            }
        }
    }

    /// A YAML tree and the style of every node, for the property below.
    #[derive(Debug, Clone)]
    enum Tree {
        /// A scalar: its text and style (plain, double- or single-quoted, block literal).
        Scalar(&'static str, u8),
        /// A sequence, flow or block.
        Seq(Vec<Tree>, bool),
        /// A mapping with scalar keys, flow or block.
        Map(Vec<(&'static str, Tree)>, bool),
    }

    /// Scalar texts with the characters that could mislead a scan.
    const SCALARS: [&str; 10] = [
        "a",
        "it's",
        "x \"y",
        "a#b",
        "x[y",
        "]",
        "[[[",
        "a: b",
        "{'\"",
        "# not a comment",
    ];

    fn tree() -> impl proptest::strategy::Strategy<Value = Tree> {
        use proptest::prelude::*;
        let leaf = (proptest::sample::select(SCALARS.to_vec()), 0u8..4)
            .prop_map(|(s, style)| Tree::Scalar(s, style));
        leaf.prop_recursive(8, 48, 4, |inner| {
            prop_oneof![
                (
                    proptest::collection::vec(inner.clone(), 0..4),
                    any::<bool>()
                )
                    .prop_map(|(v, flow)| Tree::Seq(v, flow)),
                (
                    proptest::collection::vec(
                        (
                            proptest::sample::select(vec!["k", "k2", "x y", "k#"]),
                            inner
                        ),
                        0..4
                    ),
                    any::<bool>()
                )
                    .prop_map(|(v, flow)| {
                        // Unique keys, as YAML requires.
                        let mut seen = std::collections::BTreeSet::new();
                        Tree::Map(
                            v.into_iter().filter(|(k, _)| seen.insert(*k)).collect(),
                            flow,
                        )
                    }),
            ]
        })
    }

    fn quoted(s: &str, double: bool) -> String {
        if double {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            format!("'{}'", s.replace('\'', "''"))
        }
    }

    /// `t` in flow context: every scalar quoted unless it is a plain-safe word.
    fn flow(t: &Tree) -> String {
        match t {
            Tree::Scalar(s, style)
                if *style == 0 && s.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                (*s).to_owned()
            }
            Tree::Scalar(s, style) => quoted(s, style % 2 == 0),
            Tree::Seq(v, _) => format!("[{}]", v.iter().map(flow).collect::<Vec<_>>().join(", ")),
            Tree::Map(v, _) => format!(
                "{{{}}}",
                v.iter()
                    .map(|(k, t)| format!("{}: {}", quoted(k, true), flow(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// `t` as the value after `- ` or `key: ` at indentation `n`, in block context.
    fn block(t: &Tree, n: usize) -> String {
        let pad = " ".repeat(n);
        match t {
            Tree::Scalar(s, 0)
                if !s.starts_with(['[', ']', '{', '#', '\'', '"'])
                    && !s.contains(": ")
                    && !s.contains(" #") =>
            {
                (*s).to_owned()
            }
            Tree::Scalar(s, 3) => format!("|\n{pad}  {s}\n{pad}  {s} ]]]"),
            Tree::Scalar(s, style) => quoted(s, style % 2 == 0),
            Tree::Seq(v, false) if !v.is_empty() => v
                .iter()
                .map(|t| format!("\n{pad}- {}", block(t, n + 2)))
                .collect(),
            Tree::Map(v, false) if !v.is_empty() => v
                .iter()
                .map(|(k, t)| format!("\n{pad}{}: {}", quoted(k, false), block(t, n + 2)))
                .collect(),
            other => flow(other),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Valid YAML of every style, with scalars that hold brackets, quotes and `#`: the
        /// scan counts at least the nesting the parser reads.
        #[test]
        fn the_scan_never_counts_less_on_yaml_of_every_style(t in tree()) {
            let text = format!("root: {}\n", block(&t, 2));
            let value: serde_norway::Value = serde_norway::from_str(&text)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{text:?}: {e}")))?;
            let depth = value_depth(&value);
            proptest::prop_assert!(
                nesting_within(&text, depth - 1).is_err(),
                "{:?}: the scan counted less than {} levels", text, depth
            );
        }
    }

    #[test]
    fn two_hundred_thousand_levels_are_refused_in_linear_time() {
        for open in ["[", "{a: ", "- "] {
            let text = open.repeat(200_000);
            let began = std::time::Instant::now();
            assert_eq!(nesting_within(&text, 64), Err(1), "{open}");
            assert!(
                began.elapsed() < std::time::Duration::from_secs(1),
                "{open}"
            );
        }
        let indented: String = (0..2_000)
            .map(|i| format!("{}a{i}:\n", " ".repeat(i)))
            .collect();
        assert!(nesting_within(&indented, 64).is_err());
    }

    #[test]
    fn an_alias_bomb_is_refused_after_counting_at_most_the_limit() {
        let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            yaml.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let began = std::time::Instant::now();
        let err = count_values("bomb.yaml", &yaml, 100_000).expect_err("refused");
        assert!(began.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            matches!(err, ScenarioError::TooManyValues { limit: 100_000, .. }),
            "{err}"
        );
        // The same shape, small, is fine.
        count_values("ok.yaml", "a: &a [1, 2]\nb: [*a, *a]\n", 100).expect("within");
    }

    #[test]
    fn special_files_are_refused_before_any_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo.yaml");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let began = std::time::Instant::now();
        for path in [fifo.as_path(), dir.path(), Path::new("/dev/zero")] {
            let err = read_bounded(path, 1024).expect_err("refused");
            assert!(
                matches!(err, InputFileError::Special(_)),
                "{}: {err}",
                path.display()
            );
        }
        assert!(began.elapsed() < std::time::Duration::from_secs(1));
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; 2048]).expect("write");
        assert!(matches!(
            read_bounded(&big, 1024),
            Err(InputFileError::TooLarge { limit: 1024 })
        ));
        assert_eq!(read_bounded(&big, 2048).expect("within").len(), 2048);
    }
}
