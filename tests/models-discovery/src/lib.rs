//! Tests only: see tests/discover.rs.
