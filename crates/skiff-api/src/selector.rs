//! Label and field selectors, as the API server parses and applies them.
//!
//! Grammar, matching and error texts follow apimachinery's `labels` and `fields`
//! packages and the per-kind field label conversions of the API server, so that
//! kubectl users see the same answers (and the same error messages) as upstream.

use std::fmt;

use serde_json::{Map, Value};

// Upstream's name checks, quoting and JSON kind names, shared with validation and decoding.
use crate::decode::json_kind;
use crate::validation::field_error::go_quote;
use crate::validation::names::{is_qualified_name, is_valid_label_value};

/// A selector error; the text is upstream's, word for word, so the API server
/// can put it straight into a 400 Status message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SelectorError> {
    Err(SelectorError(msg.into()))
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

/// A requirement's operator (apimachinery `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's name as upstream spells it in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement with upstream's `NewRequirement` checks; all problems are
    /// reported together as upstream aggregates them.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Requirement, SelectorError> {
        let mut errs: Vec<String> = Vec::new();
        let msgs = is_qualified_name(key);
        if !msgs.is_empty() {
            errs.push(format!(
                "key: Invalid value: {}: {}",
                go_quote(key),
                msgs.join("; ")
            ));
        }
        match op {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'in', 'notin' operators, values set can't be empty",
                        go_string_slice(&values)
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: exact-match compatibility requires one single value",
                        go_string_slice(&values)
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {}: values set must be empty for exists and does not exist",
                        go_string_slice(&values)
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'Gt', 'Lt' operators, exactly one value is required",
                        go_string_slice(&values)
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                            go_quote(v)
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {}: {}",
                    go_quote(v),
                    msgs.join("; ")
                ));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                op,
                values,
            })
        } else {
            Err(SelectorError(aggregate(errs)))
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn operator(&self) -> Operator {
        self.op
    }
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Upstream `Requirement.Matches`: NotIn/!= also match when the key is absent.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let got = labels.get(&self.key).map(label_str);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                got.is_some_and(|v| self.values.contains(&v))
            }
            Operator::NotIn | Operator::NotEquals => match got {
                None => true,
                Some(v) => !self.values.contains(&v),
            },
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = got.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.op == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// Label values are strings; anything else is compared by its JSON text rather than dropped.
fn label_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl fmt::Display for Requirement {
    /// Upstream `Requirement.String()`: values sorted, `in`/`notin` parenthesised.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let sep = match self.op {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(sep)?;
        let paren = matches!(self.op, Operator::In | Operator::NotIn);
        if paren {
            f.write_str("(")?;
        }
        let mut vals = self.values.clone();
        vals.sort();
        f.write_str(&vals.join(","))?;
        if paren {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// A null metav1.LabelSelector selects nothing (upstream `labels.Nothing()`).
    nothing: bool,
}

impl LabelSelector {
    /// Parses the `labelSelector` query-string grammar (upstream `labels.Parse`).
    pub fn parse(s: &str) -> Result<LabelSelector, SelectorError> {
        let mut p = Parser {
            items: lex_all(s),
            pos: 0,
        };
        let mut reqs = p.parse()?;
        // Upstream sorts by key so String() is deterministic.
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// From a metav1.LabelSelector JSON object (upstream `LabelSelectorAsSelector`).
    /// JSON null selects nothing; `{}` selects everything.
    pub fn from_json(v: &Value) -> Result<LabelSelector, SelectorError> {
        let obj = match v {
            Value::Null => return Ok(LabelSelector::nothing()),
            Value::Object(o) => o,
            other => {
                return err(format!(
                    "json: cannot unmarshal {} into Go value of type v1.LabelSelector",
                    json_kind(other)
                ))
            }
        };
        let mut reqs = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(ml)) => {
                for (k, val) in ml {
                    let Value::String(val) = val else {
                        return err(format!(
                            "json: cannot unmarshal {} into Go struct field LabelSelector.matchLabels of type string",
                            json_kind(val)
                        ));
                    };
                    reqs.push(Requirement::new(k, Operator::Equals, vec![val.clone()])?);
                }
            }
            Some(other) => {
                return err(format!(
                    "json: cannot unmarshal {} into Go struct field LabelSelector.matchLabels of type map[string]string",
                    json_kind(other)
                ))
            }
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for e in exprs {
                    let Value::Object(e) = e else {
                        return err(format!(
                            "json: cannot unmarshal {} into Go struct field LabelSelector.matchExpressions of type v1.LabelSelectorRequirement",
                            json_kind(e)
                        ));
                    };
                    let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                    let op_name = e.get("operator").and_then(Value::as_str).unwrap_or("");
                    let op = match op_name {
                        "In" => Operator::In,
                        "NotIn" => Operator::NotIn,
                        "Exists" => Operator::Exists,
                        "DoesNotExist" => Operator::DoesNotExist,
                        other => return err(format!("{} is not a valid label selector operator", go_quote(other))),
                    };
                    let mut values = Vec::new();
                    match e.get("values") {
                        None | Some(Value::Null) => {}
                        Some(Value::Array(vs)) => {
                            for x in vs {
                                let Value::String(x) = x else {
                                    return err(format!(
                                        "json: cannot unmarshal {} into Go struct field LabelSelectorRequirement.matchExpressions.values of type string",
                                        json_kind(x)
                                    ));
                                };
                                values.push(x.clone());
                            }
                        }
                        Some(other) => {
                            return err(format!(
                                "json: cannot unmarshal {} into Go struct field LabelSelectorRequirement.matchExpressions.values of type []string",
                                json_kind(other)
                            ))
                        }
                    }
                    reqs.push(Requirement::new(key, op, values)?);
                }
            }
            Some(other) => {
                return err(format!(
                    "json: cannot unmarshal {} into Go struct field LabelSelector.matchExpressions of type []v1.LabelSelectorRequirement",
                    json_kind(other)
                ))
            }
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// A selector that matches exactly the given labels (upstream `SelectorFromSet`,
    /// as used for Service and ReplicationController `spec.selector` maps).
    pub fn from_set(set: &Map<String, Value>) -> LabelSelector {
        let mut reqs: Vec<Requirement> = set
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Operator::Equals,
                values: vec![label_str(v)],
            })
            .collect();
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements: reqs,
            nothing: false,
        }
    }

    /// The selector that matches nothing (what a null metav1.LabelSelector means).
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector matches everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the select-nothing selector.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream `Selector.String()`; the nothing selector prints as "".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

