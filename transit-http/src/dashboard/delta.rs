//! Structural differences between two JSON documents, and applying them.
//!
//! The board changes a little at a time (a train moves, a count grows), so `/events` sends
//! what changed rather than the whole board. The difference is computed on
//! [`serde_json::Value`]s, not on the snapshot's fields, so it follows whatever shape the
//! board's JSON takes.
//!
//! # Format
//!
//! A patch has the shape of the document it changes, holding only what changed:
//! - `[value]` (an array of one) sets the node to `value`;
//! - an object patches the node member by member: for an object, by key; for an array, by
//!   index, written as a string (`"3"`); each member's patch is again `[value]` or an object,
//!   or `[]` (an empty array) to remove that member from an object.
//!
//! So `{}` changes nothing, and `{"lines": {"1": {"trains": [5]}}}` sets the `trains` of the
//! second line. [`diff`] recurses into objects and into arrays of equal length, element by
//! element; an array whose length changed is set whole. That is finer than RFC 7396's merge
//! patch, which replaces every array that changed and cannot set `null`, and, because a path
//! shared by many changes is written once, less than half the size of RFC 6902's operations
//! or of a list of `[path, value]` pairs for this board, where most changes are counts side by
//! side.
//!
//! ```
//! use serde_json::json;
//! use transit_http::dashboard::delta;
//!
//! let before = json!({"version": 1, "lines": [{"trains": 3}, {"trains": 4}], "weather": null});
//! let after = json!({"version": 2, "lines": [{"trains": 3}, {"trains": 5}]});
//! let patch = delta::diff(&before, &after);
//! assert_eq!(
//!     patch,
//!     json!({"lines": {"1": {"trains": [5]}}, "version": [2], "weather": []})
//! );
//!
//! let mut board = before.clone();
//! delta::apply(&mut board, &patch)?;
//! assert_eq!(board, after);
//! # Ok::<(), delta::PatchError>(())
//! ```

use serde_json::{Map, Value};

/// Why a patch could not be applied to a document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatchError {
    /// A node of the patch is neither `[value]`, `[]` (under an object) nor an object.
    #[error("the patch at {path} is not [value], [] or an object")]
    Malformed {
        /// Where, as a JSON array of keys and indices from the root.
        path: String,
    },
    /// The patch names a member or element the document does not have (a missing member, an
    /// index past the end, a step into a number or a string): it was made against another
    /// document.
    #[error("the patch names {path}, which is not in the document")]
    NoSuchPath {
        /// Where, as a JSON array of keys and indices from the root.
        path: String,
    },
}

/// The patch that turns `from` into `to` (see the [module docs](self) for its format); `{}`
/// when they are equal.
pub fn diff(from: &Value, to: &Value) -> Value {
    diff_node(from, to).unwrap_or_else(|| Value::Object(Map::new()))
}

/// The patch of one node, or None when it did not change.
fn diff_node(from: &Value, to: &Value) -> Option<Value> {
    let members = match (from, to) {
        (Value::Object(before), Value::Object(after)) => {
            let mut members = Map::new();
            for (key, value) in after {
                let patch = match before.get(key) {
                    Some(old) => diff_node(old, value),
                    None => Some(set(value)),
                };
                if let Some(patch) = patch {
                    members.insert(key.clone(), patch);
                }
            }
            for key in before.keys().filter(|key| !after.contains_key(*key)) {
                members.insert(key.clone(), Value::Array(Vec::new()));
            }
            members
        }
        (Value::Array(before), Value::Array(after)) if before.len() == after.len() => before
            .iter()
            .zip(after)
            .enumerate()
            .filter_map(|(index, (old, value))| {
                diff_node(old, value).map(|patch| (index.to_string(), patch))
            })
            .collect(),
        _ if from != to => return Some(set(to)),
        _ => return None,
    };
    (!members.is_empty()).then_some(Value::Object(members))
}

fn set(value: &Value) -> Value {
    Value::Array(vec![value.clone()])
}

