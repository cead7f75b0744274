//! The signed-in staff member a console page is for: the session its
//! cookie names, the role's check, the audit log's name for them, and
//! the page's frame.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::staff::{self, Role, StaffRow};
use crate::state::App;
use crate::web::session::{self, Session};
use crate::web::{Chrome, Face, NavItem, WebError};

/// The signed-in staff member a page is for.
pub(crate) struct Staff {
    pub(crate) row: StaffRow,
    pub(crate) session: Session,
}

impl FromRequestParts<Arc<App>> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, WebError> {
        let (row, session) = session::signed_in(app, Face::Console, &parts.headers, |conn, id| {
            staff::by_id(conn, id)
        })
        .await?;
        Ok(Staff { row, session })
    }
}

impl Staff {
    /// Refuses (403) a staff member whose role is below `role`.
    pub(crate) fn require(&self, role: Role) -> Result<(), WebError> {
        if self.row.role >= role {
            return Ok(());
        }
        Err(WebError::Refused(
            403,
            format!(
                "this needs the {} role; you are {} (an owner can change roles)",
                role.name(),
                self.row.role.name()
            ),
        ))
    }

    /// The name the audit log gives this staff member's changes.
    pub(crate) fn actor(&self) -> String {
        format!(
            "{} <{}> ({}, console)",
            self.row.name,
            self.row.email,
            self.row.role.name()
        )
    }

    /// Runs `work` (a change) as this staff member's audited request.
    pub(crate) async fn audited<T>(
        &self,
        app: &Arc<App>,
        action: String,
        work: impl std::future::Future<Output = Result<T, WebError>>,
    ) -> Result<T, WebError> {
        crate::audit::request::audited(app, self.actor(), action, work, |r| match r {
            Ok(_) => 200,
            Err(WebError::Refused(status, _)) => *status,
            Err(WebError::SignIn(_)) => 401,
        })
        .await
    }

    /// What every page's frame shows: the menu, who is signed in, the
    /// sign-out form's token.
    pub(crate) fn chrome(&self, active: &str, notice: Option<&str>) -> Chrome {
        let mut items = vec![
            ("/console/", "Overview"),
            ("/console/licenses", "Licenses"),
            ("/console/products", "Products"),
            ("/console/customers", "Customers"),
            ("/console/users", "Users"),
            ("/console/trials", "Trials"),
            ("/console/releases", "Releases"),
            ("/console/sso", "Single sign-on"),
            ("/console/audit", "Audit log"),
        ];
        if self.row.role == Role::Owner {
            items.push(("/console/staff", "Staff"));
        }
        items.push(("/console/account", "Account"));
        Chrome {
            brand: "Tessera console",
            home: "/console/",
            sign_out: "/console/sign-out",
            who: format!("{} ({})", self.row.name, self.row.role.name()),
            csrf: self.session.csrf.clone(),
            nav: items
                .into_iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    active: href.trim_end_matches('/') == active.trim_end_matches('/'),
                })
                .collect(),
            notice: notice.map(str::to_owned),
        }
    }
}

/// The message of a finished action, named in the query (`?done=KEY`):
/// only these texts are ever shown, so a link cannot put words on a page.
pub(crate) fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Created.",
        "suspended" => "The license is suspended: its devices hear of it at their next check-in.",
        "resumed" => "The license is in force again.",
        "renewed" => "The license was renewed.",
        "edited" => "The license was changed.",
        "extended" => "The trial was extended.",
        "transfers" => "The transfer count is back to zero.",
        "freed" => "The device was freed: its slot is open again.",
        "published" => "The release is published.",
        "password" => "Your password was changed; your other sessions were signed out.",
        "second-factor-on" => "The second factor is on: sign-ins now ask for a code.",
        "second-factor-off" => "The second factor is off.",
        "staff" => "The staff list was changed.",
        "deactivated" => "The device's offline deactivation was taken; its slot is free.",
        _ => return None,
    })
}
