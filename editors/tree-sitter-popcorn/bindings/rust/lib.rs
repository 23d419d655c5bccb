//! Popcorn-SX language support for the [tree-sitter] parsing library: the
//! parser generated from `grammar.js`, and the editor queries.
//!
//! ```
//! let code = r#"
//! extension demo;
//! monitor void m(cap<cpu_qos> app) { raise_event("Tick", 1); }
//! "#;
//! let mut parser = tree_sitter::Parser::new();
//! parser
//!     .set_language(&tree_sitter_popcorn::LANGUAGE.into())
//!     .expect("Error loading the Popcorn-SX parser");
//! let tree = parser.parse(code, None).unwrap();
//! assert!(!tree.root_node().has_error());
//! ```
//!
//! [tree-sitter]: https://tree-sitter.github.io/

use tree_sitter_language::LanguageFn;

unsafe extern "C" {
    fn tree_sitter_popcorn() -> *const ();
}

/// The tree-sitter [`LanguageFn`] for this grammar.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_popcorn) };

/// The grammar, for callers that prefer a function: `language().into()` is
/// a `tree_sitter::Language`.
#[must_use]
pub const fn language() -> LanguageFn {
    LANGUAGE
}

/// The content of the [`node-types.json`] file for this grammar.
///
/// [`node-types.json`]: https://tree-sitter.github.io/tree-sitter/using-parsers/6-static-node-types
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");

/// The syntax highlighting query for this grammar.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The local variable query for this grammar.
pub const LOCALS_QUERY: &str = include_str!("../../queries/locals.scm");

#[cfg(test)]
mod tests {
    #[test]
    fn test_can_load_grammar() {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&super::LANGUAGE.into())
            .expect("Error loading the Popcorn-SX parser");
    }
}
