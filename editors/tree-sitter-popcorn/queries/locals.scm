; Popcorn-SX scopes, definitions and references.

; Scopes: a function's parameters share the scope of its body's top level;
; a `for`'s declaration is scoped to the loop; each `case` arm is a scope.
[
  (function_definition)
  (monitor_definition)
  (handler_definition)
  (guard_definition)
  (compound_statement)
  (for_statement)
  (case_clause)
] @local.scope

; Definitions
(parameter
  name: (identifier) @local.definition)

(variable_declarator
  name: (identifier) @local.definition)

; References
(identifier) @local.reference
