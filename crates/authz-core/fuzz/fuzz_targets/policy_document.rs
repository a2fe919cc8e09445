//! Arbitrary bytes as a policy document: parse, compile, export and re-import.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| authz_core_fuzz::policy_document(data));
