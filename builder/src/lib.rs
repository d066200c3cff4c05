//! `sparkimg`: fetch Spark distributions and build Spark container images.

pub mod apt;
pub mod cache;
pub mod digest;
pub mod fetch;

pub mod http;

pub mod image;

pub mod maven;

pub mod registry;

pub mod engine;

pub mod publish;

pub mod sbom;

pub mod exit;

pub mod report;

pub mod usage;
