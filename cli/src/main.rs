//! `tessera`: the vendor's and the support desk's command line.
//!
//! Exit codes are stable and documented in docs/CLI.md; [`exit`] names
//! them.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera::issuer::SigningKey;
use tessera::keygen::KeygenFile;
use tessera::runtime::validate::validate_at;
use tessera::Time;
use tessera::{Error, Keyring, License, LicenseFile, PublicKey, Status, ValidationOptions};

mod output;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera licensing: keys, license files, verification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an Ed25519 signing key (mode 0600) and its public key.
    Keygen {
        /// Directory to write NAME.key and NAME.pub into.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        /// Base name of the two files.
        #[arg(long, default_value = "signing")]
        name: String,
    },
    /// Sign a license from a JSON spec into a license file.
    Issue {
        /// The signing key (PKCS#8 PEM, from `tessera keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The license spec (JSON); `-` reads standard input.
        #[arg(long)]
        spec: PathBuf,
        /// Where to write the license file; standard output when left out.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue time (RFC 3339); now when left out.
        #[arg(long, value_parser = parse_time)]
        at: Option<Time>,
    },
    /// Show a license file (Tessera's or Keygen's) for a person.
    Inspect {
        /// The license file.
        file: PathBuf,
        /// Public keys to verify against (repeatable); without one the signature is not checked.
        #[arg(long)]
        key: Vec<PathBuf>,
        /// Validate at this time (RFC 3339) instead of now.
        #[arg(long, value_parser = parse_time)]
        at: Option<Time>,
        #[command(flatten)]
        keygen: KeygenArgs,
    },
    /// Show this device's fingerprint (salted hashes only) and what VM and
    /// container detection finds; compare it with a stored one.
    Fingerprint {
        /// The product whose salt the fingerprint uses.
        #[arg(long)]
        product: String,
        /// Read device facts from this directory instead of `/` (a mounted image, a test tree).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Write the fingerprint as JSON (to bind a license to it: the spec's `device`).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Compare with a fingerprint saved earlier; exit 5 when it no longer matches.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// How to compare: `fuzzy` (default: one change tolerated) or `exact`.
        #[arg(long, default_value = "fuzzy", value_parser = ["fuzzy", "exact"])]
        policy: String,
    },
    /// Answer the offline request files products write.
    #[command(subcommand)]
    Offline(OfflineCommand),
    /// Air-gapped activation: turn a device's initialization code into a
    /// confirmation code.
    #[command(subcommand)]
    Airgap(AirgapCommand),
    /// Relays: delegate a pool license's floating seats to the relay a
    /// customer runs on a network with no internet.
    #[command(subcommand)]
    Relay(RelayCommand),
    /// Print the Ed25519 public key of a key on a PKCS#11 token, for a
    /// hardware-key license's `hardware_key`.
    TokenKey {
        /// The token's PKCS#11 module (a shared library).
        #[arg(long)]
        module: PathBuf,
        /// The token's label.
        #[arg(long)]
        token: String,
        /// The key's label on the token.
        #[arg(long)]
        key: String,
        /// A file holding the user PIN (never given on the command line).
        #[arg(long)]
        pin_file: PathBuf,
    },
    /// Sign a release's sums (as `sha256sum` writes them, `SHA256SUMS`)
    /// into a manifest that `tessera verify` checks (docs/FORMAT.md).
    SignManifest {
        /// The release key (PKCS#8 PEM, from `tessera keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The sums file; `-` reads standard input.
        #[arg(long)]
        sums: PathBuf,
        /// Where to write the manifest; standard output when left out.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify and validate a license file, or verify a signed manifest and
    /// every file it lists (beside it); the exit code tells the outcome.
    Verify {
        /// The license file, or a manifest (`-----BEGIN TESSERA MANIFEST-----`).
        file: PathBuf,
        /// Trusted public keys (repeatable).
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        /// The product that must match; the license's own product when left out.
        #[arg(long)]
        product: Option<String>,
        /// The device's fingerprint id, for bound licenses (`tessera fingerprint` prints it).
        #[arg(long)]
        device: Option<String>,
        /// Validate at this time (RFC 3339) instead of now.
        #[arg(long, value_parser = parse_time)]
        at: Option<Time>,
        #[command(flatten)]
        keygen: KeygenArgs,
    },
    /// Turn another vendor's license file into an activation on this device.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Sign a product's release for its update check (docs/FORMAT.md
    /// section 13).
    #[command(subcommand)]
    Release(ReleaseCommand),
}

