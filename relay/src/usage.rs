//! The usage record, signed by the relay's key: uploaded to the vendor's
//! server when the relay can reach it (`upload`), or exported for the
//! vendor to import (`usage --out`).

use tessera::format::delegation::{self, UsageDay, UsageReport};
use tessera::Time;

use crate::home;
use crate::seats::Seats;
use crate::{exit, Dirs, Failure};

/// The usage record, signed.
pub fn export(dirs: &Dirs, now: Time) -> Result<String, Failure> {
    let grant = dirs.grant(now)?;
    let seats = Seats::open(&dirs.file(home::STATE))?;
    let days = seats
        .usage()
        .map_err(|e| Failure::new(exit::STATE, format!("{e:?}")))?;
    // The newest ten years at most (a report's bound).
    let skip = days.len().saturating_sub(3660);
    let report = UsageReport {
        format: 1,
        delegation: grant.delegation.id.clone(),
        license_id: grant.delegation.license_id.clone(),
        product: grant.delegation.product.clone(),
        made_at: now,
        days: days
            .into_iter()
            .skip(skip)
            .map(|d| UsageDay {
                day: d.day,
                seat_seconds: d.seat_seconds,
                peak: d.peak,
                grants: d.grants,
                denials: d.denials,
            })
            .collect(),
    };
    Ok(delegation::sign_usage(&report, &dirs.key()?)?)
}
