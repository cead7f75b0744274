//! The way back for a device that lost its state (a reinstall), and with
//! it the key its activation recorded: what both activation routes (online
//! and by request file) allow in place of `device_key_mismatch`.

use tessera::Fingerprint;

use super::db;
use crate::error::ApiError;
use crate::licenses::db::LicenseRow;
use crate::state::App;
use crate::store::Db;

/// The way back for a device that lost its state, and with it the key its
/// activation recorded (a reinstall): it activates again under a new key
/// when the caller showed the license key (or the user's password), and
/// the fingerprint it sends is the recorded one's machine (the stored
/// components, one naming the machine among them, match under the default
/// policy). That counts as one of the license's transfers, within
/// `max_transfers`; the old keys are forgotten. Anything else is
/// `device_key_mismatch`, which support's device removal resolves.
pub(crate) fn take_back_under_a_new_key(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    device: &Fingerprint,
    credential_shown: bool,
) -> Result<(), ApiError> {
    let mismatch = || {
        ApiError::conflict(
            "device_key_mismatch",
            "the license is activated on this device with another device key: deactivate it \
             from the device that holds that key, or have support remove it. A device that lost \
             its state activates again with the license key (or the user's password) from the \
             same machine, counted as a transfer",
        )
    };
    if !credential_shown {
        return Err(mismatch());
    }
    let stored = db::activation_fingerprint(tx, &row.id, &device.id)?
        .and_then(|text| serde_json::from_str::<Fingerprint>(&text).ok());
    let same_machine = stored.is_some_and(|s| {
        !s.components.is_empty()
            && s.matches(
                device,
                &tessera::format::fingerprint::MatchPolicy::default(),
            )
    });
    if !same_machine {
        return Err(mismatch());
    }
    a_transfer_is_left(&app.license_of(row)?.1, row)?;
    db::count_transfer(tx, &row.id)?;
    db::forget_activation_keys(tx, &row.id, &device.id)?;
    Ok(())
}

/// Refuses one more transfer of a license whose `max_transfers` (when set)
/// are all used: a customer's deactivation, or a device's way back.
pub(crate) fn a_transfer_is_left(
    license: &tessera::License,
    row: &LicenseRow,
) -> Result<(), ApiError> {
    if license.max_transfers > 0 && row.transfer_count >= license.max_transfers {
        return Err(ApiError::conflict(
            "transfer_limit",
            format!(
                "the license allows {} transfers, all used: support can free a device",
                license.max_transfers
            ),
        ));
    }
    Ok(())
}