// --- lexer (byte oriented, as upstream) ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    Eos,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn token_for(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::GreaterThan,
        b"in" => Tok::In,
        b"<" => Tok::LessThan,
        b"!=" => Tok::NotEquals,
        b"notin" => Tok::NotIn,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    /// Upstream reads a NUL at the end of input; a NUL byte inside also ends it.
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }
    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn lex(&mut self) -> (Tok, String) {
        let mut ch = self.read();
        while is_ws(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Tok::Eos, String::new());
        }
        self.unread();
        if is_special(ch) {
            self.scan_special()
        } else {
            self.scan_id_or_keyword()
        }
    }

    fn scan_id_or_keyword(&mut self) -> (Tok, String) {
        let start = self.pos;
        loop {
            let ch = self.read();
            if ch == 0 {
                // The NUL (or end) is consumed, as upstream does.
                let end = if self.pos > start && self.s.get(self.pos - 1) == Some(&0) {
                    self.pos - 1
                } else {
                    self.pos
                };
                return self.id_token(start, end);
            }
            if is_special(ch) || is_ws(ch) {
                self.unread();
                return self.id_token(start, self.pos);
            }
        }
    }

    fn id_token(&self, start: usize, end: usize) -> (Tok, String) {
        let bytes = &self.s[start..end.max(start)];
        let lit = String::from_utf8_lossy(bytes).into_owned();
        match token_for(bytes) {
            Some(t) => (t, lit),
            None => (Tok::Identifier, lit),
        }
    }

    fn scan_special(&mut self) -> (Tok, String) {
        let mut buf: Vec<u8> = Vec::new();
        let mut last: Option<(Tok, String)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special(ch) {
                buf.push(ch);
                if let Some(t) = token_for(&buf) {
                    last = Some((t, String::from_utf8_lossy(&buf).into_owned()));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        match last {
            Some(t) => t,
            None => (
                Tok::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buf)
                ),
            ),
        }
    }
}

