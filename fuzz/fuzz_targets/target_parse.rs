#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| checktls_types::fuzzing::target(data));
