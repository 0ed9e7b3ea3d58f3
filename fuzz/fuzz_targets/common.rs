//! Shared by the fuzz targets: a bounded allocator, and connector settings chosen by a byte of
//! the input, so every handling mode of the type mapping is reached.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use sluice_core::Schema;
use sluice_mysql::MySqlConfig;

/// A MySQL connector config with the `*.handling.mode`s picked by the low 7 bits of `sel`
/// (built once per combination: the filters compile regexes), and the source block schema.
#[allow(dead_code)]
pub fn mysql_config(sel: u8) -> (&'static MySqlConfig, &'static Arc<Schema>) {
    static CONFIGS: OnceLock<(Vec<MySqlConfig>, Arc<Schema>)> = OnceLock::new();
    let (configs, source) = CONFIGS.get_or_init(|| {
        let configs = (0..128).map(build_mysql_config).collect();
        (configs, sluice_mysql::mapping::source_schema("mysql"))
    });
    (&configs[usize::from(sel & 0x7f)], source)
}

fn build_mysql_config(sel: u8) -> MySqlConfig {
    let pick =
        |options: &[&'static str], shift: u8| options[usize::from(sel >> shift) % options.len()];
    let props: BTreeMap<String, String> = [
        ("database.hostname", "127.0.0.1"),
        ("database.user", "cdc"),
        ("database.server.id", "5400"),
        ("topic.prefix", "fuzz"),
        (
            "decimal.handling.mode",
            pick(&["precise", "double", "string"], 0),
        ),
        (
            "time.precision.mode",
            pick(&["adaptive_time_microseconds", "adaptive", "connect"], 2),
        ),
        (
            "bigint.unsigned.handling.mode",
            pick(&["long", "precise"], 4),
        ),
        (
            "binary.handling.mode",
            pick(&["bytes", "base64", "base64-url-safe", "hex"], 5),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    MySqlConfig::from_properties("fuzz", &props).expect("the fuzz config is valid")
}

/// Largest single allocation a target may make. The inputs are a few KiB: a parser that asks for
/// more trusts a length field it should not, and on a real machine that is an abort (allocation
/// failure) or memory exhausted, not an error. Without AddressSanitizer's allocator hooks,
/// libFuzzer's own `-malloc_limit_mb` sees nothing, hence this allocator.
const ALLOCATION_LIMIT: usize = 256 << 20;

struct Bounded;

fn too_big(size: usize) -> ! {
    eprintln!(
        "fuzz: an allocation of {size} bytes (limit {ALLOCATION_LIMIT}) from a small input, at:\n{}",
        std::backtrace::Backtrace::force_capture()
    );
    std::process::abort()
}

// SAFETY: every call is passed on to the system allocator unchanged, or aborts before.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_LIMIT {
            too_big(layout.size());
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_LIMIT {
            too_big(layout.size());
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOCATION_LIMIT {
            too_big(new_size);
        }
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;
