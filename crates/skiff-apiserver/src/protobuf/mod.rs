//! Request bodies in the Kubernetes protobuf encoding
//! (`application/vnd.kubernetes.protobuf`), which client-go's typed clients send
//! (`kubectl create configmap`, `run`, `expose`, `drain`, ...) and never retry as
//! JSON. A body is the magic `k8s\0` and a `runtime.Unknown` {typeMeta = 1
//! {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3, contentType = 4};
//! `raw` is the object as the proto2 message of its group version, which
//! `schema.txt` describes. Decoding yields the JSON the same client would have
//! sent; responses stay JSON.
//!
//! The input is untrusted: every length is checked, nesting is bounded, and
//! nothing here panics.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

mod schema;
#[cfg(test)]
mod tests;

use schema::{Presence, Scalar, Schema, Special, Ty};

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";
/// Real objects nest about 15 messages deep (CronJob down to a label selector).
const MAX_DEPTH: usize = 64;

/// Why a body could not be decoded; Display gives a message for a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtobufError {
    /// JSON path of the field being decoded, innermost last.
    path: Vec<String>,
    message: String,
}

impl ProtobufError {
    fn new(message: impl Into<String>) -> Self {
        ProtobufError { path: Vec::new(), message: message.into() }
    }

    fn at(mut self, field: &str) -> Self {
        // Inlined structs have no name of their own.
        if !field.is_empty() {
            self.path.insert(0, field.to_string());
        }
        self
    }
}

impl fmt::Display for ProtobufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "error decoding protobuf body: {}", self.message)
        } else {
            write!(f, "error decoding protobuf body: {}: {}", self.path.join("."), self.message)
        }
    }
}

impl std::error::Error for ProtobufError {}

type Result<T, E = ProtobufError> = std::result::Result<T, E>;

/// Decodes an application/vnd.kubernetes.protobuf request body into the JSON object it encodes
/// (with apiVersion and kind set from the Unknown wrapper's typeMeta).
pub fn decode(body: &[u8]) -> Result<Value> {
    let rest = body.strip_prefix(MAGIC).ok_or_else(|| ProtobufError::new("missing the k8s\\0 prefix"))?;
    let unknown = Unknown::parse(rest)?;
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::new(format!("unsupported contentEncoding {:?}", unknown.content_encoding)));
    }
    if unknown.kind.is_empty() || unknown.api_version.is_empty() {
        return Err(ProtobufError::new("typeMeta must set apiVersion and kind"));
    }
    let body = match unknown.content_type.as_str() {
        "" | CONTENT_TYPE => {
            let schema = schema::get().map_err(|e| ProtobufError::new(format!("internal schema: {e}")))?;
            let idx = schema.find(&unknown.api_version, &unknown.kind).ok_or_else(|| {
                ProtobufError::new(format!("no protobuf schema for {}, Kind={}", unknown.api_version, unknown.kind))
            })?;
            Decoder { schema }.message(idx, unknown.raw, 0)?
        }
        ct if ct.starts_with("application/json") => {
            serde_json::from_slice(unknown.raw).map_err(|e| ProtobufError::new(format!("embedded JSON: {e}")))?
        }
        ct => return Err(ProtobufError::new(format!("unsupported embedded contentType {ct:?}"))),
    };
    let Value::Object(fields) = body else {
        return Err(ProtobufError::new("the encoded object is not a JSON object"));
    };
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(unknown.api_version));
    obj.insert("kind".into(), Value::String(unknown.kind));
    for (k, v) in fields {
        if k != "apiVersion" && k != "kind" {
            obj.insert(k, v);
        }
    }
    Ok(Value::Object(obj))
}

/// runtime.Unknown, the envelope of every protobuf body.
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Unknown<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut u = Unknown { api_version: String::new(), kind: String::new(), raw: &[], content_encoding: String::new(), content_type: String::new() };
        let mut r = Reader::new(buf);
        while let Some((tag, wt)) = r.key()? {
            match tag {
                1 => {
                    let mut t = Reader::new(r.len_delimited(wt)?);
                    while let Some((tag, wt)) = t.key()? {
                        match tag {
                            1 => u.api_version = t.string(wt)?.into_owned(),
                            2 => u.kind = t.string(wt)?.into_owned(),
                            _ => t.skip(wt)?,
                        }
                    }
                }
                2 => u.raw = r.len_delimited(wt)?,
                3 => u.content_encoding = r.string(wt)?.into_owned(),
                4 => u.content_type = r.string(wt)?.into_owned(),
                _ => r.skip(wt)?,
            }
        }
        Ok(u)
    }
}

