#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera::fuzzing::server_response(data));
