#![no_main]

// One HTTP request to the reference server's whole router, in process:
// signed client calls, admin calls and raw requests (tessera_server::fuzzing).
libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_server::fuzzing::request(data));
