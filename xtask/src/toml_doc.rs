//! Typed values read by hand out of a parsed TOML document, with errors that quote the line
//! they are about, laid out as toml's own. By hand rather than with serde's derive: that
//! derive, and syn under it, made up most of the xtask's first build.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::Range;

use anyhow::{Error, Result, anyhow};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// A document's text, which its errors quote.
#[derive(Clone, Copy)]
pub struct Doc<'i>(&'i str);

impl<'i> Doc<'i> {
    /// The document and its top-level table; syntax errors are toml's.
    pub fn parse(text: &'i str) -> Result<(Doc<'i>, Value<'i>)> {
        let table = DeTable::parse(text)?;
        Ok((
            Doc(text),
            Spanned::new(table.span(), DeValue::Table(table.into_inner())),
        ))
    }

    /// Reads the table `value` with `read`, then refuses any field `read` did not ask for
    /// (serde's `deny_unknown_fields`): a misspelt key is a mistake, not a default.
    pub fn fields<'a, T>(self, value: &'a Value<'i>, read: impl FnOnce(&mut Fields<'a, 'i>) -> Result<T>) -> Result<T> {
        let mut fields = Fields {
            doc: self,
            span: value.span(),
            table: self.table(value)?,
            known: Vec::new(),
        };
        let read = read(&mut fields)?;
        fields.end()?;
        Ok(read)
    }

    pub fn table<'a>(self, value: &'a Value<'i>) -> Result<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            _ => Err(self.invalid(value, "a table")),
        }
    }

    pub fn string(self, value: &Value<'i>) -> Result<String> {
        match value.get_ref() {
            DeValue::String(string) => Ok(string.to_string()),
            _ => Err(self.invalid(value, "a string")),
        }
    }

    fn strings(self, value: &Value<'i>) -> Result<Vec<String>> {
        match value.get_ref() {
            DeValue::Array(items) => items.iter().map(|item| self.string(item)).collect(),
            _ => Err(self.invalid(value, "an array of strings")),
        }
    }

    /// A whole number that fits a `T`; `expected` says what it is for.
    fn integer<T: TryFrom<u64>>(self, value: &Value<'i>, expected: &str) -> Result<T> {
        let DeValue::Integer(integer) = value.get_ref() else {
            return Err(self.invalid(value, expected));
        };
        let fits = u64::from_str_radix(integer.as_str(), integer.radix()).ok();
        fits.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
            let message = format!("invalid value: integer `{integer}`, expected {expected}");
            self.error(value.span(), message)
        })
    }

    fn invalid(self, value: &Value<'i>, expected: &str) -> Error {
        let found = match value.get_ref() {
            DeValue::String(string) => format!("string {string:?}"),
            DeValue::Integer(integer) => format!("integer `{integer}`"),
            DeValue::Float(float) => format!("floating point `{float}`"),
            DeValue::Boolean(boolean) => format!("boolean `{boolean}`"),
            DeValue::Datetime(datetime) => format!("datetime `{datetime}`"),
            DeValue::Array(_) => "an array".into(),
            DeValue::Table(_) => "a table".into(),
        };
        self.error(value.span(), format!("invalid type: {found}, expected {expected}"))
    }

    /// `message` under the line `span` begins on, the span marked.
    fn error(self, span: Range<usize>, message: impl Display) -> Error {
        let text = self.0;
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
        let line = text[line_start..].lines().next().unwrap_or("");
        let number = text[..line_start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count();
        let marked = text
            .get(start..span.end.min(line_start + line.len()))
            .map_or(0, |s| s.chars().count());
        let gutter = " ".repeat(number.to_string().len());
        anyhow!(
            "TOML parse error at line {number}, column {}\n{gutter} |\n{number} | {line}\n{gutter} | {}{}\n{message}",
            column + 1,
            " ".repeat(column),
            "^".repeat(marked.max(1))
        )
    }
}

/// A table being read (`Doc::fields`): remembers which fields were asked for.
pub struct Fields<'a, 'i> {
    doc: Doc<'i>,
    span: Range<usize>,
    table: &'a DeTable<'i>,
    known: Vec<&'static str>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// `key`'s value read with `read`, if the table has one.
    fn get<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(Doc<'i>, &'a Value<'i>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.known.push(key);
        self.table.get(key).map(|value| read(self.doc, value)).transpose()
    }

    pub fn required<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(Doc<'i>, &'a Value<'i>) -> Result<T>,
    ) -> Result<T> {
        let value = self.get(key, read)?;
        value.ok_or_else(|| self.doc.error(self.span.clone(), format!("missing field `{key}`")))
    }

    pub fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        self.get(key, Doc::string)
    }

    /// An array of strings; none when absent.
    pub fn strings(&mut self, key: &'static str) -> Result<Vec<String>> {
        Ok(self.get(key, Doc::strings)?.unwrap_or_default())
    }

    pub fn integer<T: TryFrom<u64>>(&mut self, key: &'static str, expected: &str) -> Result<Option<T>> {
        self.get(key, |doc, value| doc.integer(value, expected))
    }

    /// A table whose every value `read` reads; empty when absent.
    pub fn map<T>(
        &mut self,
        key: &'static str,
        read: impl Fn(Doc<'i>, &'a Value<'i>) -> Result<T>,
    ) -> Result<BTreeMap<String, T>> {
        let Some(table) = self.get(key, Doc::table)? else {
            return Ok(BTreeMap::new());
        };
        table
            .iter()
            .map(|(name, value)| Ok((name.get_ref().to_string(), read(self.doc, value)?)))
            .collect()
    }

    fn end(self) -> Result<()> {
        let Some(unknown) = self
            .table
            .keys()
            .find(|key| !self.known.contains(&key.get_ref().as_ref()))
        else {
            return Ok(());
        };
        let known: Vec<String> = self.known.iter().map(|key| format!("`{key}`")).collect();
        let message = format!(
            "unknown field `{}`, expected one of {}",
            unknown.get_ref(),
            known.join(", ")
        );
        Err(self.doc.error(unknown.span(), message))
    }
}
