#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| carnet_importers_fuzz::aaf(data));
