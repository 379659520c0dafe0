//! The crate's shape, drawn from its own imports: the folders stack in layers (a module uses
//! only what lies below it), no file of the crate uses one that uses it back, no task uses
//! another, and no source file grows past about 500 lines. A newcomer's map (CONTRIBUTING.md)
//! stays true because this fails when it stops being so.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The top-level modules, lowest first: each may use those of the layers before its own.
const LAYERS: &[&[&str]] = &[
    &["signals", "fingerprint", "http", "flags"],
    &["console", "config"],
    &["engine"],
    &["project"],
    &["runner"],
    &["machinery"],
    &["tasks", "bench"],
    &["main"],
];

/// Lines a source file may have: about 500, with the slack "about" gives.
const MAX_LINES: usize = 560;

type Module = Vec<String>;

/// Every source file's module path (`runner/mod.rs` is `runner`, `main.rs` is empty) and its
/// text up to its unit tests, with comments removed.
fn sources() -> BTreeMap<Module, (String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<Module, (String, String)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
                continue;
            }
            let relative = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let Some(stem) = relative.strip_suffix(".rs") else {
                continue;
            };
            let mut module: Module = stem.split('/').map(String::from).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "main")) {
                module.pop();
            }
            // Unit tests may reach anywhere in the crate: they are not part of its shape.
            if module.last().is_some_and(|last| last == "tests") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let code: String = code
                .lines()
                .map(|line| without_strings(line.split("//").next().unwrap()))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(module, (relative, code));
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// `line` with what its string literals hold left out: `"docker::x"` in a message uses nothing.
fn without_strings(line: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in line.chars() {
        match (quoted, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, true, _) => escaped = false,
            (_, _, '"') => quoted = !quoted,
            (false, _, c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// The modules `code`, in `module`, uses: every `crate::a::b`, `super::a`, `self::a` path and
/// `use a::...` of a child, to the longest prefix that is a file of the crate.
fn uses(module: &Module, code: &str, files: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut found = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == ','))
        .filter(|word| !word.is_empty())
        .collect();
    for word in words {
        let (base, rest): (Module, &str) = if let Some(rest) = word.strip_prefix("crate::") {
            (Vec::new(), rest)
        } else if let Some(rest) = word.strip_prefix("super::") {
            (module[..module.len().saturating_sub(1)].to_vec(), rest)
        } else if let Some(rest) = word.strip_prefix("self::") {
            (module.clone(), rest)
        } else if word.contains("::") {
            (module.clone(), word)
        } else {
            // A bare name (`mod session;`, a local) uses nothing
            continue;
        };
        // `crate::{a, b::c}` names several
        for path in rest.trim_start_matches('{').split(',') {
            let mut current = base.clone();
            for segment in path.trim_start_matches('{').split("::").filter(|s| !s.is_empty()) {
                current.push(segment.to_string());
                if !files.contains(&current) {
                    current.pop();
                    break;
                }
            }
            if &current != module && current.len() > base.len() {
                found.insert(current);
            }
        }
    }
    found
}

fn graph() -> (BTreeMap<Module, String>, BTreeMap<Module, BTreeSet<Module>>) {
    let sources = sources();
    let files: BTreeSet<Module> = sources.keys().cloned().collect();
    let names = sources
        .iter()
        .map(|(module, (path, _))| (module.clone(), path.clone()))
        .collect();
    let edges = sources
        .iter()
        .map(|(module, (_, code))| (module.clone(), uses(module, code, &files)))
        .collect();
    (names, edges)
}

fn layer(module: &Module) -> usize {
    let top = module.first().map_or("main", String::as_str);
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("`{top}` is in no layer of LAYERS: put it in one"))
}

#[test]
fn each_module_uses_only_the_layers_below_its_own() {
    let (names, edges) = graph();
    let mut wrong = Vec::new();
    for (module, used) in &edges {
        for other in used {
            let same_folder = module.first() == other.first();
            if !same_folder && layer(other) >= layer(module) {
                wrong.push(format!("{} uses {}", names[module], names[other]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_of_the_crate_uses_one_that_uses_it_back() {
    let (names, edges) = graph();
    // Depth-first, with the path walked so far: a module met again on it closes a circle.
    fn visit(
        module: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        circles: &mut Vec<Vec<Module>>,
    ) {
        if let Some(at) = path.iter().position(|seen| seen == module) {
            circles.push(path[at..].to_vec());
            return;
        }
        if !done.insert(module.clone()) {
            return;
        }
        path.push(module.clone());
        for next in edges.get(module).into_iter().flatten() {
            visit(next, edges, path, done, circles);
        }
        path.pop();
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done, &mut circles);
    }
    let said: Vec<String> = circles
        .iter()
        .map(|circle| {
            circle
                .iter()
                .map(|module| names[module].as_str())
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(said.is_empty(), "circles:\n{}", said.join("\n"));
}

#[test]
fn no_task_uses_another() {
    let (names, edges) = graph();
    let is_task = |module: &Module| module.len() == 2 && module[0] == "tasks";
    let wrong: Vec<String> = edges
        .iter()
        .filter(|(module, _)| is_task(module))
        .flat_map(|(module, used)| {
            used.iter()
                .filter(|other| is_task(other))
                .map(move |other| (module, other))
        })
        .map(|(module, other)| format!("{} uses {}", names[module], names[other]))
        .collect();
    assert!(
        wrong.is_empty(),
        "tasks share code through machinery/, never each other:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_source_file_is_over_about_five_hundred_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    let mut stack = vec![root.join("src"), root.join("tests")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let lines = fs::read_to_string(&path).unwrap().lines().count();
                if lines > MAX_LINES {
                    long.push(format!("{}: {lines} lines", path.strip_prefix(root).unwrap().display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "split these by what they hold:\n{}", long.join("\n"));
}

#[test]
fn the_checks_see_an_import_that_points_up_and_a_circle() {
    // The drawing itself, on made-up files: a test that cannot fail would prove nothing.
    let files: BTreeSet<Module> = [vec![], vec!["runner".into()], vec!["runner".into(), "session".into()]]
        .into_iter()
        .collect();
    let session: Module = vec!["runner".into(), "session".into()];
    let runner: Module = vec!["runner".into()];
    assert_eq!(
        uses(
            &session,
            "use super::Runner;\nuse crate::runner::{READ, session::x};",
            &files
        ),
        [runner.clone()].into_iter().collect()
    );
    assert_eq!(
        uses(&runner, "mod session;\nuse session::Session;", &files),
        [session].into_iter().collect()
    );
    assert!(uses(&runner, "use std::process::Command;", &files).is_empty());
    assert!(uses(&runner, &without_strings(r#"bail!("see session::x");"#), &files).is_empty());
}
