//! web_config
