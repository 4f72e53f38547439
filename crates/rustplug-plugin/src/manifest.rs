//! The `RUSTPLUG_MANIFEST` data symbol: a NUL-terminated UTF-8 JSON object in the file's
//! read-only data, which rustplug reads from the ELF file before loading it (no plugin code
//! runs). The JSON is made by the plugin's build script ([`crate::build::Manifest`]) and passed
//! to the compiler as the `RUSTPLUG_MANIFEST` environment variable; [`manifest!`](crate::manifest!)
//! stores it.

/// `s` followed by a NUL byte, as an array of exactly `N = s.len() + 1` bytes. Fails to compile
/// (a const panic) when `s` holds a NUL byte: the host would read a truncated manifest.
pub const fn nul_terminated<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    assert!(b.len() + 1 == N, "RUSTPLUG_MANIFEST: length mismatch");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < b.len() {
        assert!(b[i] != 0, "RUSTPLUG_MANIFEST: the manifest must not contain a NUL byte");
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Emits the plugin's manifest as the exported data symbol `RUSTPLUG_MANIFEST`
/// (`static [u8; N]`, NUL-terminated JSON). Use it once, at the crate root of the plugin; the
/// plugin's `build.rs` makes the JSON:
///
/// ```ignore
/// // build.rs
/// fn main() { rustplug_plugin::build::Manifest::new().emit(); }
/// // src/lib.rs
/// rustplug_plugin::manifest!();
/// ```
#[macro_export]
macro_rules! manifest {
    () => {
        /// rustplug's load-time contract (see the rustplug-plugin crate): read from the file, never called.
        #[no_mangle]
        pub static RUSTPLUG_MANIFEST: [u8; ::core::env!(
            "RUSTPLUG_MANIFEST",
            "rustplug_plugin::manifest!() needs the plugin's build.rs to run rustplug_plugin::build::Manifest::new().emit() (with rustplug-plugin in [build-dependencies])"
        )
        .len()
            + 1] = $crate::manifest::nul_terminated(::core::env!("RUSTPLUG_MANIFEST"));
    };
}
