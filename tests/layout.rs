//! The layout holds: no module of the SDK, the C ABI or the server imports a
//! module that imports it back (directly or through others). Read from the
//! sources: every `crate::` path outside comments and `#[cfg(test)]` modules
//! is an edge from the file's module to the module it names.

// A test may fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`runtime::consumption::journal`) → its source.
fn modules(root: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            (parts.join("::"), std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The code of a file without its comments and its unit-test module.
fn code(source: &str) -> String {
    let source = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path named after `crate::`, with `{a, b::c}` groups expanded to
/// their first segments.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let item = item.trim();
                if !item.is_empty() && item != "self" {
                    out.push(item.split(" as ").next().unwrap_or(item).to_owned());
                }
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            out.push(rest[..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

/// The longest module named by the front of `path`.
fn resolve<'a>(path: &str, names: &'a BTreeSet<String>) -> Option<&'a String> {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len())
        .rev()
        .find_map(|n| names.get(&segments[..n].join("::")))
}

/// The import graph of the modules under `root`: module → the modules it
/// names. With `top_level`, each module stands for its top-level module
/// (`runtime::handle` counts as `runtime`), so the graph is the folders'.
fn graph(root: &Path, top_level: bool) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(root);
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let fold = |name: &str| -> String {
        if top_level {
            name.split("::").next().unwrap_or_default().to_owned()
        } else {
            name.to_owned()
        }
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, source) in &modules {
        let from = fold(name);
        let targets = edges.entry(from.clone()).or_default();
        for path in crate_paths(&code(source)) {
            match resolve(&path, &names) {
                // A module may use its own children; the root names nothing.
                Some(t) if t != name && !t.is_empty() && !name.starts_with(&format!("{t}::")) => {
                    let to = fold(t);
                    if to != from {
                        targets.insert(to);
                    }
                }
                _ => {}
            }
        }
    }
    edges
}

/// The cycles (strongly connected components of more than one node).
fn cycles_of(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            let next: Vec<&'a str> = self
                .edges
                .get(v)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            for w in next {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// The cycles between the modules under `root`.
fn cycles(root: &Path) -> Vec<Vec<String>> {
    cycles_of(&graph(root, false))
}

fn root(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for dir in ["src", "capi/src", "server/src", "cli/src"] {
        assert_eq!(cycles(&root(dir)), Vec::<Vec<String>>::new(), "in {dir}/");
    }
}

#[test]
fn the_sdks_folders_depend_one_way() {
    // format <- device <- runtime <- activation <- online: data flows one
    // way, from bytes to a verified file to a decision to a sync.
    let edges = graph(&root("src"), true);
    assert_eq!(cycles_of(&edges), Vec::<Vec<String>>::new(), "{edges:?}");
    let uses = |from: &str, to: &str| edges.get(from).is_some_and(|t| t.contains(to));
    for (lower, higher) in [
        ("format", "device"),
        ("device", "runtime"),
        ("runtime", "activation"),
        ("activation", "online"),
    ] {
        assert!(!uses(lower, higher), "{lower} must not use {higher}");
    }
}

#[test]
fn the_checker_finds_a_cycle_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\nmod c;\n");
    write(
        "a.rs",
        "use crate::b::Thing;\n// crate::c is only named in a comment\n",
    );
    write("b.rs", "use crate::{c::Other, a};\n");
    write(
        "c.rs",
        "pub struct Other;\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
    );
    assert_eq!(
        cycles(dir.path()),
        vec![vec!["a".to_owned(), "b".to_owned()]]
    );
    write("c.rs", "use crate::a::X;\n");
    assert_eq!(
        cycles(dir.path()),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
}

#[test]
fn the_core_has_no_unsafe_code_and_the_c_abi_is_its_own_crate() {
    let lib = std::fs::read_to_string(root("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
    for (name, source) in modules(&root("src")) {
        assert!(!code(&source).contains("extern \"C\""), "{name}");
    }
    let capi = std::fs::read_to_string(root("capi/Cargo.toml")).unwrap();
    assert!(capi.contains("name = \"tessera\"") && capi.contains("\"cdylib\""));
    let core = std::fs::read_to_string(root("Cargo.toml")).unwrap();
    assert!(!core.contains("cdylib"), "the core must build an rlib only");
}

/// Vendor-only functions are compiled only with the `issuer` feature, so a
/// product build cannot call them (SECURITY.md, issue 21 finding 8: a
/// device that can make its own air-gapped confirmation code needs no
/// vendor).
#[test]
fn vendor_only_functions_exist_only_with_the_issuer_feature() {
    const VENDOR_ONLY: &[(&str, &str)] = &[("activation/airgap.rs", "pub fn confirmation_code(")];
    for (file, function) in VENDOR_ONLY {
        let source = std::fs::read_to_string(root("src").join(file)).unwrap();
        let at = source
            .find(function)
            .unwrap_or_else(|| panic!("{function} not found in {file}"));
        // The attributes right above the function.
        let attributes: Vec<&str> = source[..at]
            .lines()
            .rev()
            .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("///"))
            .collect();
        assert!(
            attributes
                .iter()
                .any(|l| l.trim() == "#[cfg(feature = \"issuer\")]"),
            "{file}: {function} is not behind #[cfg(feature = \"issuer\")]"
        );
    }
}
