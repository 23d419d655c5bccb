//! Helpers shared by the integration tests.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser, Tree};

/// The repository root (this crate is `editors/tree-sitter-popcorn`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_popcorn::LANGUAGE.into())
        .expect("the generated parser's ABI matches the tree-sitter crate");
    parser
}

pub fn parse(parser: &mut Parser, source: &str) -> Tree {
    parser.parse(source, None).expect("tree-sitter returns a tree")
}

/// Every `.pop` file under `root`, sorted, skipping build output (`target`)
/// and hidden directories.
pub fn pop_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let file_type = entry.file_type().expect("file type");
            if file_type.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if file_type.is_file() && path.extension().is_some_and(|e| e == "pop") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The first ERROR or MISSING node, if any, as `kind at line:column`
/// (1-based).
pub fn first_error(node: Node<'_>) -> Option<String> {
    if !node.has_error() {
        return None;
    }
    if node.is_error() || node.is_missing() {
        let p = node.start_position();
        let what = if node.is_missing() {
            format!("MISSING {}", node.kind())
        } else {
            "ERROR".to_owned()
        };
        return Some(format!("{what} at {}:{}", p.row + 1, p.column + 1));
    }
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
    children.into_iter().find_map(first_error)
}

/// Whether the front-end finds a syntax error (P0001) or a lexical one
/// (P0002) in `source`. `None` when it cannot say: brackets nested too
/// deep (P0004) stop it before parsing.
pub fn front_end_syntax_error(source: &str) -> Option<bool> {
    match popcorn_front::parse(source) {
        Ok(_) => Some(false),
        Err(diagnostics) => {
            if diagnostics.iter().any(|d| d.code == "P0004") {
                return None;
            }
            Some(diagnostics.iter().any(|d| d.code == "P0001" || d.code == "P0002"))
        }
    }
}