#[derive(Subcommand)]
enum ReleaseCommand {
    /// Hash a release's file and sign what a product checks its download
    /// against: product, version, channel, file name, size and SHA-256.
    /// The server publishes what this writes without the private key.
    Sign {
        /// The vendor's key (PKCS#8 PEM): one the product's keyring trusts.
        #[arg(long)]
        key: PathBuf,
        /// The release's file.
        #[arg(long)]
        file: PathBuf,
        /// The product's code.
        #[arg(long)]
        product: String,
        /// Its version, a dotted number such as 2.1.0.
        #[arg(long)]
        version: String,
        /// The channel it is published in.
        #[arg(long, default_value = "stable")]
        channel: String,
        /// The name the product saves it as (the file's own name when left out).
        #[arg(long)]
        name: Option<String>,
        /// Where to write the signed release; standard output when left out.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// What reads a Keygen file (docs/MIGRATING.md): with it, `--key` names
/// the Keygen account's verify key (64 hex digits).
#[derive(clap::Args)]
struct KeygenArgs {
    /// A Keygen file: a file holding the license key that decrypts it
    /// (never given on the command line; `-` reads standard input).
    #[arg(long)]
    license_key_file: Option<PathBuf>,
    /// A Keygen machine file: the machine's fingerprint, as the product gave it to Keygen.
    #[arg(long)]
    machine_fingerprint: Option<String>,
    /// A Keygen file: the Keygen product id that the Tessera product (`--product`) stands for.
    #[arg(long)]
    keygen_product: Option<String>,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Verify a Keygen license or machine file and activate it on this
    /// device for a product, as the product's own `activation::keygen::import` does.
    Keygen {
        /// The Keygen license or machine file.
        file: PathBuf,
        /// The Keygen account's verify key (a file holding its 64 hex digits).
        #[arg(long)]
        key: PathBuf,
        /// The Tessera product code the license becomes.
        #[arg(long)]
        product: String,
        /// The product's state directory; the platform's data directory when left out.
        #[arg(long)]
        store_dir: Option<PathBuf>,
        /// A file holding the product's vendor secret (the one the product is built with).
        #[arg(long)]
        secret_file: PathBuf,
        #[command(flatten)]
        keygen: KeygenArgs,
    },
}

#[derive(Subcommand)]
enum OfflineCommand {
    /// Verify a request file (activation or deactivation) and show it.
    Read {
        /// The request file the product wrote.
        request: PathBuf,
    },
    /// Answer an activation request: issue the spec's license bound to the
    /// request's device and sign the response.
    Respond {
        /// The signing key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The license spec (JSON); its `device` is set from the request.
        #[arg(long)]
        spec: PathBuf,
        /// The request file the product wrote.
        #[arg(long)]
        request: PathBuf,
        /// Where to write the response; standard output when left out.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue time (RFC 3339); now when left out.
        #[arg(long, value_parser = parse_time)]
        at: Option<Time>,
    },
}

#[derive(Subcommand)]
enum RelayCommand {
    /// Show a relay's request for a delegation (its key and machine).
    Read {
        /// The request the relay wrote (`relay.request`).
        request: PathBuf,
    },
    /// Answer a relay's request: delegate the pool license's seats to its
    /// key (docs/RELAY.md). The answer holds the delegation and the pool
    /// license file; the relay imports it.
    Delegate {
        /// The vendor's signing key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The relay's request (`relay.request`).
        #[arg(long)]
        request: PathBuf,
        /// The pool license file: floating, bound to no device, signed by
        /// the key (or by a key given with --trust).
        #[arg(long)]
        license: PathBuf,
        /// Other public keys the license file may be signed by.
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Seats (default: the license's floating_users).
        #[arg(long)]
        seats: Option<u32>,
        /// Features, comma-separated (default: all of the license's).
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// The longest floating lease in minutes (default: floating_timeout).
        #[arg(long)]
        lease_minutes: Option<u32>,
        /// The longest borrow in hours (default: max_borrow_time; 0 forbids).
        #[arg(long)]
        borrow_hours: Option<u32>,
        /// Days until it must be renewed (default 90).
        #[arg(long)]
        days: Option<u32>,
        /// Where to write the answer; standard output when left out.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Issue time (RFC 3339); now when left out.
        #[arg(long, value_parser = parse_time)]
        at: Option<Time>,
    },
}

#[derive(Subcommand)]
enum AirgapCommand {
    /// Make the confirmation code for an initialization code and an
    /// air-gapped license file.
    Confirm {
        /// The initialization code the device shows.
        #[arg(long)]
        init: String,
        /// The signed air-gapped license file the device holds.
        #[arg(long)]
        license: PathBuf,
        /// The product's vendor secret (the bytes the product is built with).
        #[arg(long)]
        secret_file: PathBuf,
        /// Also draw the code as a QR code in the terminal.
        #[arg(long)]
        qr: bool,
    },
    /// Draw any code (or short text) as a QR code in the terminal.
    Qr {
        /// The code.
        code: String,
    },
}

/// The exit codes (docs/CLI.md). Those of a license file that failed to
/// verify, or verified but is not usable, come from the SDK's own tables
/// (the error codes, the statuses), not from numbers written here.
mod exit {
    use tessera::{Code, Status};

    /// A command failed (a bad spec, a file that exists, input too large).
    pub(crate) const FAILED: u8 = 1;
    /// A usage error.
    pub(crate) const USAGE: u8 = 2;
    /// A file could not be read or written.
    pub(crate) const FILE: u8 = 3;
    /// A key file could not be read or decoded.
    pub(crate) const KEY_FILE: u8 = 4;
    /// `fingerprint --compare`: this device no longer matches.
    pub(crate) const FINGERPRINT_CHANGED: u8 = 5;
    /// The first code of a usable license's statuses (20 + status).
    const UNUSABLE_BASE: u8 = 20;

    /// The code for an SDK error: a verification failure's own number
    /// (`empty` to `decryption_failed`), a file or key failure, or FAILED.
    pub(crate) fn of_error(code: Code) -> u8 {
        match code {
            Code::Empty
            | Code::TooLarge
            | Code::Malformed
            | Code::UnsupportedVersion
            | Code::UnsupportedAlgorithm
            | Code::UnknownKeyId
            | Code::BadSignature
            | Code::InvalidPayload
            | Code::DecryptionFailed => u8::try_from(code as u32).unwrap_or(FAILED),
            Code::Io => FILE,
            Code::InvalidKey => KEY_FILE,
            _ => FAILED,
        }
    }

    /// The code for a license that verified but is not usable.
    pub(crate) fn of_status(status: Status) -> u8 {
        UNUSABLE_BASE.saturating_add(status as u8)
    }
}

/// A failed command: its exit code and a one-line reason.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(exit::of_error(e.code()), e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out_dir, name } => keygen(&out_dir, &name),
        Command::Issue { key, spec, out, at } => issue(&key, &spec, out.as_deref(), at),
        Command::Inspect {
            file,
            key,
            at,
            keygen,
        } => inspect(&file, &key, at, &keygen),
        Command::Fingerprint {
            product,
            root,
            save,
            compare,
            policy,
        } => fingerprint(&product, root, save.as_deref(), compare.as_deref(), &policy),
        Command::SignManifest { key, sums, out } => sign_manifest(&key, &sums, out.as_deref()),
        Command::Release(ReleaseCommand::Sign {
            key,
            file,
            product,
            version,
            channel,
            name,
            out,
        }) => sign_release(&key, &file, product, version, channel, name, out.as_deref()),
        Command::Verify {
            file,
            key,
            product,
            device,
            at,
            keygen,
        } => verify(&file, &key, product, device, at, &keygen),
        Command::Import(ImportCommand::Keygen {
            file,
            key,
            product,
            store_dir,
            secret_file,
            keygen,
        }) => import_keygen(&file, &key, &product, store_dir, &secret_file, &keygen),
        Command::Offline(OfflineCommand::Read { request }) => offline_read(&request),
        Command::Relay(RelayCommand::Read { request }) => relay_read(&request),
        Command::Relay(RelayCommand::Delegate {
            key,
            request,
            license,
            trust,
            seats,
            features,
            lease_minutes,
            borrow_hours,
            days,
            out,
            at,
        }) => {
            let mut terms = tessera::format::delegation::Terms::default();
            terms.seats = seats;
            terms.features = features;
            terms.lease_minutes = lease_minutes;
            terms.max_borrow_hours = borrow_hours;
            terms.days = days;
            relay_delegate(&key, &request, &license, &trust, &terms, out.as_deref(), at)
        }
        Command::TokenKey {
            module,
            token,
            key,
            pin_file,
        } => token_key(&module, &token, &key, &pin_file),
        Command::Airgap(AirgapCommand::Confirm {
            init,
            license,
            secret_file,
            qr,
        }) => airgap_confirm(&init, &license, &secret_file, qr),
        Command::Airgap(AirgapCommand::Qr { code }) => qr(&code),
        Command::Offline(OfflineCommand::Respond {
            key,
            spec,
            request,
            out,
            at,
        }) => offline_respond(&key, &spec, &request, out.as_deref(), at),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tessera: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn parse_time(s: &str) -> Result<Time, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not an RFC 3339 time or a YYYY-MM-DD date"))
}

/// The most the CLI reads from any one input (keys, specs, license files).
const MAX_INPUT: u64 = 1 << 20;

/// Reads a file (or standard input for `-`), refusing more than `MAX_INPUT` bytes.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    use std::io::Read as _;
    let shown = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let fail =
        |e: std::io::Error| Failure::new(exit::FILE, format!("cannot read {what} {shown}: {e}"));
    let source: Box<dyn std::io::Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(fail)?)
    };
    let mut buf = Vec::new();
    source
        .take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(fail)?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(Failure::new(
            exit::FAILED,
            format!("{what} {shown} is larger than {MAX_INPUT} bytes"),
        ));
    }
    Ok(buf)
}

