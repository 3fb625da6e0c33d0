//! A row's decoded cells, read by field, and the errors found in them.

use std::borrow::Cow;

use crate::columns::{Columns, Field};
use crate::rows::RowError;

/// Offending values are cut to this many characters in errors.
const MAX_ERROR_VALUE_CHARS: usize = 100;
/// Text PostgreSQL cannot store; the rest of the row may be fine.
pub const NUL_MESSAGE: &str = "must not contain NUL characters";

/// A row's decoded cells and the errors found so far.
pub struct Cells<'a> {
    cells: &'a [Cow<'a, str>],
    columns: &'a Columns,
    line: u64,
    errors: Vec<RowError>,
}

impl<'a> Cells<'a> {
    pub fn new(cells: &'a [Cow<'a, str>], columns: &'a Columns, line: u64) -> Self {
        Self {
            cells,
            columns,
            line,
            errors: Vec::new(),
        }
    }

    /// Whether the file has this column at all.
    pub fn has(&self, field: Field) -> bool {
        self.columns.get(field).is_some()
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<RowError> {
        self.errors
    }

    /// The cell as the file wrote it; `None` when the file has no such column.
    pub fn text(&self, field: Field) -> Option<String> {
        self.columns.get(field).map(|i| self.cells[i].to_string())
    }

    pub fn non_empty(&self, field: Field) -> Option<&str> {
        let i = self.columns.get(field)?;
        let cell = self.cells[i].trim();
        (!cell.is_empty()).then_some(cell)
    }

    pub fn reject(&mut self, field: Field, value: &str, message: &str) {
        self.errors.push(RowError {
            line: self.line,
            column: Some(field.name().to_string()),
            // PostgreSQL cannot store NUL: show where it was instead.
            value: Some(
                value
                    .chars()
                    .take(MAX_ERROR_VALUE_CHARS)
                    .map(|c| {
                        if c == '\0' {
                            char::REPLACEMENT_CHARACTER
                        } else {
                            c
                        }
                    })
                    .collect(),
            ),
            message: message.to_string(),
        });
    }

    pub fn required_text(&mut self, field: Field, max_chars: usize) -> Option<String> {
        let value = self.text(field).unwrap_or_default();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.reject(field, &value, "is required");
            None
        } else if trimmed.chars().count() > max_chars {
            self.reject(
                field,
                trimmed,
                &format!("must be at most {max_chars} characters"),
            );
            None
        } else if trimmed.contains('\0') {
            self.reject(field, trimmed, NUL_MESSAGE);
            None
        } else {
            Some(trimmed.to_string())
        }
    }

    pub fn parse<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.text(field)?;
        match parse(&value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.reject(field, value.trim(), &message);
                None
            }
        }
    }
}
