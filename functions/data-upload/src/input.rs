//! Upload requests parsed into domain values.

use flux_shared::problem::FieldError;
use serde::Deserialize;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Content types a browser may give a CSV file (Windows calls it Excel).
const CSV_CONTENT_TYPES: &[&str] = &[
    "text/csv",
    "application/vnd.ms-excel",
    "text/plain",
    "application/csv",
];

#[derive(Deserialize)]
pub struct NewUploadBody {
    pub filename: String,
    pub size_bytes: i64,
    #[serde(default)]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub filename: String,
    pub size_bytes: i64,
    pub content_type: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NewUploadError {
    #[error("invalid upload")]
    Invalid(Vec<FieldError>),
    #[error("the file is over {max} bytes")]
    TooLarge { max: i64 },
}

impl NewUpload {
    pub fn parse(body: NewUploadBody, max_size: i64) -> Result<Self, NewUploadError> {
        let mut errors = Vec::new();
        let filename = body.filename.trim().to_string();
        if filename.is_empty() || filename.chars().count() > 255 {
            errors.push(FieldError::new("filename", "must be 1 to 255 characters"));
        } else if filename.chars().any(is_invisible) {
            errors.push(FieldError::new(
                "filename",
                "must not contain control or invisible formatting characters",
            ));
        } else if filename.contains(['/', '\\']) {
            errors.push(FieldError::new("filename", "must be a plain file name"));
        } else if !filename.to_ascii_lowercase().ends_with(".csv") {
            errors.push(FieldError::new("filename", "must end in .csv"));
        }
        if body.size_bytes < 1 {
            errors.push(FieldError::new("size_bytes", "must be at least 1"));
        }
        let content_type = body
            .content_type
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "text/csv".to_string());
        if !CSV_CONTENT_TYPES.contains(&content_type.as_str()) {
            errors.push(FieldError::new(
                "content_type",
                format!("must be one of {}", CSV_CONTENT_TYPES.join(", ")),
            ));
        }
        if !errors.is_empty() {
            return Err(NewUploadError::Invalid(errors));
        }
        if body.size_bytes > max_size {
            return Err(NewUploadError::TooLarge { max: max_size });
        }
        Ok(Self {
            filename,
            size_bytes: body.size_bytes,
            content_type,
        })
    }
}

/// Characters a name is not shown with: controls, and formatting such as
/// the bidi overrides that make `exe.csv` of `\u{202E}vsc.exe`.
fn is_invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(filename: &str, size: i64, content_type: Option<&str>) -> NewUploadBody {
        NewUploadBody {
            filename: filename.into(),
            size_bytes: size,
            content_type: content_type.map(str::to_string),
        }
    }

    #[test]
    fn filenames_sizes_and_types_are_checked() {
        let ok = NewUpload::parse(body(" Sales-JAN.CSV ", 10, None), 100).unwrap();
        assert_eq!(ok.filename, "Sales-JAN.CSV");
        assert_eq!(ok.content_type, "text/csv");
        for (b, field) in [
            (body("sales.xlsx", 10, None), "filename"),
            (body("../x.csv", 10, None), "filename"),
            (body("", 10, None), "filename"),
            (body("a.csv", 0, None), "size_bytes"),
            (body("a.csv", -5, None), "size_bytes"),
            (body("a.csv", 5, Some("image/png")), "content_type"),
            (body("\u{202E}vsc.exe", 10, None), "filename"),
            (body("sales\u{200B}.csv", 10, None), "filename"),
            (body("sales\u{2028}.csv", 10, None), "filename"),
            (body("sales\t.csv", 10, None), "filename"),
        ] {
            match NewUpload::parse(b, 100) {
                Err(NewUploadError::Invalid(errors)) => assert_eq!(errors[0].field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert_eq!(
            NewUpload::parse(body("a.csv", 101, None), 100),
            Err(NewUploadError::TooLarge { max: 100 })
        );
    }
}
