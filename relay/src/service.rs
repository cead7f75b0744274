//! `tessera-relay` as a Windows service (docs/RELAY.md, "Running as a
//! service"): `service install` registers it with the service control
//! manager (automatic start, LocalSystem), which then starts
//! `tessera-relay.exe --dir DIR service run --listen ADDR`; a stop request
//! ends the serving gracefully. `service uninstall` removes it.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::{exit, Dirs, Failure};

/// The service's name.
pub const NAME: &str = "tessera-relay";

fn failed(what: &str, e: windows_service::Error) -> Failure {
    Failure::new(exit::FAILED, format!("{what}: {e}"))
}

/// Registers the service: started automatically, serving `dirs` on `listen`.
pub fn install(dirs: &Dirs, listen: SocketAddr) -> Result<(), Failure> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| failed("the service control manager", e))?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(exit::FAILED, format!("this program's path: {e}")))?;
    let mut arguments: Vec<OsString> = vec!["--dir".into(), dirs.dir.clone().into_os_string()];
    if let Some(root) = &dirs.device_root {
        arguments.extend(["--device-root".into(), root.clone().into_os_string()]);
    }
    arguments.extend([
        "service".into(),
        "run".into(),
        "--listen".into(),
        listen.to_string().into(),
    ]);
    let info = ServiceInfo {
        name: NAME.into(),
        display_name: "Tessera relay".into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: arguments,
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .map_err(|e| failed("creating the service", e))?;
    service
        .set_description("Floating seats for this network, under a key the vendor delegates")
        .map_err(|e| failed("describing the service", e))?;
    Ok(())
}

/// Removes the service (stopped first by the administrator).
pub fn uninstall() -> Result<(), Failure> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| failed("the service control manager", e))?;
    let service = manager
        .open_service(NAME, ServiceAccess::DELETE)
        .map_err(|e| failed("opening the service", e))?;
    service
        .delete()
        .map_err(|e| failed("removing the service", e))
}

/// What the service serves, set before the dispatcher starts it.
static SERVED: OnceLock<(Arc<crate::serve::Relay>, SocketAddr)> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands the process to the service control manager, which calls back
/// into [`service_main`]; returns when the service has stopped.
pub fn run(relay: Arc<crate::serve::Relay>, listen: SocketAddr) -> Result<(), Failure> {
    if SERVED.set((relay, listen)).is_err() {
        return Err(Failure::new(
            exit::FAILED,
            "the service runs once per process",
        ));
    }
    service_dispatcher::start(NAME, ffi_service_main).map_err(|e| {
        failed(
            "starting as a service (run by the service control manager only)",
            e,
        )
    })
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = serve_as_service() {
        eprintln!("tessera-relay: {e}");
    }
}

fn status(state: ServiceState, accept: ServiceControlAccept, code: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code: ServiceExitCode::Win32(code),
        checkpoint: 0,
        wait_hint: Duration::from_secs(5),
        process_id: None,
    }
}

fn serve_as_service() -> Result<(), Failure> {
    let (relay, listen) = SERVED
        .get()
        .cloned()
        .ok_or_else(|| Failure::new(exit::FAILED, "nothing to serve"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = std::sync::Mutex::new(Some(stop_tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(tx) = stop_tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(NAME, handler)
        .map_err(|e| failed("registering the service's handler", e))?;
    let _ = handle.set_service_status(status(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        0,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::FAILED, format!("no runtime: {e}")))?;
    let served = runtime.block_on(crate::serve::run_until(relay, listen, async {
        let _ = stop_rx.await;
    }));
    let code = u32::from(served.as_ref().err().map_or(0, |f| f.code));
    let _ = handle.set_service_status(status(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        code,
    ));
    served
}
