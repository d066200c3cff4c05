//! `sparkimg`: fetch Spark distributions and build Spark container images.

pub mod fetch;

pub mod build;

pub mod registry;

pub mod engine;