// --- wire format ------------------------------------------------------------

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b > 1 {
                    break;
                }
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err(ProtobufError::new(if self.buf.len() < 10 { "truncated varint" } else { "varint overflows 64 bits" }))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(ProtobufError::new(format!("field of {n} bytes but only {} left", self.buf.len())));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next field's (number, wire type), or None at the end.
    fn key(&mut self) -> Result<Option<(u32, u8)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(ProtobufError::new(format!("invalid field number {tag}")));
        }
        Ok(Some((tag as u32, (key & 7) as u8)))
    }

    fn len_delimited(&mut self, wt: u8) -> Result<&'a [u8]> {
        expect(wt, LEN)?;
        let n = self.varint()?;
        self.take(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn string(&mut self, wt: u8) -> Result<Cow<'a, str>> {
        // Go does not validate UTF-8 here and its JSON encoder substitutes U+FFFD.
        Ok(String::from_utf8_lossy(self.len_delimited(wt)?))
    }

    fn skip(&mut self, wt: u8) -> Result<()> {
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.len_delimited(LEN).map(drop),
            FIXED32 => self.take(4).map(drop),
            // Groups (3, 4) are not used by Kubernetes.
            _ => Err(ProtobufError::new(format!("unsupported wire type {wt}"))),
        }
    }
}

fn expect(wt: u8, want: u8) -> Result<()> {
    if wt == want {
        Ok(())
    } else {
        Err(ProtobufError::new(format!("wire type {wt}, expected {want}")))
    }
}

// --- messages ---------------------------------------------------------------

/// What has been read of one field of a message.
enum Slot<'a> {
    Empty,
    One(Value),
    Many(Vec<Value>),
    /// A singular message may come in several pieces, which protobuf merges:
    /// decoding their concatenation does exactly that.
    Chunks(Vec<&'a [u8]>),
    Entries(Map<String, Value>),
}

struct Decoder<'s> {
    schema: &'s Schema,
}

