//! The operator crate's shape, held to what `docs/architecture.md` promises (pure tier: reads
//! the sources, runs nothing): no two modules import each other in a circle, no module hands on
//! its siblings' items (`pub use super::…`), no function in `controller/` is longer than 80
//! lines, the reconcile driver's `provision` fits on a screen, and no source folder is called
//! `build/` (the name tools skip as build output).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::a::b` for `src/a/b.rs` or `src/a/b/mod.rs`; `crate` for `src/lib.rs`; None for the
/// binary's `main.rs`.
fn module_of(file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src()).ok()?;
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// The file's code without its unit tests (`#[cfg(test)]` to the end: tests come last here) and
/// without comments.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("read source");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every module path this code names through `crate::` or `super::`, braces expanded one level
/// (`crate::a::{b, c::d}` names `a::b` and `a::c::d`).
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (start, root) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if start > 0 && code[..start].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        let mut base: Vec<String> = if root == "crate::" {
            Vec::new()
        } else {
            // `super` of module a::b (`a/b.rs` or `a/b/mod.rs`) is a.
            let mut m = module.to_vec();
            m.pop();
            m
        };
        let mut rest = &code[start + root.len()..];
        loop {
            let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if ident.is_empty() {
                break;
            }
            rest = &rest[ident.len()..];
            base.push(ident);
            if let Some(next) = rest.strip_prefix("::") {
                rest = next;
            } else {
                break;
            }
        }
        if let Some(inner) = rest.strip_prefix('{') {
            for item in top_level_items(inner) {
                // `requests::{x, y}` inside the group names the module `calls`.
                let item = item.split("::{").next().unwrap_or_default();
                let mut path = base.clone();
                path.extend(
                    item.split("::")
                        .map(|p| p.split_whitespace().next().unwrap_or_default())
                        .filter(|p| !p.is_empty() && *p != "self" && *p != "*")
                        .map(String::from),
                );
                found.push(path);
            }
        } else {
            found.push(base);
        }
    }
    found
}

/// The items of a brace group (the text after its `{`), split at its own commas, up to its `}`.
fn top_level_items(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The crate's module graph: each module file and the module files it names.
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .filter_map(|f| module_of(f).map(|m| (m, f.clone())))
        .collect();
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let mut to = BTreeSet::new();
        for path in named_paths(&code(file), module) {
            // The longest prefix of the path that is a module file.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| modules.contains_key(prefix));
            if let Some(target) = target
                && &target != module
                && !target.is_empty()
            {
                to.insert(target);
            }
        }
        edges.insert(module.clone(), to);
    }
    edges
}

/// The modules that import each other in a circle (Tarjan's strongly connected components of
/// more than one module).
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a Vec<String>) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.join("::"));
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
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found
}

#[test]
fn the_circle_finder_finds_a_circle_and_none_where_there_is_none() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let mut edges = BTreeMap::new();
    edges.insert(m("a"), BTreeSet::from([m("b")]));
    edges.insert(m("b"), BTreeSet::from([m("c")]));
    edges.insert(m("c"), BTreeSet::new());
    assert!(circles(&edges).is_empty());
    edges.insert(m("c"), BTreeSet::from([m("a")]));
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
    let code = "use crate::controller::{apply::child, requests::{x, y}};\nuse super::Foo;";
    let paths = named_paths(code, &m("controller::driver"));
    assert!(paths.contains(&m("controller::apply::child")), "{paths:?}");
    assert!(paths.contains(&m("controller::requests")), "{paths:?}");
    assert!(paths.contains(&m("controller::Foo")), "{paths:?}");
}

#[test]
fn no_two_modules_import_each_other_in_a_circle() {
    let edges = graph();
    assert!(
        edges.len() > 40,
        "the graph holds the crate's modules: {}",
        edges.len()
    );
    assert!(
        edges[&vec!["controller".to_string(), "driver".to_string()]]
            .contains(&vec!["controller".to_string(), "assess".to_string()]),
        "the driver's imports are read"
    );
    let found = circles(&edges);
    assert!(found.is_empty(), "modules in a circle: {found:?}");
}

#[test]
fn no_module_hands_on_its_siblings_items() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            code(f).lines().any(|l| {
                let l = l.trim();
                l.starts_with("pub use super::") || l.starts_with("pub use crate::")
            })
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "re-exports of other modules' items: {offenders:?}"
    );
}

/// (lines, function) of every function in `file` longer than `limit` lines.
fn long_functions(file: &Path, limit: usize) -> Vec<(usize, String)> {
    let code = code(file);
    let lines: Vec<&str> = code.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(after) = [
            "pub fn ",
            "fn ",
            "pub async fn ",
            "async fn ",
            "pub(crate) fn ",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p)) else {
            continue;
        };
        let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
        let mut depth = 0i64;
        let mut opened = false;
        for (j, l) in lines.iter().enumerate().skip(i) {
            if !opened && l.trim_end().ends_with(';') {
                break;
            }
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            opened |= l.contains('{');
            if opened && depth <= 0 {
                if j - i + 1 > limit {
                    long.push((j - i + 1, name.clone()));
                }
                break;
            }
        }
    }
    long
}

#[test]
fn controller_functions_fit_in_eighty_lines_and_the_driver_on_a_screen() {
    let mut files = Vec::new();
    rust_files(&src().join("controller"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let long: Vec<String> = files
        .iter()
        .flat_map(|f| {
            long_functions(f, 80)
                .into_iter()
                .map(move |(n, name)| format!("{}: {name} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "{long:?}");
    let driver = long_functions(&src().join("controller/driver.rs"), 60);
    assert!(driver.is_empty(), "the driver's functions: {driver:?}");
    assert!(
        !long_functions(&src().join("controller/driver.rs"), 20).is_empty(),
        "the measure reads functions"
    );
}

#[test]
fn no_source_folder_is_called_build() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let build: Vec<_> = files
        .iter()
        .filter(|f| {
            f.strip_prefix(src())
                .is_ok_and(|r| r.iter().any(|p| p == "build"))
        })
        .collect();
    assert!(build.is_empty(), "{build:?}");
}
