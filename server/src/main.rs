//! `tessera-server`: the reference license server (its documentation and
//! code are the library's, `src/lib.rs`).

fn main() -> std::process::ExitCode {
    tessera_server::run()
}