/// Applies `patch` (made by [`diff`]) to `document` in place.
///
/// On an error `document` may be part patched: a client that gets one should drop its copy and
/// ask for the whole document again.
pub fn apply(document: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let mut path = Vec::new();
    apply_node(document, patch, &mut path)
}

fn apply_node(node: &mut Value, patch: &Value, path: &mut Vec<Value>) -> Result<(), PatchError> {
    let members = match patch {
        Value::Array(set) if set.len() == 1 => {
            *node = set[0].clone();
            return Ok(());
        }
        Value::Object(members) => members,
        _ => {
            return Err(PatchError::Malformed {
                path: Value::Array(path.clone()).to_string(),
            })
        }
    };
    for (key, patch) in members {
        let remove = patch.as_array().is_some_and(Vec::is_empty);
        let child = match node {
            Value::Object(children) => {
                path.push(Value::String(key.clone()));
                if remove {
                    children.remove(key).map(|_| None)
                } else if let (Value::Array(set), false) = (patch, children.contains_key(key)) {
                    // A member the document does not have yet: only a set can make it.
                    match set.as_slice() {
                        [value] => {
                            children.insert(key.clone(), value.clone());
                            Some(None)
                        }
                        _ => None,
                    }
                } else {
                    children.get_mut(key).map(Some)
                }
            }
            Value::Array(elements) if !remove => {
                let index = key.parse::<usize>().ok();
                path.push(index.map_or_else(|| Value::String(key.clone()), Value::from));
                index.and_then(|index| elements.get_mut(index)).map(Some)
            }
            _ => {
                path.push(Value::String(key.clone()));
                None
            }
        };
        match child {
            Some(Some(child)) => apply_node(child, patch, path)?,
            Some(None) => {}
            None => {
                return Err(PatchError::NoSuchPath {
                    path: Value::Array(path.clone()).to_string(),
                })
            }
        }
        path.pop();
    }
    Ok(())
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
        assert_eq!(diff(&board, &board), json!({}));
    }

    #[test]
    fn members_are_set_added_and_removed_by_key() {
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
            json!({"nested": {"x": [2]}, "new": [[1]], "gone": []})
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
            json!({"grown": [[1, 2, 3]], "same": {"1": [5]}})
        );
    }

    #[test]
    fn a_change_of_type_or_to_null_sets_the_value() {
        assert_eq!(
            diff(&json!({"w": null}), &json!({"w": {"t": 1}})),
            json!({"w": [{"t": 1}]})
        );
        assert_eq!(
            diff(&json!({"w": {"t": 1}}), &json!({"w": null})),
            json!({"w": [null]})
        );
        assert_eq!(diff(&json!([1]), &json!({"a": 1})), json!([{"a": 1}]));
    }

    #[test]
    fn a_patch_for_another_document_is_an_error_not_a_panic() {
        let no_such = |path: &str| PatchError::NoSuchPath { path: path.into() };
        let malformed = |path: &str| PatchError::Malformed { path: path.into() };
        for (patch, expected) in [
            (json!(1), malformed("[]")),
            (json!([]), malformed("[]")),
            (json!({"a": [1, 2]}), malformed(r#"["a"]"#)),
            (json!({"a": {"1": [2]}}), no_such(r#"["a",1]"#)),
            (json!({"a": {"x": [2]}}), no_such(r#"["a","x"]"#)),
            (json!({"a": {"-1": [2]}}), no_such(r#"["a","-1"]"#)),
            (json!({"a": {"0": []}}), no_such(r#"["a","0"]"#)),
            (json!({"a": {"0": {"x": [1]}}}), no_such(r#"["a",0,"x"]"#)),
            (json!({"b": []}), no_such(r#"["b"]"#)),
            (json!({"b": {"c": [1]}}), no_such(r#"["b"]"#)),
        ] {
            let mut document = json!({"a": [1]});
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
            prop_assert_eq!(patch == serde_json::json!({}), a == b);
        }
    }
}
