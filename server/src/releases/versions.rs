//! A product's releases and which of them a license may install: the
//! update check LicenseSpring and Cryptlex offer, and the release fields of
//! seed 003's license objects (`compat/licensespring/`).
//!
//! Versions are dotted numbers (`2`, `2.1`, `10.0.3`), ordered part by part
//! as numbers (`2.10` is newer than `2.9`; `2` equals `2.0`). A license may
//! install a release when:
//! - its maintenance covers it: a license with `enable_maintenance_period`
//!   and a `maintenance_period` gets the releases published up to the end
//!   of its maintenance (a license without one gets every release);
//! - the installed version (when the device says which) is at least the
//!   release's `requires_version`, and older than the release.
//!
//! Of those, the newest is the answer.

use std::cmp::Ordering;

use tessera::protocol::bodies::Release;
use tessera::License;

use crate::releases::db::ReleaseRow;

/// The most parts a version has, and the longest part.
const MAX_PARTS: usize = 8;
const MAX_PART_DIGITS: usize = 9;

/// A version's parts, or None when it is not a dotted number.
pub(crate) fn parse_version(v: &str) -> Option<Vec<u32>> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.is_empty() || parts.len() > MAX_PARTS {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > MAX_PART_DIGITS || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect()
}

/// Orders two parsed versions; missing parts count as 0.
pub(crate) fn compare(a: &[u32], b: &[u32]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Until when (Unix seconds) `license`'s maintenance covers releases, or
/// None for every release.
pub(crate) fn covered_until(license: &License) -> Option<i64> {
    license
        .enable_maintenance_period
        .then_some(license.maintenance_period)
        .flatten()
        .map(tessera::Time::unix)
}

/// The newest of `releases` that a license covered until `covered_until`
/// ([`covered_until`]) may install, given the version installed now
/// (`current`, when known).
pub(crate) fn latest_for<'a>(
    covered_until: Option<i64>,
    releases: &'a [ReleaseRow],
    current: Option<&[u32]>,
) -> Option<&'a ReleaseRow> {
    releases
        .iter()
        .filter_map(|r| Some((r, parse_version(&r.version)?)))
        .filter(|(r, _)| covered_until.is_none_or(|end| r.release_date <= end))
        .filter(|(r, v)| match current {
            None => true,
            Some(now) => {
                let needs = parse_version(&r.requires_version).unwrap_or_default();
                compare(now, &needs).is_ge() && compare(v, now).is_gt()
            }
        })
        .max_by(|(a, va), (b, vb)| compare(va, vb).then(a.release_date.cmp(&b.release_date)))
        .map(|(r, _)| r)
}

/// A release as the admin and client APIs answer it (the one type the SDK
/// reads too).
pub(crate) fn to_release(r: &ReleaseRow) -> Release {
    let date = chrono::DateTime::from_timestamp(r.release_date, 0).unwrap_or_default();
    let mut release = Release::new(
        r.product.clone(),
        r.channel.clone(),
        r.version.clone(),
        tessera::format::license::ts::format(&date),
        r.installation_file.clone(),
        r.hash_md5.clone(),
        r.size,
    );
    release.environment = r.environment.clone();
    release.requires_version = r.requires_version.clone();
    release.eula_link = r.eula_link.clone();
    release.release_notes_link = r.release_notes_link.clone();
    release.sha256 = r.sha256.clone();
    release.manifest = r.manifest.clone();
    release
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<u32> {
        parse_version(s).unwrap()
    }

    #[test]
    fn versions_order_by_number_part_by_part() {
        assert!(compare(&v("2.10"), &v("2.9")).is_gt());
        assert!(compare(&v("2"), &v("2.0.0")).is_eq());
        assert!(compare(&v("1.99.99"), &v("2")).is_lt());
        for bad in [
            "",
            "1.",
            ".1",
            "1..2",
            "v1",
            "1.a",
            "1.-2",
            "1 .2",
            "1234567890",
            "1.2.3.4.5.6.7.8.9",
        ] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    fn release(version: &str, requires: &str, date: i64) -> ReleaseRow {
        ReleaseRow {
            product: "p".into(),
            channel: "stable".into(),
            version: version.into(),
            environment: String::new(),
            release_date: date,
            requires_version: requires.into(),
            installation_file: String::new(),
            hash_md5: String::new(),
            size: 0,
            eula_link: String::new(),
            release_notes_link: String::new(),
            sha256: String::new(),
            manifest: String::new(),
        }
    }

    #[test]
    fn maintenance_and_the_installed_version_decide() {
        let releases = [
            release("1.0", "", 100),
            release("2.0", "1.0", 200),
            release("3.0", "2.5", 300),
        ];
        let name = |r: Option<&ReleaseRow>| r.map(|r| r.version.clone());
        assert_eq!(
            name(latest_for(None, &releases, None)).as_deref(),
            Some("3.0")
        );
        // 3.0 needs 2.5 installed: from 1.0 the way is 2.0.
        assert_eq!(
            name(latest_for(None, &releases, Some(&v("1.0")))).as_deref(),
            Some("2.0")
        );
        assert_eq!(name(latest_for(None, &releases, Some(&v("3.0")))), None);
        // Maintenance until 250 covers 1.0 and 2.0; until 50, none.
        assert_eq!(
            name(latest_for(Some(250), &releases, None)).as_deref(),
            Some("2.0")
        );
        assert_eq!(name(latest_for(Some(50), &releases, None)), None);
    }
}
