/**
 * @file Tree-sitter grammar for Popcorn-SX, the safe C dialect SafeX
 *       extensions are written in (`.pop` files).
 * @license Apache-2.0
 *
 * It follows the front-end's own grammar (`popcorn-front/src/grammar.lalrpop`)
 * and lexer (`popcorn-front/src/lexer.rs`): a file this grammar parses
 * without an ERROR or MISSING node is one the front-end parses without a
 * syntax error (P0001/P0002), and the other way round; the crate's tests
 * check that on every `.pop` file of the repository and on mutants of them
 * (the one known difference, `&&` where an operand goes, is in README.md).
 * Like the front-end's parser, it accepts the C constructs that the checker
 * then refuses with a precise error (casts, pointers, `->`, `goto` and
 * labels, inline assembly), so that an editor shows them as what they are.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

// C's precedence, loosest first (docs/language.md, "Expressions").
const PREC = {
  ASSIGN: 1,
  OR: 2,
  AND: 3,
  BIT_OR: 4,
  BIT_XOR: 5,
  BIT_AND: 6,
  EQUALITY: 7,
  RELATIONAL: 8,
  SHIFT: 9,
  ADDITIVE: 10,
  MULTIPLICATIVE: 11,
  UNARY: 12,
  POSTFIX: 13,
};

// Every keyword of the lexer: none of them can be a name.
const KEYWORDS = [
  'extension', 'import', 'const', 'budget', 'struct', 'attribute', 'class',
  'readonly', 'range', 'event', 'monitor', 'handler', 'guard', 'on', 'for',
  'if', 'else', 'while', 'do', 'switch', 'case', 'default', 'break',
  'continue', 'return', 'try', 'handle', 'raise', 'true', 'false', 'int',
  'bool', 'void', 'cap', 'extern', 'goto', 'asm', '__asm__', '__asm',
  'volatile', '__volatile__', '__volatile',
];

module.exports = grammar({
  name: 'popcorn',

  word: $ => $.identifier,

  extras: $ => [/[ \t\r\n\f\x0B]/, $.comment],

  // The lexer makes every keyword a keyword everywhere: `int while;` is a
  // syntax error, not a variable named `while`.
  reserved: {
    global: _ => KEYWORDS,
  },

  supertypes: $ => [$._expression, $._type, $._statement],

  rules: {
    source_file: $ => repeat($._top_level_item),

    _top_level_item: $ => choice(
      $.extension_declaration,
      $.import_declaration,
      $.budget_declaration,
      $.const_declaration,
      $.declaration,
      $.struct_definition,
      $.attribute_class_definition,
      $.event_declaration,
      $.function_definition,
      $.monitor_definition,
      $.handler_definition,
      $.guard_definition,
      $.extern_declaration,
      // A stray `;`, such as the one C puts after `struct s { ... }`.
      ';',
    ),

    // ------------------------------------------------------------ items

    extension_declaration: $ => seq('extension', field('name', $.identifier), ';'),

    import_declaration: $ => seq('import', field('module', $.identifier), ';'),

    budget_declaration: $ => seq('budget', field('value', $._expression), ';'),

    // One name per `const` (the front-end takes no `, b = 2` here).
    const_declaration: $ => seq(
      'const',
      field('type', $._type),
      field('declarator', $.variable_declarator),
      ';',
    ),

    event_declaration: $ => seq('event', field('name', $.identifier), ';'),

    struct_definition: $ => seq(
      'struct',
      field('name', $._type_identifier),
      field('body', $.field_declaration_list),
    ),

    field_declaration_list: $ => seq('{', repeat($.field_declaration), '}'),

    field_declaration: $ => seq(
      field('type', $._type),
      field('name', $._field_identifier),
      optional(seq('[', field('size', $._expression), ']')),
      ';',
    ),

    attribute_class_definition: $ => seq(
      'attribute',
      'class',
      field('name', $._type_identifier),
      field('body', $.attribute_declaration_list),
    ),

    attribute_declaration_list: $ => seq('{', repeat($.attribute_declaration), '}'),

    attribute_declaration: $ => seq(
      field('type', $._type),
      field('name', $._field_identifier),
      optional(choice(
        $.readonly_modifier,
        field('range', $.range_constraint),
        seq($.readonly_modifier, field('range', $.range_constraint)),
        seq(field('range', $.range_constraint), $.readonly_modifier),
      )),
      ';',
    ),

    readonly_modifier: _ => 'readonly',

    range_constraint: $ => seq(
      'range',
      '(',
      field('low', $._expression),
      ',',
      field('high', $._expression),
      ')',
    ),

    function_definition: $ => seq(
      field('type', $._type),
      field('name', $.identifier),
      field('parameters', $.parameter_list),
      field('body', $.compound_statement),
    ),

    monitor_definition: $ => seq(
      'monitor',
      field('type', $._type),
      field('name', $.identifier),
      field('parameters', $.parameter_list),
      field('body', $.compound_statement),
    ),

    handler_definition: $ => seq(
      'handler',
      field('type', $._type),
      field('name', $.identifier),
      field('parameters', $.parameter_list),
      'on',
      field('event', $.string_literal),
      field('body', $.compound_statement),
    ),

    guard_definition: $ => seq(
      'guard',
      field('type', $._type),
      field('name', $.identifier),
      field('parameters', $.parameter_list),
      'for',
      field('attribute', $.string_literal),
      field('body', $.compound_statement),
    ),

    // `()`, C's `(void)`, or parameters.
    parameter_list: $ => seq(
      '(',
      optional(choice(
        alias('void', $.primitive_type),
        commaSep1($.parameter),
      )),
      ')',
    ),

    parameter: $ => seq(
      field('type', $._type),
      field('name', $.identifier),
      optional($.array_brackets),
    ),

    // The `[]` of an array parameter, passed by reference.
    array_brackets: _ => seq('[', ']'),

    // Declarations of the SafeX API, accepted and ignored: C's unnamed
    // parameters and the API's `"name"` parameters are allowed.
    extern_declaration: $ => seq(
      'extern',
      field('type', $._type),
      field('name', $.identifier),
      field('parameters', $.extern_parameter_list),
      ';',
    ),

    extern_parameter_list: $ => seq(
      '(',
      commaSep(choice($.extern_parameter, $.string_literal)),
      ')',
    ),

    extern_parameter: $ => seq(
      field('type', $._type),
      optional(field('name', $.identifier)),
      optional($.array_brackets),
    ),

    // ------------------------------------------------------------ types

    _type: $ => choice(
      $.primitive_type,
      $.struct_type,
      $.capability_type,
      $.pointer_type,
    ),

    primitive_type: _ => choice('int', 'bool', 'void'),

    struct_type: $ => seq('struct', field('name', $._type_identifier)),

    capability_type: $ => seq('cap', '<', field('class', $._type_identifier), '>'),

    // Parsed so that the checker can refuse it (P0302).
    pointer_type: $ => seq(field('type', $._type), '*'),

    // ------------------------------------------------------------ declarations

    // `int a = 1, b[4], c = {1, 2};`: globals, and locals in a block.
    declaration: $ => seq(
      field('type', $._type),
      commaSep1(field('declarator', $.variable_declarator)),
      ';',
    ),

    // Where a single statement goes (`if (c) int x = 1;`), and in a `for`'s
    // initializer, the front-end takes one name only.
    _single_declaration: $ => seq(
      field('type', $._type),
      field('declarator', $.variable_declarator),
    ),

    _single_declaration_statement: $ => seq($._single_declaration, ';'),

    variable_declarator: $ => seq(
      field('name', $.identifier),
      optional(seq('[', field('size', $._expression), ']')),
      optional(seq('=', field('value', choice($._expression, $.initializer_list)))),
    ),

    initializer_list: $ => seq(
      '{',
      optional(seq(commaSep1($._expression), optional(','))),
      '}',
    ),

    // ------------------------------------------------------------ statements

    compound_statement: $ => seq('{', repeat($._block_item), '}'),

    _block_item: $ => choice($.declaration, $._statement),

    // A statement where C allows one (the body of `if`, `while`, `for`, `do`).
    _sub_statement: $ => choice(
      $._statement,
      alias($._single_declaration_statement, $.declaration),
    ),

    _statement: $ => choice(
      $.compound_statement,
      $.expression_statement,
      $.empty_statement,
      $.if_statement,
      $.while_statement,
      $.do_statement,
      $.for_statement,
      $.switch_statement,
      $.break_statement,
      $.continue_statement,
      $.return_statement,
      $.try_statement,
      $.raise_statement,
      $.goto_statement,
      $.label_statement,
      $.asm_statement,
    ),

    expression_statement: $ => seq($._expression, ';'),

    empty_statement: _ => ';',

    // An `else` belongs to the nearest `if`.
    if_statement: $ => prec.right(seq(
      'if',
      '(',
      field('condition', $._expression),
      ')',
      field('consequence', $._sub_statement),
      optional(seq('else', field('alternative', $._sub_statement))),
    )),

    while_statement: $ => seq(
      'while',
      '(',
      field('condition', $._expression),
      ')',
      field('body', $._sub_statement),
    ),

    do_statement: $ => seq(
      'do',
      field('body', $._sub_statement),
      'while',
      '(',
      field('condition', $._expression),
      ')',
      ';',
    ),

    for_statement: $ => seq(
      'for',
      '(',
      optional(field('initializer', choice(
        alias($._single_declaration, $.declaration),
        $._expression,
      ))),
      ';',
      optional(field('condition', $._expression)),
      ';',
      optional(field('update', $._expression)),
      ')',
      field('body', $._sub_statement),
    ),

    switch_statement: $ => seq(
      'switch',
      '(',
      field('value', $._expression),
      ')',
      field('body', $.switch_body),
    ),

    switch_body: $ => seq('{', repeat($.case_clause), '}'),

    // `case 1:` or `default:`, then the arm's statements (none for an arm
    // that falls into the next).
    case_clause: $ => seq(
      choice(seq('case', field('value', $._expression)), 'default'),
      ':',
      repeat($._block_item),
    ),

    break_statement: _ => seq('break', ';'),

    continue_statement: _ => seq('continue', ';'),

    return_statement: $ => seq('return', optional($._expression), ';'),

    try_statement: $ => seq(
      'try',
      field('body', $.compound_statement),
      repeat1($.handle_clause),
    ),

    handle_clause: $ => seq(
      'handle',
      field('exception', $.identifier),
      field('body', $.compound_statement),
    ),

    raise_statement: $ => seq('raise', field('exception', $.identifier), ';'),

    // Parsed so that the checker can refuse them (P0308).
    goto_statement: $ => seq('goto', field('label', $.identifier), ';'),

    label_statement: $ => seq(field('label', $.identifier), ':'),

    // GCC's inline assembly, parsed so that the checker can refuse it (P0303).
    asm_statement: $ => seq(
      choice('asm', '__asm__', '__asm'),
      repeat($.asm_qualifier),
      '(',
      repeat1(field('template', $.string_literal)),
      repeat($.asm_section),
      ')',
      ';',
    ),

    asm_qualifier: _ => choice('volatile', '__volatile__', '__volatile', 'goto'),

    asm_section: $ => seq(':', commaSep($.asm_operand)),

    asm_operand: $ => choice(
      seq(
        optional(seq('[', field('symbol', $.identifier), ']')),
        field('constraint', $.string_literal),
        optional(seq('(', field('value', $._expression), ')')),
      ),
      field('label', $.identifier),
    ),

    // ------------------------------------------------------------ expressions

    _expression: $ => choice(
      $.identifier,
      $.number_literal,
      $.true,
      $.false,
      $.string_literal,
      $.call_expression,
      $.parenthesized_expression,
      $.subscript_expression,
      $.field_expression,
      $.update_expression,
      $.unary_expression,
      $.pointer_expression,
      $.cast_expression,
      $.binary_expression,
      $.assignment_expression,
    ),

    // Assignments are right-associative and bind loosest; the left side is
    // any operand expression (the checker says which can be assigned).
    assignment_expression: $ => prec.right(PREC.ASSIGN, seq(
      field('left', $._expression),
      field('operator', choice(
        '=', '+=', '-=', '*=', '/=', '%=', '<<=', '>>=', '&=', '|=', '^=',
      )),
      field('right', $._expression),
    )),

    binary_expression: $ => {
      const table = [
        ['||', PREC.OR],
        ['&&', PREC.AND],
        ['|', PREC.BIT_OR],
        ['^', PREC.BIT_XOR],
        ['&', PREC.BIT_AND],
        ['==', PREC.EQUALITY],
        ['!=', PREC.EQUALITY],
        ['<', PREC.RELATIONAL],
        ['<=', PREC.RELATIONAL],
        ['>', PREC.RELATIONAL],
        ['>=', PREC.RELATIONAL],
        ['<<', PREC.SHIFT],
        ['>>', PREC.SHIFT],
        ['+', PREC.ADDITIVE],
        ['-', PREC.ADDITIVE],
        ['*', PREC.MULTIPLICATIVE],
        ['/', PREC.MULTIPLICATIVE],
        ['%', PREC.MULTIPLICATIVE],
      ];
      return choice(...table.map(([operator, precedence]) =>
        prec.left(precedence, seq(
          field('left', $._expression),
          // @ts-ignore
          field('operator', operator),
          field('right', $._expression),
        )),
      ));
    },

    unary_expression: $ => prec(PREC.UNARY, seq(
      field('operator', choice('-', '!', '~')),
      field('argument', $._expression),
    )),

    // `&x` and `*p`: parsed so that the checker can refuse them (P0302).
    pointer_expression: $ => prec(PREC.UNARY, seq(
      field('operator', choice('&', '*')),
      field('argument', $._expression),
    )),

    // `(int) x`: unambiguous, since every type starts with a keyword;
    // refused by the checker (P0301).
    cast_expression: $ => prec(PREC.UNARY, seq(
      '(',
      field('type', $._type),
      ')',
      field('value', $._expression),
    )),

    update_expression: $ => choice(
      prec(PREC.UNARY, seq(
        field('operator', choice('++', '--')),
        field('argument', $._expression),
      )),
      prec.left(PREC.POSTFIX, seq(
        field('argument', $._expression),
        field('operator', choice('++', '--')),
      )),
    ),

    subscript_expression: $ => prec.left(PREC.POSTFIX, seq(
      field('argument', $._expression),
      '[',
      field('index', $._expression),
      ']',
    )),

    // `s.f`, and C's `p->f` (refused by the checker, P0302).
    field_expression: $ => prec.left(PREC.POSTFIX, seq(
      field('argument', $._expression),
      field('operator', choice('.', '->')),
      field('field', $._field_identifier),
    )),

    // Only a name is called: there are no function values.
    call_expression: $ => seq(
      field('function', $.identifier),
      field('arguments', $.argument_list),
    ),

    argument_list: $ => seq('(', commaSep($._expression), ')'),

    parenthesized_expression: $ => seq('(', $._expression, ')'),

    // ------------------------------------------------------------ tokens

    identifier: _ => /[A-Za-z_][A-Za-z0-9_]*/,

    _type_identifier: $ => alias($.identifier, $.type_identifier),

    _field_identifier: $ => alias($.identifier, $.field_identifier),

    // Decimal or hex; no octal (`010`), suffixes, exponents or floats: those
    // are lexical errors (P0002), so they are not one token here either.
    number_literal: _ => token(choice(
      /0[xX][0-9a-fA-F]+/,
      /[1-9][0-9]*/,
      '0',
    )),

    true: _ => 'true',

    false: _ => 'false',

    // Only where a name goes (attribute and event names); it ends on its
    // line, and its escapes are `\"`, `\\` and `\n`.
    string_literal: $ => seq(
      '"',
      repeat(choice(
        token.immediate(prec(1, /[^"\\\n]+/)),
        $.escape_sequence,
      )),
      token.immediate('"'),
    ),

    escape_sequence: _ => token.immediate(seq('\\', /["\\n]/)),

    // `//` to the end of the line, and `/* ... */`, which does not nest.
    comment: _ => token(choice(
      seq('//', /[^\n]*/),
      seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/'),
    )),
  },
});

/**
 * One or more `rule`s, separated by commas.
 * @param {RuleOrLiteral} rule
 * @returns {SeqRule}
 */
function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}

/**
 * Zero or more `rule`s, separated by commas.
 * @param {RuleOrLiteral} rule
 * @returns {ChoiceRule}
 */
function commaSep(rule) {
  return optional(commaSep1(rule));
}
