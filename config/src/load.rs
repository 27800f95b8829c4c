//! Reading a configuration file and turning every failure into a `ConfigError` that names the
//! file, the line and column, and the field (dotted path, e.g. `registrar.min_expires` or
//! `credential[1].password`).
//!
//! Deserialisation is serde + `toml`; positions of fields come from a second, span-keeping parse
//! with `toml_edit`, so that validation errors found after deserialisation point at the right
//! line too. This module does not decide what is valid (`validate` does).

use crate::schema::Config;
use crate::validate;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use toml_edit::{ImDocument, Item, TableLike};

/// A configuration that could not be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based line and column of the offending text, when the file has it.
    pub position: Option<(usize, usize)>,
    /// Dotted path of the field, when the fault belongs to one.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A fault found by `validate`, located by field path; `load` turns it into a `ConfigError`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: Vec<PathPart>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPart {
    Key(&'static str),
    Index(usize),
}

impl FieldError {
    pub fn new(path: &[PathPart], message: impl Into<String>) -> Self {
        FieldError {
            path: path.to_vec(),
            message: message.into(),
        }
    }
}

fn dotted(path: &[PathPart]) -> String {
    let mut s = String::new();
    for p in path {
        match p {
            PathPart::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathPart::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            position: None,
            field: None,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&name, &text)
    }

    /// Parses and validates `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let span = e.span();
            ConfigError {
                file: file.to_string(),
                position: span.as_ref().map(|s| line_col(text, s.start)),
                field: span
                    .as_ref()
                    .and_then(|s| field_at(text, s.start))
                    .filter(|f| !f.is_empty()),
                message: e.message().trim().to_string(),
            }
        })?;
        validate::check(&config).map_err(|fe| ConfigError {
            file: file.to_string(),
            position: span_of(text, &fe.path).map(|s| line_col(text, s.start)),
            field: Some(dotted(&fe.path)),
            message: fe.message,
        })?;
        Ok(config)
    }
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text
        .get(line_start..offset)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// The dotted path of the innermost key whose key or value covers `offset`.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let doc = ImDocument::parse(text.to_string()).ok()?;
    let mut path = String::new();
    descend(doc.as_table(), offset, &mut path);
    Some(path)
}

fn covers(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn descend(table: &dyn TableLike, offset: usize, path: &mut String) {
    for (k, _) in table.iter() {
        let Some((key, item)) = table.get_key_value(k) else {
            continue;
        };
        let key_hit = covers(key.span(), offset);
        let nested = match item {
            Item::ArrayOfTables(a) => a
                .iter()
                .enumerate()
                .find(|(_, t)| covers(t.span(), offset) || table_contains(t, offset)),
            _ => None,
        };
        if let Some((i, t)) = nested {
            push_key(path, k);
            path.push_str(&format!("[{i}]"));
            descend(t, offset, path);
            return;
        }
        let item_hit = covers(item.span(), offset)
            || item
                .as_table_like()
                .is_some_and(|t| table_like_contains(t, offset));
        if key_hit || item_hit {
            push_key(path, k);
            if let Some(t) = item.as_table_like() {
                if !key_hit {
                    descend(t, offset, path);
                }
            }
            return;
        }
    }
}

fn table_contains(t: &toml_edit::Table, offset: usize) -> bool {
    table_like_contains(t, offset)
}

fn table_like_contains(t: &dyn TableLike, offset: usize) -> bool {
    t.iter().any(|(k, item)| {
        t.get_key_value(k)
            .is_some_and(|(key, _)| covers(key.span(), offset))
            || covers(item.span(), offset)
            || item
                .as_table_like()
                .is_some_and(|t| table_like_contains(t, offset))
    })
}

fn push_key(path: &mut String, k: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(k);
}

/// Span of the value (or, failing that, the nearest enclosing table) at `path`.
/// 1-based line and column of the field a dotted path (`zone[2].peer`) names in `text`.
pub(crate) fn position_of(text: &str, dotted: &str) -> Option<(usize, usize)> {
    let mut parts = Vec::new();
    for piece in dotted.split('.') {
        let (key, rest) = piece.split_once('[').unwrap_or((piece, ""));
        parts.push(Part::Key(key));
        for index in rest.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                parts.push(Part::Index(i));
            }
        }
    }
    span_in(text, &parts).map(|s| line_col(text, s.start))
}

/// A path step with a borrowed key (`PathPart`'s keys are static).
enum Part<'a> {
    Key(&'a str),
    Index(usize),
}

fn span_of(text: &str, path: &[PathPart]) -> Option<Range<usize>> {
    let parts: Vec<Part<'_>> = path
        .iter()
        .map(|p| match p {
            PathPart::Key(k) => Part::Key(k),
            PathPart::Index(i) => Part::Index(*i),
        })
        .collect();
    span_in(text, &parts)
}

fn span_in(text: &str, path: &[Part<'_>]) -> Option<Range<usize>> {
    let doc = ImDocument::parse(text.to_string()).ok()?;
    let mut best: Option<Range<usize>> = None;
    let mut item: Option<&Item> = None;
    let mut table: Option<&dyn TableLike> = Some(doc.as_table());
    for part in path {
        match part {
            Part::Key(k) => {
                let Some((key, next)) = table.and_then(|t| t.get_key_value(k)) else {
                    return best;
                };
                best = key.span().or(best);
                item = Some(next);
                table = next.as_table_like();
            }
            Part::Index(i) => match item {
                Some(Item::ArrayOfTables(a)) => {
                    let Some(t) = a.get(*i) else { return best };
                    best = t.span().or(best);
                    table = Some(t);
                }
                Some(Item::Value(toml_edit::Value::Array(a))) => {
                    let Some(v) = a.get(*i) else { return best };
                    best = v.span().or(best);
                    table = None;
                }
                _ => return best,
            },
        }
    }
    best
}

#[cfg(test)]
mod tests;
