//! The builder's integration tests: one binary, one module per theme, `common` shared
//! by all of them (the `sparkimg` runner, loopback servers, fixtures and skips).

mod common;

mod apt;
mod build;
mod cache;
mod cli;
mod engine;
mod extract;
mod fetch;
mod java;
mod kill;
mod maven;
mod maven_oracle;
mod provenance;
mod rebase;
mod registry;
mod reproducible;
mod sbom;
mod sign;
