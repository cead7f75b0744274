//! LicenseSpring's license object (seed 003's schema, and what the
//! official library reads from `activate_license` and `check_license`),
//! from a license row, its parsed spec and the database now.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::activations::db as activations_db;
use crate::error::ApiError;
use crate::licenses::db::LicenseRow;
use crate::releases::db as releases_db;
use crate::releases::versions as releases_versions;
use crate::seats::db as seats_db;
use crate::state::App;
use crate::store::Db;
use crate::users::db::UserRow;

/// A number for a text id, as the seed's ids are numbers: the first six
/// bytes of its SHA-256 (below 2^48, so exact in any JSON reader).
pub(super) fn numeric_id(text: &str) -> u64 {
    let d = Sha256::digest(text.as_bytes());
    d[..6].iter().fold(0, |n, b| (n << 8) | u64::from(*b))
}

/// A time in ISO 8601, UTC, or null.
/// A `validity_period` as the seed writes it: a date (`2031-03-16`) when it
/// falls at midnight UTC, the full time otherwise (a date alone would move
/// it to the day's start).
fn date_or_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    match t {
        Some(t) if t.time() == chrono::NaiveTime::MIN => json!(t.format("%Y-%m-%d").to_string()),
        other => time(other),
    }
}

pub(super) fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    })
}

/// The seed's spelling of a consumption period (`annualy`).
pub(super) fn period(p: Option<tessera::format::license::ConsumptionPeriod>) -> Value {
    use tessera::format::license::ConsumptionPeriod as P;
    match p {
        None => Value::Null,
        Some(P::Daily) => json!("daily"),
        Some(P::Weekly) => json!("weekly"),
        Some(P::Monthly) => json!("monthly"),
        Some(_) => json!("annualy"),
    }
}

