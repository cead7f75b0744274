//! Which of Keygen's two files a text is: the one fact the armor, the
//! payload and the mapping all need, kept apart so none of them imports
//! another for it.

/// Which of Keygen's two files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A license file (`-----BEGIN LICENSE FILE-----`): a license, not bound
    /// to a machine.
    License,
    /// A machine file (`-----BEGIN MACHINE FILE-----`): a license activated
    /// on one machine, named by its fingerprint.
    Machine,
}

impl FileKind {
    pub(super) fn label(self) -> &'static str {
        match self {
            FileKind::License => "LICENSE FILE",
            FileKind::Machine => "MACHINE FILE",
        }
    }

    /// The prefix of the signed message and the JSON:API type of the payload's `data`.
    pub(super) fn prefix(self) -> &'static str {
        match self {
            FileKind::License => "license/",
            FileKind::Machine => "machine/",
        }
    }

    pub(crate) fn data_type(self) -> &'static str {
        match self {
            FileKind::License => "licenses",
            FileKind::Machine => "machines",
        }
    }
}