fn lex_all(s: &str) -> Vec<(Tok, String)> {
    let mut l = Lexer {
        s: s.as_bytes(),
        pos: 0,
    };
    let mut items = Vec::new();
    loop {
        let (t, lit) = l.lex();
        items.push((t, lit));
        if t == Tok::Eos {
            return items;
        }
    }
}

// --- parser ---

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn at(&self, i: usize, ctx: Ctx) -> (Tok, String) {
        // The item list always ends with Eos; reading past it keeps yielding Eos.
        let (t, lit) = self
            .items
            .get(i)
            .cloned()
            .unwrap_or((Tok::Eos, String::new()));
        // In value position "in"/"notin" are plain words (`x in (in)`).
        let t = if ctx == Ctx::Values && matches!(t, Tok::In | Tok::NotIn) {
            Tok::Identifier
        } else {
            t
        };
        (t, lit)
    }
    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.at(self.pos, ctx)
    }
    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let r = self.at(self.pos, ctx);
        self.pos += 1;
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| {
                        SelectorError(format!("unable to parse requirement: {}", e.0))
                    })?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::Eos => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::Eos => return Ok(reqs),
                _ => {
                    return err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let mut values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        // Upstream collects values in a set and lists them sorted.
        values.sort();
        values.dedup();
        Requirement::new(&key, op, values)
    }

    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(String, Option<Operator>), SelectorError> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return err(format!("found '{lit}', expected: identifier"));
        }
        let msgs = is_qualified_name(&lit);
        if !msgs.is_empty() {
            // Upstream validates with a nil field path, which prints as "<nil>".
            return err(format!(
                "<nil>: Invalid value: {}: {}",
                go_quote(&lit),
                msgs.join("; ")
            ));
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if (t == Tok::Eos || t == Tok::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, SelectorError> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => return err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, SelectorError> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    s.push(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s),
                        _ => return err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    // Empty values: "(,a", "a,)", "a,,b" all carry "".
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        s.push(String::new());
                    }
                }
                _ => return err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::Eos || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        err(format!("found '{lit}', expected: identifier"))
    }
}

/// Upstream `utilerrors.Aggregate.Error()`: one message alone, several bracketed, duplicates dropped.
fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.pop().unwrap_or_default()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// Go's `%#v` for a []string: `[]string{"a", "b"}`; empty ones were nil upstream.
fn go_string_slice(v: &[String]) -> String {
    if v.is_empty() {
        return "[]string(nil)".to_string();
    }
    let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", items.join(", "))
}

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct FieldRequirement {
    field: String,
    equals: bool,
    value: String,
}

