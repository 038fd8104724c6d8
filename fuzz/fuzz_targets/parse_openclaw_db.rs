#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cass::fuzzing::run_target("parse_openclaw_db", data);
});
