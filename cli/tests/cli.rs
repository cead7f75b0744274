//! The `tessera` binary, run as a vendor would run it.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SPEC: &str = r#"{
  "id": "LIC-1",
  "license_key": "TEST-ONLY-AAAA-BBBB",
  "license_type": "time-limited",
  "validity_period": "2027-01-01T00:00:00Z",
  "allow_grace_period": true,
  "grace_period": 24,
  "product_details": {"product_name": "Acme CAD", "short_code": "acme-cad"},
  "product_features": [{"code": "pdf-export", "name": "PDF export"}]
}"#;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("the tessera binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct Vendor {
    dir: tempfile::TempDir,
}

impl Vendor {
    fn new() -> Vendor {
        let dir = tempfile::tempdir().unwrap();
        let out = tessera(&["keygen", "--out-dir", path(dir.path()), "--name", "vendor"]);
        assert!(out.status.success(), "{}", text(&out));
        Vendor { dir }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn issue(&self, spec: &str, name: &str) -> PathBuf {
        let spec_path = self.file(&format!("{name}.json"));
        std::fs::write(&spec_path, spec).unwrap();
        let lic = self.file(name);
        let out = tessera(&[
            "issue",
            "--key",
            path(&self.file("vendor.key")),
            "--spec",
            path(&spec_path),
            "--out",
            path(&lic),
            "--at",
            "2026-01-01T00:00:00Z",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        lic
    }
    fn verify(&self, lic: &Path, extra: &[&str]) -> (i32, String) {
        let key = self.file("vendor.pub");
        let mut args = vec!["verify", path(lic), "--key", path(&key)];
        args.extend_from_slice(extra);
        let out = tessera(&args);
        (out.status.code().unwrap_or(-1), text(&out))
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_can_read_and_never_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(&["keygen", "--out-dir", path(dir.path())]);
    assert!(out.status.success());
    let printed = text(&out);
    let secret = std::fs::read_to_string(dir.path().join("signing.key")).unwrap();
    assert!(secret.starts_with("-----BEGIN PRIVATE KEY-----"));
    let secret_body: String = secret.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        !printed.contains(&secret_body),
        "the secret key was printed"
    );
    assert!(printed.contains("key id:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // OpenSSL reads the key (PKCS#8 version 1) and derives the same public
    // key that keygen wrote (SECURITY.md, finding 13 of issue 21).
    let derived = Command::new("openssl")
        .args([
            "pkey",
            "-pubout",
            "-in",
            path(&dir.path().join("signing.key")),
        ])
        .output()
        .expect("openssl runs (scripts/setup.sh installs it)");
    assert!(derived.status.success(), "{}", text(&derived));
    assert_eq!(
        String::from_utf8(derived.stdout).unwrap(),
        std::fs::read_to_string(dir.path().join("signing.pub")).unwrap()
    );
    // A second keygen never overwrites the key.
    let again = tessera(&["keygen", "--out-dir", path(dir.path())]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("signing.key")).unwrap(),
        secret
    );
}

#[test]
fn verify_exit_codes_tell_each_outcome_apart() {
    let v = Vendor::new();
    let lic = v.issue(SPEC, "lic.txt");
    let cases: [(&[&str], i32, &str); 6] = [
        (&["--at", "2026-06-01T00:00:00Z"], 0, "valid"),
        (&["--at", "2027-01-01T12:00:00Z"], 0, "valid_in_grace"),
        (&["--at", "2027-01-02T00:00:00Z"], 22, "expired"),
        (&["--at", "2025-12-31T00:00:00Z"], 30, "clock_behind"),
        (
            &["--at", "2026-06-01", "--product", "other"],
            28,
            "wrong_product",
        ),
        (&["--at", "not-a-time"], 2, "not-a-time"),
    ];
    for (args, code, needle) in cases {
        let (got, out) = v.verify(&lic, args);
        assert_eq!(got, code, "{args:?}: {out}");
        assert!(out.contains(needle), "{args:?}: {out}");
        if code != 2 {
            assert_eq!(out.trim().lines().count(), 1, "one line expected: {out}");
        }
    }
}

#[test]
fn verify_refuses_tampered_foreign_and_unreadable_files_with_distinct_codes() {
    let v = Vendor::new();
    let lic = v.issue(SPEC, "lic.txt");
    let original = std::fs::read_to_string(&lic).unwrap();

    let tampered = v.file("tampered.txt");
    let mut body: Vec<String> = original.lines().map(String::from).collect();
    body[6] = body[6].chars().rev().collect();
    std::fs::write(&tampered, body.join("\n")).unwrap();
    assert_eq!(v.verify(&tampered, &[]).0, 16);

    let other = Vendor::new();
    let (code, out) = other.verify(&lic, &[]);
    assert_eq!(code, 15, "{out}");
    assert!(out.contains("not in the keyring"));

    let garbage = v.file("garbage.txt");
    std::fs::write(&garbage, "hello").unwrap();
    assert_eq!(v.verify(&garbage, &[]).0, 12);
    std::fs::write(&garbage, "").unwrap();
    assert_eq!(v.verify(&garbage, &[]).0, 10);
    assert_eq!(v.verify(&v.file("missing.txt"), &[]).0, 3);

    let out = tessera(&["verify", path(&lic), "--key", path(&lic)]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
}

#[test]
fn issue_refuses_bad_specs_and_writes_nothing() {
    let v = Vendor::new();
    let spec = v.file("bad.json");
    std::fs::write(
        &spec,
        SPEC.replace("\"grace_period\": 24", "\"grace_periods\": 24"),
    )
    .unwrap();
    let out_path = v.file("never.txt");
    let out = tessera(&[
        "issue",
        "--key",
        path(&v.file("vendor.key")),
        "--spec",
        path(&spec),
        "--out",
        path(&out_path),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("unknown field `grace_periods`"),
        "{}",
        text(&out)
    );
    assert!(!out_path.exists());
    let leftovers: Vec<_> = std::fs::read_dir(v.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tessera-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn inspect_shows_the_license_to_a_person_without_the_license_key() {
    let v = Vendor::new();
    let lic = v.issue(SPEC, "lic.txt");
    let out = tessera(&[
        "inspect",
        path(&lic),
        "--key",
        path(&v.file("vendor.pub")),
        "--at",
        "2026-06-01",
    ]);
    assert!(out.status.success());
    let shown = text(&out);
    for needle in [
        "Signature      valid",
        "Acme CAD (acme-cad)",
        "time-limited",
        "2027-01-01T00:00:00Z",
        "24 hours",
        "pdf-export",
        "Status         valid at 2026-06-01T00:00:00Z",
        "****BBBB",
    ] {
        assert!(shown.contains(needle), "missing {needle:?} in\n{shown}");
    }
    assert!(
        !shown.contains("TEST-ONLY-AAAA-BBBB"),
        "the license key was printed"
    );

    let unverified = text(&tessera(&["inspect", path(&lic)]));
    assert!(unverified.contains("NOT CHECKED"), "{unverified}");
    assert!(unverified.contains("not validated"));
}

#[test]
fn fingerprint_saves_compares_and_tells_a_changed_device_apart() {
    let root = tempfile::tempdir().unwrap();
    let put = |p: &str, s: &str| {
        let path = root.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, s).unwrap();
    };
    put("etc/machine-id", "6f1e9a7c2b3d4e5f8091a2b3c4d5e6f7\n");
    put(
        "proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\n",
    );
    put("proc/sys/kernel/hostname", "build-01\n");
    put("etc/os-release", "ID=debian\n");
    let saved = root.path().join("device.json");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "fingerprint",
            "--product",
            "acme-cad",
            "--root",
            path(root.path()),
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        tessera(&refs)
    };
    let out = run(args(&["--save", path(&saved)]));
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("machine_id") && !shown.contains("6f1e9a7c"),
        "{shown}"
    );
    assert!(shown.contains("no sign of a virtual machine"));

    put("proc/sys/kernel/hostname", "build-02\n");
    let out = run(args(&["--compare", path(&saved)]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("matches: 3 matching, changed: hostname"));
    let out = run(args(&["--compare", path(&saved), "--policy", "exact"]));
    assert_eq!(out.status.code(), Some(5));

    put("etc/machine-id", "00112233445566778899aabbccddeeff\n");
    let out = run(args(&["--compare", path(&saved)]));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("changed: hostname machine_id"));
}

/// A Keygen vector from `tests/vectors/keygen/` (the SDK's copy of the
/// public samples).
fn keygen_vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/keygen")
        .join(name)
}

/// The Keygen demo account's public verify key (vectors.txt), written to
/// `dir/keygen.pub` as a vendor would keep it.
fn keygen_account_key(dir: &Path) -> PathBuf {
    let key = dir.join("keygen.pub");
    std::fs::write(
        &key,
        "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788\n",
    )
    .unwrap();
    key
}

#[test]
fn inspect_verify_and_import_read_keygen_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen_account_key(dir.path());
    let license_key = dir.path().join("license.key");
    std::fs::write(&license_key, "988214-879010-F1185E-B37E91-E53AF5-V3\n").unwrap();
    let file = keygen_vector("rust_license_files_examples_license.lic");
    let product = "174c3c8f-6d7f-4161-aa8e-54231ab0b911";

    // Without the license key: verified, and told what is missing.
    let out = tessera(&["inspect", path(&file), "--key", path(&key)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--license-key-file"), "{}", text(&out));
    // With it: shown, never the license key.
    let out = tessera(&[
        "inspect",
        path(&file),
        "--key",
        path(&key),
        "--license-key-file",
        path(&license_key),
        "--at",
        "2022-09-01",
    ]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("Keygen") && shown.contains("FEATURE_ENTITLEMENT_A"),
        "{shown}"
    );
    assert!(!shown.contains("988214-879010"), "{shown}");

    // verify: the exit code tells valid, check-in required, wrong product.
    let verify = |at: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            path(&file),
            "--key",
            path(&key),
            "--license-key-file",
            path(&license_key),
            "--at",
            at,
        ];
        args.extend_from_slice(extra);
        tessera(&args).status.code()
    };
    assert_eq!(verify("2022-09-01", &[]), Some(0));
    assert_eq!(verify("2023-09-01", &[]), Some(24));
    assert_eq!(verify("2022-09-01", &["--product", "acme"]), Some(28));
    assert_eq!(
        verify(
            "2022-09-01",
            &["--product", "acme", "--keygen-product", product]
        ),
        Some(0)
    );
    // A wrong license key: exit 18, decryption failed.
    std::fs::write(&license_key, "NOT-THE-KEY").unwrap();
    assert_eq!(verify("2022-09-01", &[]), Some(18));
    // A changed byte: a signature failure.
    let mut forged = std::fs::read(&file).unwrap();
    forged[2000] = if forged[2000] == b'A' { b'B' } else { b'A' };
    let forged_path = dir.path().join("forged.lic");
    std::fs::write(&forged_path, forged).unwrap();
    let out = tessera(&["verify", path(&forged_path), "--key", path(&key)]);
    assert_eq!(out.status.code(), Some(16), "{}", text(&out));

    // import keygen: an activation in the product's state directory. The
    // vector's license expired on 2025-01-01, so it is refused now, and
    // nothing is written.
    std::fs::write(&license_key, "988214-879010-F1185E-B37E91-E53AF5-V3").unwrap();
    let store = dir.path().join("state");
    let secret = dir.path().join("vendor.secret");
    std::fs::write(&secret, "test-only vendor secret").unwrap();
    let out = tessera(&[
        "import",
        "keygen",
        path(&file),
        "--key",
        path(&key),
        "--product",
        "acme",
        "--keygen-product",
        product,
        "--license-key-file",
        path(&license_key),
        "--store-dir",
        path(&store),
        "--secret-file",
        path(&secret),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("cannot be used (expired)"),
        "{}",
        text(&out)
    );
    assert!(!store.join("state").exists());
    // The JS example's file never expires: imported.
    let js_key = dir.path().join("js.key");
    std::fs::write(&js_key, "8750AB-30B7BD-023BA9-31B601-4550A2-V3").unwrap();
    let out = tessera(&[
        "import",
        "keygen",
        path(&keygen_vector("js_license_files_examples_license.lic")),
        "--key",
        path(&key),
        "--product",
        "acme",
        "--keygen-product",
        "3b682cb9-590b-4906-b688-ffef60eae8e0",
        "--license-key-file",
        path(&js_key),
        "--store-dir",
        path(&store),
        "--secret-file",
        path(&secret),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("activated Keygen license"),
        "{}",
        text(&out)
    );
    let state = std::fs::read_to_string(store.join("state")).unwrap();
    assert!(
        !state.contains("8750AB-30B7BD"),
        "the license key is not kept"
    );
}

/// Every public Keygen vector through `tessera verify` at its issue time:
/// the decryptable ones are usable (exit 0), the three whose license key is
/// not published verify and then fail to decrypt (exit 18).
#[test]
fn verify_reads_every_keygen_vector() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen_account_key(dir.path());
    let license_key = dir.path().join("license.key");
    let expectations: serde_json::Value =
        serde_json::from_slice(&std::fs::read(keygen_vector("decrypt_expectations.json")).unwrap())
            .unwrap();
    for e in expectations.as_array().unwrap() {
        let file = e["file"].as_str().unwrap();
        let plain: serde_json::Value = serde_json::from_slice(
            &std::fs::read(keygen_vector(&format!("{file}.plaintext.json"))).unwrap(),
        )
        .unwrap();
        std::fs::write(&license_key, e["license_key_in_payload"].as_str().unwrap()).unwrap();
        // Keygen writes milliseconds; Tessera's times are whole seconds.
        let issued = e["meta"]["issued"].as_str().unwrap();
        let issued: tessera::Time = format!("{}Z", &issued[..19]).parse().unwrap();
        let at = (issued + std::time::Duration::from_secs(1)).to_string();
        let mut args = vec![
            "verify".to_owned(),
            keygen_vector(file).display().to_string(),
            "--key".into(),
            key.display().to_string(),
            "--license-key-file".into(),
            license_key.display().to_string(),
            "--at".into(),
            at,
        ];
        if plain["data"]["type"] == "machines" {
            args.push("--machine-fingerprint".into());
            args.push(
                plain["data"]["attributes"]["fingerprint"]
                    .as_str()
                    .unwrap()
                    .into(),
            );
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tessera(&args);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out));
    }
    std::fs::write(&license_key, "NOT-PUBLISHED").unwrap();
    for file in [
        "keygen_go_TestLicenseFile.lic",
        "keygen_go_TestLicenseFileNoTTL.lic",
        "keygen_go_TestMachineFile.lic",
    ] {
        let out = tessera(&[
            "verify",
            path(&keygen_vector(file)),
            "--key",
            path(&key),
            "--license-key-file",
            path(&license_key),
            "--machine-fingerprint",
            "unknown",
        ]);
        assert_eq!(out.status.code(), Some(18), "{file}: {}", text(&out));
    }
}

/// The exit codes docs/CLI.md lists: its table's rows, with `10-18` and
/// `20 + status` read as ranges.
fn documented_exit_codes() -> Vec<i32> {
    let doc =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/CLI.md"))
            .unwrap();
    let table = doc.split("## Exit codes").nth(1).unwrap();
    let mut codes = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        let first = row.split('|').nth(1).unwrap().trim();
        if let Some((a, b)) = first.split_once('-') {
            codes.extend(a.trim().parse::<i32>().unwrap()..=b.trim().parse::<i32>().unwrap());
        } else if first == "20 + status" {
            codes.extend(20..=33);
        } else if let Ok(n) = first.parse() {
            codes.push(n);
        }
    }
    codes
}

/// Every exit code the CLI gives, across a matrix of outcomes, is one
/// docs/CLI.md lists (issue 21, finding 18).
#[test]
fn every_exit_code_is_documented() {
    let documented = documented_exit_codes();
    assert!(documented.contains(&0) && documented.contains(&18) && documented.contains(&33));
    let v = Vendor::new();
    let lic = v.issue(SPEC, "lic.txt");
    let mut seen = Vec::new();
    for extra in [
        &["--at", "2026-06-01T00:00:00Z"][..],
        &["--at", "2027-01-02T00:00:00Z"],
        &["--at", "2025-12-31T00:00:00Z"],
        &["--at", "2026-06-01", "--product", "other"],
        &["--at", "not-a-time"],
    ] {
        seen.push(v.verify(&lic, extra).0);
    }
    let garbage = v.file("garbage.txt");
    std::fs::write(&garbage, "not a license").unwrap();
    seen.push(v.verify(&garbage, &[]).0);
    seen.push(v.verify(&v.file("missing.txt"), &[]).0);
    let bad_key = v.file("bad.pub");
    std::fs::write(&bad_key, "not a key").unwrap();
    seen.push(
        tessera(&["verify", path(&lic), "--key", path(&bad_key)])
            .status
            .code()
            .unwrap(),
    );
    seen.push(tessera(&["keygen", "--name", "a/b"]).status.code().unwrap());
    seen.push(tessera(&["no-such-command"]).status.code().unwrap());
    let spec = v.file("bad-spec.json");
    std::fs::write(&spec, r#"{"license_type": "perpetual"}"#).unwrap();
    seen.push(
        tessera(&[
            "issue",
            "--key",
            path(&v.file("vendor.key")),
            "--spec",
            path(&spec),
        ])
        .status
        .code()
        .unwrap(),
    );
    for code in &seen {
        assert!(
            documented.contains(code),
            "exit code {code} is not in docs/CLI.md"
        );
    }
    // The matrix reaches the table's kinds of rows.
    for expected in [0, 1, 2, 3, 4, 12, 22, 28, 30] {
        assert!(seen.contains(&expected), "{expected} not reached: {seen:?}");
    }
}

/// A release's sums, signed and verified: `sha256sum`'s own file (the
/// system's `sha256sum` writes it), each listed file checked beside the
/// manifest; a changed file, a missing one, another key and an edited
/// manifest each fail.
#[test]
fn a_signed_manifest_verifies_its_files_and_names_the_one_that_changed() {
    let vendor = Vendor::new();
    let release = tempfile::tempdir().unwrap();
    std::fs::write(release.path().join("tessera-sdk.tar.gz"), b"archive bytes").unwrap();
    std::fs::write(release.path().join("tessera.whl"), b"wheel bytes").unwrap();
    let sums = Command::new("sha256sum")
        .current_dir(release.path())
        .args(["tessera-sdk.tar.gz", "tessera.whl"])
        .output()
        .expect("sha256sum runs");
    assert!(sums.status.success());
    std::fs::write(release.path().join("SHA256SUMS"), &sums.stdout).unwrap();
    let manifest = release.path().join("SHA256SUMS.tessera");
    let out = tessera(&[
        "sign-manifest",
        "--key",
        path(&vendor.file("vendor.key")),
        "--sums",
        path(&release.path().join("SHA256SUMS")),
        "--out",
        path(&manifest),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let verify = |key: &Path| tessera(&["verify", path(&manifest), "--key", path(key)]);
    let ok = verify(&vendor.file("vendor.pub"));
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("all 2 files match"), "{}", text(&ok));

    std::fs::write(release.path().join("tessera.whl"), b"swapped wheel").unwrap();
    let changed = verify(&vendor.file("vendor.pub"));
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed));
    assert!(
        text(&changed).contains("tessera.whl: FAILED"),
        "{}",
        text(&changed)
    );
    assert!(
        text(&changed).contains("tessera-sdk.tar.gz: OK"),
        "{}",
        text(&changed)
    );
    std::fs::remove_file(release.path().join("tessera.whl")).unwrap();
    let missing = verify(&vendor.file("vendor.pub"));
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));