/// A parsed field selector: the AND of `field=value` / `field!=value` terms.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses a `fieldSelector` (upstream `fields.ParseSelector`, with its escaping:
    /// `\,`, `\=` and `\\` in values).
    pub fn parse(s: &str) -> Result<FieldSelector, SelectorError> {
        let mut parts = split_terms(s);
        // Upstream sorts the raw terms before parsing them.
        parts.sort();
        let mut reqs = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let value = unescape_value(rhs)?;
            reqs.push(FieldRequirement {
                field: lhs.to_string(),
                equals: op != "!=",
                value,
            });
        }
        Ok(FieldSelector { requirements: reqs })
    }

    /// (field, equals?, value) for each term, in upstream's (sorted) order.
    pub fn requirements(&self) -> impl Iterator<Item = (&str, bool, &str)> {
        self.requirements
            .iter()
            .map(|r| (r.field.as_str(), r.equals, r.value.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value the selector requires for `field`, if it pins one with `=`/`==`
    /// (upstream `RequiresExactMatch`; handy for index lookups such as spec.nodeName).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.equals && r.field == field)
            .map(|r| r.value.as_str())
    }

    /// Checks every field is selectable for the kind, with the error the API server's
    /// field label conversion gives (sent as a 400 BadRequest whose message is this text).
    pub fn validate_for(&self, group: &str, kind: &str) -> Result<(), SelectorError> {
        for r in &self.requirements {
            check_field_label(group, kind, &r.field)?;
        }
        Ok(())
    }

    /// Whether the object satisfies every term; fields the kind lacks compare as "".
    pub fn matches(&self, group: &str, kind: &str, obj: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let have = field_value(group, kind, obj, &r.field).unwrap_or_default();
            (have == r.value) == r.equals
        })
    }
}

impl fmt::Display for FieldSelector {
    /// Upstream `Selector.String()` (values are shown unescaped, as upstream does).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(
                f,
                "{}{}{}",
                r.field,
                if r.equals { "=" } else { "!=" },
                r.value
            )?;
        }
        Ok(())
    }
}

/// Splits on commas not escaped by a backslash; the backslashes stay in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits at the first operator: "!=" before "==" before "=", tried at each position.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Upstream prints the rune with %v, i.e. its code point number.
            ',' | '=' => {
                return err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ))
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return err("invalid field selector: invalid escape sequence: \\");
    }
    Ok(out)
}

// --- which fields each kind supports (the API server's field label conversions) ---

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
    // Old v1 clients send spec.host; upstream maps it to spec.nodeName.
    "spec.host",
];
const NODE_FIELDS: &[&str] = &["metadata.name", "spec.unschedulable"];
const RC_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.replicas"];
const CORE_EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];
const EVENTS_V1_FIELDS: &[&str] = &[
    "reason",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reportingController",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];
const NAMESPACE_FIELDS: &[&str] = &["status.phase", "metadata.name"];
const SECRET_FIELDS: &[&str] = &["type", "metadata.namespace", "metadata.name"];
const SERVICE_FIELDS: &[&str] = &[
    "metadata.namespace",
    "metadata.name",
    "spec.clusterIP",
    "spec.type",
];
const JOB_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];
const CSR_FIELDS: &[&str] = &["metadata.name", "spec.signerName"];
const RESOURCE_SLICE_FIELDS: &[&str] = &["metadata.name", "spec.nodeName", "spec.driver"];
const DEFAULT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// How a kind rejects an unknown field label (each registered conversion words it its own way).
#[derive(Clone, Copy)]
enum Reject {
    /// `field label not supported: x`
    Plain,
    /// `field label "x" not supported for batchv1.Job`
    BatchJob,
    /// `"x" is not a known field selector: only "metadata.name", "metadata.namespace"`
    Default,
}

fn field_rules(group: &str, kind: &str) -> (&'static [&'static str], Reject) {
    match (group, kind) {
        ("", "Pod") => (POD_FIELDS, Reject::Plain),
        ("", "Node") => (NODE_FIELDS, Reject::Plain),
        ("", "ReplicationController") => (RC_FIELDS, Reject::Plain),
        ("", "Event") => (CORE_EVENT_FIELDS, Reject::Plain),
        ("events.k8s.io", "Event") => (EVENTS_V1_FIELDS, Reject::Plain),
        ("", "Namespace") => (NAMESPACE_FIELDS, Reject::Plain),
        ("", "Secret") => (SECRET_FIELDS, Reject::Plain),
        ("", "Service") => (SERVICE_FIELDS, Reject::Plain),
        ("batch", "Job") => (JOB_FIELDS, Reject::BatchJob),
        ("certificates.k8s.io", "CertificateSigningRequest") => (CSR_FIELDS, Reject::Plain),
        ("resource.k8s.io", "ResourceSlice") => (RESOURCE_SLICE_FIELDS, Reject::Plain),
        // Everything else (apps/v1 ReplicaSet included: apps/v1 registers no conversion,
        // so status.replicas is refused there) gets the generic metadata-only rule.
        _ => (DEFAULT_FIELDS, Reject::Default),
    }
}

