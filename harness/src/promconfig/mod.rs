//! promconfig
