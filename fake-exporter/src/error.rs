//! The crate-wide error type: one variant per area, each wrapping that area's error enum.

/// Any error the fake exporter library can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Placeholder until the areas are wired in.
    #[error("{0}")]
    Other(String),
}