fn read_keyring(paths: &[PathBuf]) -> Result<Keyring, Failure> {
    let mut ring = Keyring::new();
    for path in paths {
        let text = read(path, "public key")?;
        let text = String::from_utf8(text).map_err(|_| {
            Failure::new(
                exit::KEY_FILE,
                format!("{} is not a text key file", path.display()),
            )
        })?;
        let key = PublicKey::parse(&text)
            .map_err(|e| Failure::new(exit::KEY_FILE, format!("{}: {e}", path.display())))?;
        ring.add(key);
    }
    Ok(ring)
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so a reader never sees a partial file. With `no_clobber`
/// an existing file is left alone and the call fails.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32, no_clobber: bool) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| {
        Failure::new(exit::FILE, format!("cannot write {}: {e}", path.display()))
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tessera-")
        .tempfile_in(dir)
        .map_err(io)?;
    set_mode(tmp.as_file(), mode).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    if no_clobber {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Failure::new(
                    exit::FAILED,
                    format!("{} exists; not overwriting it", path.display()),
                )
            } else {
                io(e.error)
            }
        })?;
    } else {
        tmp.persist(path).map_err(|e| io(e.error))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

fn keygen(out_dir: &Path, name: &str) -> Result<(), Failure> {
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(Failure::new(
            exit::USAGE,
            "--name must be a plain file name",
        ));
    }
    let key = SigningKey::generate()?;
    let key_path = out_dir.join(format!("{name}.key"));
    let pub_path = out_dir.join(format!("{name}.pub"));
    if pub_path.exists() {
        return Err(Failure::new(
            exit::FAILED,
            format!("{} exists; not overwriting it", pub_path.display()),
        ));
    }
    let pem = key.to_pem()?;
    write_atomic(&key_path, pem.as_bytes(), 0o600, true)?;
    write_atomic(&pub_path, key.public_key().to_pem().as_bytes(), 0o644, true)?;
    println!("key id:      {}", key.id());
    println!("public key:  {}", key.public_key().to_base64());
    println!("signing key: {} (keep it secret)", key_path.display());
    println!("public key:  {}", pub_path.display());
    Ok(())
}

