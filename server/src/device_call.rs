//! A call about one device's use of one license: who it names, the checks
//! every such call passes (product, fingerprint, user, license enabled,
//! device proof, per-user device limit), the one write transaction it runs
//! in, and the reply signed once the lock is released.

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tessera::activation::offline;
use tessera::format::lease::Lease;
use tessera::protocol::bodies::{
    DeviceRequest, LeaseAnswer, LicenseAndDevice, LicenseFileAnswer, OfflineAnswer,
};
use tessera::Fingerprint;

use crate::activations::db as activations_db;
use crate::activations::way_back as activations_way_back;
use crate::database;
use crate::error::ApiError;
use crate::http::{to_value, Answer, DeviceProof, JsonBody, Product, UnspentNonce};
use crate::licenses::db as licenses_db;
use crate::licenses::db::LicenseRow;
use crate::state::App;
use crate::store::Db;
use crate::users::db as users_db;
use crate::users::sign_in as users_sign_in;

impl DeviceBody for DeviceRequest {
    type Rest = ();
    fn split(self) -> (LicenseAndDevice, ()) {
        (self.who, ())
    }
}

/// The JSON body of a device call: the license and device it names, and
/// the rest, which the handler takes.
pub(crate) trait DeviceBody: DeserializeOwned + Send + 'static {
    /// What the body carries beside [`LicenseAndDevice`].
    type Rest: Send + 'static;
    /// The body taken apart.
    fn split(self) -> (LicenseAndDevice, Self::Rest);
}

/// A device call as it arrives, named in a handler's signature: the
/// product the request's HMAC authenticated, its nonce when the middleware
/// left it to the handler, the device proof (checked in the transaction
/// against the key the activation recorded), the license and device the
/// body names, and the rest of the body. [`DeviceCall::run`] spends the
/// nonce, then runs the handler in the one transaction.
pub(crate) struct DeviceCall<B: DeviceBody> {
    pub(crate) app: Arc<App>,
    pub(crate) product: String,
    /// Left by the middleware for the handler to spend (crate::http).
    pub(crate) nonce: Option<UnspentNonce>,
    pub(crate) proof: DeviceProof,
    pub(crate) who: LicenseAndDevice,
    /// What the body carries beside the license and device it names.
    pub(crate) rest: B::Rest,
}

impl<B: DeviceBody> FromRequest<Arc<App>> for DeviceCall<B> {
    type Rejection = ApiError;

    async fn from_request(mut req: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        // Put there by the client API's authentication layer, which every
        // route of the client API passes.
        let product = req.extensions_mut().remove::<Product>();
        let proof = req.extensions_mut().remove::<DeviceProof>();
        let nonce = req.extensions_mut().remove::<UnspentNonce>();
        let (Some(Product(product)), Some(proof)) = (product, proof) else {
            return Err(ApiError::internal(
                "a device call without its authentication",
            ));
        };
        let JsonBody(body) = JsonBody::<B>::from_request(req, app).await?;
        let (who, rest) = body.split();
        Ok(DeviceCall {
            app: Arc::clone(app),
            product,
            nonce,
            proof,
            who,
            rest,
        })
    }
}

/// What a device call is for, which decides the checks it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// An activation, which may register the device's key.
    Activate,
    /// A check-in of an activated device: on a disabled license it is
    /// answered (with a file that says so), so the device hears of it.
    CheckIn,
    /// Any other use of the license (seats, consumption, the update check,
    /// a deactivation): refused while the license is disabled.
    Use,
}

impl<B: DeviceBody> DeviceCall<B> {
    /// Spends the call's nonce if it is still to spend, then runs
    /// `handler` in the license's one write transaction once every check
    /// `purpose` calls for passed ([`with_license`]).
    pub(crate) async fn run(
        self,
        purpose: Purpose,
        handler: Box<Handler>,
    ) -> Result<Answer, ApiError> {
        if let Some(nonce) = self.nonce {
            nonce.spend(&self.app).await?;
        }
        let value = with_license(
            &self.app,
            self.product,
            self.proof,
            self.who,
            purpose,
            handler,
        )
        .await?;
        Ok(Answer(value))
    }
}