impl Decoder<'_> {
    fn message(&self, idx: usize, buf: &[u8], depth: usize) -> Result<Value> {
        let msg = &self.schema.messages[idx];
        if depth > MAX_DEPTH {
            return Err(ProtobufError::new(format!("objects nested too deeply (at {})", msg.name)));
        }
        if let Some(sp) = msg.special {
            return special(sp, buf);
        }
        let mut slots: Vec<Slot> = msg.fields.iter().map(|_| Slot::Empty).collect();
        let mut r = Reader::new(buf);
        while let Some((tag, wt)) = r.key()? {
            let Some(i) = msg.field(tag) else {
                // Fields newer than our table: skipped, as Go's generated code does.
                r.skip(wt)?;
                continue;
            };
            let f = &msg.fields[i];
            self.read_field(&f.ty, f.repeated, wt, &mut r, &mut slots[i], depth).map_err(|e| e.at(&f.json))?;
        }
        let mut obj = Map::new();
        for (f, slot) in msg.fields.iter().zip(slots) {
            let v = match slot {
                Slot::Empty => continue,
                Slot::One(v) if f.presence == Presence::OmitEmpty && is_zero(&v) => continue,
                Slot::One(v) => v,
                Slot::Many(vs) => Value::Array(vs),
                Slot::Entries(m) => Value::Object(m),
                Slot::Chunks(chunks) => {
                    let Ty::Message(m) = f.ty else { continue };
                    let v = self.message(m, &concat(&chunks), depth + 1).map_err(|e| e.at(&f.json))?;
                    match v {
                        // A zero Time is JSON null; leaving it out is the same thing.
                        Value::Null => continue,
                        Value::Object(inner) if f.presence == Presence::Inline => {
                            obj.extend(inner);
                            continue;
                        }
                        v => v,
                    }
                }
            };
            obj.insert(f.json.clone(), v);
        }
        Ok(Value::Object(obj))
    }

    fn read_field<'a>(&self, ty: &Ty, repeated: bool, wt: u8, r: &mut Reader<'a>, slot: &mut Slot<'a>, depth: usize) -> Result<()> {
        match ty {
            Ty::Scalar(sc) if !repeated => *slot = Slot::One(scalar(*sc, wt, r)?),
            Ty::Scalar(sc) => {
                let Slot::Many(list) = slot.get_or_insert_many() else { return Ok(()) };
                if wt == LEN && *sc != Scalar::String && *sc != Scalar::Bytes {
                    // Packed: numbers back to back in one length-delimited field.
                    let packed_wt = if *sc == Scalar::Double { FIXED64 } else { VARINT };
                    let mut p = Reader::new(r.len_delimited(LEN)?);
                    while !p.buf.is_empty() {
                        list.push(scalar(*sc, packed_wt, &mut p)?);
                    }
                } else {
                    list.push(scalar(*sc, wt, r)?);
                }
            }
            Ty::Message(_) if !repeated => {
                let chunk = r.len_delimited(wt)?;
                match slot {
                    Slot::Chunks(c) => c.push(chunk),
                    _ => *slot = Slot::Chunks(vec![chunk]),
                }
            }
            Ty::Message(m) => {
                let v = self.message(*m, r.len_delimited(wt)?, depth + 1)?;
                if let Slot::Many(list) = slot.get_or_insert_many() {
                    list.push(v);
                }
            }
            Ty::Map(value_ty) => {
                let (k, v) = self.map_entry(value_ty, r.len_delimited(wt)?, depth + 1)?;
                if !matches!(slot, Slot::Entries(_)) {
                    *slot = Slot::Entries(Map::new());
                }
                if let Slot::Entries(m) = slot {
                    m.insert(k, v);
                }
            }
        }
        Ok(())
    }

    fn map_entry(&self, value_ty: &Ty, buf: &[u8], depth: usize) -> Result<(String, Value)> {
        let mut key = String::new();
        let mut value = Slot::Empty;
        let mut r = Reader::new(buf);
        while let Some((tag, wt)) = r.key()? {
            match tag {
                1 => key = r.string(wt)?.into_owned(),
                2 => self.read_field(value_ty, false, wt, &mut r, &mut value, depth).map_err(|e| e.at(&key))?,
                _ => r.skip(wt)?,
            }
        }
        let value = match (value, value_ty) {
            (Slot::One(v), _) => v,
            (Slot::Chunks(chunks), Ty::Message(m)) => self.message(*m, &concat(&chunks), depth + 1).map_err(|e| e.at(&key))?,
            // An absent value is the zero value (an empty Quantity is "0").
            (_, Ty::Message(m)) => self.message(*m, &[], depth + 1).map_err(|e| e.at(&key))?,
            (_, Ty::Scalar(Scalar::String | Scalar::Bytes)) => Value::String(String::new()),
            _ => return Err(ProtobufError::new("unsupported map value type").at(&key)),
        };
        Ok((key, value))
    }
}

impl Slot<'_> {
    fn get_or_insert_many(&mut self) -> &mut Self {
        if !matches!(self, Slot::Many(_)) {
            *self = Slot::Many(Vec::new());
        }
        self
    }
}

fn concat<'a>(chunks: &[&'a [u8]]) -> Cow<'a, [u8]> {
    match chunks {
        [one] => Cow::Borrowed(one),
        _ => Cow::Owned(chunks.concat()),
    }
}

fn scalar(sc: Scalar, wt: u8, r: &mut Reader) -> Result<Value> {
    Ok(match sc {
        Scalar::String => Value::String(r.string(wt)?.into_owned()),
        Scalar::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(r.len_delimited(wt)?)),
        Scalar::Bool => {
            expect(wt, VARINT)?;
            Value::Bool(r.varint()? != 0)
        }
        Scalar::Int32 => {
            expect(wt, VARINT)?;
            // Negative int32s are sign-extended to 64 bits on the wire.
            Value::from(r.varint()? as i64 as i32)
        }
        Scalar::Int64 => {
            expect(wt, VARINT)?;
            Value::from(r.varint()? as i64)
        }
        Scalar::Double => {
            expect(wt, FIXED64)?;
            let b = r.take(8)?;
            let v = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            Value::Number(Number::from_f64(v).ok_or_else(|| ProtobufError::new("non-finite number"))?)
        }
    })
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

