//! The layout holds: no module of the SDK, the C ABI or the server imports a
//! module that imports it back (directly or through others), and no module
//! of the Python package does. Read from the sources: every path that
//! starts with `crate::`, `super::` or `self::` outside comments and
//! `#[cfg(test)]` modules, inline or in a `use` tree of nested groups, is
//! an edge from the file's module to the module it names; in Python every
//! `import` and `from ... import` of the package's own modules, at the top
//! of a file or inside a function.

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

/// The code of a file without its comments, its unit-test module and the
/// insides of its string literals (a message may name a path).
fn code(source: &str) -> String {
    let source = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let lines = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    without_strings(&lines)
}

/// `text` with the contents of its string literals (plain and raw) left
/// out; char literals such as `'"'` are not taken for strings.
fn without_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A char literal: 'x' or an escape such as '\'' or '\u{..}'.
            let end = if chars.get(i + 1) == Some(&'\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None // a lifetime
            };
            match end {
                Some(end) => i = end + 1,
                None => {
                    out.push(c);
                    i += 1;
                }
            }
            continue;
        }
        if c == 'r' && matches!(chars.get(i + 1), Some('"' | '#')) {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) == Some(&'"') {
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let body: String = chars[i + 2 + hashes..].iter().collect();
                let skip = body.find(&close).map_or(body.len(), |p| p + close.len());
                out.push_str("\"\"");
                i += 2 + hashes + body[..skip].chars().count();
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The paths a `use` tree names, its groups expanded: `a::{b, c::{d, self}}`
/// is `a::b`, `a::c::d` and `a::c`.
fn expand_use(tree: &str) -> Vec<String> {
    let mut tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    for (spaced, tight) in [
        ("{ ", "{"),
        (" }", "}"),
        (", ", ","),
        (" ,", ","),
        (":: ", "::"),
    ] {
        tree = tree.replace(spaced, tight);
    }
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(&tree);
        return vec![path.trim_end_matches("::*").to_owned()];
    };
    let head = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    // The items of the group, split at its own commas (not a nested group's).
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| {
            expand_use(item)
                .into_iter()
                .map(|rest| match rest.as_str() {
                    "self" => head.to_owned(),
                    _ if head.is_empty() => rest,
                    _ => format!("{head}::{rest}"),
                })
        })
        .collect()
}

/// Every module path the code of module `module` names, made absolute
/// (`crate::a::b` is `a::b`; in module `x::y`, `super::z` is `x::z` and
/// `self::z` is `x::y::z`; a `mod.rs` is its folder's module, so the same
/// rules hold for it).
fn named_paths(module: &str, code: &str) -> Vec<String> {
    // `use` statements, groups and all; what is left is read for inline paths.
    let mut uses = Vec::new();
    let mut rest = String::new();
    let mut text = code;
    while let Some(at) = text.find("use ") {
        let starts_word =
            at == 0 || !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let end = text[at..].find(';').map(|e| at + e);
        // A `use` tree holds only paths, groups, `*` and `as`: anything else
        // (`use` in a string or an identifier) is not one.
        let is_tree = end.is_some_and(|end| {
            text[at + 4..end]
                .chars()
                .all(|c| c.is_alphanumeric() || "_:{},* \n\t".contains(c))
        });
        match (starts_word && is_tree, end) {
            (true, Some(end)) => {
                rest.push_str(&text[..at]);
                uses.extend(expand_use(&text[at + 4..end]));
                text = &text[end + 1..];
            }
            _ => {
                rest.push_str(&text[..at + 4]);
                text = &text[at + 4..];
            }
        }
    }
    rest.push_str(text);
    let mut paths = uses;
    for anchor in ["crate::", "super::", "self::"] {
        for (i, _) in rest.match_indices(anchor) {
            if rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `super::` inside `super::super::`, or another crate's path
            }
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            paths.push(tail[..end].trim_end_matches(':').to_owned());
        }
    }
    let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    // A path that starts with a child this file declares (`mod genesys;`
    // and then `genesys::routes()`) names that child: a parent depends on
    // the children it calls, which a cycle may run through.
    let children: Vec<String> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect();
    for child in &children {
        paths.extend(through_alias(&rest, child).map(|tail| format!("self::{child}::{tail}")));
    }
    paths
        .into_iter()
        .filter_map(|path| {
            let mut segments: Vec<&str> = path.split("::").collect();
            let mut base: Vec<&str> = match segments.first().copied() {
                Some("crate") => {
                    segments.remove(0);
                    Vec::new()
                }
                Some("self") => {
                    segments.remove(0);
                    own.clone()
                }
                Some("super") => {
                    let mut base = own.clone();
                    while segments.first() == Some(&"super") {
                        segments.remove(0);
                        base.pop()?;
                    }
                    base
                }
                _ => return None, // another crate's, or a child's bare name
            };
            base.extend(segments);
            Some(base.join("::"))
        })
        .collect()
}