fn read_signing_key(path: &Path) -> Result<SigningKey, Failure> {
    let pem = zeroize::Zeroizing::new(read(path, "signing key")?);
    let pem = std::str::from_utf8(&pem).map_err(|_| {
        Failure::new(
            exit::KEY_FILE,
            format!("{} is not a PEM key file", path.display()),
        )
    })?;
    SigningKey::from_pem(pem)
        .map_err(|e| Failure::new(exit::KEY_FILE, format!("{}: {e}", path.display())))
}

fn issue(key: &Path, spec: &Path, out: Option<&Path>, at: Option<Time>) -> Result<(), Failure> {
    let key = read_signing_key(key)?;
    let spec = read(spec, "license spec")?;
    let (text, license) = tessera::issuer::issue(&spec, &key, at.unwrap_or_else(Time::now))?;
    match out {
        Some(path) => {
            write_atomic(path, text.as_bytes(), 0o644, false)?;
            eprintln!(
                "issued license {} for {} signed by key {} into {}",
                license.id,
                license.product(),
                key.id(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn sign_manifest(key: &Path, sums: &Path, out: Option<&Path>) -> Result<(), Failure> {
    let key = read_signing_key(key)?;
    let sums = read(sums, "sums file")?;
    let text = tessera::format::manifest::sign(&sums, &key)?;
    match out {
        Some(path) => {
            write_atomic(path, text.as_bytes(), 0o644, false)?;
            eprintln!(
                "signed a manifest of {} files with key {} into {}",
                tessera::format::manifest::parse(&sums)?.len(),
                key.id(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The size and SHA-256 of the file at `path`, streamed.
fn size_and_sha256(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok((size, hasher.finalize().into()))
}

fn sign_release(
    key: &Path,
    file: &Path,
    product: String,
    version: String,
    channel: String,
    name: Option<String>,
    out: Option<&Path>,
) -> Result<(), Failure> {
    use tessera::format::release::{sign, ReleaseManifest};
    let key = read_signing_key(key)?;
    let name = match name {
        Some(n) => n,
        None => file
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::new(exit::USAGE, "the file has no name in UTF-8: give --name")
            })?,
    };
    // The fields are checked before the file is read.
    ReleaseManifest::new(&product, &version, &channel, &name, 0, &[0; 32]).check()?;
    let (size, sha256) = size_and_sha256(file)
        .map_err(|e| Failure::new(exit::FILE, format!("cannot read {}: {e}", file.display())))?;
    let manifest = ReleaseManifest::new(product, version, channel, name, size, &sha256);
    let text = sign(&manifest, &key)?;
    match out {
        Some(path) => {
            write_atomic(path, text.as_bytes(), 0o644, false)?;
            eprintln!(
                "signed {} {} ({}, {} bytes, sha256 {}) with key {} into {}",
                manifest.product,
                manifest.version,
                manifest.file,
                manifest.size,
                manifest.sha256,
                key.id(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Checks a signed release's signature, then the file it names if it is
/// beside it.
fn verify_release(path: &Path, bytes: &[u8], keys: &[PathBuf]) -> Result<(), Failure> {
    let signed = tessera::format::release::SignedRelease::verify(bytes, &read_keyring(keys)?)?;
    let m = signed.manifest();
    println!(
        "release {} {} ({}) signed by key {}: {}, {} bytes, sha256 {}",
        m.product,
        m.version,
        m.channel,
        signed.key_id(),
        m.file,
        m.size,
        m.sha256
    );
    let beside = path.parent().unwrap_or(Path::new(".")).join(&m.file);
    if !beside.exists() {
        return Ok(());
    }
    match size_and_sha256(&beside) {
        Ok((size, sha256)) if size == m.size && sha256 == signed.sha256() => {
            println!("{}: OK", m.file);
            Ok(())
        }
        Ok(_) => Err(Failure::new(
            exit::FAILED,
            format!(
                "{}: FAILED (its size or SHA-256 is not the signed one)",
                m.file
            ),
        )),
        Err(e) => Err(Failure::new(
            exit::FILE,
            format!("cannot read {}: {e}", beside.display()),
        )),
    }
}

/// Checks a manifest's signature, then each file it lists (in the
/// manifest's directory) by size-bounded streaming SHA-256.
fn verify_manifest(path: &Path, bytes: &[u8], keys: &[PathBuf]) -> Result<(), Failure> {
    use sha2::{Digest, Sha256};
    let manifest = tessera::format::manifest::Manifest::verify(bytes, &read_keyring(keys)?)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut bad = 0usize;
    for entry in manifest.entries() {
        let file = dir.join(&entry.name);
        let digest = std::fs::File::open(&file).and_then(|mut f| {
            let mut hasher = Sha256::new();
            std::io::copy(&mut f, &mut hasher)?;
            Ok(hasher.finalize())
        });
        match digest {
            Ok(d) if d.as_slice() == entry.sha256 => println!("{}: OK", entry.name),
            Ok(_) => {
                println!("{}: FAILED (its SHA-256 is not the signed one)", entry.name);
                bad += 1;
            }
            Err(e) => {
                println!("{}: FAILED (cannot read it: {e})", entry.name);
                bad += 1;
            }
        }
    }
    if bad > 0 {
        return Err(Failure::new(
            exit::FAILED,
            format!(
                "{bad} of {} files do not match the manifest signed by key {}",
                manifest.entries().len(),
                manifest.key_id()
            ),
        ));
    }
    println!(
        "signed by key {}: all {} files match",
        manifest.key_id(),
        manifest.entries().len()
    );
    Ok(())
}

fn inspect(
    path: &Path,
    keys: &[PathBuf],
    at: Option<Time>,
    keygen: &KeygenArgs,
) -> Result<(), Failure> {
    let bytes = read(path, "license file")?;
    let read_keygen = KeygenFile::sniff(&bytes).is_some();
    let (file, verified) = if read_keygen {
        (open_keygen(&bytes, keys, None, keygen)?, true)
    } else if keys.is_empty() {
        (LicenseFile::decode_unverified(&bytes)?, false)
    } else {
        (LicenseFile::verify(&bytes, &read_keyring(keys)?)?, true)
    };
    let now = at.unwrap_or_else(Time::now);
    let validation = verified.then(|| {
        let license = file.license();
        let mut opts = ValidationOptions::new(license.product());
        if let Some(d) = &license.device {
            opts = opts.device(d.clone());
        }
        if license.prevent_vm {
            opts = opts.environment(tessera::device::Machine::host().environment());
        }
        validate_at(license, &opts, now)
    });
    if read_keygen {
        println!("{:<15}Keygen", "Format");
    }
    print!("{}", output::describe(&file, verified, validation.as_ref()));
    Ok(())
}

/// Verifies a Keygen file with the account keys in `keys` and reads it
/// with the license key from `--license-key-file`, as a Tessera license
/// file: of the Tessera `product` when `--keygen-product` maps it, of
/// `keygen:<product id>` otherwise.
fn open_keygen(
    bytes: &[u8],
    keys: &[PathBuf],
    product: Option<&str>,
    args: &KeygenArgs,
) -> Result<LicenseFile, Failure> {
    let ring = keygen_keyring(
        keys,
        args.keygen_product.as_deref().unwrap_or_default(),
        product.unwrap_or_default(),
    )?;
    if ring.keygen_keys().is_empty() {
        return Err(Failure::new(
            exit::FAILED,
            "a Keygen file is verified with the account's verify key: pass --key",
        ));
    }
    let file = KeygenFile::verify(bytes, &ring)?;
    if args.license_key_file.is_none() && file.is_encrypted() {
        return Err(Failure::new(
            exit::FAILED,
            "the Keygen file verified; it is encrypted: pass --license-key-file to read it",
        ));
    }
    let license_key = license_key_of(args)?;
    let doc = file.open(&license_key, args.machine_fingerprint.as_deref())?;
    Ok(LicenseFile::from_keygen(doc))
}

/// The Keygen account keys in `keys`, trusted for `keygen_product`, read as
/// the Tessera product `product`.
fn keygen_keyring(
    keys: &[PathBuf],
    keygen_product: &str,
    product: &str,
) -> Result<Keyring, Failure> {
    let mut ring = Keyring::new();
    for key in read_keyring(keys)?.keys() {
        ring.add_keygen(key.clone(), keygen_product, product);
    }
    Ok(ring)
}

/// The license key in `--license-key-file`, without surrounding
/// whitespace; empty without the flag (a file that is not encrypted).
fn license_key_of(args: &KeygenArgs) -> Result<zeroize::Zeroizing<String>, Failure> {
    let Some(path) = &args.license_key_file else {
        return Ok(zeroize::Zeroizing::new(String::new()));
    };
    let raw = zeroize::Zeroizing::new(read(path, "license key")?);
    let text = std::str::from_utf8(&raw).map_err(|_| {
        Failure::new(
            exit::FAILED,
            format!("{} is not a text file", path.display()),
        )
    })?;
    Ok(zeroize::Zeroizing::new(text.trim().to_owned()))
}

fn import_keygen(
    path: &Path,
    key: &Path,
    product: &str,
    store_dir: Option<PathBuf>,
    secret_file: &Path,
    args: &KeygenArgs,
) -> Result<(), Failure> {
    let bytes = read(path, "Keygen file")?;
    let Some(keygen_product) = &args.keygen_product else {
        return Err(Failure::new(
            exit::FAILED,
            "pass --keygen-product: the Keygen product id this product stands for",
        ));
    };
    let ring = keygen_keyring(&[key.to_owned()], keygen_product, product)?;
    let mut config = tessera::LocalConfig::new(product, ring);
    config.store_dir = store_dir;
    config.secret = read(secret_file, "vendor secret")?;
    let license_key = license_key_of(args)?;
    let record = tessera::activation::keygen::import(
        &config,
        &bytes,
        &license_key,
        args.machine_fingerprint.as_deref(),
    )?;
    println!(
        "activated Keygen license {} as product `{product}` on this device",
        record.license_id
    );
    Ok(())
}

fn verify(
    path: &Path,
    keys: &[PathBuf],
    product: Option<String>,
    device: Option<String>,
    at: Option<Time>,
    keygen: &KeygenArgs,
) -> Result<(), Failure> {
    let bytes = read(path, "license file")?;
    if bytes.starts_with(b"-----BEGIN TESSERA MANIFEST-----") {
        return verify_manifest(path, &bytes, keys);
    }
    if bytes.starts_with(b"-----BEGIN TESSERA RELEASE-----") {
        return verify_release(path, &bytes, keys);
    }
    let file = if KeygenFile::sniff(&bytes).is_some() {
        open_keygen(&bytes, keys, product.as_deref(), keygen)?
    } else {
        LicenseFile::verify(&bytes, &read_keyring(keys)?)?
    };
    let license: &License = file.license();
    let mut opts = ValidationOptions::new(product.unwrap_or_else(|| license.product().to_owned()));
    if let Some(d) = device {
        opts = opts.device(tessera::Fingerprint::from_id(d));
    }
    if license.prevent_vm {
        opts = opts.environment(tessera::device::Machine::host().environment());
    }
    let v = validate_at(license, &opts, at.unwrap_or_else(Time::now));
    let reason = v
        .reasons
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    if v.is_usable() {
        println!("{}: {reason}", v.status);
        Ok(())
    } else {
        Err(Failure::new(
            exit_code(v.status),
            format!("{}: {reason}", v.status),
        ))
    }
}

fn fingerprint(
    product: &str,
    root: Option<PathBuf>,
    save: Option<&Path>,
    compare: Option<&Path>,
    policy: &str,
) -> Result<(), Failure> {
    let machine = match root {
        Some(r) => tessera::device::sources::TreeSource::new(r).into(),
        None => tessera::device::Machine::host(),
    };
    let salt = tessera::format::fingerprint::product_salt(product, b"");
    let fp = machine.fingerprint(&salt)?;
    println!(
        "Fingerprint of this device for product {product} (salted hashes; no raw value is shown)"
    );
    println!("{:<18}{}", "id", fp.id);
    for (name, hash) in &fp.components {
        println!("{name:<18}{hash}");
    }
    let env = machine.environment();
    if env.evidence.is_empty() {
        println!(
            "{:<18}no sign of a virtual machine or container",
            "environment"
        );
    }
    for (i, e) in env.evidence.iter().enumerate() {
        println!("{:<18}{e}", if i == 0 { "environment" } else { "" });
    }
    if let Some(path) = save {
        let json = serde_json::to_string_pretty(&fp)
            .map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
        write_atomic(path, format!("{json}\n").as_bytes(), 0o644, false)?;
        eprintln!("saved to {}", path.display());
    }
    if let Some(path) = compare {
        let stored: tessera::Fingerprint =
            serde_json::from_slice(&read(path, "stored fingerprint")?).map_err(|e| {
                Failure::new(
                    exit::FAILED,
                    format!("{} is not a saved fingerprint: {e}", path.display()),
                )
            })?;
        let policy = match policy {
            "exact" => tessera::MatchPolicy::Exact,
            _ => tessera::MatchPolicy::default(),
        };
        let c = stored.compare(&fp, &policy);
        println!("compared with {}: {c}", path.display());
        if !c.matches {
            return Err(Failure::new(
                exit::FINGERPRINT_CHANGED,
                format!("this device no longer matches {}", path.display()),
            ));
        }
    }
    Ok(())
}

fn exit_code(status: Status) -> u8 {
    exit::of_status(status)
}

/// Shows a license key with all but its last four characters masked.
fn masked(key: &str) -> String {
    let n = key.chars().count();
    let tail: String = key.chars().skip(n.saturating_sub(4)).collect();
    format!("{}{tail}", "*".repeat(n.saturating_sub(4)))
}

fn offline_read(path: &Path) -> Result<(), Failure> {
    use tessera::activation::offline::{self, Action};
    let text = read(path, "offline request")?;
    let request = offline::verify_request(&text)?;
    let action = match request.action {
        Action::Activate => "activate",
        Action::Deactivate => "deactivate (the device removed the activation)",
    };
    println!("request      {}", offline::request_id(&text));
    println!("action       {action}");
    println!("product      {}", request.product);
    if let Some(k) = &request.license_key {
        println!("license key  {}", masked(k));
    }
    if let Some(u) = &request.username {
        println!("user         {u}");
    }
    if let Some(id) = &request.license_id {
        println!("license      {id}");
    }
    println!("device       {}", request.device.id);
    println!("device key   {}", offline::device_key_id(&request)?);
    println!("written at   {}", request.created_at);
    if request.action == Action::Deactivate {
        println!(
            "free the slot of license {} on device {}",
            request.license_id.as_deref().unwrap_or_default(),
            request.device.id
        );
    }
    Ok(())
}

fn offline_respond(
    key: &Path,
    spec: &Path,
    request_path: &Path,
    out: Option<&Path>,
    at: Option<Time>,
) -> Result<(), Failure> {
    use tessera::activation::offline::{self, Action};
    let key = read_signing_key(key)?;
    let text = read(request_path, "offline request")?;
    let request = offline::verify_request(&text)?;
    if request.action != Action::Activate {
        return Err(Failure::new(
            exit::FAILED,
            "this is a deactivation request: read it with `tessera offline read` and free the slot",
        ));
    }
    let mut spec: serde_json::Value = serde_json::from_slice(&read(spec, "license spec")?)
        .map_err(|e| Failure::new(exit::FAILED, format!("the license spec is not JSON: {e}")))?;
    let product = spec["product_details"]["short_code"]
        .as_str()
        .unwrap_or_default();
    if product != request.product {
        return Err(Failure::new(
            exit::FAILED,
            format!(
                "the request is for product {}, the spec for {product}",
                request.product
            ),
        ));
    }
    if let (Some(wanted), Some(asked)) = (spec["license_key"].as_str(), &request.license_key) {
        if wanted != asked {
            return Err(Failure::new(
                exit::FAILED,
                "the request names another license key",
            ));
        }
    }
    spec["device"] = serde_json::to_value(&request.device)
        .map_err(|e| Failure::new(exit::FAILED, format!("the device cannot be encoded: {e}")))?;
    let now = at.unwrap_or_else(Time::now);
    // The file expires, as the server's do (30 days unless the spec says):
    // the device renews it with another request, and a deactivation
    // undone from a copy of the device's state lasts no longer.
    if spec
        .get("expires_at")
        .is_none_or(serde_json::Value::is_null)
    {
        let end = now
            .checked_add(std::time::Duration::from_secs(
                offline::ANSWER_DAYS * 86_400,
            ))
            .ok_or_else(|| Failure::new(exit::USAGE, "--at is too far in the future"))?;
        spec["expires_at"] = serde_json::Value::from(end.to_string());
    }
    let spec = serde_json::to_vec(&spec).map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
    let (license_file, license) = tessera::issuer::issue(&spec, &key, now)?;
    let response = offline::respond(&text, &request, &license_file, &key, now)?;
    match out {
        Some(path) => {
            write_atomic(path, response.as_bytes(), 0o644, false)?;
            eprintln!(
                "answered request {} with license {} for device {} into {}",
                &offline::request_id(&text)[..16],
                license.id,
                request.device.id,
                path.display()
            );
        }
        None => print!("{response}"),
    }
    Ok(())
}

fn relay_read(path: &Path) -> Result<(), Failure> {
    let request = tessera::format::delegation::RelayRequest::verify(&read(path, "relay request")?)?;
    let key = PublicKey::from_base64(&request.relay_key)?;
    println!("Relay request (signed by the relay's own key)");
    println!("{:<14}{}", "product", request.product);
    println!("{:<14}{}", "relay key id", key.id());
    println!("{:<14}{}", "machine", request.device.id);
    println!("{:<14}{}", "made at", request.made_at);
    Ok(())
}

fn relay_delegate(
    key: &Path,
    request_path: &Path,
    license: &Path,
    trust: &[PathBuf],
    terms: &tessera::format::delegation::Terms,
    out: Option<&Path>,
    at: Option<Time>,
) -> Result<(), Failure> {
    use tessera::format::delegation;
    let key = read_signing_key(key)?;
    let request = delegation::RelayRequest::verify(&read(request_path, "relay request")?)?;
    let mut keyring = read_keyring(trust)?;
    keyring.add(key.public_key().clone());
    let license_file = read(license, "license file")?;
    let now = at.unwrap_or_else(Time::now);
    // One id per relay key and moment: a renewal gets a new one.
    let id = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{}\0{}", request.relay_key, now.unix()));
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("D-{hex}")
    };
    let answer = delegation::delegate(&request, &license_file, &keyring, terms, &key, &id, now)?;
    match out {
        Some(path) => {
            write_atomic(path, answer.as_bytes(), 0o644, false)?;
            eprintln!(
                "delegated to relay key {} on machine {}: delegation {id} into {}",
                PublicKey::from_base64(&request.relay_key)?.id(),
                request.device.id,
                path.display()
            );
        }
        None => print!("{answer}"),
    }
    Ok(())
}

fn airgap_confirm(
    init: &str,
    license: &Path,
    secret_file: &Path,
    show_qr: bool,
) -> Result<(), Failure> {
    let file = read(license, "license file")?;
    let product = LicenseFile::decode_unverified(&file)?
        .license()
        .product()
        .to_owned();
    let secret = zeroize::Zeroizing::new(read(secret_file, "vendor secret")?);
    let code = tessera::activation::airgap::confirmation_code(init, &file, &product, &secret)?;
    println!("{code}");
    if show_qr {
        qr(&code)?;
    }
    Ok(())
}

/// Draws `text` as a QR code with Unicode half blocks (two rows a line).
fn qr(text: &str) -> Result<(), Failure> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| Failure::new(exit::FAILED, format!("cannot draw a QR code: {e}")))?;
    let art = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("{art}");
    Ok(())
}

fn token_key(module: &Path, token: &str, key: &str, pin_file: &Path) -> Result<(), Failure> {
    let pin = zeroize::Zeroizing::new(read(pin_file, "PIN file")?);
    let pin = std::str::from_utf8(&pin)
        .map_err(|_| Failure::new(exit::FAILED, "the PIN file is not text"))?
        .trim_end_matches(['\r', '\n']);
    let handle = tessera::device::hardware::Pkcs11Token::new(module, token, key, pin);
    let public = handle.public_key().map_err(|e| match e {
        Error::TokenMismatch => Failure::new(
            exit::FAILED,
            format!("token {token} holds no Ed25519 key labelled {key}"),
        ),
        other => other.into(),
    })?;
    println!("{}", public.to_base64());
    eprintln!(
        "key id {}: put it in the spec as \"hardware_key\" with \"is_hardware_key_auth\": true",
        public.id()
    );
    Ok(())
}
