//! How `tessera inspect` shows a license to a person.

use std::fmt::Write as _;

use tessera::Time;
use tessera::{License, LicenseFile, Validation};

fn when(t: Option<Time>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn limit(n: u64, unlimited: bool) -> String {
    if unlimited {
        "unlimited".to_owned()
    } else {
        n.to_string()
    }
}

/// The text `inspect` prints.
pub(crate) fn describe(
    file: &LicenseFile,
    verified: bool,
    validation: Option<&Validation>,
) -> String {
    let l: &License = file.license();
    let mut o = String::new();
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "{k:<15}{v}");
    };
    row(
        "Signature",
        if verified {
            format!("valid (key {})", file.key_id())
        } else {
            format!(
                "NOT CHECKED (claims key {}; pass --key to verify)",
                file.key_id()
            )
        },
    );
    row("License id", l.id.clone());
    if let Some(k) = &l.license_key {
        row("License key", k.to_string());
    }
    let p = &l.product_details;
    row(
        "Product",
        if p.product_name.is_empty() {
            p.short_code.clone()
        } else {
            format!("{} ({})", p.product_name, p.short_code)
        },
    );
    row(
        "Type",
        format!(
            "{}{}",
            l.license_type,
            match (l.is_trial, l.trial_days) {
                (true, Some(d)) => format!(", trial of {d} days (ends {})", when(l.trial_end())),
                (true, None) => ", trial".to_owned(),
                _ => String::new(),
            }
        ),
    );
    row(
        "State",
        format!(
            "enabled: {}, active: {}",
            yes_no(l.license_enabled),
            yes_no(l.license_active)
        ),
    );
    row("Issued", l.issued_at.to_string());
    row("Starts", when(l.start_date));
    row(
        "Valid until",
        l.validity_period
            .map_or_else(|| "no end".to_owned(), |t| t.to_string()),
    );
    row(
        "Grace",
        if l.allow_grace_period {
            format!("{} hours", l.grace_period)
        } else {
            "none".to_owned()
        },
    );
    row(
        "Maintenance",
        if l.enable_maintenance_period {
            format!("until {}", when(l.maintenance_period))
        } else {
            "not limited".to_owned()
        },
    );
    row("Check-in due", when(l.expires_at));
    row(
        "Activations",
        format!(
            "{} of {}; transfers {} of {}",
            l.times_activated,
            limit(u64::from(l.max_activations), l.allow_unlimited_activations),
            l.transfer_count,
            l.max_transfers
        ),
    );
    row(
        "Floating",
        if l.floats() {
            format!(
                "{} seats{}, lease timeout {} min; borrowing: {}",
                l.floating_users,
                if l.is_floating_cloud { " (cloud)" } else { "" },
                l.floating_timeout,
                if l.can_borrow {
                    format!("up to {} hours", l.max_borrow_time)
                } else {
                    "no".to_owned()
                }
            )
        } else {
            "no".to_owned()
        },
    );
    row(
        "Restrictions",
        format!(
            "no VM: {}, hardware key: {}, air-gapped: {}",
            yes_no(l.prevent_vm),
            yes_no(l.is_hardware_key_auth),
            yes_no(l.is_air_gapped)
        ),
    );
    if l.max_consumptions > 0 || l.allow_unlimited_consumptions {
        row(
            "Consumption",
            format!(
                "{} of {}{}{}",
                l.total_consumptions,
                limit(l.max_consumptions, l.allow_unlimited_consumptions),
                if l.allow_overages {
                    format!(", overages up to {}", l.max_overages)
                } else {
                    String::new()
                },
                match (l.reset_consumption, l.consumption_period) {
                    (true, Some(p)) => format!(", resets {p:?}").to_lowercase(),
                    _ => String::new(),
                }
            ),
        );
    }
    row(
        "Device",
        match &l.device {
            Some(d) => format!("bound to {} ({} components)", d.id, d.components.len()),
            None => "not bound".to_owned(),
        },
    );
    if let Some(c) = &l.customer {
        let name = [c.first_name.as_str(), c.last_name.as_str()].join(" ");
        let parts: Vec<&str> = [name.trim(), c.company_name.as_str(), c.email.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        row("Customer", parts.join(", "));
    }
    if let Some(u) = &l.user {
        row("User", u.email.clone());
    }
    if l.product_features.is_empty() {
        row("Features", "none".to_owned());
    } else {
        row("Features", String::new());
        for f in &l.product_features {
            let mut line = format!(
                "  {:<18}{:<12}",
                f.code,
                format!("{:?}", f.feature_type).to_lowercase()
            );
            if let Some(e) = f.expiry_date {
                let _ = write!(line, " expires {}", e);
            }
            if f.max_consumption > 0 || f.allow_unlimited_consumptions {
                let _ = write!(
                    line,
                    " used {} of {}",
                    f.total_consumptions,
                    limit(f.max_consumption, f.allow_unlimited_consumptions)
                );
            }
            if !f.name.is_empty() {
                let _ = write!(line, "  ({})", f.name);
            }
            let _ = writeln!(o, "{}", line.trim_end());
        }
    }
    for c in &l.custom_fields {
        let _ = writeln!(o, "{:<15}{} = {}", "Custom field", c.name, c.value);
    }
    match validation {
        Some(v) => {
            let _ = writeln!(o, "{:<15}{} at {}", "Status", v.status, v.checked_at);
            for r in &v.reasons {
                let _ = writeln!(o, "{:<15}{r}", "");
            }
        }
        None => {
            let _ = writeln!(
                o,
                "{:<15}not validated (the signature was not checked)",
                "Status"
            );
        }
    }
    o
}
