// Link the cdylib with `-z nodelete`: the plugin's tokio workers and std threads may still run
// its code (late wakes) after the host is done with it, so `dlclose` must never unmap it.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
