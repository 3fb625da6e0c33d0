//! The local stack: the whole Flux backend on one machine, and the pieces
//! the test harness reuses (a private PostgreSQL, the S3 endpoint, the API
//! gateway stand-in).

pub mod database;
pub mod gateway;
pub mod postgres;
pub mod runtime_api;
pub mod s3;
pub mod secrets;
pub mod seed;
pub mod serving;
pub mod site;
pub mod stack;
