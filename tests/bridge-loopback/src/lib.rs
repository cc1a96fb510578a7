//! Tests only: see tests/faults.rs.
