//! Tests only: see tests/doctor.rs.
