//! Structural differences between two JSON documents, and applying them.
//!
//! The board changes a little at a time (a train moves, a count grows), so `/events` sends
//! what changed rather than the whole board. The difference is computed on
//! [`serde_json::Value`]s, not on the snapshot's fields, so it follows whatever shape the
//! board's JSON takes.
//!
//! # Format
//!
//! A patch is a JSON array of operations, applied in order:
//! - `[path, value]` sets the member or element at `path` to `value` (an object gains the
//!   member if it had none);
//! - `[path]` removes the member at `path` from its object.
//!
//! A path is an array of object keys (strings) and array indices (numbers) from the root;
//! `[]` is the root itself. [`diff`] recurses into objects and into arrays of equal length,
//! element by element; an array whose length changed is set whole. That is finer than
//! RFC 7396's merge patch, which replaces every array that changed, and an order of magnitude
//! more compact than RFC 6902's operations for this board, whose paths are short.
//!
//! ```
//! use serde_json::json;
//! use transit_http::dashboard::delta;
//!
//! let before = json!({"version": 1, "lines": [{"trains": 3}, {"trains": 4}]});
//! let after = json!({"version": 2, "lines": [{"trains": 3}, {"trains": 5}]});
//! let patch = delta::diff(&before, &after);
//! assert_eq!(patch, json!([[["lines", 1, "trains"], 5], [["version"], 2]]));
//!
//! let mut board = before.clone();
//! delta::apply(&mut board, &patch)?;
//! assert_eq!(board, after);
//! # Ok::<(), delta::PatchError>(())
//! ```

use serde_json::Value;

/// Why a patch could not be applied to a document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch is not an array of `[path]` / `[path, value]` operations.
    #[error("operation {index} of the patch is not [path] or [path, value]")]
    Malformed {
        /// Which operation, from 0.
        index: usize,
    },
    /// A path leads nowhere in the document (a missing member, an index past the end, or a
    /// step into a number or a string): the patch was made against another document.
    #[error("operation {index} of the patch: its path {path} is not in the document")]
    NoSuchPath {
        /// Which operation, from 0.
        index: usize,
        /// The path, as JSON.
        path: String,
    },
}

/// The patch that turns `from` into `to` (see the [module docs](self) for its format); an empty
/// array when they are equal.
pub fn diff(from: &Value, to: &Value) -> Value {
    let mut operations = Vec::new();
    let mut path = Vec::new();
    diff_into(from, to, &mut path, &mut operations);
    Value::Array(operations)
}

fn diff_into(from: &Value, to: &Value, path: &mut Vec<Value>, operations: &mut Vec<Value>) {
    match (from, to) {
        (Value::Object(before), Value::Object(after)) => {
            for (key, value) in after {
                path.push(Value::String(key.clone()));
                match before.get(key) {
                    Some(old) => diff_into(old, value, path, operations),
                    None => operations.push(set(path, value)),
                }
                path.pop();
            }
            for key in before.keys().filter(|key| !after.contains_key(*key)) {
                path.push(Value::String(key.clone()));
                operations.push(Value::Array(vec![Value::Array(path.clone())]));
                path.pop();
            }
        }
        (Value::Array(before), Value::Array(after)) if before.len() == after.len() => {
            for (index, (old, value)) in before.iter().zip(after).enumerate() {
                path.push(Value::from(index));
                diff_into(old, value, path, operations);
                path.pop();
            }
        }
        _ if from != to => operations.push(set(path, to)),
        _ => {}
    }
}

fn set(path: &[Value], value: &Value) -> Value {
    Value::Array(vec![Value::Array(path.to_vec()), value.clone()])
}