// --- apimachinery types with their own JSON form ----------------------------

/// The fields of a small special message: varints by number, the last occurrence winning.
#[derive(Default)]
struct Small<'a> {
    ints: [u64; 4],
    bytes: [Option<&'a [u8]>; 4],
    list: Vec<&'a [u8]>,
}

fn small(buf: &[u8]) -> Result<Small<'_>> {
    let mut s = Small::default();
    let mut r = Reader::new(buf);
    while let Some((tag, wt)) = r.key()? {
        let i = tag as usize;
        match wt {
            VARINT if i < 4 => s.ints[i] = r.varint()?,
            LEN if i < 4 => {
                let b = r.len_delimited(wt)?;
                s.bytes[i] = Some(b);
                if i == 1 {
                    s.list.push(b);
                }
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(s)
}

fn special(sp: Special, buf: &[u8]) -> Result<Value> {
    let s = small(buf)?;
    let text = |i: usize| String::from_utf8_lossy(s.bytes[i].unwrap_or_default()).into_owned();
    let embedded_json = |what: &str| match s.bytes[1] {
        None | Some([]) => Ok(Value::Null),
        Some(raw) => serde_json::from_slice(raw).map_err(|e| ProtobufError::new(format!("{what} is not JSON: {e}"))),
    };
    Ok(match sp {
        Special::Time | Special::MicroTime => {
            let (secs, nanos) = (s.ints[1] as i64, s.ints[2] as i64 as i32);
            if secs == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            Value::String(timestamp(secs, nanos, sp == Special::MicroTime)?)
        }
        Special::Duration => Value::String(go_duration(s.ints[1] as i64)),
        Special::Quantity => {
            let q = text(1);
            Value::String(if q.is_empty() { "0".into() } else { q })
        }
        Special::IntOrString => {
            if s.ints[1] == 1 {
                Value::String(text(3))
            } else {
                Value::from(s.ints[2] as i64 as i32)
            }
        }
        Special::RawExtension => embedded_json("RawExtension")?,
        Special::FieldsV1 => embedded_json("FieldsV1")?,
        Special::Verbs => Value::Array(s.list.iter().map(|b| Value::String(String::from_utf8_lossy(b).into_owned())).collect()),
    })
}

/// metav1.Time is RFC 3339 in whole seconds, MicroTime with six fractional digits; both UTC.
fn timestamp(secs: i64, nanos: i32, micro: bool) -> Result<String> {
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(ProtobufError::new(format!("timestamp nanos {nanos} out of range")));
    }
    let ts = jiff::Timestamp::new(secs, 0).map_err(|e| ProtobufError::new(format!("timestamp out of range: {e}")))?;
    // Go refuses to write years outside 0..=9999 as RFC 3339.
    if ts.to_zoned(jiff::tz::TimeZone::UTC).year() < 0 {
        return Err(ProtobufError::new("timestamp before year 0"));
    }
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S");
    Ok(if micro { format!("{base}.{:06}Z", nanos / 1000) } else { format!("{base}Z") })
}

/// Go's time.Duration.String: "1h2m3.5s", "1.5ms", "0s".
fn go_duration(d: i64) -> String {
    fn frac(v: u64, prec: u32) -> (String, u64) {
        let p = 10u64.pow(prec);
        let f = v % p;
        if f == 0 {
            (String::new(), v / p)
        } else {
            let digits = format!("{f:0width$}", width = prec as usize);
            (format!(".{}", digits.trim_end_matches('0')), v / p)
        }
    }
    let u = d.unsigned_abs();
    let s = if u == 0 {
        "0s".to_string()
    } else if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (f, i) = frac(u, prec);
        format!("{i}{f}{unit}")
    } else {
        let (f, secs) = frac(u, 9);
        let mut s = format!("{}{f}s", secs % 60);
        let mins = secs / 60;
        if mins > 0 {
            s = format!("{}m{s}", mins % 60);
            if mins / 60 > 0 {
                s = format!("{}h{s}", mins / 60);
            }
        }
        s
    };
    if d < 0 {
        format!("-{s}")
    } else {
        s
    }
}
