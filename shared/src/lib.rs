//! What two or more Flux functions need: configuration, secrets, the database
//! pool, tenant context, HTTP conventions (problems, request ids, CORS, JSON),
//! route tables, passwords and telemetry.

pub mod config;
pub mod db;
pub mod emails;
pub mod http;
pub mod ids;
pub mod pages;
pub mod passwords;
pub mod problem;
pub mod routes;
pub mod secrets;
pub mod telemetry;
pub mod tenant;
pub mod timestamps;
pub mod tokens;
pub mod uploads;