/// What a handler does inside the transaction.
pub(crate) type Handler = dyn FnOnce(
        &App,
        &Db<'_>,
        &LicenseRow,
        &LicenseAndDevice,
        DateTime<Utc>,
    ) -> Result<Unsigned, ApiError>
    + Send;

pub(crate) use crate::body::same_product;

pub(crate) fn check_fingerprint(fingerprint: &Fingerprint) -> Result<(), ApiError> {
    if fingerprint.id.is_empty() || fingerprint.id.len() > 128 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "fingerprint.id must be 1 to 128 characters",
        ));
    }
    Ok(())
}

/// What a device call answers before the server signs what it carries:
/// an answer ready as it is, or a document (a license file, an offline
/// response, a lease) to sign once the database lock is released.
pub(crate) enum Unsigned {
    /// The answer as it is.
    Ready(Value),
    /// A license spec to issue at the time given.
    License(Value, DateTime<Utc>),
    /// A license spec to issue, then wrap in the answer to an offline
    /// request (its text and what it says).
    Offline(Value, DateTime<Utc>, String, Box<offline::Request>),
    /// A lease to seal, the seats held with it (where the call counted
    /// them) and the license's seats.
    Lease(Box<Lease>, Option<u32>, u32),
}

pub(crate) fn finish(app: &App, reply: Unsigned) -> Result<Value, ApiError> {
    let issue = |spec: Value, now: DateTime<Utc>| -> Result<String, ApiError> {
        let bytes = serde_json::to_vec(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(tessera::issuer::issue(&bytes, &app.key, now.into())?.0)
    };
    match reply {
        Unsigned::Ready(v) => Ok(v),
        Unsigned::License(spec, now) => to_value(&LicenseFileAnswer::new(issue(spec, now)?)),
        Unsigned::Offline(spec, now, text, request) => {
            let file = issue(spec, now)?;
            let response =
                offline::respond(text.as_bytes(), &request, &file, &app.key, now.into())?;
            to_value(&OfflineAnswer::new(response))
        }
        Unsigned::Lease(lease, seats_used, seats_total) => {
            let sealed = tessera::format::lease::seal(&lease, &app.key)?;
            to_value(&LeaseAnswer::new(sealed, seats_used, seats_total))
        }
    }
}

/// Looks the license up for the authenticated product and runs `f` in one
/// write transaction; what it answers is signed after the lock is released.
/// A user's password is checked first, outside the lock.
pub(crate) async fn with_license(
    app: &Arc<App>,
    product: String,
    proof: DeviceProof,
    who: LicenseAndDevice,
    purpose: Purpose,
    f: Box<Handler>,
) -> Result<Value, ApiError> {
    let activating = purpose == Purpose::Activate;
    let client = crate::http::CLIENT.try_with(Clone::clone).ok().flatten();
    same_product(&product, &who.product)?;
    check_fingerprint(&who.fingerprint)?;
    let mut who = who;
    let user = match (&who.username, &who.password, &who.id_token) {
        (Some(name), Some(password), None) => {
            Some(users_sign_in::login(app, name, password).await?)
        }
        (None, None, None) => None,
        // A desktop sign-in (docs/SIGN-IN.md): the provider's token names
        // the user, and the license is the user's from that account.
        (None, None, Some(token)) if activating && who.license_key.is_none() => {
            let account = who.sso_account.clone().ok_or_else(|| {
                ApiError::bad_request("invalid_body", "id_token comes with sso_account")
            })?;
            let user = crate::sso::desktop::user_of_token(app, &account, token.expose()).await?;
            let license = crate::sso::desktop::license_for(
                app,
                &user,
                &who.product,
                &account,
                who.license_id.as_deref(),
            )
            .await?;
            who.license_id = Some(license);
            Some(user)
        }
        (None, None, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "an id_token activates a user's license, named by license_id or not at all",
            ))
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "username and password come together, and without an id_token",
            ))
        }
    };
    if activating && who.license_key.is_none() && user.is_none() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "activate with license_key, or with username, password and license_id",
        ));
    }
    app.with_db_then(
        move |app, conn| {
            let now = app.now();
            // Requests on different licenses run side by side (in
            // PostgreSQL); those on one license, from any instance, one at
            // a time: the license row stays locked to the end.
            database::write_license(conn, |tx| {
                let row = match (&who.license_key, &who.license_id) {
                    (Some(key), None) => licenses_db::locked_license_by_key(tx, &who.product, key)?,
                    (None, Some(id)) => license_of_product(tx, &who.product, id)?,
                    _ => {
                        return Err(ApiError::bad_request(
                            "invalid_body",
                            "name the license by license_key or by license_id",
                        ))
                    }
                };
                if let Some(user) = &user {
                    if !users_db::is_assigned(tx, &user.id, &row.id)? {
                        return Err(ApiError::new(
                            403,
                            "not_assigned",
                            "the license is not assigned to this user",
                        ));
                    }
                }
                // A disabled license refuses everything but the check-in of a
                // device it is activated on, whose answer tells the device.
                let told = purpose == Purpose::CheckIn
                    && activations_db::is_activated(tx, &row.id, &who.fingerprint.id)?;
                if !row.enabled && !told {
                    return Err(ApiError::new(
                        403,
                        "license_disabled",
                        "the license is disabled",
                    ));
                }
                // The license key, or a user's password, was shown: what
                // the way back of a device that lost its state needs.
                let credential_shown = who.license_key.is_some() || user.is_some();
                check_device_proof(app, tx, &row, &who, (activating, credential_shown), &proof)?;
                let activating_user = user.as_ref().filter(|_| activating);
                if let Some(user) = activating_user {
                    check_user_devices(tx, &row, &user.id, &who.fingerprint.id)?;
                }
                let reply = f(app, tx, &row, &who, now)?;
                if purpose != Purpose::Use {
                    activations_db::seen(
                        tx,
                        &row.id,
                        &who.fingerprint.id,
                        now.timestamp(),
                        client.clone(),
                    )?;
                }
                if let (true, Some(key)) = (activating, &who.device_key) {
                    activations_db::set_activation_key(
                        tx,
                        activations_db::ActivationKey::Proof,
                        &row.id,
                        &who.fingerprint.id,
                        key,
                    )?;
                }
                if let Some(user) = activating_user {
                    activations_db::set_activation_user(
                        tx,
                        &row.id,
                        &who.fingerprint.id,
                        &user.id,
                    )?;
                }
                Ok(reply)
            })
        },
        finish,
    )
    .await
}

