//! Whether a license may be used, and if not, why not.
//!
//! One table gives each status its stable number, its snake_case name and
//! its C name; the enum, [`Status::ALL`], [`Status::name`],
//! [`Status::from_u32`] and the C header's `tessera_status` all come from it
//! (`scripts/header.sh` renders the C enum with [`Status::c_name`]).

crate::table::numbered_table! {
    /// Whether a license may be used, and if not, why not.
    ///
    /// The numeric values are stable; the C ABI (`tessera_status`) and the
    /// bindings use them.
    pub enum Status {
        /// Usable.
        Valid = 0, "valid", "TESSERA_STATUS_VALID";
        /// Usable, but only because of the grace period: past the validity
        /// period or the file's check-in expiry.
        ValidInGrace = 1, "valid_in_grace", "TESSERA_STATUS_VALID_IN_GRACE";
        /// The validity period and any grace are over.
        Expired = 2, "expired", "TESSERA_STATUS_EXPIRED";
        /// The trial is over.
        TrialExpired = 3, "trial_expired", "TESSERA_STATUS_TRIAL_EXPIRED";
        /// The file's expiry and any grace are over: the product must check in.
        CheckInRequired = 4, "check_in_required", "TESSERA_STATUS_CHECK_IN_REQUIRED";
        /// The start date has not come yet.
        NotYetValid = 5, "not_yet_valid", "TESSERA_STATUS_NOT_YET_VALID";
        /// The vendor disabled the license.
        Disabled = 6, "disabled", "TESSERA_STATUS_DISABLED";
        /// The license is not active.
        Inactive = 7, "inactive", "TESSERA_STATUS_INACTIVE";
        /// The license is for another product.
        WrongProduct = 8, "wrong_product", "TESSERA_STATUS_WRONG_PRODUCT";
        /// The license is bound to another device, or no device id was supplied.
        WrongDevice = 9, "wrong_device", "TESSERA_STATUS_WRONG_DEVICE";
        /// The system clock is behind the time the file was issued.
        ClockBehind = 10, "clock_behind", "TESSERA_STATUS_CLOCK_BEHIND";
        /// The license forbids virtual machines and containers, and this is one
        /// (or detection was not run).
        VirtualMachine = 11, "virtual_machine", "TESSERA_STATUS_VIRTUAL_MACHINE";
        /// A floating license without a floating or borrow lease on this device.
        LeaseRequired = 12, "lease_required", "TESSERA_STATUS_LEASE_REQUIRED";
        /// The floating or borrow lease expired; a heartbeat (or a new borrow)
        /// must renew it.
        LeaseExpired = 13, "lease_expired", "TESSERA_STATUS_LEASE_EXPIRED";
    }
}

impl Status {
    /// Whether the license may be used.
    pub fn is_usable(self) -> bool {
        matches!(self, Status::Valid | Status::ValidInGrace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_unique_and_round_trip() {
        let mut names = std::collections::HashSet::new();
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as u32 as usize, i, "numbered in order: {s:?}");
            assert_eq!(Status::from_u32(*s as u32), Some(*s));
            assert!(names.insert(s.name()), "{s:?}");
            assert_eq!(
                s.c_name(),
                format!("TESSERA_STATUS_{}", s.name().to_uppercase())
            );
            assert!(s.description().trim_end().ends_with('.'), "{s:?}");
        }
        assert_eq!(Status::from_u32(Status::ALL.len() as u32), None);
    }
}
