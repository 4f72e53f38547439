// The manifest (src/lib.rs: manifest!()). Built with -C prefer-dynamic (target/shared), this
// module links libexports.so and so shares exports, the kit and tokio with every module that
// does; built as a cdylib (mod_static_b, same sources) it shares nothing.
use rustplug_plugin::build::{prefer_dynamic, Manifest};

fn main() {
    let m = Manifest::new();
    let m = if prefer_dynamic() { m.share("exports").share("rustplug-plugin").share("tokio") } else { m };
    m.emit();
}