/// Applies `patch` (made by [`diff`]) to `document` in place.
///
/// On an error `document` may hold the operations before the failing one: a client that gets
/// one should drop its copy and ask for the whole document again.
pub fn apply(document: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations = patch.as_array().ok_or(PatchError::Malformed { index: 0 })?;
    for (index, operation) in operations.iter().enumerate() {
        let (path, value) = match operation.as_array().map(Vec::as_slice) {
            Some([Value::Array(path)]) => (path, None),
            Some([Value::Array(path), value]) => (path, Some(value)),
            _ => return Err(PatchError::Malformed { index }),
        };
        let no_such_path = || PatchError::NoSuchPath {
            index,
            path: Value::Array(path.clone()).to_string(),
        };
        let Some((last, parents)) = path.split_last() else {
            match value {
                Some(value) => *document = value.clone(),
                // Removing the root leaves nothing to hold: not something diff makes.
                None => return Err(no_such_path()),
            }
            continue;
        };
        let mut parent = &mut *document;
        for step in parents {
            parent = child(parent, step).ok_or_else(no_such_path)?;
        }
        match (parent, last, value) {
            (Value::Object(members), Value::String(key), Some(value)) => {
                members.insert(key.clone(), value.clone());
            }
            (Value::Object(members), Value::String(key), None) => {
                members.remove(key).ok_or_else(no_such_path)?;
            }
            (Value::Array(elements), Value::Number(index), Some(value)) => {
                let slot = index
                    .as_u64()
                    .and_then(|index| usize::try_from(index).ok())
                    .and_then(|index| elements.get_mut(index))
                    .ok_or_else(no_such_path)?;
                *slot = value.clone();
            }
            _ => return Err(no_such_path()),
        }
    }
    Ok(())
}

