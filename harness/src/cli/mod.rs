//! cli (lead WIP in /tmp/h-cli.rs)
