//! What a product does at start-up: verify its license file against the
//! vendor's public key and decide, offline, whether it may run.
//!
//! `cargo run --example validate -- LICENSE_FILE PUBLIC_KEY PRODUCT [TIME]`
//!
//! TIME (RFC 3339) replaces the system clock, to see how the license will
//! look on another day.

use std::process::ExitCode;

use tessera::{
    feature_status, validate, Clock, Keyring, LicenseFile, ManualClock, PublicKey, SystemClock,
    ValidationOptions,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(3..=4).contains(&args.len()) {
        eprintln!("usage: validate LICENSE_FILE PUBLIC_KEY PRODUCT [TIME]");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(usable) => ExitCode::from(if usable { 0 } else { 1 }),
        Err(e) => {
            eprintln!(
                "license check failed (E{}, {}): {e}",
                e.code() as u32,
                e.name()
            );
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<bool, tessera::Error> {
    // A product usually embeds the key as a base64 string; here it is read from a file.
    let key_text = std::fs::read_to_string(&args[1])
        .map_err(|e| tessera::Error::io(&e, "reading the public key"))?;
    let keyring = Keyring::from_keys([PublicKey::parse(&key_text)?]);
    let file = LicenseFile::read(&args[0], &keyring)?;

    let clock: Box<dyn Clock> = match args.get(3) {
        Some(t) => Box::new(ManualClock::new(t.parse()?)),
        None => Box::new(SystemClock),
    };
    let license = file.license();
    let report = validate(license, &ValidationOptions::new(&args[2]), clock.as_ref());

    println!(
        "license {} for {} (signed by key {})",
        license.id,
        license.product(),
        file.key_id()
    );
    println!("status: {}", report.status);
    for reason in &report.reasons {
        println!("  - {reason}");
    }
    for feature in &license.product_features {
        println!(
            "feature {}: {:?}",
            feature.code,
            feature_status(license, &report, &feature.code)
        );
    }
    Ok(report.is_usable())
}
