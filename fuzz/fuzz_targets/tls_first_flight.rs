#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| checktls_tls::fuzzing::first_flight(data));
