//! What the benchmarks share: reading criterion's medians back, so every
//! run can state its ratios itself.

/// The median of `group/name` from criterion's report of this run, in ns.
pub fn median(group: &str, name: &str) -> Option<f64> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{target}/criterion/{group}/{name}/new/estimates.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    report["median"]["point_estimate"].as_f64()
}
