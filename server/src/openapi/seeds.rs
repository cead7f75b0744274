//! The seeds' APIs in the document: each route the compat routers serve,
//! under its seed's tag, so that a client of any of them can read what
//! Tessera serves. Their bodies are the seeds' own (their documents and
//! docs/COMPAT.md say them), so the document names each route, its
//! parameters and its refusals, not its body's fields.

use serde_json::{json, Map, Value};

/// What each route does, in a line.
const SUMMARIES: &[(&str, &str, &str)] = &[
    (
        "get",
        "/services/data/{version}/sobjects/PackageLicense/{id}",
        "A license's seat counts (AllowedLicenses, UsedLicenses)",
    ),
    (
        "post",
        "/services/data/{version}/sobjects/UserPackageLicense",
        "Assign a license to a user",
    ),
    (
        "get",
        "/services/data/{version}/sobjects/UserPackageLicense/{id}",
        "One assignment",
    ),
    (
        "delete",
        "/services/data/{version}/sobjects/UserPackageLicense/{id}",
        "Revoke an assignment",
    ),
    (
        "get",
        "/services/data/{version}/query",
        "A SOQL query over PackageLicense and UserPackageLicense (the subset docs/COMPAT.md lists)",
    ),
    (
        "get",
        "/api/v2/license/definitions",
        "The license definitions",
    ),
    (
        "get",
        "/api/v2/license/definitions/{license_id}",
        "One license definition",
    ),
    (
        "get",
        "/api/v2/license/toggles/{feature}",
        "An organization-wide feature toggle",
    ),
    (
        "post",
        "/api/v2/license/toggles/{feature}",
        "Switch an organization-wide feature toggle",
    ),
    (
        "get",
        "/api/v2/license/users/{user_id}",
        "A user's licenses",
    ),
    (
        "get",
        "/api/v2/license/users",
        "A page of users with their licenses",
    ),
    (
        "post",
        "/api/v2/license/users",
        "Users' licenses in a batch",
    ),
    (
        "post",
        "/api/v2/license/organization",
        "Assign and revoke licenses for many users: a status per item",
    ),
    (
        "post",
        "/{organization}/lease_/api/account/{account}/user-license",
        "Allocate bundles to users: all or nothing",
    ),
    (
        "get",
        "/api/v4/user_licenses",
        "A user's licenses for a product (username and password, or single sign-on)",
    ),
    (
        "post",
        "/api/v4/activate_license",
        "Activate a license on a device (hardware_id), by license key or by username and password",
    ),
    (
        "get",
        "/api/v4/check_license",
        "Check a license on the device it is activated on",
    ),
    (
        "post",
        "/api/v4/deactivate_license",
        "Deactivate a license on a device, freeing its slot",
    ),
    (
        "post",
        "/api/v4/add_consumption",
        "Add consumptions to a consumption license's counter",
    ),
    (
        "post",
        "/api/v4/add_feature_consumption",
        "Add consumptions to a consumption feature's counter",
    ),
    (
        "post",
        "/api/v4/floating/borrow",
        "Borrow a floating license's seat until a time",
    ),
    (
        "post",
        "/api/v4/floating/release",
        "Release the device's floating seat",
    ),
    (
        "get",
        "/api/v4/versions",
        "The versions the license may install",
    ),
    (
        "get",
        "/api/v4/installation_file",
        "The installation file of the newest (or a named) version the license covers",
    ),
    ("get", "/api/v4/product_details", "The product's details"),
    (
        "get",
        "/api/v4/trial_key",
        "A trial license key for the device, from the product's trial definition",
    ),
    (
        "post",
        "/api/v4/activate_offline",
        "Activate from an offline request file (the body, as the SDK wrote it)",
    ),
    (
        "post",
        "/api/v4/deactivate_offline",
        "Deactivate from an offline request file (the body, as the SDK wrote it)",
    ),
    (
        "post",
        "/api/v4/activate_bundle",
        "Not served (no bundles): 400 not_supported",
    ),
    (
        "get",
        "/api/v4/check_bundle",
        "Not served (no bundles): 400 not_supported",
    ),
    (
        "post",
        "/api/v4/deactivate_bundle",
        "Not served (no bundles): 400 not_supported",
    ),
    (
        "get",
        "/api/v4/check_license_feature",
        "Not served (no feature seats): 400 not_supported",
    ),
    (
        "post",
        "/api/v4/floating/feature_borrow",
        "Not served (no feature seats): 400 not_supported",
    ),
    (
        "post",
        "/api/v4/floating/feature_release",
        "Not served (no feature seats): 400 not_supported",
    ),
    (
        "post",
        "/api/v4/track_device_variables",
        "Not served (no device variables): 400 not_supported",
    ),
    (
        "get",
        "/api/v4/get_device_variables",
        "Not served (no device variables): 400 not_supported",
    ),
    (
        "post",
        "/api/v4/change_password",
        "Not served (the admin API sets passwords): 400 not_supported",
    ),
    (
        "get",
        "/api/v4/customer_license_users",
        "Not served (the admin API lists a license's users): 400 not_supported",
    ),
    (
        "get",
        "/api/v4/sso_url",
        "Not served (the provider's URL is the product's configuration): 400 not_supported",
    ),
];

/// Adds every seed's routes to `paths`; answers the seeds' tags.
pub(super) fn add(paths: &mut Map<String, Value>) -> Vec<Value> {
    let mut tags = Vec::new();
    for seed in crate::compat::seeds() {
        tags.push(json!({"name": seed.tag, "description": seed.description}));
        for (methods, path) in seed.served {
            let parameters: Vec<Value> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(|name| {
                    json!({"name": name, "in": "path", "required": true,
                           "schema": {"type": "string"}})
                })
                .collect();
            for method in *methods {
                let summary = SUMMARIES
                    .iter()
                    .find(|(m, p, _)| m == method && p == path)
                    .map_or("As the seed's document writes it", |(_, _, s)| s);
                let op = json!({
                    "summary": summary,
                    "tags": [seed.tag],
                    "parameters": parameters,
                    "responses": {
                        "200": {"description": "OK, in the seed's shape (docs/COMPAT.md)"},
                        "4XX": {"description": "refused, in the seed's error shape"},
                        "5XX": {"description": "the server failed: nothing changed"},
                    },
                });
                if let Some(item) = paths
                    .entry(path.to_string())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                {
                    item.insert(method.to_string(), op);
                }
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::SUMMARIES;

    #[test]
    fn every_seed_route_has_a_summary_and_every_summary_a_route() {
        let served: Vec<(String, String)> = crate::compat::seeds()
            .iter()
            .flat_map(|s| s.served.iter())
            .flat_map(|(methods, path)| methods.iter().map(|m| (m.to_string(), path.to_string())))
            .collect();
        for (m, p) in &served {
            assert!(
                SUMMARIES.iter().any(|(sm, sp, _)| sm == m && sp == p),
                "no summary for {m} {p}"
            );
        }
        for (m, p, _) in SUMMARIES {
            assert!(
                served.iter().any(|(sm, sp)| sm == m && sp == p),
                "a summary for {m} {p}, which is not served"
            );
        }
    }
}
