; Popcorn-SX highlights.
;
; Of several patterns that capture one node, the first one wins, as in
; tree-sitter-highlight and Helix: the specific patterns come first, the
; catch-all `(identifier) @variable` last. Capture names follow
; nvim-treesitter's (`@keyword.conditional`, ...); a theme that knows only
; the first part (`@keyword`) uses that.

(comment) @comment

; ---------------------------------------------------------------- functions

(function_definition
  name: (identifier) @function)

(monitor_definition
  name: (identifier) @function)

(handler_definition
  name: (identifier) @function)

(guard_definition
  name: (identifier) @function)

(extern_declaration
  name: (identifier) @function)

; The SafeX API and the built-in helpers on `int`s.
(call_expression
  function: (identifier) @function.builtin
  (#any-of? @function.builtin
    "get_attribute" "set_attribute" "raise_event" "now_us" "block" "size"
    "min" "max" "abs" "clamp"))

(call_expression
  function: (identifier) @function.call)

; ---------------------------------------------------------------- names in strings

; Event names: after `on`, and the first argument of `raise_event`.
(handler_definition
  event: (string_literal) @string.special.symbol)

(call_expression
  function: (identifier) @_raise
  arguments: (argument_list
    .
    (string_literal) @string.special.symbol)
  (#eq? @_raise "raise_event"))

; Attribute names: after a guard's `for`, and the second argument of
; `get_attribute` and `set_attribute`.
(guard_definition
  attribute: (string_literal) @property)

(call_expression
  function: (identifier) @_attribute
  arguments: (argument_list
    .
    (_)
    .
    (string_literal) @property)
  (#any-of? @_attribute "get_attribute" "set_attribute"))

; ---------------------------------------------------------------- other names

(extension_declaration
  name: (identifier) @module)

(import_declaration
  module: (identifier) @module)

(event_declaration
  name: (identifier) @string.special.symbol)

; The exceptions: DivideByZero, OutOfBounds, Overflow, RangeError,
; NullCapability.
(handle_clause
  exception: (identifier) @type.builtin)

(raise_statement
  exception: (identifier) @type.builtin)

(label_statement
  label: (identifier) @label)

(goto_statement
  label: (identifier) @label)

(parameter
  name: (identifier) @variable.parameter)

(extern_parameter
  name: (identifier) @variable.parameter)

(const_declaration
  declarator: (variable_declarator
    name: (identifier) @constant))

((identifier) @constant
  (#match? @constant "^[A-Z][A-Z0-9_]*$"))

; ---------------------------------------------------------------- types

(primitive_type) @type.builtin

(type_identifier) @type

(field_identifier) @property

"cap" @type.builtin

; ---------------------------------------------------------------- literals

(number_literal) @number

[
  (true)
  (false)
] @boolean

(escape_sequence) @string.escape

(string_literal) @string

; ---------------------------------------------------------------- keywords

[
  "extension"
  "import"
] @keyword.import

[
  "const"
  "extern"
  "range"
  (readonly_modifier)
  (asm_qualifier)
] @keyword.modifier

[
  "struct"
  "attribute"
  "class"
  "event"
] @keyword.type

; Entry points: the kind, and what a handler or guard is attached to.
[
  "monitor"
  "handler"
  "guard"
  "on"
] @keyword.function

(guard_definition
  "for" @keyword.function)

[
  "if"
  "else"
  "switch"
  "case"
  "default"
] @keyword.conditional

[
  "while"
  "do"
  "for"
  "break"
  "continue"
] @keyword.repeat

"return" @keyword.return

[
  "try"
  "handle"
  "raise"
] @keyword.exception

[
  "budget"
  "goto"
  "asm"
  "__asm__"
  "__asm"
] @keyword

; ---------------------------------------------------------------- punctuation

(capability_type
  [
    "<"
    ">"
  ] @punctuation.bracket)

[
  "="
  "+="
  "-="
  "*="
  "/="
  "%="
  "<<="
  ">>="
  "&="
  "|="
  "^="
  "||"
  "&&"
  "|"
  "^"
  "&"
  "=="
  "!="
  "<"
  "<="
  ">"
  ">="
  "<<"
  ">>"
  "+"
  "-"
  "*"
  "/"
  "%"
  "!"
  "~"
  "++"
  "--"
  "->"
] @operator

[
  "("
  ")"
  "["
  "]"
  "{"
  "}"
] @punctuation.bracket

[
  ","
  ";"
  ":"
  "."
] @punctuation.delimiter

(identifier) @variable