/// Refuses a user a new device past the license's per-user limit (a
/// device the user already activated is not a new one), and a device that
/// another user of the license activated.
pub(crate) fn check_user_devices(
    tx: &Db<'_>,
    row: &LicenseRow,
    user: &str,
    device: &str,
) -> Result<(), ApiError> {
    // Another user's device is not this user's to take over: moving it
    // would pass this user's limit and leave the other's count short.
    if activations_db::activation_user(tx, &row.id, device)?.is_some_and(|holder| holder != user) {
        return Err(ApiError::conflict(
            "device_of_another_user",
            "the license is activated on this device for another of its users: \
             that user deactivates it first (or support removes it)",
        ));
    }
    let max = activations_db::max_devices_per_user(tx, &row.id)?;
    if max > 0 && activations_db::user_device_count(tx, &row.id, user, device)? >= max {
        return Err(ApiError::conflict(
            "user_device_limit",
            format!(
                "each user may activate this license on {max} devices, and this user has \
                 as many: deactivate one first"
            ),
        ));
    }
    Ok(())
}

/// Refuses a request about a device that does not come from that device.
///
/// An activation that registers a key must be signed by it, and may not
/// replace another key already recorded for the device, but by the way
/// back of a device that lost its state
/// ([`activations_way_back::take_back_under_a_new_key`]). Every other request about an activation with a
/// recorded key must carry that key's proof. Activations without one (made
/// offline, or by an SDK from before the proofs) are taken as before.
fn check_device_proof(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &LicenseAndDevice,
    (activating, credential_shown): (bool, bool),
    proof: &DeviceProof,
) -> Result<(), ApiError> {
    let recorded = activations_db::activation_key(
        tx,
        activations_db::ActivationKey::Proof,
        &row.id,
        &who.fingerprint.id,
    )?;
    let proven_by = |key: &str| {
        proof.signature.as_deref().is_some_and(|sig| {
            tessera::protocol::request::device_proof_matches(key, &proof.message, sig)
        })
    };
    let refused = || {
        ApiError::unauthorized(
            "device_proof",
            "the request is not signed by the device the license is activated on",
        )
    };
    let mismatch = || {
        ApiError::conflict(
            "device_key_mismatch",
            "the license is activated on this device with another device key: \
             deactivate it from the device that holds that key, or have support remove it, first",
        )
    };
    match (activating, who.device_key.as_deref(), recorded.as_deref()) {
        (true, Some(key), _) if !proven_by(key) => Err(refused()),
        // Another key: only the way back of a device that lost its state.
        (true, Some(key), Some(old)) if key != old => {
            activations_way_back::take_back_under_a_new_key(
                app,
                tx,
                row,
                &who.fingerprint,
                credential_shown,
            )
        }
        // A device whose activation recorded a key is activated again
        // only by that key: without one, anybody who knows the license
        // key and the device's id would take it over.
        (true, None, Some(_)) => Err(mismatch()),
        // Activated by a request file: its key is the offline one, which
        // an online activation cannot show; a new key only by the way back.
        (true, new_key, None)
            if activations_db::activation_key(
                tx,
                activations_db::ActivationKey::Offline,
                &row.id,
                &who.fingerprint.id,
            )?
            .is_some() =>
        {
            match new_key {
                Some(_) => activations_way_back::take_back_under_a_new_key(
                    app,
                    tx,
                    row,
                    &who.fingerprint,
                    credential_shown,
                ),
                None => Err(mismatch()),
            }
        }
        (true, _, _) => Ok(()),
        (false, _, Some(key)) if !proven_by(key) => Err(refused()),
        (false, _, _) => Ok(()),
    }
}

