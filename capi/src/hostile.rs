//! Hostile input through every export that takes bytes or strings from the
//! caller: the committed seeds (a device-bound license, an offline
//! response), then random bytes and every single-byte change of each seed.
//! No export may report a panic.
//!
//! This was the `c_abi` fuzz target while the C ABI lived in the core. A
//! cdylib/staticlib crate cannot be a Rust dependency of the fuzz crate, so
//! it runs here, as a unit test that calls the exports as C would
//! (docs/FUZZING.md).

use std::ffi::{c_char, CString};

use proptest::prelude::*;

use crate::{activation, config, offline, online, tessera_result};
use tessera::Code;

/// Feeds `data` to each byte-taking export of one fresh configuration.
fn feed(data: &[u8]) {
    let text: Vec<u8> = data
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .chain([0])
        .collect();
    let text = text.as_ptr().cast::<c_char>();
    // A state directory of this input's own, removed when it is dropped.
    let scratch = tempfile::tempdir().unwrap();
    let dir = CString::new(scratch.path().to_string_lossy().into_owned()).unwrap();
    let mut cfg = std::ptr::null_mut();
    let no_panic = |r: tessera_result| assert_ne!(r, Code::Panic);
    // SAFETY: every pointer is a live local for the call; `data` is a slice
    // of `data.len()` bytes; `text` and `dir` are NUL-terminated.
    unsafe {
        assert_eq!(
            config::tessera_config_new(c"acme".as_ptr(), &mut cfg),
            Code::Ok
        );
        no_panic(config::tessera_config_add_public_key(cfg, text));
        no_panic(config::tessera_config_set_custom_device_id(cfg, text));
        no_panic(config::tessera_config_set_secret(
            cfg,
            data.as_ptr(),
            data.len(),
        ));
        no_panic(config::tessera_config_set_store_dir(cfg, dir.as_ptr()));
        no_panic(activation::tessera_activate(cfg, data.as_ptr(), data.len()));
        no_panic(config::tessera_config_add_keygen_key(cfg, text, text));
        no_panic(activation::tessera_keygen_import(
            cfg,
            data.as_ptr(),
            data.len(),
            text,
            text,
        ));
        no_panic(offline::tessera_offline_import_response(
            cfg,
            data.as_ptr(),
            data.len(),
        ));
        no_panic(offline::tessera_airgap_activate(
            cfg,
            data.as_ptr(),
            data.len(),
            text,
        ));
        // The online half's inputs: a URL, a key, a pinned CA, a proxy.
        let mut server = std::ptr::null_mut();
        no_panic(online::tessera_server_new(
            text,
            data.as_ptr(),
            data.len(),
            &mut server,
        ));
        for url in [text, c"http://127.0.0.1:9".as_ptr()] {
            if server.is_null() {
                no_panic(online::tessera_server_new(
                    url,
                    c"k".as_ptr().cast(),
                    1,
                    &mut server,
                ));
            }
        }
        no_panic(online::tessera_server_set_pinned_ca(server, text));
        let mut conn = std::ptr::null_mut();
        no_panic(online::tessera_connection_new(cfg, server, &mut conn));
        online::tessera_connection_free(&mut conn);
        no_panic(online::tessera_server_set_pinned_ca(
            server,
            std::ptr::null(),
        ));
        no_panic(online::tessera_server_set_proxy(server, 2, text));
        no_panic(online::tessera_connection_new(cfg, server, &mut conn));
        online::tessera_connection_free(&mut conn);
        online::tessera_server_free(&mut server);
        config::tessera_config_free(&mut cfg);
    }
    assert!(cfg.is_null());
}

const SEEDS: [&[u8]; 3] = [
    include_bytes!("hostile_seeds/license.lic"),
    include_bytes!("hostile_seeds/response.res"),
    // A public Keygen sample (tests/vectors/keygen).
    include_bytes!("hostile_seeds/keygen.lic"),
];

#[test]
fn the_seeds_and_each_of_their_single_byte_changes_report_no_panic() {
    for seed in SEEDS {
        feed(seed);
        // Every 7th position keeps the run short; each change is a new input.
        for i in (0..seed.len()).step_by(7) {
            let mut changed = seed.to_vec();
            changed[i] ^= 0x20;
            feed(&changed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_bytes_report_no_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        feed(&data);
    }
}
