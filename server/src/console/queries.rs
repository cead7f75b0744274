//! What the console's pages read (and only read): searches, pages of
//! long tables, a license's whole picture. Every change goes through the
//! aggregates' own operations instead.

use crate::store::{args, Arg, Db, DbResult};
use crate::web::{Time, PAGE_SIZE};

/// A license in a list.
#[derive(Debug, Clone)]
pub(crate) struct LicenseLine {
    pub(crate) id: String,
    pub(crate) product: String,
    pub(crate) key_prefix: String,
    pub(crate) enabled: bool,
    pub(crate) account: String,
    pub(crate) devices: i64,
    pub(crate) transfers: i64,
    pub(crate) ends: String,
}

/// The columns a license list sorts by, as the query names them.
pub(crate) const LICENSE_SORTS: [(&str, &str); 5] = [
    ("id", "l.id"),
    ("product", "l.product"),
    ("customer", "l.account"),
    ("devices", "l.activations"),
    ("status", "l.enabled"),
];

/// `text` for a LIKE pattern (`ESCAPE '\'`) that matches it literally.
fn literal(text: &str) -> String {
    let mut p = String::new();
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p
}

/// `text` for a LIKE pattern that matches it literally, then anything.
fn prefix_pattern(text: &str) -> String {
    format!("{}%", literal(text))
}

/// A page of licenses matching `q` (the start of a key, a customer, a
/// user's name or e-mail, or an id), sorted; and how many match.
pub(crate) fn licenses(
    conn: &Db<'_>,
    q: &str,
    product: &str,
    sort: &str,
    descending: bool,
    offset: u64,
) -> DbResult<(Vec<LicenseLine>, u64)> {
    let pattern = prefix_pattern(&q.to_uppercase());
    let lower = prefix_pattern(&q.to_lowercase());
    let order = LICENSE_SORTS
        .iter()
        .find(|(name, _)| *name == sort)
        .map_or("l.id", |(_, column)| column);
    let direction = if descending { "DESC" } else { "ASC" };
    let filter = "(?1 = '' OR l.id = ?1 OR UPPER(l.license_key) LIKE ?2 ESCAPE '\\'
            OR LOWER(COALESCE(l.account, '')) LIKE ?3 ESCAPE '\\'
            OR EXISTS (SELECT 1 FROM user_licenses ul JOIN users u ON u.id = ul.user_id
                       WHERE ul.license_id = l.id
                       AND (u.username LIKE ?3 ESCAPE '\\' OR LOWER(u.email) LIKE ?3 ESCAPE '\\')))
        AND (?4 = '' OR l.product = ?4)";
    let values: Vec<Arg<'_>> = vec![
        Arg::Text(q),
        Arg::Text(&pattern),
        Arg::Text(&lower),
        Arg::Text(product),
    ];
    let total: i64 = conn
        .row(
            &format!("SELECT COUNT(*) FROM licenses l WHERE {filter}"),
            &values,
        )?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let mut page_values = values.clone();
    page_values.push(Arg::Int(offset));
    page_values.push(Arg::Int(i64::try_from(PAGE_SIZE).unwrap_or(50)));
    let rows = crate::store::all(
        conn,
        &format!(
            "SELECT l.id, l.product, l.license_key, l.enabled, COALESCE(l.account, ''),
                    l.activations, l.transfer_count, l.spec
             FROM licenses l WHERE {filter}
             ORDER BY {order} {direction}, l.id LIMIT ?6 OFFSET ?5"
        ),
        &page_values,
        |r| {
            let key: String = r.get(2)?;
            let spec: String = r.get(7)?;
            Ok(LicenseLine {
                id: r.get(0)?,
                product: r.get(1)?,
                key_prefix: crate::web::key_prefix(&key),
                enabled: r.get(3)?,
                account: r.get(4)?,
                devices: r.get(5)?,
                transfers: r.get(6)?,
                ends: ends_of(&spec),
            })
        },
    )?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// When a license spec says it ends (its `validity_period`), as a date.
pub(crate) fn ends_of(spec: &str) -> String {
    serde_json::from_str::<serde_json::Value>(spec)
        .ok()
        .and_then(|v| {
            v.get("validity_period")
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        })
        .map(|d| d.chars().take(10).collect())
        .unwrap_or_else(|| "never".into())
}

/// A device a license is activated on.
#[derive(Debug, Clone)]
pub(crate) struct DeviceLine {
    pub(crate) device: String,
    /// The fingerprint's component names with the start of each hash.
    pub(crate) components: Vec<(String, String)>,
    pub(crate) activated_at: Time,
    pub(crate) last_seen_at: Option<Time>,
    /// The SDK that last called (its User-Agent).
    pub(crate) client: String,
    pub(crate) platform: String,
    pub(crate) user: String,
}

