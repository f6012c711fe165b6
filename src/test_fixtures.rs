//! Where the test suite's upstream fixtures are: the Flux install manifest, the CRDs and the
//! pinned Helm charts (`flux/install.yaml`, `crds/*.yaml`, `charts/*.tgz` + `index.yaml`).
//! This file is the one loader: the library compiles it for its unit tests only, and the
//! integration tests and benches include it by path (they cannot reach `cfg(test)` items).
//! `scripts/fixtures` provides the directory and `scripts/test` exports it (docs/fixtures.md).

#![allow(dead_code)] // each including crate uses part of it

use std::path::PathBuf;

/// `$HOMELAB_FIXTURES_DIR`, else `../shared/fixtures` next to the repository. Panics with how
/// to provide the fixtures when that directory does not hold them.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("HOMELAB_FIXTURES_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("flux/install.yaml").is_file(),
                "HOMELAB_FIXTURES_DIR={} does not hold the test fixtures (no flux/install.yaml): \
                 point it at the directory `scripts/fixtures` prints, or unset it",
                dir.display()
            );
            dir
        }
        None => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
            assert!(
                dir.join("flux/install.yaml").is_file(),
                "the upstream test fixtures are not set up (HOMELAB_FIXTURES_DIR is unset and {} \
                 does not exist): run `export HOMELAB_FIXTURES_DIR=\"$(scripts/fixtures)\"`, which \
                 downloads them once into target/fixtures/ (scripts/test does this), or point \
                 HOMELAB_FIXTURES_DIR at a copy; see docs/fixtures.md",
                dir.display()
            );
            dir
        }
    }
}

/// The Flux install manifest fixture.
pub fn flux_install() -> PathBuf {
    fixtures_dir().join("flux/install.yaml")
}
