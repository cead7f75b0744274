//! The queries of products and license definitions.

use crate::database::{all, exec, exists, one};
use crate::store::{args, Db, DbError, DbResult, Row};

pub(crate) fn insert_product(tx: &Db<'_>, code: &str, name: &str, api_key: &[u8]) -> DbResult<()> {
    let n = exec(
        tx,
        "INSERT INTO products (code, name, api_key) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![code, name, api_key],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "product_exists",
            "a product with this code exists",
        ));
    }
    Ok(())
}

pub(crate) fn product_key(conn: &Db<'_>, code: &str) -> DbResult<Option<Vec<u8>>> {
    one(
        conn,
        "SELECT api_key FROM products WHERE code = ?1",
        args![code],
        |r| r.get(0),
    )
}

/// The product's name, if the product exists.
#[cfg(feature = "compat")] // only the seeds' APIs ask this
pub(crate) fn product_name(conn: &Db<'_>, code: &str) -> DbResult<Option<String>> {
    one(
        conn,
        "SELECT name FROM products WHERE code = ?1",
        args![code],
        |row| row.get(0),
    )
}

pub(crate) fn require_product(conn: &Db<'_>, product: &str) -> DbResult<()> {
    if exists(
        conn,
        "SELECT 1 FROM products WHERE code = ?1",
        args![product],
    )? {
        Ok(())
    } else {
        Err(DbError::NotFound("product_not_found", "no such product"))
    }
}

// ---- license definitions ----

/// A license definition: a template spec licenses are made from.
#[derive(Debug, Clone)]
pub(crate) struct DefinitionRow {
    pub product: String,
    pub code: String,
    pub name: String,
    pub spec: String,
    pub trial_days: Option<u32>,
}

fn definition_from(r: &Row) -> DbResult<DefinitionRow> {
    Ok(DefinitionRow {
        product: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        spec: r.get(3)?,
        trial_days: r.get(4)?,
    })
}

pub(crate) fn insert_definition(tx: &Db<'_>, d: &DefinitionRow) -> DbResult<()> {
    require_product(tx, &d.product)?;
    let n = exec(
        tx,
        "INSERT INTO definitions (product, code, name, spec, trial_days)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        args![d.product, d.code, d.name, d.spec, d.trial_days],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "definition_exists",
            "the product has a definition with this code",
        ));
    }
    Ok(())
}

pub(crate) fn definition(
    conn: &Db<'_>,
    product: &str,
    code: &str,
) -> DbResult<Option<DefinitionRow>> {
    one(
        conn,
        "SELECT product, code, name, spec, trial_days FROM definitions
         WHERE product = ?1 AND code = ?2",
        args![product, code],
        definition_from,
    )
}

/// A product's definitions (every product's when `product` is None).
pub(crate) fn definitions(conn: &Db<'_>, product: Option<&str>) -> DbResult<Vec<DefinitionRow>> {
    all(
        conn,
        "SELECT product, code, name, spec, trial_days FROM definitions
         WHERE CAST(?1 AS TEXT) IS NULL OR product = ?1 ORDER BY product, code",
        args![product],
        definition_from,
    )
}

/// The product's trial definition (the first by code that has trial days).
pub(crate) fn trial_definition(conn: &Db<'_>, product: &str) -> DbResult<Option<DefinitionRow>> {
    one(
        conn,
        "SELECT product, code, name, spec, trial_days FROM definitions
         WHERE product = ?1 AND trial_days IS NOT NULL ORDER BY code LIMIT 1",
        args![product],
        definition_from,
    )
}