/// The license `id`, when it belongs to `product`, locked until the
/// transaction ends (`licenses_db::license_for_update`).
pub(crate) fn license_of_product(
    conn: &Db<'_>,
    product: &str,
    id: &str,
) -> Result<LicenseRow, ApiError> {
    licenses_db::locked_license_by_id(conn, id)
        .ok()
        .filter(|row| row.product == product)
        .ok_or_else(|| ApiError::not_found("license_not_found", "no such license for the product"))
}

/// `now + span`, refused (422) past the last time a license file can
/// hold (the end of year 9999) instead of overflowing.
pub(crate) fn later(now: DateTime<Utc>, span: Duration) -> Result<DateTime<Utc>, ApiError> {
    now.checked_add_signed(span)
        .filter(|t| t.timestamp() <= LAST_TIME)
        .ok_or_else(|| {
            ApiError::new(
                422,
                "too_far",
                "that would end after the year 9999, which a license file cannot hold",
            )
        })
}

/// 9999-12-31T23:59:59Z.
const LAST_TIME: i64 = 253_402_300_799;

/// A fresh 128-bit id (tessera's issuer makes it).
pub(crate) fn random_id() -> Result<String, ApiError> {
    tessera::issuer::new_id().map_err(|_| ApiError::internal("no random source"))
}

/// A fresh license key (tessera's issuer makes it: 20 Crockford symbols).
pub(crate) fn license_key() -> Result<String, ApiError> {
    tessera::issuer::new_license_key().map_err(|_| ApiError::internal("no random source"))
}
