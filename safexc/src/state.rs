//! An extension's globals read back from its data region, by name: what
//! `safexc run --state` prints.

use serde_json::{Value, json};
use tal_ir::layout::{GlobalLayout, Layout};
use tal_ir::{ElemType, Module, ObjType, ScalarType};

/// Elements of an array shown in text before the rest is elided.
const TEXT_ELEMS: usize = 16;

/// One global's value: a scalar, a struct's fields, or an array's elements.
#[derive(Clone, Debug, PartialEq)]
pub enum Shown {
    Int(i64),
    Bool(bool),
    Struct(Vec<(String, Shown)>),
    Array(Vec<Shown>),
}

/// Each global of `module`, by name, as `data` (its data region) holds it;
/// empty if the module has no layout (never for a loaded one).
pub fn globals(module: &Module, data: &[i64]) -> Vec<(String, Shown)> {
    let (Some(global_layout), layout) = (GlobalLayout::new(module), Layout::new(module)) else {
        return Vec::new();
    };
    module
        .globals
        .iter()
        .zip(&global_layout.offsets)
        .map(|(g, &at)| {
            let shown = match g.ty {
                ObjType::Elem(e) => elem(module, &layout, e, data, at),
                ObjType::Array { elem: e, len } => {
                    let stride = layout.elem_cells(e).unwrap_or(1);
                    let n = u64::from(len.unwrap_or(0));
                    Shown::Array(
                        (0..n)
                            .map(|i| elem(module, &layout, e, data, at + i * stride))
                            .collect(),
                    )
                }
            };
            (g.name.clone(), shown)
        })
        .collect()
}

fn elem(module: &Module, layout: &Layout, e: ElemType, data: &[i64], at: u64) -> Shown {
    let cell = usize::try_from(at)
        .ok()
        .and_then(|at| data.get(at))
        .copied()
        .unwrap_or(0);
    match e {
        ElemType::Scalar(ScalarType::Bool) => Shown::Bool(cell != 0),
        ElemType::Scalar(_) => Shown::Int(cell),
        ElemType::Struct(s) => {
            let Some(def) = module.structs.get(s.index()) else {
                return Shown::Struct(Vec::new());
            };
            Shown::Struct(
                def.fields
                    .iter()
                    .enumerate()
                    .map(|(f, field)| {
                        let offset = layout.field_offset(s, f as u32).unwrap_or(0);
                        (field.name.clone(), elem(module, layout, field.ty, data, at + offset))
                    })
                    .collect(),
            )
        }
    }
}

impl Shown {
    /// Popcorn-SX-like text: `5`, `true`, `{ t: 1, v: 2 }`, `[0, 1, …]`
    /// (arrays cut after their first elements, with their length).
    pub fn text(&self) -> String {
        match self {
            Shown::Int(v) => v.to_string(),
            Shown::Bool(b) => b.to_string(),
            Shown::Struct(fields) => {
                let inner: Vec<String> = fields.iter().map(|(n, v)| format!("{n}: {}", v.text())).collect();
                format!("{{ {} }}", inner.join(", "))
            }
            Shown::Array(elems) => {
                let mut inner: Vec<String> = elems.iter().take(TEXT_ELEMS).map(Shown::text).collect();
                if elems.len() > TEXT_ELEMS {
                    inner.push(format!("… ({} elements)", elems.len()));
                }
                format!("[{}]", inner.join(", "))
            }
        }
    }

    /// The value in JSON: numbers, booleans, objects and arrays, whole.
    pub fn json(&self) -> Value {
        match self {
            Shown::Int(v) => json!(v),
            Shown::Bool(b) => json!(b),
            Shown::Struct(fields) => Value::Object(fields.iter().map(|(n, v)| (n.clone(), v.json())).collect()),
            Shown::Array(elems) => Value::Array(elems.iter().map(Shown::json).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_read_back_scalars_structs_and_arrays_by_name() {
        let source = "extension e;\nimport cpu;\nstruct s { int t; bool f; }\nint n = 7;\nbool active = true;\n\
                      struct s one;\nint hist[20];\nstruct s many[2];\n\
                      monitor void m(cap<cpu_qos> app) { one.t = 3; one.f = true; hist[19] = 9; many[1].t = 4; }\n";
        let module = popcorn_front::compile(source, &popcorn_front::Options::default())
            .module
            .expect("compiles");
        let layout = GlobalLayout::new(&module).expect("a layout");
        let mut data = layout.initial_data(1 << 20).expect("data");
        let at = |name: &str| layout.offsets[module.globals.iter().position(|g| g.name == name).unwrap()] as usize;
        data[at("one")] = 3;
        data[at("one") + 1] = 1;
        data[at("hist") + 19] = 9;
        data[at("many") + 2] = 4;
        let shown: Vec<(String, String)> = globals(&module, &data)
            .into_iter()
            .map(|(n, v)| (n, v.text()))
            .collect();
        let want = [
            ("n", "7".to_string()),
            ("active", "true".into()),
            ("one", "{ t: 3, f: true }".into()),
            (
                "hist",
                "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, … (20 elements)]".into(),
            ),
            ("many", "[{ t: 0, f: false }, { t: 4, f: false }]".into()),
        ];
        for (name, text) in want {
            assert!(
                shown.contains(&(name.to_string(), text.clone())),
                "{name} = {text} in {shown:?}"
            );
        }
        let hist = globals(&module, &data)
            .into_iter()
            .find(|(n, _)| n == "hist")
            .unwrap()
            .1;
        assert_eq!(hist.json()[19], 9, "JSON has every element");
    }
}
