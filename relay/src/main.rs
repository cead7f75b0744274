//! `tessera-relay`: floating seats on a network with no internet
//! (docs/RELAY.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tessera::{Clock, SystemClock, Time};
use tessera_relay::seats::Seats;
use tessera_relay::serve::{self, Relay};
use tessera_relay::{exit, home, Dirs, Failure};

#[derive(Parser)]
#[command(
    name = "tessera-relay",
    version,
    about = "Floating seats for a network with no internet, under a key the vendor delegates"
)]
struct Cli {
    /// The relay's folder (its key, the vendor's grant, its state).
    #[arg(long, global = true, default_value = "/var/lib/tessera-relay")]
    dir: PathBuf,
    /// Read the machine's facts from this folder instead of `/` (an image).
    #[arg(long, global = true, hide = true)]
    device_root: Option<PathBuf>,
    /// Read the time from this file (RFC 3339) instead of the system
    /// clock: for tests only.
    #[arg(long, global = true, hide = true)]
    clock_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make the relay's key and its request for a delegation
    /// (`relay.request`, to send to the vendor).
    Init {
        /// The product's short code.
        #[arg(long)]
        product: String,
        /// The vendor's public key (PEM or base64), to check its answers.
        #[arg(long)]
        vendor_key: PathBuf,
    },
    /// Write the request for a delegation again (to renew one).
    Request,
    /// Keep the vendor's answer (the delegation and the pool license),
    /// after checking it; replaces the one before.
    Import {
        /// The vendor's answer.
        file: PathBuf,
    },
    /// Ask the vendor's server for a delegation (or renew it), online,
    /// and keep its answer.
    Activate {
        /// The vendor's server (`https://…`).
        #[arg(long)]
        server: String,
        /// A file holding the product's API key, as the vendor gave it.
        #[arg(long)]
        product_key_file: PathBuf,
        /// A file holding the pool license's key.
        #[arg(long)]
        license_key_file: PathBuf,
    },
    /// Write the usage record, signed, for the vendor to import.
    Usage {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Upload the usage record to the vendor's server.
    Upload {
        /// The vendor's server (`https://…`).
        #[arg(long)]
        server: String,
        /// A file holding the product's API key, as the vendor gave it.
        #[arg(long)]
        product_key_file: PathBuf,
    },
    /// Serve the seats.
    Serve {
        /// Where to listen.
        #[arg(long, default_value = "0.0.0.0:7070")]
        listen: SocketAddr,
        /// Let other machines see the status page (it shows who holds
        /// the seats); by default only this machine does.
        #[arg(long)]
        status_from_network: bool,
    },
    /// Windows: register the relay as a service, remove it, or (the
    /// service control manager's call) run as one.
    #[cfg(windows)]
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Show the seats in use, by whom, since when, and the usage record.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Free a seat, by its lease id or its device's fingerprint id.
    Free {
        /// The lease or the device.
        lease_or_device: String,
    },
}

#[cfg(windows)]
#[derive(Subcommand)]
enum ServiceCommand {
    /// Register the service (automatic start, LocalSystem) serving --dir.
    Install {
        /// Where to listen.
        #[arg(long, default_value = "0.0.0.0:7070")]
        listen: SocketAddr,
    },
    /// Remove the service.
    Uninstall,
    /// Run as the service (the service control manager starts this).
    #[command(hide = true)]
    Run {
        /// Where to listen.
        #[arg(long, default_value = "0.0.0.0:7070")]
        listen: SocketAddr,
    },
}

/// The time in a file: tests move it while the relay runs.
struct FileClock(PathBuf);

impl Clock for FileClock {
    fn now(&self) -> Time {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| tessera::format::license::ts::parse(t.trim()))
            .map_or(Time::UNIX_EPOCH, Time::from)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let clock: Arc<dyn Clock> = match &cli.clock_file {
        Some(path) => Arc::new(FileClock(path.clone())),
        None => Arc::new(SystemClock),
    };
    let dirs = Dirs {
        dir: cli.dir.clone(),
        device_root: cli.device_root.clone(),
    };
    match run(&dirs, cli.command, clock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tessera-relay: {f}");
            ExitCode::from(f.code)
        }
    }
}