    let other = Vendor::new();
    let stranger = verify(&other.file("vendor.pub"));
    assert!(!stranger.status.success());
    assert!(text(&stranger).contains("key"), "{}", text(&stranger));
    let mut edited = std::fs::read_to_string(&manifest).unwrap();
    let at = edited.find("\n\n").unwrap() + 3;
    let flipped = if &edited[at..=at] == "A" { "B" } else { "A" };
    edited.replace_range(at..=at, flipped);
    std::fs::write(&manifest, edited).unwrap();
    let forged = verify(&vendor.file("vendor.pub"));
    assert!(!forged.status.success(), "{}", text(&forged));

    // Sums that are not sha256sum's form are refused before signing.
    std::fs::write(release.path().join("BAD"), b"not a sum\n").unwrap();
    let refused = tessera(&[
        "sign-manifest",
        "--key",
        path(&vendor.file("vendor.key")),
        "--sums",
        path(&release.path().join("BAD")),
    ]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("malformed"), "{}", text(&refused));
}

#[test]
fn a_signed_release_names_its_file_and_refuses_bad_fields_before_reading_it() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cad-2.1.0.msi");
    std::fs::write(&file, b"installer bytes").unwrap();
    let signed = dir.path().join("cad-2.1.0.release");
    let key = vendor.file("vendor.key");
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "release",
            "sign",
            "--key",
            path(&key),
            "--file",
            path(&file),
            "--product",
            "cad",
            "--out",
            path(&signed),
        ];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    let out = sign(&["--version", "2.1.0"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("15 bytes"), "{}", text(&out));
    let public = vendor.file("vendor.pub");
    let verify = || tessera(&["verify", path(&signed), "--key", path(&public)]);
    let ok = verify();
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("release cad 2.1.0 (stable)"),
        "{}",
        text(&ok)
    );
    assert!(text(&ok).contains("cad-2.1.0.msi: OK"), "{}", text(&ok));
    std::fs::write(&file, b"swapped bytes!!").unwrap();
    let changed = verify();
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed));
    assert!(text(&changed).contains("FAILED"), "{}", text(&changed));
    // Another key does not verify it.
    let stranger = Vendor::new();
    let theirs = stranger.file("vendor.pub");
    let other = tessera(&["verify", path(&signed), "--key", path(&theirs)]);
    assert!(!other.status.success(), "{}", text(&other));
    // A version that is not one, and a name with a directory, are refused
    // before the file is read (a missing file is not what they report).
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&signed).unwrap();
    for extra in [
        &["--version", "two"][..],
        &["--version", "2.1.0", "--name", "../setup.exe"][..],
    ] {
        let out = sign(extra);
        assert!(!out.status.success(), "{extra:?}");
        assert!(text(&out).contains("release:"), "{extra:?}: {}", text(&out));
        assert!(!signed.exists());
    }
}

