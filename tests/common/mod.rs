//! Shared by the root tests that read the driver's source (`driver_source.rs`, `kmdf_coverage.rs`).

#![allow(clippy::unwrap_used, dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The root package's directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` as (path relative to the package root, contents), sorted by path.
pub fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
            files.push((relative, fs::read_to_string(&path).unwrap()));
        }
    }
    files.sort();
    files
}

/// The code of a line without its `//` comment (good enough for this source: no `//` in strings).
pub fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}
