//! Pagination (API.md): `?limit=` 1..200 (default 50) and an opaque cursor,
//! for every list the API serves.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::http::Request;
use crate::problem::{FieldError, Problem};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A validated page request; `after` is the decoded cursor.
pub struct PageRequest<C> {
    pub limit: i64,
    pub after: Option<C>,
}

impl<C: DeserializeOwned> PageRequest<C> {
    pub fn from_query(req: &Request) -> Result<Self, Problem> {
        let query = req.uri().query().unwrap_or("");
        let mut limit = DEFAULT_LIMIT;
        let mut after = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => {
                    limit = value
                        .parse::<i64>()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                            Problem::invalid_query(vec![FieldError::new(
                                "limit",
                                format!("must be an integer from 1 to {MAX_LIMIT}"),
                            )])
                        })?;
                }
                "cursor" if !value.is_empty() => {
                    after = Some(decode_cursor(&value).ok_or_else(|| {
                        Problem::invalid_query(vec![FieldError::new(
                            "cursor",
                            "is not a cursor this API issued",
                        )])
                    })?);
                }
                _ => {}
            }
        }
        Ok(Self { limit, after })
    }
}

pub fn encode_cursor<C: Serialize>(cursor: &C) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).expect("cursor serializes"))
}

fn decode_cursor<C: DeserializeOwned>(raw: &str) -> Option<C> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).ok()?).ok()
}

/// `{"items": [...], "next_cursor": ... }` from up to `limit + 1` rows.
#[derive(Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn from_rows<C: Serialize>(
        mut rows: Vec<T>,
        limit: i64,
        cursor_of: impl Fn(&T) -> C,
    ) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| encode_cursor(&cursor_of(last)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}
