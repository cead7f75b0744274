//! The queries of releases.

use crate::database::{all, exec};
use crate::products::db::require_product;
use crate::store::{args, Db, DbError, DbResult, Row};

/// One published release of a product.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseRow {
    pub product: String,
    pub channel: String,
    pub version: String,
    pub environment: String,
    /// Unix seconds.
    pub release_date: i64,
    pub requires_version: String,
    pub installation_file: String,
    pub hash_md5: String,
    pub size: u64,
    pub eula_link: String,
    pub release_notes_link: String,
    /// 64 lowercase hex digits, or empty.
    pub sha256: String,
    /// The vendor's signed release, armored, or empty.
    pub manifest: String,
}

const RELEASE_COLUMNS: &str = "product, channel, version, environment, release_date, \
     requires_version, installation_file, hash_md5, size, eula_link, release_notes_link, \
     sha256, manifest";

fn release_from(r: &Row) -> DbResult<ReleaseRow> {
    Ok(ReleaseRow {
        product: r.get(0)?,
        channel: r.get(1)?,
        version: r.get(2)?,
        environment: r.get(3)?,
        release_date: r.get(4)?,
        requires_version: r.get(5)?,
        installation_file: r.get(6)?,
        hash_md5: r.get(7)?,
        size: r.get(8)?,
        eula_link: r.get(9)?,
        release_notes_link: r.get(10)?,
        sha256: r.get(11)?,
        manifest: r.get(12)?,
    })
}

/// Publishes a release; [`DbError::Exists`] when the product has this
/// version in this channel already.
pub(crate) fn insert_release(tx: &Db<'_>, r: &ReleaseRow) -> DbResult<()> {
    require_product(tx, &r.product)?;
    let size = i64::try_from(r.size).map_err(|_| DbError::Invalid("size is too large".into()))?;
    let added = exec(
        tx,
        &format!(
            "INSERT INTO releases ({RELEASE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT DO NOTHING"
        ),
        args![
            r.product.as_str(),
            r.channel.as_str(),
            r.version.as_str(),
            r.environment.as_str(),
            r.release_date,
            r.requires_version.as_str(),
            r.installation_file.as_str(),
            r.hash_md5.as_str(),
            size,
            r.eula_link.as_str(),
            r.release_notes_link.as_str(),
            r.sha256.as_str(),
            r.manifest.as_str()
        ],
    )?;
    if added == 0 {
        return Err(DbError::Exists(
            "release_exists",
            "the product has this version in this channel already",
        ));
    }
    crate::outbox::emit(
        tx,
        crate::outbox::Kind::ReleasePublished,
        None,
        serde_json::json!({
            "product": r.product,
            "channel": r.channel,
            "version": r.version,
            "installation_file": r.installation_file,
            "size": r.size,
            "sha256": r.sha256,
            "signed": !r.manifest.is_empty(),
        }),
    )
}

/// A product's releases, in one channel or all.
pub(crate) fn releases_of(
    conn: &Db<'_>,
    product: &str,
    channel: Option<&str>,
) -> DbResult<Vec<ReleaseRow>> {
    match channel {
        Some(c) => all(
            conn,
            &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE product = ?1 AND channel = ?2"),
            args![product, c],
            release_from,
        ),
        None => all(
            conn,
            &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE product = ?1"),
            args![product],
            release_from,
        ),
    }
}
