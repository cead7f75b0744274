//! A Keygen license, as Tessera's [`License`]. The table is in
//! docs/MIGRATING.md; what is not listed there is not carried over.

use chrono::{DateTime, Utc};

use super::certificate::FileKind;
use super::payload::{related, time, Resource};
use crate::error::{Error, Result};
use crate::format::keys::KeygenTrust;
use crate::format::license::{
    Customer, Feature, FeatureType, License, LicenseType, ProductDetails, FORMAT_VERSION,
};

/// Maps the license of a verified payload. `data` is the file's `data`
/// (a license, or a machine whose license is in `included`).
pub(super) fn license(
    data: &Resource,
    included: &[Resource],
    kind: FileKind,
    issued: DateTime<Utc>,
    file_expiry: Option<DateTime<Utc>>,
    trusted: &[KeygenTrust],
) -> Result<License> {
    let lic = match kind {
        FileKind::License => data,
        FileKind::Machine => {
            let id = related(data.relationships.license.as_ref());
            included
                .iter()
                .find(|r| r.kind == "licenses" && id.is_none_or(|id| r.id == id))
                .ok_or_else(|| {
                    Error::InvalidPayload(
                        "the machine file does not include its license (check out with include=license)"
                            .into(),
                    )
                })?
        }
    };
    let product_id = related(lic.relationships.product.as_ref())
        .or_else(|| related(data.relationships.product.as_ref()))
        .or_else(|| {
            included
                .iter()
                .find(|r| r.kind == "products")
                .map(|r| r.id.as_str())
        })
        .ok_or_else(|| Error::InvalidPayload("the license names no product".into()))?;
    // A product the keyring does not map stays Keygen's: validation then
    // refuses it as the wrong product, saying which.
    let short_code = trusted
        .iter()
        .find(|t| t.keygen_product == product_id)
        .map_or_else(
            || format!("keygen:{product_id}"),
            |t| t.product_code.clone(),
        );
    let product_name = included
        .iter()
        .find(|r| r.kind == "products" && r.id == product_id)
        .and_then(|r| r.attributes.name.clone())
        .unwrap_or_default();

    let a = &lic.attributes;
    let validity_period = match &a.expiry {
        Some(t) => Some(time(t, "the license's expiry")?),
        None => None,
    };
    let mut features: Vec<Feature> = Vec::new();
    for e in included.iter().filter(|r| r.kind == "entitlements") {
        let Some(code) = &e.attributes.code else {
            continue;
        };
        if features.iter().all(|f| &f.code != code) {
            features.push(entitlement(code, e.attributes.name.as_deref()));
        }
    }
    let customer = included
        .iter()
        .find(|r| r.kind == "users")
        .map(|u| Customer {
            email: u.attributes.email.clone().unwrap_or_default(),
            first_name: u.attributes.first_name.clone().unwrap_or_default(),
            last_name: u.attributes.last_name.clone().unwrap_or_default(),
            ..Customer::default()
        });
    let status = a.status.as_deref().unwrap_or("ACTIVE");
    let enabled = !a.suspended.unwrap_or(false) && !matches!(status, "SUSPENDED" | "BANNED");
    let (max_activations, unlimited) = match a.max_machines.map(u32::try_from) {
        Some(Ok(n)) => (n, false),
        Some(Err(_)) | None => (0, true),
    };
    let license_type = match (a.max_uses, validity_period) {
        (Some(_), _) => LicenseType::Consumption,
        (None, Some(_)) => LicenseType::TimeLimited,
        (None, None) => LicenseType::Perpetual,
    };
    Ok(License {
        format: FORMAT_VERSION,
        id: lic.id.clone(),
        license_key: None,
        license_type,
        license_enabled: enabled,
        license_active: true,
        is_trial: false,
        trial_days: None,
        start_date: None,
        validity_period,
        enable_maintenance_period: false,
        maintenance_period: None,
        allow_grace_period: false,
        grace_period: 0,
        max_activations,
        allow_unlimited_activations: unlimited,
        times_activated: 0,
        transfer_count: 0,
        max_transfers: 0,
        is_floating: false,
        is_floating_cloud: false,
        floating_timeout: 120,
        floating_users: 0,
        can_borrow: false,
        max_borrow_time: 0,
        prevent_vm: false,
        is_hardware_key_auth: false,
        is_air_gapped: false,
        product_features: features,
        max_consumptions: a.max_uses.unwrap_or(0),
        total_consumptions: a.uses.unwrap_or(0),
        allow_unlimited_consumptions: false,
        allow_overages: false,
        max_overages: 0,
        reset_consumption: false,
        consumption_period: None,
        custom_fields: Vec::new(),
        customer,
        product_details: ProductDetails {
            product_id: None,
            product_name,
            short_code,
            authorization_method: Default::default(),
            metadata: serde_json::Map::new(),
        },
        user: None,
        metadata: a.metadata.clone().unwrap_or_default(),
        issued_at: issued,
        expires_at: file_expiry,
        device: None,
        hardware_key: None,
    })
}

fn entitlement(code: &str, name: Option<&str>) -> Feature {
    Feature {
        code: code.to_owned(),
        name: name.unwrap_or_default().to_owned(),
        feature_type: FeatureType::Activation,
        expiry_date: None,
        max_consumption: 0,
        allow_unlimited_consumptions: false,
        total_consumptions: 0,
        allow_overages: false,
        max_overages: 0,
        reset_consumption: false,
        consumption_period: None,
        is_floating: false,
        is_floating_cloud: false,
        floating_users: None,
        floating_timeout: None,
        metadata: serde_json::Map::new(),
    }
}
