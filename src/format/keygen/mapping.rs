//! A Keygen license, as Tessera's [`License`]. The table is in
//! docs/MIGRATING.md; what is not listed there is not carried over.

use crate::Time;

use super::jsonapi::{related, time, Resource};
use super::kind::FileKind;
use crate::error::{Error, Result};
use crate::format::keys::KeygenTrust;
use crate::format::license::{Customer, Feature, License, LicenseType, Metadata, ProductDetails};

/// Maps the license of a verified payload. `data` is the file's `data`
/// (a license, or a machine whose license is in `included`).
pub(super) fn license(
    data: &Resource,
    included: &[Resource],
    kind: FileKind,
    issued: Time,
    file_expiry: Option<Time>,
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
        license_enabled: enabled,
        validity_period,
        max_activations,
        allow_unlimited_activations: unlimited,
        product_features: features,
        max_consumptions: a.max_uses.unwrap_or(0),
        total_consumptions: a.uses.unwrap_or(0),
        customer,
        metadata: Metadata::of(a.metadata.clone().unwrap_or_default()),
        expires_at: file_expiry,
        ..License::with_defaults(
            lic.id.clone(),
            license_type,
            ProductDetails {
                product_id: None,
                product_name,
                short_code,
                authorization_method: Default::default(),
                metadata: Metadata::default(),
            },
            issued,
        )
    })
}

fn entitlement(code: &str, name: Option<&str>) -> Feature {
    Feature {
        name: name.unwrap_or_default().to_owned(),
        ..Feature::activation(code.to_owned())
    }
}