fn run(dirs: &Dirs, command: Command, clock: Arc<dyn Clock>) -> Result<(), Failure> {
    let now = clock.now();
    match command {
        Command::Init {
            product,
            vendor_key,
        } => {
            dirs.init(&product, &vendor_key, now)?;
            println!(
                "made the relay's key in {}; send {} to the vendor, then run `tessera-relay import ANSWER`",
                dirs.dir.display(),
                dirs.file(home::REQUEST).display()
            );
            Ok(())
        }
        Command::Request => {
            dirs.write_request(now)?;
            println!("wrote {}", dirs.file(home::REQUEST).display());
            Ok(())
        }
        Command::Import { file } => {
            let text = home::read(&file, "the vendor's answer", 64 * 1024)?;
            let grant = dirs.import(&text, now)?;
            let d = &grant.delegation;
            println!(
                "imported delegation {}: {} seats of license {} ({}) until {}",
                d.id, d.seats, d.license_id, d.product, d.expires_at
            );
            Ok(())
        }
        Command::Activate {
            server,
            product_key_file,
            license_key_file,
        } => {
            let vendor = tessera_relay::online::Vendor::read(&server, &product_key_file)?;
            let key = home::read(&license_key_file, "the license key", 4096)?;
            let key = String::from_utf8_lossy(&key).trim().to_owned();
            let grant = tessera_relay::online::activate(dirs, &vendor, &key, now)?;
            let d = &grant.delegation;
            println!(
                "delegation {}: {} seats of license {} ({}) until {}",
                d.id, d.seats, d.license_id, d.product, d.expires_at
            );
            Ok(())
        }
        Command::Usage { out } => {
            let text = tessera_relay::usage::export(dirs, now)?;
            home::write_atomic(&out, text.as_bytes(), 0o644, false)?;
            println!("wrote the usage record to {}", out.display());
            Ok(())
        }
        Command::Upload {
            server,
            product_key_file,
        } => {
            let vendor = tessera_relay::online::Vendor::read(&server, &product_key_file)?;
            let days = tessera_relay::online::upload(dirs, &vendor, now)?;
            println!("uploaded the usage of {days} days");
            Ok(())
        }
        Command::Serve {
            listen,
            status_from_network,
        } => {
            let grant = dirs.grant(now)?;
            let key = dirs.key()?;
            let seats = Seats::open(&dirs.file(home::STATE))?;
            let mut relay = Relay::new(key, grant, seats, clock)?;
            relay.status_from_network = status_from_network;
            let relay = Arc::new(relay);
            // The state is one SQLite connection behind a lock: two worker
            // threads keep the network and the signing busy, and no pool of
            // blocking threads grows under a burst (resident memory).
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(2));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .max_blocking_threads(1)
                .enable_all()
                .build()
                .map_err(|e| Failure::new(exit::FAILED, format!("no runtime: {e}")))?;
            runtime.block_on(serve::run(relay, listen))
        }
        #[cfg(windows)]
        Command::Service(ServiceCommand::Install { listen }) => {
            tessera_relay::service::install(dirs, listen)?;
            println!(
                "installed the service {}; start it with `sc start {0}`",
                tessera_relay::service::NAME
            );
            Ok(())
        }
        #[cfg(windows)]
        Command::Service(ServiceCommand::Uninstall) => {
            tessera_relay::service::uninstall()?;
            println!("removed the service {}", tessera_relay::service::NAME);
            Ok(())
        }
        #[cfg(windows)]
        Command::Service(ServiceCommand::Run { listen }) => {
            let relay = Arc::new(Relay::new(
                dirs.key()?,
                dirs.grant(now)?,
                Seats::open(&dirs.file(home::STATE))?,
                clock,
            )?);
            tessera_relay::service::run(relay, listen)
        }
        Command::Status { json } => {
            let grant = dirs.grant(now)?;
            let seats = Seats::open(&dirs.file(home::STATE))?;
            let value = serve::status(&seats, &grant, now.unix())?;
            if json {
                println!("{value:#}");
            } else {
                print_status(&value);
            }
            Ok(())
        }
        Command::Free { lease_or_device } => {
            let mut seats = Seats::open(&dirs.file(home::STATE))?;
            let freed = seats
                .free(&lease_or_device, now.unix())
                .map_err(|e| Failure::new(exit::STATE, format!("{e:?}")))?;
            if !freed {
                return Err(Failure::new(
                    exit::FAILED,
                    format!("no seat is held by {lease_or_device}"),
                ));
            }
            println!("freed the seat of {lease_or_device}");
            Ok(())
        }
    }
}

fn print_status(v: &serde_json::Value) {
    let when = |v: &serde_json::Value| {
        v.as_i64()
            .and_then(Time::from_unix)
            .map_or_else(String::new, |t| t.to_string())
    };
    println!(
        "{} of {} seats in use (product {}, license {}, delegation {} until {})",
        v["in_use"],
        v["seats"],
        v["product"].as_str().unwrap_or_default(),
        v["license_id"].as_str().unwrap_or_default(),
        v["delegation"].as_str().unwrap_or_default(),
        v["expires_at"].as_str().unwrap_or_default(),
    );
    for l in v["leases"].as_array().into_iter().flatten() {
        println!(
            "  {:<34} {:<16} {:<9}{} since {} until {}",
            l["device"].as_str().unwrap_or_default(),
            l["user"].as_str().unwrap_or("-"),
            l["kind"].as_str().unwrap_or_default(),
            if l["returned"].as_bool() == Some(true) {
                " (returned)"
            } else {
                ""
            },
            when(&l["since"]),
            when(&l["expires_at"]),
        );
    }
    for d in v["usage"].as_array().into_iter().flatten() {
        let day = d["day"].as_i64().unwrap_or(0);
        println!(
            "  usage {}: {:.1} seat-hours, peak {}, {} granted, {} refused",
            Time::from_unix(day * 86_400).map_or_else(String::new, |t| t.to_string()),
            d["seat_seconds"].as_f64().unwrap_or(0.0) / 3600.0,
            d["peak"],
            d["grants"],
            d["denials"],
        );
    }
}
