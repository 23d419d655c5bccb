//! Typed expressions as the generator builds them: printing with C
//! precedence, and evaluation of compile-time-constant subexpressions so that
//! the generator never writes a constant expression a front-end could reject
//! as a certain trap (division by a known zero, overflow in constant folding,
//! a known out-of-range index or attribute value).

use std::fmt::{self, Write};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Bin {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

/// Operator classes, for the extra parentheses the printer adds where C's
/// precedence is notoriously surprising (what `gcc -Wparentheses` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Arith,
    Shift,
    Compare,
    Bitwise,
    Logic,
}

impl Bin {
    /// C precedence: higher binds tighter.
    fn prec(self) -> u8 {
        match self {
            Bin::Mul | Bin::Div | Bin::Rem => 13,
            Bin::Add | Bin::Sub => 12,
            Bin::Shl | Bin::Shr => 11,
            Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge => 10,
            Bin::Eq | Bin::Ne => 9,
            Bin::BitAnd => 8,
            Bin::BitXor => 7,
            Bin::BitOr => 6,
            Bin::And => 5,
            Bin::Or => 4,
        }
    }

    fn class(self) -> Class {
        match self {
            Bin::Mul | Bin::Div | Bin::Rem | Bin::Add | Bin::Sub => Class::Arith,
            Bin::Shl | Bin::Shr => Class::Shift,
            Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge | Bin::Eq | Bin::Ne => Class::Compare,
            Bin::BitAnd | Bin::BitXor | Bin::BitOr => Class::Bitwise,
            Bin::And | Bin::Or => Class::Logic,
        }
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            Bin::Mul => "*",
            Bin::Div => "/",
            Bin::Rem => "%",
            Bin::Add => "+",
            Bin::Sub => "-",
            Bin::Shl => "<<",
            Bin::Shr => ">>",
            Bin::Lt => "<",
            Bin::Le => "<=",
            Bin::Gt => ">",
            Bin::Ge => ">=",
            Bin::Eq => "==",
            Bin::Ne => "!=",
            Bin::BitAnd => "&",
            Bin::BitXor => "^",
            Bin::BitOr => "|",
            Bin::And => "&&",
            Bin::Or => "||",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Un {
    Neg,
    Not,
    BitNot,
}

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// An integer literal. Negative values print as unary minus applied to
    /// the literal (`-5`); `i64::MIN` prints as `(-9223372036854775808)`.
    Int {
        value: i64,
        hex: bool,
    },
    Bool(bool),
    /// A variable, parameter or global; `konst` is the value of a `const`.
    Var {
        name: String,
        konst: Option<i64>,
    },
    /// `array[index]` or `array[index].field`.
    Index {
        array: String,
        index: Box<Expr>,
        field: Option<&'static str>,
    },
    /// `base.field` (the global struct).
    Field {
        base: String,
        field: &'static str,
    },
    /// `size(array)`; `len` is known for globals.
    Size {
        array: String,
        len: Option<usize>,
    },
    Call {
        name: String,
        args: Vec<Arg>,
    },
    /// `get_attribute(app, "name")`
    GetAttr(&'static str),
    Unary(Un, Box<Expr>),
    Binary(Bin, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Expr(Expr),
    /// An array passed by reference: a global array or an array parameter.
    Array(String),
}

/// Evaluation of a constant expression trapped (or would be rejected).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Trap;

impl Expr {
    pub(crate) fn int(value: i64) -> Expr {
        Expr::Int { value, hex: false }
    }

    pub(crate) fn var(name: impl Into<String>) -> Expr {
        Expr::Var {
            name: name.into(),
            konst: None,
        }
    }

    pub(crate) fn bin(op: Bin, l: Expr, r: Expr) -> Expr {
        Expr::Binary(op, Box::new(l), Box::new(r))
    }

    /// Precedence of the printed form; 15 for atoms.
    fn prec(&self) -> u8 {
        match self {
            Expr::Binary(op, ..) => op.prec(),
            Expr::Unary(..) => 14,
            Expr::Int { value, .. } if *value < 0 && *value != i64::MIN => 14,
            _ => 15,
        }
    }

    /// Whether every leaf is a literal, a `const`, or the `size` of an array
    /// of known length: what a front-end may fold at compile time.
    pub(crate) fn is_const(&self) -> bool {
        match self {
            Expr::Int { .. } | Expr::Bool(_) => true,
            Expr::Var { konst, .. } => konst.is_some(),
            Expr::Size { len, .. } => len.is_some(),
            Expr::Index { .. } | Expr::Field { .. } | Expr::Call { .. } | Expr::GetAttr(_) => false,
            Expr::Unary(_, e) => e.is_const(),
            Expr::Binary(_, l, r) => l.is_const() && r.is_const(),
        }
    }

    /// The value of a constant int expression (see [`Expr::is_const`]), with
    /// checked semantics: overflow, division by zero, a shift amount outside
    /// `0..64` and a left shift that loses bits all trap.
    pub(crate) fn eval(&self) -> Result<i64, Trap> {
        Ok(match self {
            Expr::Int { value, .. } => *value,
            Expr::Var { konst: Some(v), .. } => *v,
            Expr::Size { len: Some(n), .. } => *n as i64,
            Expr::Unary(Un::Neg, e) => e.eval()?.checked_neg().ok_or(Trap)?,
            Expr::Unary(Un::BitNot, e) => !e.eval()?,
            Expr::Binary(op, l, r) => {
                let (a, b) = (l.eval()?, r.eval()?);
                match op {
                    Bin::Add => a.checked_add(b).ok_or(Trap)?,
                    Bin::Sub => a.checked_sub(b).ok_or(Trap)?,
                    Bin::Mul => a.checked_mul(b).ok_or(Trap)?,
                    Bin::Div => a.checked_div(b).ok_or(Trap)?,
                    Bin::Rem => a.checked_rem(b).ok_or(Trap)?,
                    Bin::Shl => {
                        if !(0..64).contains(&b) {
                            return Err(Trap);
                        }
                        let v = a << b;
                        if v >> b != a {
                            return Err(Trap);
                        }
                        v
                    }
                    Bin::Shr => {
                        if !(0..64).contains(&b) {
                            return Err(Trap);
                        }
                        a >> b
                    }
                    Bin::BitAnd => a & b,
                    Bin::BitOr => a | b,
                    Bin::BitXor => a ^ b,
                    _ => return Err(Trap),
                }
            }
            _ => return Err(Trap),
        })
    }

    fn write_child(&self, out: &mut String, paren: bool) {
        if paren {
            out.push('(');
            self.write(out);
            out.push(')');
        } else {
            self.write(out);
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Expr::Int { value, hex } => {
                if *value == i64::MIN {
                    out.push_str("(-9223372036854775808)");
                } else if *value < 0 {
                    let _ = write!(out, "-{}", value.unsigned_abs());
                } else if *hex {
                    let _ = write!(out, "{value:#x}");
                } else {
                    let _ = write!(out, "{value}");
                }
            }
            Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Expr::Var { name, .. } => out.push_str(name),
            Expr::Index { array, index, field } => {
                out.push_str(array);
                out.push('[');
                index.write(out);
                out.push(']');
                if let Some(f) = field {
                    out.push('.');
                    out.push_str(f);
                }
            }
            Expr::Field { base, field } => {
                out.push_str(base);
                out.push('.');
                out.push_str(field);
            }
            Expr::Size { array, .. } => {
                let _ = write!(out, "size({array})");
            }
            Expr::Call { name, args } => {
                out.push_str(name);
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match a {
                        Arg::Expr(e) => e.write(out),
                        Arg::Array(n) => out.push_str(n),
                    }
                }
                out.push(')');
            }
            Expr::GetAttr(name) => {
                let _ = write!(out, "get_attribute(app, \"{name}\")");
            }
            Expr::Unary(op, e) => {
                out.push(match op {
                    Un::Neg => '-',
                    Un::Not => '!',
                    Un::BitNot => '~',
                });
                e.write_child(out, e.prec() < 15);
            }
            Expr::Binary(op, l, r) => {
                let needs = |child: &Expr, right: bool| match child {
                    Expr::Binary(cop, ..) => {
                        let (p, c) = (op.prec(), cop.prec());
                        c < p || (right && c == p) || confusing(*op, *cop)
                    }
                    other => other.prec() < op.prec(),
                };
                l.write_child(out, needs(l, false));
                out.push(' ');
                out.push_str(op.text());
                out.push(' ');
                r.write_child(out, needs(r, true));
            }
        }
    }
}

/// Whether `child` directly under `parent` is a combination whose C
/// precedence readers (and some front-ends) get wrong; those get parentheses
/// even where C does not need them.
fn confusing(parent: Bin, child: Bin) -> bool {
    let (p, c) = (parent.class(), child.class());
    match p {
        Class::Compare => c != Class::Arith,
        Class::Shift => true,
        Class::Bitwise => c != Class::Bitwise || parent != child,
        Class::Logic => c == Class::Logic && parent != child,
        Class::Arith => c == Class::Shift || c == Class::Bitwise,
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: i64) -> Expr {
        Expr::int(v)
    }

    #[test]
    fn printing_follows_precedence() {
        let e = Expr::bin(Bin::Mul, Expr::bin(Bin::Add, lit(1), lit(2)), lit(3));
        assert_eq!(e.to_string(), "(1 + 2) * 3");
        let e = Expr::bin(Bin::Sub, lit(1), Expr::bin(Bin::Sub, lit(2), lit(3)));
        assert_eq!(e.to_string(), "1 - (2 - 3)");
        let e = Expr::bin(Bin::Sub, Expr::bin(Bin::Sub, lit(1), lit(2)), lit(-3));
        assert_eq!(e.to_string(), "1 - 2 - -3");
        let e = Expr::Unary(Un::Neg, Box::new(lit(-3)));
        assert_eq!(e.to_string(), "-(-3)");
        let e = Expr::bin(
            Bin::Shl,
            Expr::var("x"),
            Expr::bin(Bin::BitAnd, Expr::var("y"), lit(31)),
        );
        assert_eq!(e.to_string(), "x << (y & 31)");
        let e = Expr::bin(Bin::Eq, Expr::bin(Bin::Lt, lit(1), lit(2)), Expr::Bool(true));
        assert_eq!(e.to_string(), "(1 < 2) == true");
        let e = Expr::bin(
            Bin::Or,
            Expr::bin(Bin::And, Expr::Bool(true), Expr::Bool(false)),
            Expr::Bool(true),
        );
        assert_eq!(e.to_string(), "(true && false) || true");
        assert_eq!(lit(i64::MIN).to_string(), "(-9223372036854775808)");
        assert_eq!(Expr::Int { value: 1000, hex: true }.to_string(), "0x3e8");
    }

    #[test]
    fn constant_evaluation_traps() {
        assert_eq!(Expr::bin(Bin::Div, lit(1), lit(0)).eval(), Err(Trap));
        assert_eq!(Expr::bin(Bin::Rem, lit(i64::MIN), lit(-1)).eval(), Err(Trap));
        assert_eq!(Expr::bin(Bin::Add, lit(i64::MAX), lit(1)).eval(), Err(Trap));
        assert_eq!(Expr::bin(Bin::Shl, lit(1), lit(63)).eval(), Err(Trap));
        assert_eq!(Expr::bin(Bin::Shl, lit(1), lit(62)).eval(), Ok(1 << 62));
        assert_eq!(Expr::bin(Bin::Shr, lit(-8), lit(1)).eval(), Ok(-4));
        assert!(!Expr::bin(Bin::Add, Expr::var("x"), lit(1)).is_const());
    }
}
