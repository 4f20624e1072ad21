//! The first place two JSON values differ, as a path such as `$.info.files[1].length`.

use serde_json::Value;

/// Where two values first differ and what each side holds there (`None`: the key is absent).
#[derive(Debug, PartialEq)]
pub(crate) struct Difference {
    pub(crate) path: String,
    pub(crate) left: Option<String>,
    pub(crate) right: Option<String>,
}

/// The first difference between `left` and `right` in document order, or `None` if they are
/// equal. Object keys compare regardless of order; array items by position.
pub(crate) fn first_difference(left: &Value, right: &Value) -> Option<Difference> {
    walk("$".to_owned(), left, right)
}

fn walk(path: String, left: &Value, right: &Value) -> Option<Difference> {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (key, lv) in l {
                let sub = format!("{path}{}", key_segment(key));
                let found = match r.get(key) {
                    Some(rv) => walk(sub, lv, rv),
                    None => Some(Difference {
                        path: sub,
                        left: Some(show(lv)),
                        right: None,
                    }),
                };
                if found.is_some() {
                    return found;
                }
            }
            let (key, rv) = r.iter().find(|(key, _)| !l.contains_key(*key))?;
            Some(Difference {
                path: format!("{path}{}", key_segment(key)),
                left: None,
                right: Some(show(rv)),
            })
        }
        (Value::Array(l), Value::Array(r)) => {
            for (i, (lv, rv)) in l.iter().zip(r).enumerate() {
                if let Some(d) = walk(format!("{path}[{i}]"), lv, rv) {
                    return Some(d);
                }
            }
            if l.len() != r.len() {
                let i = l.len().min(r.len());
                return Some(Difference {
                    path: format!("{path}[{i}]"),
                    left: l.get(i).map(show),
                    right: r.get(i).map(show),
                });
            }
            None
        }
        _ if left == right => None,
        _ => Some(Difference {
            path,
            left: Some(show(left)),
            right: Some(show(right)),
        }),
    }
}

fn key_segment(key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!(".{key}")
    } else {
        format!("[{}]", Value::from(key))
    }
}

/// A value shown in a message: compact JSON, long ones cut to 120 characters.
fn show(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}... ({} chars)", &text[..cut], text.chars().count()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn diff(l: Value, r: Value) -> Option<(String, Option<String>, Option<String>)> {
        first_difference(&l, &r).map(|d| (d.path, d.left, d.right))
    }

    #[test]
    fn equal_values_have_no_difference_whatever_the_key_order() {
        let l = json!({"a": 1, "b": [1, {"$hex": "00ff"}], "c d": "x"});
        let r = json!({"c d": "x", "b": [1, {"$hex": "00ff"}], "a": 1});
        assert_eq!(diff(l, r), None);
    }

    #[test]
    fn the_first_differing_path_is_named() {
        let l = json!({"info": {"files": [{"length": 1}, {"length": 2}], "name": "x"}});
        let r = json!({"info": {"files": [{"length": 1}, {"length": 3}], "name": "y"}});
        assert_eq!(
            diff(l, r),
            Some((
                "$.info.files[1].length".into(),
                Some("2".into()),
                Some("3".into())
            ))
        );
    }

    #[test]
    fn missing_keys_and_items_show_as_absent() {
        assert_eq!(
            diff(json!({"a": 1}), json!({"a": 1, "$hex:ff": 2})),
            Some(("$[\"$hex:ff\"]".into(), None, Some("2".into())))
        );
        assert_eq!(
            diff(json!([1, 2]), json!([1])),
            Some(("$[1]".into(), Some("2".into()), None))
        );
    }

    #[test]
    fn types_differ_and_long_values_are_cut() {
        assert_eq!(
            diff(json!(1), json!("1")),
            Some(("$".into(), Some("1".into()), Some("\"1\"".into())))
        );
        let long = "x".repeat(500);
        let d = first_difference(&json!(long), &json!(null)).unwrap();
        assert!(d.left.unwrap().ends_with("... (502 chars)"));
    }
}
