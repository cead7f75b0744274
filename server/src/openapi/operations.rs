//! Every operation of Tessera's own API: its summary, who may call it,
//! its body's, query's and answer's types, and the refusals worth naming.
//! The route table (`api.rs`, `admin.rs`) says what is served; this table
//! says what it is, and `server/tests/contract.rs` holds the two equal.

use tessera::protocol::bodies as b;

use super::refusal::{REQUEST, UNKNOWN_ID, UNKNOWN_LICENSE};
use super::{admin, device, fields, of, Operation};
use crate::users::assign;
use crate::users::sign_in::User;
use crate::{activations, audit, events, licenses, products, releases, reports, seats, sso, users};

/// The table: an operation a row (kept as rows, not as rustfmt would
/// break them).
#[rustfmt::skip]
pub(super) fn all() -> Vec<Operation> {
    Vec::from([
        device("/api/v1/activate_license", "Activate a license on a device; max_activations is enforced", of::<b::DeviceRequest>, of::<b::LicenseFileAnswer>)
            .refuses(&[(403, "license disabled or body names another product"), (409, "activation_limit")]),
        device("/api/v1/check_license", "Check in: a fresh license file for an activated device", of::<b::DeviceRequest>, of::<b::LicenseFileAnswer>)
            .refuses(&[(403, "license disabled")]),
        device("/api/v1/deactivate_license", "Free the device's slot; max_transfers is enforced", of::<b::DeviceRequest>, of::<b::DeactivateAnswer>)
            .refuses(&[(409, "transfer_limit")]),
        device("/api/v1/floating/register", "Take a floating seat (never more than floating_users)", of::<b::DeviceRequest>, of::<b::LeaseAnswer>)
            .refuses(&[(409, "no_seat_available or not_floating")]),
        device("/api/v1/floating/heartbeat", "Renew this device's live seat", of::<b::DeviceRequest>, of::<b::LeaseAnswer>)
            .refuses(&[(409, "no_seat_available")]),
        device("/api/v1/floating/release", "Give the seat back", of::<b::DeviceRequest>, of::<b::ReleasedAnswer>),
        device("/api/v1/floating/borrow", "Borrow a seat for up to max_borrow_time hours", of::<b::BorrowRequest>, of::<b::LeaseAnswer>)
            .refuses(&[(409, "no_seat_available, borrow_not_allowed")]),
        device("/api/v1/add_consumption", "Upload consumption records; idempotent by (license, device, seq)", of::<b::ConsumptionRequest>, of::<b::ConsumptionAnswer>)
            .refuses(&[(409, "consumption_limit (nothing of the call is kept)")]),
        admin("post", "/admin/v1/products", "Create a product; its shared API key is returned once", of::<products::ProductCreated>)
            .body(of::<products::NewProduct>)
            .refuses(&[UNKNOWN_LICENSE, (409, "product_exists")]),
        admin("post", "/admin/v1/licenses", "Create a license from a spec, or from a definition with overrides; refused with 422 when it is not a valid license", of::<licenses::LicenseCreated>)
            .body(of::<licenses::NewLicense>)
            .refuses(&[UNKNOWN_LICENSE, (409, "license_exists"), (422, "invalid_spec")]),
        admin("post", "/admin/v1/licenses/{id}/disable", "Disable a license", of::<licenses::Enabled>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("post", "/admin/v1/licenses/{id}/enable", "Enable a license", of::<licenses::Enabled>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("post", "/admin/v1/licenses/{id}/transfers/reset", "Set the license's transfer count back to zero (support's answer to a customer out of transfers)", of::<licenses::Transfers>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("get", "/admin/v1/licenses/{id}/seats", "Seat counts: allowed, used, available", of::<seats::Seats>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("post", "/admin/v1/clock", "Set the server's clock (only when started with test_clock)", of::<crate::admin::Clock>)
            .body(of::<crate::admin::Clock>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("get", "/admin/v1/compat/licensespring/chain", "The certificate chain of the key that signs LicenseSpring's answers (seed 003), for a product's FSSignatureVerifier", of::<crate::admin::LicenseSpringChain>)
            .refuses(&[(404, "not_found: the server serves no LicenseSpring API")]),
        admin("post", "/admin/v1/compat/licensespring/offline", "Answer a request file of LicenseSpring's SDK from a device offline (its offline portal): the response file for an activation", of::<crate::admin::LicenseSpringOfflineAnswer>)
            .body(of::<crate::admin::LicenseSpringRequestFile>)
            .refuses(&[(400, "invalid_request_file or not_supported"), (401, "bad_signature: not signed with a product's shared key"), (404, "not_found: unknown license, user or device")]),
        device("/api/v1/user_licenses", "A user's licenses for the product (seed 003): the license objects with counts and the user", of::<b::UserLicensesRequest>, of::<Vec<b::UserLicenseAnswer>>)
            .refuses(&[(401, "wrong username or password (invalid_credentials), or authorization"), UNKNOWN_ID]),
        device("/api/v1/trial_key", "A trial license key for this device from the product's trial definition; the same key when asked again", of::<b::TrialRequest>, of::<b::TrialKeyAnswer>)
            .refuses(&[(404, "the product offers no trial (no_trial)")]),
        device("/api/v1/activate_offline", "Answer an offline activation request file with a signed response file", of::<b::OfflineRequest>, of::<b::OfflineAnswer>)
            .refuses(&[(403, "license disabled, not assigned"), UNKNOWN_ID, (409, "activation_limit")]),
        device("/api/v1/deactivate_offline", "Take an offline deactivation request file: frees the device's slot, once", of::<b::OfflineRequest>, of::<b::DeactivateAnswer>)
            .refuses(&[(403, "offline_wrong_device, license disabled"), UNKNOWN_ID, (409, "offline_replay, transfer_limit")]),
        admin("get", "/admin/v1/licenses/{id}", "A license with its counts", of::<licenses::LicenseAdmin>),
        admin("patch", "/admin/v1/licenses/{id}", "Update a license: spec fields replaced (null removes), max_license_users, account; reaches the next check-in", of::<licenses::LicenseAdmin>)
            .body(of::<licenses::LicenseUpdate>)
            .refuses(&[(409, "fewer users than hold it (users_assigned)"), (422, "not a valid license")]),
        admin("get", "/admin/v1/licenses/{id}/toggles/{feature}", "A feature toggle", of::<licenses::ToggleState>),
        admin("post", "/admin/v1/licenses/{id}/toggles/{feature}", "Switch a feature on or off: a switched-off feature is left out of issued files and its counter refused", of::<licenses::ToggleState>)
            .body(of::<licenses::Toggle>),
        admin("get", "/admin/v1/licenses/{id}/users", "The users a license is assigned to", of::<Vec<User>>),
        admin("post", "/admin/v1/licenses/{id}/users/{user}", "Assign the license to one user", of::<assign::ItemStatus>)
            .refuses(&[(409, "no_units_left")]),
        admin("delete", "/admin/v1/licenses/{id}/users/{user}", "Revoke the license from one user", of::<assign::ItemStatus>),
        admin("post", "/admin/v1/assignments", "Assign and revoke licenses for many users (seed 001): one status per item; each item stands alone", of::<assign::AssignmentResults>)
            .body(of::<assign::Assignments>),
        admin("post", "/admin/v1/accounts/{account}/user-license", "Allocate bundles (definition codes) bought by an account to users (seed 002): all or nothing", of::<Vec<assign::Allocated>>)
            .body(of::<assign::Allocation>)
            .refuses(&[(404, "the account has no license for a bundle (bundle_not_found), or no such user"), (409, "exceeds what the account bought (exceeds_quantity); nothing changed")]),
        admin("post", "/admin/v1/definitions", "Create a license definition (a template spec); trial_days makes it the product's trial", of::<products::Definition>)
            .body(of::<products::Definition>)
            .refuses(&[(409, "definition_exists"), (422, "not a valid license")]),
        admin("get", "/admin/v1/definitions", "License definitions, of one product with ?product=", of::<Vec<products::Definition>>)
            .query(fields::<products::DefinitionsQuery>),
        admin("get", "/admin/v1/definitions/{product}/{code}", "One license definition", of::<products::Definition>),
        admin("post", "/admin/v1/users", "Create a user (password at least 8 characters, stored as an Argon2id hash)", of::<User>)
            .body(of::<users::NewUser>)
            .refuses(&[(409, "user_exists")]),
        admin("get", "/admin/v1/users", "A page of users with their licenses (seed 001)", of::<users::UsersPage>)
            .query(fields::<users::Paging>),
        admin("get", "/admin/v1/users/{id}", "A user with their licenses", of::<User>),
        admin("post", "/admin/v1/users/{id}/unlock", "Forget a user's failed sign-ins from every address (support's way back for a user locked out by guesses from many addresses)", of::<users::Unlocked>)
            .refuses(&[(404, "unknown user or endpoint")]),
        admin("post", "/admin/v1/users/batch", "Fetch users with their licenses in a batch (seed 001)", of::<users::UsersFound>)
            .body(of::<users::UserIds>),
        admin("get", "/admin/v1/licenses/{id}/devices", "The devices the license is activated on (support)", of::<Vec<activations::Device>>)
            .refuses(&[REQUEST, (404, "unknown license, device or endpoint")]),
        admin("delete", "/admin/v1/licenses/{id}/devices/{device}", "Remove a device (support): frees its activation and its seat, borrowed or not, without counting a transfer", of::<activations::Removed>)
            .path_param("device", "the device's fingerprint id")
            .refuses(&[REQUEST, (404, "unknown license, device or endpoint")]),
        admin("get", "/admin/v1/audit", "The newest admin changes, newest first: who, what, when, with what outcome", of::<Vec<audit::AuditEntry>>)
            .query(fields::<audit::AuditQuery>)
            .refuses(&[REQUEST, (404, "unknown license, device or endpoint")]),
        device("/api/v1/sso/provider", "A desktop sign-in's first step (docs/SIGN-IN.md): the identity provider of the customer account whose e-mail domains hold `who`, or that `who` names; no secret", of::<b::SignInProviderRequest>, of::<b::SignInProvider>)
            .refuses(&[(404, "sso_not_configured: no account signs this user in from a desktop")]),
        device("/api/v1/relay/delegate", "A relay's request for a delegation (docs/RELAY.md): the license's floating seats delegated to the relay's key for 90 days, with the pool license file; one relay per license at a time", of::<b::RelayDelegateRequest>, of::<b::RelayGrantAnswer>)
            .refuses(&[(400, "invalid_request"), (403, "license_disabled or wrong_product"), (409, "relay_exists, not_floating")]),
        device("/api/v1/relay/usage", "A relay's usage record (seat-seconds, peak, grants, denials per day), signed by its key", of::<b::RelayUsageRequest>, of::<b::RelayUsageAnswer>)
            .refuses(&[(400, "invalid_usage"), (404, "unknown_relay")]),
        admin("get", "/admin/v1/licenses/{id}/relays", "The relays a license's seats were delegated to, and their usage", of::<crate::relays::Relays>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("post", "/admin/v1/relay_usage", "Import a relay's exported usage record (docs/RELAY.md)", of::<b::RelayUsageAnswer>)
            .body(of::<b::RelayUsageRequest>)
            .refuses(&[(400, "invalid_usage"), (404, "unknown_relay")]),
        device("/api/v1/latest_release", "The update check: the newest release this activated device's license may install (its maintenance decides; with current_version, only newer releases that accept it)", of::<b::ReleaseRequest>, of::<b::LatestReleaseAnswer>)
            .refuses(&[(403, "license disabled")]),
        admin("post", "/admin/v1/products/{code}/releases", "Publish a release of the product", of::<b::Release>)
            .body(of::<releases::NewRelease>)
            .refuses(&[UNKNOWN_LICENSE, (409, "release_exists")]),
        admin("get", "/admin/v1/products/{code}/releases", "The product's releases, by channel, oldest version first", of::<Vec<b::Release>>)
            .query(fields::<releases::ReleasesQuery>)
            .refuses(&[UNKNOWN_LICENSE]),
        admin("put", "/admin/v1/accounts/{account}/sso", "Set a customer account's identity provider (single sign-on through seed 003's user_licenses)", of::<sso::AccountSso>)
            .body(of::<sso::SsoConfig>),
        admin("get", "/admin/v1/accounts/{account}/sso", "A customer account's identity provider, without its client secret", of::<sso::AccountSso>)
            .refuses(&[(400, "malformed request"), (404, "sso_not_configured: the account has no identity provider")]),
        admin("post", "/admin/v1/webhooks", "Register a webhook: a receiver's https URL and the kinds of event it wants (docs/EVENTS.md)", of::<events::Webhook>)
            .body(of::<events::NewWebhook>)
            .refuses(&[REQUEST]),
        admin("get", "/admin/v1/webhooks", "Every webhook, with its waiting and given-up deliveries", of::<Vec<events::Webhook>>),
        admin("get", "/admin/v1/webhooks/{id}", "One webhook", of::<events::Webhook>)
            .refuses(&[REQUEST, (404, "webhook_not_found")]),
        admin("patch", "/admin/v1/webhooks/{id}", "Change a webhook's URL, kinds of event or description", of::<events::Webhook>)
            .body(of::<events::WebhookUpdate>)
            .refuses(&[REQUEST, (404, "webhook_not_found")]),
        admin("delete", "/admin/v1/webhooks/{id}", "Remove a webhook with its waiting deliveries and their log", of::<events::Deleted>)
            .refuses(&[REQUEST, (404, "webhook_not_found")]),
        admin("post", "/admin/v1/webhooks/{id}/resume", "Resume a paused webhook: its waiting deliveries, and those given up, are sent again in order", of::<events::Webhook>)
            .refuses(&[REQUEST, (404, "webhook_not_found")]),
        admin("get", "/admin/v1/webhooks/{id}/deliveries", "A webhook's delivery log: the newest attempts first, with the receiver's status or what went wrong", of::<Vec<events::Attempt>>)
            .query(fields::<events::AttemptsQuery>)
            .refuses(&[REQUEST, (404, "webhook_not_found")]),
        admin("get", "/admin/v1/events", "The events after an id, oldest first (as a webhook receives them)", of::<Vec<events::Event>>)
            .query(fields::<events::EventsQuery>)
            .refuses(&[REQUEST]),
        admin("get", "/admin/v1/reports/usage", "Usage per license (or per account) and day: activations, peak seats, seat time, borrows, denials, consumption per counter", of::<reports::UsageReport>)
            .query(fields::<reports::UsageQuery>)
            .refuses(&[REQUEST]),
        admin("get", "/admin/v1/reports/usage.csv", "The usage report as CSV: a row per license (or account) and day, a column per counter", of::<String>)
            .query(fields::<reports::UsageQuery>)
            .csv()
            .refuses(&[REQUEST]),
        admin("get", "/admin/v1/settings/consumption-thresholds", "The percentages of a consumption limit whose crossing is an event", of::<events::Thresholds>),
        admin("put", "/admin/v1/settings/consumption-thresholds", "Set the percentages of a consumption limit whose crossing is an event", of::<events::Thresholds>)
            .body(of::<events::Thresholds>)
            .refuses(&[REQUEST]),
    ])
}
