//! Table-driven tests of the incident core.