/// One license as the seed's schema has it.
/// The license object: of `user`'s license (user-based; `None` for a
/// license key), about `device` (the device asking; `None`: the device
/// the user last activated the license on).
pub(super) fn license(
    app: &App,
    conn: &Db<'_>,
    row: &LicenseRow,
    user: Option<&UserRow>,
    device: Option<&str>,
) -> Result<Value, ApiError> {
    use tessera::format::license::{
        AuthorizationMethod, CustomFieldType, FeatureType, LicenseType,
    };
    let parsed = app.license_of(row)?;
    let l = &parsed.1;
    let now = app.now();
    let floats = l.is_floating || l.is_floating_cloud;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("id", json!(numeric_id(&row.id)));
    put("order_store_id", json!(row.id));
    put(
        "license_type",
        json!(match l.license_type {
            LicenseType::Perpetual => "perpetual",
            LicenseType::TimeLimited => "time-limited",
            LicenseType::Subscription => "subscription",
            LicenseType::Consumption => "consumption",
        }),
    );
    put("license_active", json!(l.license_active));
    put("license_enabled", json!(row.enabled));
    put(
        "is_expired",
        json!(l.validity_period.is_some_and(|end| end <= now.into())),
    );
    put("max_license_users", json!(row.max_users));
    put(
        "validity_period",
        date_or_time(l.validity_period.map(Into::into)),
    );
    put("start_date", time(l.start_date.map(Into::into)));
    put(
        "enable_maintenance_period",
        json!(l.enable_maintenance_period),
    );
    put(
        "maintenance_period",
        time(l.maintenance_period.map(Into::into)),
    );
    put("allow_grace_period", json!(l.allow_grace_period));
    put("grace_period", json!(l.grace_period));
    put("max_activations", json!(l.max_activations));
    put(
        "allow_unlimited_activations",
        json!(l.allow_unlimited_activations),
    );
    put(
        "times_activated",
        json!(activations_db::activation_count(conn, &row.id)?),
    );
    put("transfer_count", json!(row.transfer_count));
    put("max_transfers", json!(l.max_transfers));
    put("allow_overages", json!(l.allow_overages));
    put("max_overages", json!(l.max_overages));
    put("is_floating_cloud", json!(l.is_floating_cloud));
    put("is_floating", json!(l.is_floating));
    put("floating_timeout", json!(l.floating_timeout));
    put("can_borrow", json!(l.can_borrow));
    put("max_borrow_time", json!(l.max_borrow_time));
    put("prevent_vm", json!(l.prevent_vm));
    put("is_hardware_key_auth", json!(l.is_hardware_key_auth));
    put("is_air_gapped", json!(l.is_air_gapped));
    // The device asking, or the one this user activated the license on,
    // and whether it holds a borrowed seat.
    let device = match (device, user) {
        (Some(d), _) => Some(d.to_owned()),
        (None, Some(user)) => activations_db::user_devices(conn, &row.id, &user.id)?
            .into_iter()
            .next(),
        (None, None) => None,
    };
    let borrowed = match &device {
        Some(d) => seats_db::borrowed_until(conn, &row.id, d, now.timestamp())?,
        None => None,
    };
    put("device_id", json!(device.as_deref().map_or(0, numeric_id)));
    put("is_borrowed", json!(borrowed.is_some()));
    put(
        "borrowed_until",
        time(borrowed.and_then(|t| chrono::DateTime::from_timestamp(t, 0))),
    );
    // Tessera signs the whole answer (Tessera-Signature) and its license
    // files; LicenseSpring's per-license signatures have no counterpart.
    for k in [
        "license_signature",
        "license_signature_v2",
        "offline_signature",
    ] {
        put(k, json!(""));
    }
    // The newest release the license may install (`releases.rs`): its
    // maintenance decides; empty strings when there is none.
    let releases = releases_db::releases_of(conn, &row.product, None)?;
    let release =
        releases_versions::latest_for(releases_versions::covered_until(l), &releases, None);
    let text =
        |f: fn(&releases_db::ReleaseRow) -> String| json!(release.map(f).unwrap_or_default());
    put("version", text(|r| r.version.clone()));
    put(
        "release_date",
        text(|r| {
            chrono::DateTime::from_timestamp(r.release_date, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        }),
    );
    put("requires_version", text(|r| r.requires_version.clone()));
    put("installation_file", text(|r| r.installation_file.clone()));
    put("hash_md5", text(|r| r.hash_md5.clone()));
    put("size", text(|r| r.size.to_string()));
    put("channel", text(|r| r.channel.clone()));
    put("environment", text(|r| r.environment.clone()));
    put("eula_link", text(|r| r.eula_link.clone()));
    put("release_notes_link", text(|r| r.release_notes_link.clone()));
    let features: Vec<Value> = l
        .product_features
        .iter()
        .map(|f| {
            let mut o = json!({
                "id": numeric_id(&format!("{}\n{}", row.id, f.code)),
                "code": f.code,
                "name": f.name,
                "expiry_date": f.expiry_date.map_or(json!(""), |t| time(Some(t.into()))),
                "metadata": {},
                "feature_type": if f.feature_type == FeatureType::Consumption { "consumption" } else { "activation" },
                "is_floating": f.is_floating,
                "is_floating_cloud": f.is_floating_cloud,
            });
            if f.is_floating || f.is_floating_cloud {
                o["floating_users"] = json!(l.floating_users);
                o["floating_timeout"] = json!(l.floating_timeout);
            }
            if f.feature_type == FeatureType::Consumption {
                o["max_consumption"] = json!(f.max_consumption);
                o["allow_unlimited_consumptions"] = json!(f.allow_unlimited_consumptions);
                o["total_consumptions"] = json!(f.total_consumptions);
                o["allow_overages"] = json!(u8::from(f.allow_overages));
                o["max_overages"] = json!(f.max_overages);
                o["reset_consumption"] = json!(f.reset_consumption);
                o["consumption_period"] = period(f.consumption_period);
            }
            o
        })
        .collect();
    put("product_features", Value::from(features));
    let fields: Vec<Value> = l
        .custom_fields
        .iter()
        .map(|c| {
            let kind = match c.data_type {
                CustomFieldType::Number => "numer",
                CustomFieldType::Text => "text",
                _ => "date/time",
            };
            json!({"name": c.name, "data_type": kind, "value": c.value})
        })
        .collect();
    put("custom_fields", Value::from(fields));
    let c = l.customer.clone().unwrap_or_default();
    put(
        "customer",
        json!({
            "email": c.email, "company_name": c.company_name, "reference": c.reference,
            "phone": c.phone, "first_name": c.first_name, "last_name": c.last_name,
            "city": c.city, "postcode": c.postcode, "state": c.state, "country": c.country,
            "address": c.address, "customer_account": c.customer_account.or_else(|| row.account.clone()),
            "metadata": {},
        }),
    );
    let d = &l.product_details;
    put(
        "product_details",
        json!({
            "product_id": d.product_id.unwrap_or_else(|| numeric_id(&row.product)),
            "product_name": d.product_name,
            "short_code": row.product,
            "authorization_method": match d.authorization_method {
                AuthorizationMethod::LicenseKey => "license-key",
                AuthorizationMethod::User => "user",
            },
            "metadata": d.metadata,
        }),
    );
    let user = match user {
        Some(user) => json!({
            "id": numeric_id(&user.id),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone_number": "",
            // The admin API sets a user's password and nothing changes it.
            "is_initial_password": true,
            "max_activations": l.max_activations,
            "allow_unlimited_activations": l.allow_unlimited_activations,
            "total_activations": activations_db::user_devices(conn, &row.id, &user.id)?.len(),
        }),
        None => Value::Null,
    };
    put("user", user);
    put("metadata", Value::Object(l.metadata.clone().into()));
    if l.is_trial {
        put("trial_days", json!(l.trial_days.unwrap_or(0)));
    }
    if floats {
        put(
            "floating_in_use_devices",
            json!(seats_db::seats_held(conn, &row.id, now.timestamp())?),
        );
        put("floating_users", json!(l.floating_users));
    }
    if l.license_type == LicenseType::Consumption {
        put("max_consumptions", json!(l.max_consumptions));
        put("total_consumptions", json!(l.total_consumptions));
        put(
            "allow_unlimited_consumptions",
            json!(l.allow_unlimited_consumptions),
        );
        put("reset_consumption", json!(l.reset_consumption));
        put("consumption_period", period(l.consumption_period));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_are_exact_json_numbers() {
        for id in ["L-1", "", "a-very-long-license-id-0123456789"] {
            assert!(numeric_id(id) < 1 << 48);
        }
        assert_ne!(numeric_id("L-1"), numeric_id("L-2"));
    }
}