fn check_field_label(group: &str, kind: &str, label: &str) -> Result<(), SelectorError> {
    let (allowed, reject) = field_rules(group, kind);
    if allowed.contains(&label) {
        return Ok(());
    }
    match reject {
        Reject::Plain => err(format!("field label not supported: {label}")),
        Reject::BatchJob => err(format!(
            "field label {} not supported for batchv1.Job",
            go_quote(label)
        )),
        Reject::Default => err(format!(
            "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            go_quote(label)
        )),
    }
}

fn path<'a>(obj: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let mut cur = obj;
    for k in keys {
        cur = cur.get(k)?;
    }
    Some(cur)
}

fn str_at(obj: &Value, keys: &[&str]) -> String {
    path(obj, keys)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn first_nonempty(obj: &Value, paths: &[&[&str]]) -> String {
    paths
        .iter()
        .map(|p| str_at(obj, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

fn int_at(obj: &Value, keys: &[&str]) -> i64 {
    path(obj, keys).and_then(Value::as_i64).unwrap_or(0)
}

fn bool_at(obj: &Value, keys: &[&str]) -> bool {
    path(obj, keys).and_then(Value::as_bool).unwrap_or(false)
}

/// The value of a selectable field of an object, as the API server's field set has it
/// (`ToSelectableFields` per kind). None when the kind has no such field; callers
/// compare None as "" just as upstream's `fields.Set.Get` does.
pub fn field_value(group: &str, kind: &str, obj: &Value, field: &str) -> Option<String> {
    match field {
        "metadata.name" => return Some(str_at(obj, &["metadata", "name"])),
        "metadata.namespace" => return Some(str_at(obj, &["metadata", "namespace"])),
        _ => {}
    }
    let v = match (group, kind) {
        ("", "Pod") => match field {
            "spec.nodeName" | "spec.host" => str_at(obj, &["spec", "nodeName"]),
            "spec.restartPolicy" => str_at(obj, &["spec", "restartPolicy"]),
            "spec.schedulerName" => str_at(obj, &["spec", "schedulerName"]),
            "spec.serviceAccountName" => str_at(obj, &["spec", "serviceAccountName"]),
            "spec.hostNetwork" => bool_at(obj, &["spec", "hostNetwork"]).to_string(),
            "status.phase" => str_at(obj, &["status", "phase"]),
            // The primary IP, as the internal object (podIPs[0]) has it.
            "status.podIP" => pod_ip(obj),
            "status.nominatedNodeName" => str_at(obj, &["status", "nominatedNodeName"]),
            // status.podIPs is accepted but upstream's field set never fills it.
            _ => return None,
        },
        ("", "Node") => match field {
            "spec.unschedulable" => bool_at(obj, &["spec", "unschedulable"]).to_string(),
            _ => return None,
        },
        ("", "ReplicationController") | ("apps", "ReplicaSet") => match field {
            "status.replicas" => int_at(obj, &["status", "replicas"]).to_string(),
            _ => return None,
        },
        ("batch", "Job") => match field {
            "status.successful" => int_at(obj, &["status", "succeeded"]).to_string(),
            _ => return None,
        },
        ("", "Namespace") => match field {
            "status.phase" => str_at(obj, &["status", "phase"]),
            _ => return None,
        },
        ("", "Secret") => match field {
            "type" => str_at(obj, &["type"]),
            _ => return None,
        },
        ("", "Service") => match field {
            "spec.clusterIP" => str_at(obj, &["spec", "clusterIP"]),
            "spec.type" => str_at(obj, &["spec", "type"]),
            _ => return None,
        },
        ("certificates.k8s.io", "CertificateSigningRequest") => match field {
            "spec.signerName" => str_at(obj, &["spec", "signerName"]),
            _ => return None,
        },
        ("resource.k8s.io", "ResourceSlice") => match field {
            "spec.nodeName" => str_at(obj, &["spec", "nodeName"]),
            "spec.driver" => str_at(obj, &["spec", "driver"]),
            _ => return None,
        },
        ("", "Event") | ("events.k8s.io", "Event") => return event_field(obj, field),
        _ => return None,
    };
    Some(v)
}

fn pod_ip(obj: &Value) -> String {
    let ip = str_at(obj, &["status", "podIP"]);
    if !ip.is_empty() {
        return ip;
    }
    path(obj, &["status", "podIPs"])
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|x| x.get("ip"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Event fields; both the core/v1 and the events.k8s.io/v1 shapes of an Event are read,
/// and both label spellings (involvedObject.* / regarding.*) are understood.
fn event_field(obj: &Value, field: &str) -> Option<String> {
    let reporting = || first_nonempty(obj, &[&["reportingComponent"], &["reportingController"]]);
    let v = if let Some(sub) = field
        .strip_prefix("involvedObject.")
        .or_else(|| field.strip_prefix("regarding."))
    {
        match sub {
            "kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion"
            | "fieldPath" => first_nonempty(obj, &[&["involvedObject", sub], &["regarding", sub]]),
            _ => return None,
        }
    } else {
        match field {
            "reason" => str_at(obj, &["reason"]),
            "type" => str_at(obj, &["type"]),
            "reportingComponent" | "reportingController" => reporting(),
            "source" => {
                let s = first_nonempty(
                    obj,
                    &[&["source", "component"], &["deprecatedSource", "component"]],
                );
                if s.is_empty() {
                    reporting()
                } else {
                    s
                }
            }
            _ => return None,
        }
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn perr(s: &str) -> String {
        match LabelSelector::parse(s) {
            Ok(sel) => panic!("{s:?} parsed to {sel}"),
            Err(e) => e.0,
        }
    }

    fn ok(s: &str) -> LabelSelector {
        match LabelSelector::parse(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    #[test]
    fn selector_label_grammar_round_trips() {
        assert_eq!(
            ok("x in (foo,,baz),y,z notin ()").to_string(),
            "x in (,baz,foo),y,z notin ()"
        );
        assert_eq!(ok("a=b").to_string(), "a=b");
        assert_eq!(ok("a==b").to_string(), "a==b");
        assert_eq!(ok("a!=b").to_string(), "a!=b");
        assert_eq!(ok(" b , !a ").to_string(), "!a,b");
        assert_eq!(ok("a>1,b<2").to_string(), "a>1,b<2");
        assert_eq!(ok("a=").to_string(), "a=");
        assert_eq!(ok("x in (in,notin)").to_string(), "x in (in,notin)");
        assert_eq!(
            ok("app.kubernetes.io/name=web").to_string(),
            "app.kubernetes.io/name=web"
        );
        assert!(ok("").is_empty());
        assert!(ok("   ").is_empty());
        assert!(!ok("a").is_empty());
    }

    #[test]
    fn selector_label_parse_errors_use_upstream_words() {
        assert_eq!(
            perr("a in ("),
            "unable to parse requirement: found '', expected: ',', ')' or identifier"
        );
        assert_eq!(
            perr("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            perr("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            perr("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(perr("a=b c"), "found 'c', expected: ',' or 'end of string'");
        assert_eq!(perr("a=b,"), "found '', expected: identifier after ','");
        assert_eq!(
            perr("=a"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(perr("!a=b"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            perr("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            perr("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            perr("app:monolith"),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            perr("a=-b"),
            "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(
            perr("a>b"),
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert_eq!(
            perr("Foo_/x=1"),
            "unable to parse requirement: <nil>: Invalid value: \"Foo_/x\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        let long = "a".repeat(64);
        assert_eq!(
            perr(&format!("k={long}")),
            format!("unable to parse requirement: values[0][k]: Invalid value: \"{long}\": must be no more than 63 characters")
        );
    }

    #[test]
    fn selector_label_matching() {
        let l = labels(json!({"app": "web", "tier": "front", "n": "5"}));
        assert!(ok("app=web").matches(&l));
        assert!(ok("app==web,tier").matches(&l));
        assert!(!ok("app!=web").matches(&l));
        assert!(ok("missing!=x").matches(&l));
        assert!(ok("app in (db,web)").matches(&l));
        assert!(!ok("app notin (db,web)").matches(&l));
        assert!(
            ok("missing notin (a)").matches(&l),
            "NotIn matches when the key is absent"
        );
        assert!(!ok("missing in (a)").matches(&l));
        assert!(ok("!missing").matches(&l));
        assert!(!ok("!app").matches(&l));
        assert!(ok("n>4,n<6").matches(&l));
        assert!(!ok("n>5").matches(&l));
        assert!(
            !ok("app>1").matches(&l),
            "non-integer label never satisfies gt"
        );
        assert!(ok("").matches(&l));
        assert!(ok("tier=").matches(&labels(json!({"tier": ""}))));
    }

    #[test]
    fn selector_from_json_semantics_and_errors() {
        let l = labels(json!({"app": "web"}));
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "gone", "operator": "DoesNotExist"}
            ]
        }))
        .expect("valid");
        assert!(s.matches(&l));
        assert_eq!(s.to_string(), "app=web,env notin (prod),!gone");

        let empty = LabelSelector::from_json(&json!({})).expect("valid");
        assert!(empty.is_empty() && empty.matches(&l));
        let none = LabelSelector::from_json(&Value::Null).expect("valid");
        assert!(!none.is_empty() && !none.matches(&l));

        let e = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}),
        );
        assert_eq!(
            e.map_err(|e| e.0).err().as_deref(),
            Some("\"Foo\" is not a valid label selector operator")
        );
        let e = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        );
        assert_eq!(
            e.map_err(|e| e.0).err().as_deref(),
            Some("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty")
        );
        let e = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        );
        assert_eq!(
            e.map_err(|e| e.0).err().as_deref(),
            Some("values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist")
        );
        let e = LabelSelector::from_json(&json!({"matchLabels": {"a/b/c": "x"}}));
        assert_eq!(
            e.map_err(|e| e.0).err().as_deref(),
            Some("key: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
        );
        // Several problems in one requirement are aggregated in brackets.
        let e = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "-a", "operator": "In", "values": ["-x"]}]}),
        );
        let msg = e.map_err(|e| e.0).err().unwrap_or_default();
        assert!(
            msg.starts_with("[key: Invalid value: \"-a\": name part must consist"),
            "{msg}"
        );
        assert!(
            msg.contains(", values[0][-a]: Invalid value: \"-x\": a valid label"),
            "{msg}"
        );
    }

    #[test]
    fn selector_field_parse_and_escapes() {
        let s = FieldSelector::parse("status.phase!=Running,metadata.name==a\\,b").expect("valid");
        let reqs: Vec<_> = s.requirements().collect();
        assert_eq!(
            reqs,
            vec![
                ("metadata.name", true, "a,b"),
                ("status.phase", false, "Running")
            ]
        );
        assert!(FieldSelector::parse("").expect("valid").is_empty());
        assert_eq!(
            FieldSelector::parse("foo")
                .map_err(|e| e.0)
                .err()
                .as_deref(),
            Some("invalid selector: 'foo'; can't understand 'foo'")
        );
        assert_eq!(
            FieldSelector::parse("a=b=c")
                .map_err(|e| e.0)
                .err()
                .as_deref(),
            Some("invalid field selector: unescaped character in value: 61")
        );
        assert_eq!(
            FieldSelector::parse("a=b\\x")
                .map_err(|e| e.0)
                .err()
                .as_deref(),
            Some("invalid field selector: invalid escape sequence: \\x")
        );
        assert_eq!(
            FieldSelector::parse("a=b\\")
                .map_err(|e| e.0)
                .err()
                .as_deref(),
            Some("invalid field selector: invalid escape sequence: \\")
        );
        assert_eq!(
            FieldSelector::parse("a=b\\=c\\\\")
                .expect("valid")
                .requirements()
                .next(),
            Some(("a", true, "b=c\\"))
        );
    }

    #[test]
    fn selector_field_validation_per_kind() {
        let s = FieldSelector::parse("spec.nodeName=n1,status.phase=Running").expect("valid");
        assert!(s.validate_for("", "Pod").is_ok());
        let bad = FieldSelector::parse("foo=bar").expect("valid");
        assert_eq!(
            bad.validate_for("", "Pod")
                .map_err(|e| e.0)
                .err()
                .as_deref(),
            Some("field label not supported: foo")
        );
        assert_eq!(
            bad.validate_for("", "ConfigMap").map_err(|e| e.0).err().as_deref(),
            Some("\"foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
        );
        assert_eq!(
            bad.validate_for("batch", "Job")
                .map_err(|e| e.0)
                .err()
                .as_deref(),
            Some("field label \"foo\" not supported for batchv1.Job")
        );
        let ns = FieldSelector::parse("metadata.namespace=x").expect("valid");
        assert!(ns.validate_for("", "Node").is_err());
        assert!(ns.validate_for("", "ConfigMap").is_ok());
        let reg = FieldSelector::parse("regarding.name=x").expect("valid");
        assert!(reg.validate_for("events.k8s.io", "Event").is_ok());
        assert!(reg.validate_for("", "Event").is_err());
        let rs = FieldSelector::parse("status.replicas=1").expect("valid");
        assert!(rs.validate_for("", "ReplicationController").is_ok());
        assert!(rs.validate_for("apps", "ReplicaSet").is_err());
    }

    #[test]
    fn selector_field_matching() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        let m = |s: &str| {
            FieldSelector::parse(s)
                .expect("valid")
                .matches("", "Pod", &pod)
        };
        assert!(m("spec.nodeName=n1"));
        assert!(m("spec.host=n1"));
        assert!(m("status.phase!=Pending,metadata.namespace=default"));
        assert!(!m("status.phase=Pending"));
        assert!(m("spec.hostNetwork=false"));
        assert!(m("status.podIP=10.0.0.5"));
        assert!(m("status.nominatedNodeName="));
        assert!(!m("status.podIPs=10.0.0.5"));

        let ev = json!({
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Started", "type": "Normal",
            "source": {"component": "kubelet"}
        });
        let s =
            FieldSelector::parse("involvedObject.kind=Pod,involvedObject.name=p,source=kubelet")
                .expect("valid");
        assert!(s.matches("", "Event", &ev));
        let ev2 = json!({"regarding": {"kind": "Pod", "name": "p"}, "reportingController": "kubelet", "type": "Normal"});
        let s =
            FieldSelector::parse("regarding.kind=Pod,reportingController=kubelet,source=kubelet")
                .expect("valid");
        assert!(s.matches("events.k8s.io", "Event", &ev2));

        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert_eq!(
            field_value("", "Node", &node, "spec.unschedulable").as_deref(),
            Some("true")
        );
        let job = json!({"status": {"succeeded": 3}});
        assert_eq!(
            field_value("batch", "Job", &job, "status.successful").as_deref(),
            Some("3")
        );
        assert_eq!(
            field_value("", "Secret", &json!({"type": "Opaque"}), "type").as_deref(),
            Some("Opaque")
        );
    }
}
