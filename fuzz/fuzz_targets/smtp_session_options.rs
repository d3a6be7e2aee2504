#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| checktls_smtp::fuzzing::session_options(data));
