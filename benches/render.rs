//! Rendering the whole Flux repository (templates, homelab.yaml, gotk-components filtering)
//! for the example and the full configuration. The Flux manifest is read once, outside the
//! timed loop, as `homelab` reads it once per run.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use homelab::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[path = "../src/test_fixtures.rs"]
mod test_fixtures;

fn flux_install() -> String {
    std::fs::read_to_string(test_fixtures::flux_install()).expect("read the Flux fixture")
}

fn config(name: &str) -> Config {
    let text = std::fs::read_to_string(root().join("examples").join(name)).expect("read config");
    serde_saphyr::from_str(&text).expect("config parses")
}

fn bench(c: &mut Criterion) {
    let install = flux_install();
    for name in ["homelab.yaml", "full.yaml"] {
        let cfg = config(name);
        c.bench_function(&format!("render {name}"), |b| {
            b.iter(|| homelab::render::render(black_box(&cfg), black_box(&install)).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
