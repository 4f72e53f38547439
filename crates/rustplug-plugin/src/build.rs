//! The build-script half of the manifest: facts only the build knows, turned into the JSON that
//! [`manifest!`](crate::manifest!) stores. Call it from the plugin's `build.rs` (with
//! `rustplug-plugin = { …, default-features = false }` under `[build-dependencies]`):
//!
//! ```ignore
//! fn main() {
//!     rustplug_plugin::build::Manifest::new().emit();
//! }
//! ```
//!
//! Facts and where they come from:
//! * `plugin.name`, `plugin.version`: cargo's `CARGO_PKG_NAME`, `CARGO_PKG_VERSION`;
//! * `rustc`: `$RUSTC -vV` (`release` and the commit hash and date of its first line), the
//!   compiler cargo builds this crate with;
//! * `target`: cargo's `TARGET`;
//! * `abi.async-ffi`: [`crate::ABI_VERSION`];
//! * `shared`: for each crate named with [`Manifest::share`], its version and enabled features
//!   as cargo resolved them for this package and target (`cargo tree -e normal -f '{p}|{f}'`).
//!
//! List under `shared` exactly the crates this module shares with other modules through a Rust
//! dylib (e.g. tokio re-exported by a dylib every module links with `-C prefer-dynamic`): rustplug
//! refuses to load a module whose shared crates differ from those of a loaded module it shares
//! that dylib with.

use std::collections::BTreeMap;
use std::env;
use std::path::PathBuf;
use std::process::Command;

/// A manifest under construction (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    shared: Vec<String>,
}

/// Version and enabled features of one crate, as cargo resolved them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateFacts {
    /// `1.24.2`.
    pub version: String,
    /// Sorted feature names.
    pub features: Vec<String>,
}

impl Manifest {
    /// A manifest that shares nothing (a cdylib: every crate is linked in).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a crate this module shares with other modules through a Rust dylib.
    pub fn share(mut self, krate: &str) -> Self {
        if !self.shared.iter().any(|c| c == krate) {
            self.shared.push(krate.to_owned());
        }
        self
    }

    /// The manifest JSON (one line).
    pub fn to_json(&self) -> String {
        let name = env_or("CARGO_PKG_NAME", "unknown");
        let version = env_or("CARGO_PKG_VERSION", "0.0.0");
        let target = env_or("TARGET", "unknown");
        let rustc = rustc_version();
        let mut shared = String::from("{");
        if !self.shared.is_empty() {
            let facts = resolved_crates();
            for (i, krate) in self.shared.iter().enumerate() {
                let f = facts.get(krate).cloned().unwrap_or_else(|| {
                    panic!("rustplug_plugin::build: '{krate}' is listed as shared but is not a dependency of {name} for {target} (cargo tree -e normal)")
                });
                let features: Vec<String> = f.features.iter().map(|s| json_string(s)).collect();
                if i > 0 {
                    shared.push(',');
                }
                shared.push_str(&format!("{}:{{\"version\":{},\"features\":[{}]}}", json_string(krate), json_string(&f.version), features.join(",")));
            }
        }
        shared.push('}');
        format!(
            "{{\"rustplug\":1,\"plugin\":{{\"name\":{},\"version\":{}}},\"rustc\":{},\"target\":{},\"abi\":{{\"async-ffi\":{}}},\"shared\":{}}}",
            json_string(&name),
            json_string(&version),
            json_string(&rustc),
            json_string(&target),
            crate::ABI_VERSION,
            shared
        )
    }

    /// Prints the cargo instructions: `RUSTPLUG_MANIFEST` for the compiler (read by
    /// [`manifest!`](crate::manifest!)), and when to run the build script again.
    pub fn emit(self) {
        println!("cargo:rustc-env=RUSTPLUG_MANIFEST={}", self.to_json());
        // (A change to the build script itself reruns it anyway; it may live outside the package.)
        println!("cargo:rerun-if-changed=Cargo.toml");
        if let Some(lock) = workspace_lock() {
            println!("cargo:rerun-if-changed={}", lock.display());
        }
    }
}

/// Whether this build links Rust crates dynamically (`-C prefer-dynamic` in the flags cargo
/// passes to rustc): then the crates a Rust dylib dependency carries are shared with every other
/// module that links it.
pub fn prefer_dynamic() -> bool {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\u{1f}').collect();
    flags.iter().enumerate().any(|(i, f)| {
        let value = if *f == "-C" || *f == "--codegen" { flags.get(i + 1).copied() } else { f.strip_prefix("-C").or_else(|| f.strip_prefix("--codegen=")) };
        matches!(value, Some("prefer-dynamic" | "prefer-dynamic=yes" | "prefer-dynamic=y" | "prefer-dynamic=on"))
    })
}

/// `1.95.0 (59807616e 2026-04-14)`: the first line of `$RUSTC -vV` without the `rustc ` prefix.
pub fn rustc_version() -> String {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("rustplug_plugin::build: cannot run {} -vV: {e}", rustc.to_string_lossy()));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    first.strip_prefix("rustc ").unwrap_or(first).trim().to_owned()
}

/// Every crate in this package's normal dependency tree for the build target, with its version
/// and the features cargo enabled, from `cargo tree` (the same resolution as this build).
pub fn resolved_crates() -> BTreeMap<String, CrateFacts> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let name = env_or("CARGO_PKG_NAME", "");
    let version = env_or("CARGO_PKG_VERSION", "");
    let mut cmd = Command::new(&cargo);
    cmd.args(["tree", "--frozen", "-e", "normal", "--prefix", "none", "-f", "{p}|{f}", "-p"]).arg(format!("{name}@{version}"));
    if let Ok(target) = env::var("TARGET") {
        cmd.args(["--target", &target]);
    }
    if let Ok(dir) = env::var("CARGO_MANIFEST_DIR") {
        cmd.current_dir(dir);
    }
    // The outer build's target directory and flags mean nothing to `cargo tree`.
    cmd.env_remove("CARGO_TARGET_DIR");
    let out = cmd.output().unwrap_or_else(|e| panic!("rustplug_plugin::build: cannot run cargo tree: {e}"));
    if !out.status.success() {
        panic!("rustplug_plugin::build: cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "tokio v1.24.2|default,rt-multi-thread" ; path crates: "exports v0.1.0 (/dir)|"
        let Some((pkg, features)) = line.split_once('|') else { continue };
        let mut words = pkg.split_whitespace();
        let (Some(krate), Some(v)) = (words.next(), words.next()) else { continue };
        let features = features.trim().trim_end_matches("(*)").trim();
        let mut features: Vec<String> = features.split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned).collect();
        features.sort();
        map.entry(krate.to_owned()).or_insert(CrateFacts { version: v.trim_start_matches('v').to_owned(), features });
    }
    map
}

fn env_or(key: &str, default: &str) -> String {
    env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// The Cargo.lock of the workspace this package belongs to (the nearest one above it).
fn workspace_lock() -> Option<PathBuf> {
    let mut dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    loop {
        let lock = dir.join("Cargo.lock");
        if lock.is_file() {
            return Some(lock);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