fn child<'a>(parent: &'a mut Value, step: &Value) -> Option<&'a mut Value> {
    match (parent, step) {
        (Value::Object(members), Value::String(key)) => members.get_mut(key),
        (Value::Array(elements), Value::Number(index)) => {
            elements.get_mut(usize::try_from(index.as_u64()?).ok()?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Map};

    /// A JSON object of `members` (serde_json keeps its keys sorted).
    fn object(members: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
        Value::Object(
            members
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect::<Map<String, Value>>(),
        )
    }

    #[test]
    fn equal_documents_give_an_empty_patch() {
        let board = json!({"a": [1, {"b": null}], "c": "x"});
        assert_eq!(diff(&board, &board), json!([]));
    }

    #[test]
    fn members_are_set_added_and_removed_by_path() {
        let before = object([
            ("kept", json!(1)),
            ("gone", json!(2)),
            ("nested", json!({"x": 1})),
        ]);
        let after = object([
            ("kept", json!(1)),
            ("new", json!([1])),
            ("nested", json!({"x": 2})),
        ]);
        let patch = diff(&before, &after);
        assert_eq!(
            patch,
            json!([[["nested", "x"], 2], [["new"], [1]], [["gone"]]])
        );
        let mut document = before;
        apply(&mut document, &patch).unwrap();
        assert_eq!(document, after);
    }

    #[test]
    fn arrays_of_equal_length_are_patched_by_index_others_set_whole() {
        let before = json!({"same": [1, 2, 3], "grown": [1, 2]});
        let after = json!({"same": [1, 5, 3], "grown": [1, 2, 3]});
        assert_eq!(
            diff(&before, &after),
            json!([[["grown"], [1, 2, 3]], [["same", 1], 5]])
        );
    }

    #[test]
    fn a_change_of_type_sets_the_value() {
        assert_eq!(
            diff(&json!({"w": null}), &json!({"w": {"t": 1}})),
            json!([[["w"], {"t": 1}]])
        );
        assert_eq!(diff(&json!([1]), &json!({"a": 1})), json!([[[], {"a": 1}]]));
    }

    #[test]
    fn a_patch_for_another_document_is_an_error_not_a_panic() {
        let mut document = json!({"a": [1]});
        for (patch, expected) in [
            (json!({}), PatchError::Malformed { index: 0 }),
            (json!([[["a"], 1, 2]]), PatchError::Malformed { index: 0 }),
            (json!([["a", 1]]), PatchError::Malformed { index: 0 }),
            (
                json!([[["a", 1], 2]]),
                PatchError::NoSuchPath {
                    index: 0,
                    path: r#"["a",1]"#.into(),
                },
            ),
            (
                json!([[["b"]]]),
                PatchError::NoSuchPath {
                    index: 0,
                    path: r#"["b"]"#.into(),
                },
            ),
            (
                json!([[["a", 0, "x"], 1]]),
                PatchError::NoSuchPath {
                    index: 0,
                    path: r#"["a",0,"x"]"#.into(),
                },
            ),
            (
                json!([[["a", -1], 1]]),
                PatchError::NoSuchPath {
                    index: 0,
                    path: r#"["a",-1]"#.into(),
                },
            ),
            (
                json!([[[]]]),
                PatchError::NoSuchPath {
                    index: 0,
                    path: "[]".into(),
                },
            ),
        ] {
            assert_eq!(apply(&mut document, &patch), Err(expected), "{patch}");
        }
    }

    /// Any JSON, from a small alphabet of keys and short arrays, so that two documents drawn
    /// independently often share structure and the diff recurses rather than replacing all.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3i64..3).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // Fractions of 64: exact in binary and in short decimals, so text parses back to
            // the same number (serde_json's default parser may miss 17-digit ones by an ulp).
            (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 64.0)),
            "[a-c~/\"é]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// `base` with a few of its leaves replaced: the common case of a board and its successor.
    fn edited(base: Value) -> impl Strategy<Value = (Value, Value)> {
        let leaves = count_leaves(&base).max(1);
        prop::collection::vec((0..leaves, json_value()), 0..4).prop_map(move |edits| {
            let mut after = base.clone();
            for (target, value) in edits {
                replace_leaf(&mut after, &mut target.clone(), value);
            }
            (base.clone(), after)
        })
    }

    fn count_leaves(value: &Value) -> usize {
        match value {
            Value::Array(elements) => elements.iter().map(count_leaves).sum(),
            Value::Object(members) => members.values().map(count_leaves).sum(),
            _ => 1,
        }
    }

    /// Replaces the `target`-th leaf (depth first); counts `target` down as it goes.
    fn replace_leaf(value: &mut Value, target: &mut usize, with: Value) -> Option<Value> {
        match value {
            Value::Array(elements) => {
                let mut with = Some(with);
                for element in elements {
                    with = replace_leaf(element, target, with?);
                }
                with
            }
            Value::Object(members) => {
                let mut with = Some(with);
                for member in members.values_mut() {
                    with = replace_leaf(member, target, with?);
                }
                with
            }
            _ if *target == 0 => {
                *value = with;
                None
            }
            _ => {
                *target -= 1;
                Some(with)
            }
        }
    }

    /// What a client does: the patch travels as text.
    fn apply_from_the_wire(from: &Value, patch: &Value) -> Value {
        let text = serde_json::to_string(patch).unwrap();
        let patch: Value = serde_json::from_str(&text).unwrap();
        let mut document = from.clone();
        apply(&mut document, &patch).unwrap();
        document
    }

    proptest! {
        #[test]
        fn applying_the_diff_of_any_two_documents_gives_the_second(
            a in json_value(),
            b in json_value(),
        ) {
            prop_assert_eq!(apply_from_the_wire(&a, &diff(&a, &b)), b);
        }

        #[test]
        fn applying_the_diff_of_a_document_and_an_edit_of_it_gives_the_edit(
            (a, b) in json_value().prop_flat_map(edited),
        ) {
            let patch = diff(&a, &b);
            prop_assert_eq!(apply_from_the_wire(&a, &patch), b.clone());
            // Nothing is sent when nothing changed.
            prop_assert_eq!(patch.as_array().is_some_and(Vec::is_empty), a == b);
        }
    }
}
