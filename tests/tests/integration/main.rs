//! End-to-end and database tests, in one binary so the throwaway
//! PostgreSQL starts once per run.

mod auth;
mod binaries;
mod cors;
mod faults;
mod hardening;
mod harness;
mod health;
mod infrastructure;
mod ingest_bounds;
mod migrations;
mod rls;
mod rotation;
mod s3_events;
mod sales;
mod sales_property;
mod seed;
mod tls;
mod uploads;
