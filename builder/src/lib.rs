//! `sparkimg`: fetch Spark distributions and build Spark container images.

pub mod apt;
pub mod cache;
pub mod digest;
pub mod env_vars;
pub mod fetch;
pub mod oci;
pub mod progress;

pub mod http;
pub mod jar;

pub mod build;
pub mod layer;

pub mod maven;

pub mod registry;

pub mod engine;

pub mod sbom;

pub mod sign;

pub mod exit;

pub mod report;

pub mod usage;
