//! The kinds of event, by their wire names (docs/EVENTS.md).

/// Declares the kinds of event: each variant with its wire name.
macro_rules! kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// A kind of event, by its wire name (`license.created`, ...).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Kind {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Kind {
            /// Every kind, in the order docs/EVENTS.md lists them.
            pub(crate) const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The wire name.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)*
                }
            }

            /// The kind of a wire name.
            pub(crate) fn of(name: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.name() == name)
            }
        }
    };
}

kinds! {
    /// A license was created (admin API, a trial, a seed's API).
    LicenseCreated = "license.created",
    /// A license's terms changed.
    LicenseChanged = "license.changed",
    /// A license was disabled.
    LicenseSuspended = "license.suspended",
    /// A disabled license was enabled again.
    LicenseReinstated = "license.reinstated",
    /// A license's end moved later.
    LicenseRenewed = "license.renewed",
    /// A license's end passed.
    LicenseExpired = "license.expired",
    /// A device was activated.
    ActivationCreated = "activation.created",
    /// A device's activation was removed (by the device, or by support).
    ActivationRemoved = "activation.removed",
    /// A device asked for a floating seat and every seat was held.
    SeatDenied = "seat.denied",
    /// A device borrowed a seat.
    BorrowStarted = "borrow.started",
    /// A device gave its borrowed seat back early.
    BorrowReturned = "borrow.returned",
    /// A consumption counter crossed a threshold of its limit.
    ConsumptionThreshold = "consumption.threshold",
    /// A trial started.
    TrialStarted = "trial.started",
    /// A release was published.
    ReleasePublished = "release.published",
    /// A webhook kept failing for a day and was paused.
    WebhookPaused = "webhook.paused",
}
