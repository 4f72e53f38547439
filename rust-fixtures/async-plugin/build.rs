// Link the cdylib with `-z nodelete`: the plugin's tokio workers and std threads may still run
// its code (late wakes) after the host is done with it, so `dlclose` must never unmap it.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    // RUSTPLUG_MANIFEST (src/lib.rs: rustplug_plugin::manifest!()): a cdylib shares nothing.
    rustplug_plugin::build::Manifest::new().emit();
}
