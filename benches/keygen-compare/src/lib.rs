//! Nothing but the benchmark (benches/compare.rs).
