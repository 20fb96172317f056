//! Shared helpers for the benchmarks live in the criterion targets; this crate has no API.