#[test]
fn relay_delegate_answers_a_relay_request_within_the_pool_license() {
    use tessera::format::delegation::{self, RelayGrant, RelayRequest};
    let v = Vendor::new();
    let pool = v.issue(
        r#"{"id": "L-POOL", "license_key": "TEST-ONLY-POOL", "license_type": "perpetual",
            "is_floating": true, "floating_users": 10, "floating_timeout": 30,
            "can_borrow": true, "max_borrow_time": 24,
            "product_details": {"short_code": "acme-cad"},
            "product_features": [{"code": "cad", "name": "CAD"}, {"code": "render", "name": "Render"}]}"#,
        "pool.lic",
    );
    // The relay's request, as `tessera-relay init` writes it (a throwaway
    // test key).
    let relay = tessera::issuer::SigningKey::from_seed(&[9; 32]).unwrap();
    let request = RelayRequest {
        format: 1,
        product: "acme-cad".into(),
        relay_key: relay.public_key().to_base64(),
        device: tessera::Fingerprint {
            id: "relay-machine".into(),
            components: Default::default(),
        },
        made_at: tessera::Time::from_unix(1_800_000_000).unwrap(),
    };
    let req = v.file("relay.request");
    std::fs::write(&req, delegation::sign_request(&request, &relay).unwrap()).unwrap();
    let out = tessera(&["relay", "read", path(&req)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&relay.id().to_string()),
        "{}",
        text(&out)
    );

    let grant = v.file("plant.grant");
    let vendor_key = v.file("vendor.key");
    let delegate = |extra: &[&str]| {
        let mut args = vec![
            "relay",
            "delegate",
            "--key",
            path(&vendor_key),
            "--request",
            path(&req),
            "--license",
            path(&pool),
            "--out",
            path(&grant),
            "--at",
            "2027-01-01T00:00:00Z",
        ];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    let out = delegate(&["--seats", "4", "--features", "cad", "--days", "30"]);
    assert!(out.status.success(), "{}", text(&out));
    let public = std::fs::read_to_string(v.file("vendor.pub")).unwrap();
    let ring = tessera::Keyring::from_keys([tessera::PublicKey::parse(&public).unwrap()]);
    let g = RelayGrant::verify(&std::fs::read(&grant).unwrap(), &ring).unwrap();
    assert_eq!(g.delegation.seats, 4);
    assert_eq!(g.delegation.features, ["cad"]);
    assert_eq!(g.delegation.lease_minutes, 30);
    assert_eq!(g.delegation.max_borrow_hours, 24);
    assert_eq!(g.delegation.relay_key, relay.public_key().to_base64());
    assert_eq!(g.license.id, "L-POOL");
    // Beyond the license, each refused, and nothing written.
    std::fs::remove_file(&grant).unwrap();
    for extra in [
        &["--seats", "11"][..],
        &["--features", "export"],
        &["--lease-minutes", "31"],
        &["--borrow-hours", "25"],
        &["--days", "0"],
    ] {
        let out = delegate(extra);
        assert!(!out.status.success(), "{extra:?}");
        assert!(!grant.exists(), "{extra:?}");
    }
    // A request whose signature does not hold.
    let forged = std::fs::read_to_string(&req)
        .unwrap()
        .replace("Key-Id: ", "Key-Id: 0");
    std::fs::write(&req, forged).unwrap();
    assert!(!delegate(&[]).status.success());
}