/// A page of the license's devices, newest first, and how many it has.
pub(crate) fn devices(
    conn: &Db<'_>,
    license_id: &str,
    offset: u64,
) -> DbResult<(Vec<DeviceLine>, u64)> {
    let total: i64 = conn
        .row(
            "SELECT COUNT(*) FROM activations WHERE license_id = ?1",
            args![license_id],
        )?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    let rows = crate::store::all(
        conn,
        "SELECT a.device, a.fingerprint, a.activated_at, a.last_seen_at, COALESCE(a.client, ''),
                COALESCE(u.username, '')
         FROM activations a LEFT JOIN users u ON u.id = a.user_id
         WHERE a.license_id = ?1 ORDER BY a.activated_at DESC, a.device LIMIT ?3 OFFSET ?2",
        args![
            license_id,
            i64::try_from(offset).unwrap_or(i64::MAX),
            i64::try_from(PAGE_SIZE).unwrap_or(50)
        ],
        |r| {
            let fingerprint: String = r.get(1)?;
            let components: Vec<(String, String)> =
                serde_json::from_str::<tessera::Fingerprint>(&fingerprint)
                    .map(|f| {
                        f.components
                            .into_iter()
                            .map(|(name, hash)| (name, hash.chars().take(8).collect()))
                            .collect()
                    })
                    .unwrap_or_default();
            let client: String = r.get(4)?;
            Ok(DeviceLine {
                device: r.get(0)?,
                platform: platform_of(&components, &client),
                components,
                activated_at: Time(r.get(2)?),
                last_seen_at: r.get::<Option<i64>>(3)?.map(Time),
                client,
                user: r.get(5)?,
            })
        },
    )?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// The platform a fingerprint's components name (each platform reads its
/// own sources: docs/FINGERPRINT.md).
fn platform_of(components: &[(String, String)], client: &str) -> String {
    // The SDK names its platform in its User-Agent: `tessera/0.2.0 (linux; x86_64)`.
    if let Some((_, rest)) = client.split_once('(') {
        let os = rest.split([';', ')']).next().unwrap_or_default().trim();
        match os {
            "linux" => return "Linux".into(),
            "windows" => return "Windows".into(),
            "macos" => return "macOS".into(),
            "" => {}
            other => return other.to_owned(),
        }
    }
    let has = |n: &str| components.iter().any(|(c, _)| c.contains(n));
    if has("machine_guid") || has("windows") {
        "Windows".into()
    } else if has("platform_uuid") || has("ioplatform") || has("macos") {
        "macOS".into()
    } else if has("machine_id") || has("dmi") || has("linux") {
        "Linux".into()
    } else {
        "unknown".into()
    }
}

/// A live seat of a license.
#[derive(Debug, Clone)]
pub(crate) struct SeatLine {
    pub(crate) device: String,
    pub(crate) kind: String,
    pub(crate) started_at: Option<Time>,
    pub(crate) expires_at: Time,
    pub(crate) user: String,
}

pub(crate) fn seats(conn: &Db<'_>, license_id: &str, now: i64) -> DbResult<Vec<SeatLine>> {
    crate::store::all(
        conn,
        "SELECT s.device, s.kind, s.started_at, s.expires_at, COALESCE(u.username, '')
         FROM leases s
         LEFT JOIN activations a ON a.license_id = s.license_id AND a.device = s.device
         LEFT JOIN users u ON u.id = a.user_id
         WHERE s.license_id = ?1 AND s.expires_at > ?2 ORDER BY s.expires_at LIMIT 500",
        args![license_id, now],
        |r| {
            Ok(SeatLine {
                device: r.get(0)?,
                kind: r.get(1)?,
                started_at: r.get::<Option<i64>>(2)?.map(Time),
                expires_at: Time(r.get(3)?),
                user: r.get(4)?,
            })
        },
    )
}

/// A line of the audit log.
#[derive(Debug, Clone)]
pub(crate) struct AuditLine {
    pub(crate) at: Time,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) status: i64,
}

/// A page of the audit log, newest first, filtered by actor (its start),
/// a license (its id in the path), action (its start) and a time span.
pub(crate) fn audit(
    conn: &Db<'_>,
    actor: &str,
    license: &str,
    action: &str,
    span: (i64, i64),
    offset: u64,
) -> DbResult<(Vec<AuditLine>, u64)> {
    let actor = prefix_pattern(actor);
    let action = prefix_pattern(action);
    let license = if license.is_empty() {
        String::new()
    } else {
        format!("%/licenses/{}%", literal(license))
    };
    let filter = "actor LIKE ?1 ESCAPE '\\' AND action LIKE ?2 ESCAPE '\\'
        AND (?3 = '' OR action LIKE ?3 ESCAPE '\\') AND at >= ?4 AND at < ?5";
    let values = vec![
        Arg::Text(&actor),
        Arg::Text(&action),
        Arg::Text(&license),
        Arg::Int(span.0),
        Arg::Int(span.1),
    ];
    let total: i64 = conn
        .row(
            &format!("SELECT COUNT(*) FROM audit WHERE {filter}"),
            &values,
        )?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    let mut page = values.clone();
    page.push(Arg::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    page.push(Arg::Int(i64::try_from(PAGE_SIZE).unwrap_or(50)));
    let rows = crate::store::all(
        conn,
        &format!(
            "SELECT at, actor, action, status FROM audit WHERE {filter}
             ORDER BY id DESC LIMIT ?7 OFFSET ?6"
        ),
        &page,
        |r| {
            Ok(AuditLine {
                at: Time(r.get(0)?),
                actor: r.get(1)?,
                action: r.get(2)?,
                status: r.get(3)?,
            })
        },
    )?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// What happened to a license (its events), newest first.
pub(crate) fn history(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<(Time, String, String)>> {
    crate::store::all(
        conn,
        "SELECT at, kind, data FROM events WHERE license_id = ?1 ORDER BY id DESC LIMIT 30",
        args![license_id],
        |r| Ok((Time(r.get(0)?), r.get(1)?, r.get(2)?)),
    )
}

/// Whether the license is a trial a device took.
pub(crate) fn is_trial(conn: &Db<'_>, license_id: &str) -> DbResult<bool> {
    Ok(conn
        .row(
            "SELECT 1 FROM trials WHERE license_id = ?1 LIMIT 1",
            args![license_id],
        )?
        .is_some())
}

/// A count of rows by week or day: (start of the bucket, count).
pub(crate) fn buckets(
    conn: &Db<'_>,
    sql: &str,
    since: i64,
    width: i64,
) -> DbResult<Vec<(i64, i64)>> {
    crate::store::all(conn, sql, args![since, width], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}