/// What the code names through `alias` (`alias::a::b` gives `a::b`), where
/// `alias` starts a path (not after `::`, not inside another name).
fn through_alias<'a>(code: &'a str, alias: &'a str) -> impl Iterator<Item = String> + 'a {
    let anchor = format!("{alias}::");
    code.match_indices(anchor.clone().as_str())
        .map(|(i, _)| i)
        .collect::<Vec<_>>()
        .into_iter()
        .filter(move |&i| {
            !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
        })
        .map(move |i| {
            let tail = &code[i + anchor.len()..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            tail[..end].trim_end_matches(':').to_owned()
        })
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
        let code = code(source);
        let mut paths = named_paths(name, &code);
        // A module brought into scope (`use crate::products;`) is no edge
        // by itself: what the code names through it is (`products::db::x`
        // is an edge to `products::db`, not to `products`).
        let imported: Vec<String> = paths
            .iter()
            .filter(|p| names.contains(*p) && !p.is_empty())
            .cloned()
            .collect();
        paths.retain(|p| !imported.contains(p));
        for module in &imported {
            let alias = module.rsplit("::").next().unwrap_or(module);
            paths.extend(through_alias(&code, alias).map(|rest| format!("{module}::{rest}")));
        }
        for path in paths {
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

/// The import graph of a Python package's modules: module -> the modules
/// of the package it imports (`from . import a`, `from .a import x`,
/// `from tessera.a import x`, `import tessera.a`), anywhere in the file.
fn python_graph(package: &Path, name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(package).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            modules.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let own = |m: &str| -> Option<String> {
        let m = m
            .strip_prefix('.')
            .or_else(|| m.strip_prefix(&format!("{name}.")))?;
        Some(m.split('.').next().unwrap_or(m).to_owned())
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, source) in &modules {
        let targets = edges.entry(module.clone()).or_default();
        for line in source.lines().map(str::trim) {
            let mut named = Vec::new();
            if let Some(rest) = line.strip_prefix("from ") {
                let Some((from, what)) = rest.split_once(" import ") else {
                    continue;
                };
                if from == "." || from == name {
                    // `from . import a, b as c`
                    named.extend(
                        what.split(',')
                            .map(|w| w.split(" as ").next().unwrap_or(w).trim().to_owned()),
                    );
                } else if let Some(m) = own(from) {
                    named.push(m);
                }
            } else if let Some(rest) = line.strip_prefix("import ") {
                named.extend(rest.split(',').filter_map(|m| own(m.trim())));
            }
            for m in named {
                if names.contains(&m) && m != *module && m != "__init__" {
                    targets.insert(m);
                }
            }
        }
    }
    edges
}

#[test]
fn no_python_module_imports_one_that_imports_it_back() {
    let graph = python_graph(&root("bindings/python/tessera"), "tessera");
    assert!(
        graph["_api"].contains("_ffi"),
        "the reader sees imports: {graph:?}"
    );
    assert_eq!(cycles_of(&graph), Vec::<Vec<String>>::new(), "{graph:?}");
    // The declarations import nothing of the package: what they are
    // checked against is the header alone.
    assert_eq!(graph["_ffi"], BTreeSet::new());

    // The checker finds the cycle `_ffi` and `errors` used to make, through
    // an import inside a function.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("_ffi.py"),
        "def f():\n    from .errors import raise_last\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("errors.py"), "from . import _ffi\n").unwrap();
    assert_eq!(
        cycles_of(&python_graph(dir.path(), "tessera")),
        vec![vec!["_ffi".to_owned(), "errors".to_owned()]]
    );
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
    write("b.rs", "use crate::{c::Other, a};\nfn f() { a::g() }\n");
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

    // Through `super::` and nested groups, as the Keygen trio's cycle ran.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    std::fs::create_dir(dir.path().join("k")).unwrap();
    write("lib.rs", "mod k;\nmod z;\n");
    write("k/mod.rs", "mod p;\nmod q;\nmod r;\n");
    write("k/p.rs", "use super::q::Thing;\n");
    write("k/q.rs", "use crate::{z, k::{r::{self, Other}}};\n");
    write("k/r.rs", "fn f() { super::super::k::p::g() }\n");
    write("z.rs", "use self::inner::X;\nmod inner;\n");
    assert_eq!(
        cycles(dir.path()),
        vec![vec![
            "k::p".to_owned(),
            "k::q".to_owned(),
            "k::r".to_owned()
        ]]
    );
    // `use` in a string is no import, and an alias is read as its path.
    write(
        "k/r.rs",
        "const S: &str = \"use crate::k::p; elsewhere\";\nuse crate::z as zz;\n",
    );
    assert_eq!(cycles(dir.path()), Vec::<Vec<String>>::new());
    // `use crate::k;` in z is no edge to k (whose children import z); only
    // what z names through it is: here k::p, which makes the cycle.
    write("k/r.rs", "use crate::z;\nfn h() { z::f() }\n");
    write("z.rs", "use crate::k;\nfn f() {}\n");
    assert_eq!(cycles(dir.path()), Vec::<Vec<String>>::new());
    write("z.rs", "use crate::k;\nfn f() { k::p::g() }\n");
    write("k/p.rs", "use crate::k::r::X;\n");
    assert_eq!(
        cycles(dir.path()),
        vec![vec!["k::p".to_owned(), "k::r".to_owned(), "z".to_owned()]]
    );
    // Through a parent that calls its child by its bare name, as
    // `http -> compat -> compat::genesys -> http` ran.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    std::fs::create_dir(dir.path().join("compat")).unwrap();
    write("lib.rs", "mod compat;\nmod http;\n");
    write("http.rs", "fn f() { crate::compat::refusal() }\n");
    write(
        "compat/mod.rs",
        "mod genesys;\npub fn refusal() { genesys::routes() }\n",
    );
    write(
        "compat/genesys.rs",
        "use crate::http::Answer;\npub fn routes() {}\n",
    );
    assert_eq!(
        cycles(dir.path()),
        vec![vec![
            "compat".to_owned(),
            "compat::genesys".to_owned(),
            "http".to_owned()
        ]]
    );
    assert_eq!(
        expand_use("crate::a::{b as c, d::{self, e}}"),
        ["crate::a::b", "crate::a::d", "crate::a::d::e"]
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