#[test]
fn a_relay_is_delegated_and_renewed_offline_through_the_cli() {
    let v = Vendor::new();
    let pool = v.issue(
        r#"{"id": "L-POOL", "license_key": "TEST-ONLY-POOL", "license_type": "perpetual",
            "is_floating": true, "floating_users": 5, "floating_timeout": 30,
            "product_details": {"short_code": "acme-cad"}}"#,
        "pool.lic",
    );
    // The relay's side, as `tessera-relay init` and `import` do it, on a
    // fake machine.
    let machine = v.file("relay-machine");
    for (file, fact) in [
        ("etc/machine-id", "0123456789abcdef0123456789abcdef"),
        ("sys/class/dmi/id/product_uuid", "uuid-relay"),
        ("sys/class/dmi/id/board_serial", "board-relay"),
    ] {
        std::fs::create_dir_all(machine.join(file).parent().unwrap()).unwrap();
        std::fs::write(machine.join(file), fact).unwrap();
    }
    let relay = tessera_relay::Dirs {
        dir: v.file("relay"),
        device_root: Some(machine),
    };
    let at = |s: &str| {
        tessera::Time::from_unix(tessera::format::license::ts::parse(s).unwrap().timestamp())
            .unwrap()
    };
    relay
        .init(
            "acme-cad",
            &v.file("vendor.pub"),
            at("2027-01-01T00:00:00Z"),
        )
        .unwrap();
    let vendor_key = v.file("vendor.key");
    let request = relay.file(tessera_relay::home::REQUEST);
    let delegate = |when: &str, out: &Path| {
        tessera(&[
            "relay",
            "delegate",
            "--key",
            path(&vendor_key),
            "--request",
            path(&request),
            "--license",
            path(&pool),
            "--days",
            "30",
            "--at",
            when,
            "--out",
            path(out),
        ])
    };
    let first = v.file("first.grant");
    let out = delegate("2027-01-01T00:00:00Z", &first);
    assert!(out.status.success(), "{}", text(&out));
    let g1 = relay
        .import(&std::fs::read(&first).unwrap(), at("2027-01-02T00:00:00Z"))
        .unwrap();
    assert_eq!(g1.delegation.seats, 5);
    // Near its end, the relay writes its request again and imports the
    // vendor's new answer; the new delegation replaces the old one.
    relay.write_request(at("2027-01-29T00:00:00Z")).unwrap();
    let second = v.file("second.grant");
    let out = delegate("2027-01-29T00:00:00Z", &second);
    assert!(out.status.success(), "{}", text(&out));
    let g2 = relay
        .import(&std::fs::read(&second).unwrap(), at("2027-01-29T00:00:00Z"))
        .unwrap();
    assert_ne!(g2.delegation.id, g1.delegation.id);
    assert_eq!(
        relay
            .grant(at("2027-02-15T00:00:00Z"))
            .unwrap()
            .delegation
            .id,
        g2.delegation.id
    );
    // The first one, expired, is refused if brought back.
    let e = relay
        .import(&std::fs::read(&first).unwrap(), at("2027-02-15T00:00:00Z"))
        .unwrap_err();
    assert_eq!(e.code, tessera_relay::exit::EXPIRED);
    assert_eq!(
        relay
            .grant(at("2027-02-15T00:00:00Z"))
            .unwrap()
            .delegation
            .id,
        g2.delegation.id
    );
}
