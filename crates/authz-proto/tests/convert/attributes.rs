//! Attribute trees (resource attributes and context): entries per map, key length, nesting
//! depth, string and list length, values per tree, finite numbers, valid timestamps, a kind set.

use std::collections::HashMap;

use authz_core::AttrValue;
use authz_core::limits::{
    MAX_ATTRIBUTE_DEPTH, MAX_ATTRIBUTE_KEY_LEN, MAX_ATTRIBUTE_VALUES, MAX_ATTRIBUTES, MAX_LIST_LEN,
    MAX_STRING_LEN,
};
use authz_proto::pb;
use chrono::{DateTime, Utc};

use super::{
    Accepted, attr, check_all, context_of, ctx, double, entries, int, ints, list, map, nested, one,
    refused, resource, text, timestamp, tree_of, with, with_context,
};

#[test]
fn attribute_maps_hold_at_most_64_entries_at_every_level() {
    let attributes = |n| with(|m| resource(m).attributes = entries(n));
    #[rustfmt::skip]
    let cases = vec![
        ("context of MAX_ATTRIBUTES", with_context(entries(MAX_ATTRIBUTES)), Accepted),
        ("context of MAX_ATTRIBUTES + 1", with_context(entries(MAX_ATTRIBUTES + 1)), refused("context")),
        ("attributes of MAX_ATTRIBUTES", attributes(MAX_ATTRIBUTES), Accepted),
        ("attributes of MAX_ATTRIBUTES + 1", attributes(MAX_ATTRIBUTES + 1), refused("resource.attributes")),
        ("nested map of MAX_ATTRIBUTES", ctx("m", map(entries(MAX_ATTRIBUTES))), Accepted),
        ("nested map of MAX_ATTRIBUTES + 1", ctx("m", map(entries(MAX_ATTRIBUTES + 1))), refused(r#"context["m"]"#)),
    ];
    check_all(cases);
}

/// A bad key names the map that holds it.
#[test]
fn attribute_keys_are_1_to_256_bytes() {
    let key = |len: usize| "k".repeat(len);
    #[rustfmt::skip]
    let cases = vec![
        ("key of MAX_ATTRIBUTE_KEY_LEN bytes", ctx(&key(MAX_ATTRIBUTE_KEY_LEN), int(1)), Accepted),
        ("key of MAX_ATTRIBUTE_KEY_LEN + 1 bytes", ctx(&key(MAX_ATTRIBUTE_KEY_LEN + 1), int(1)), refused("context")),
        ("empty key", ctx("", int(1)), refused("context")),
        ("empty attribute key", attr("", int(1)), refused("resource.attributes")),
        ("nested key of MAX_ATTRIBUTE_KEY_LEN bytes", ctx("m", map(one(&key(MAX_ATTRIBUTE_KEY_LEN), int(1)))), Accepted),
        ("nested key of MAX_ATTRIBUTE_KEY_LEN + 1 bytes", ctx("m", map(one(&key(MAX_ATTRIBUTE_KEY_LEN + 1), int(1)))), refused(r#"context["m"]"#)),
        ("nested empty key", ctx("m", map(one("", int(1)))), refused(r#"context["m"]"#)),
    ];
    check_all(cases);
}

#[test]
fn attributes_nest_at_most_4_levels() {
    assert_eq!(
        MAX_ATTRIBUTE_DEPTH, 4,
        "the paths below spell out four levels"
    );
    let deep = |depth, in_maps| ctx("d", nested(depth, in_maps));
    let in_three_lists = |inner| list(vec![list(vec![list(vec![inner])])]);
    #[rustfmt::skip]
    let cases = vec![
        ("a scalar is depth 1", deep(1, false), Accepted),
        ("lists to depth 4", deep(MAX_ATTRIBUTE_DEPTH, false), Accepted),
        ("lists to depth 5", deep(MAX_ATTRIBUTE_DEPTH + 1, false), refused(r#"context["d"][0][0][0][0]"#)),
        ("maps to depth 4", deep(MAX_ATTRIBUTE_DEPTH, true), Accepted),
        ("maps to depth 5", deep(MAX_ATTRIBUTE_DEPTH + 1, true), refused(r#"context["d"]["k"]["k"]["k"]["k"]"#)),
        ("a map in lists, depth 5", ctx("d", in_three_lists(map(one("k", int(1))))), refused(r#"context["d"][0][0][0]["k"]"#)),
        ("attributes to depth 5", attr("d", nested(MAX_ATTRIBUTE_DEPTH + 1, false)), refused(r#"resource.attributes["d"][0][0][0][0]"#)),
        // An empty list or map at the fourth level holds nothing at a fifth.
        ("empty list at depth 4", ctx("d", in_three_lists(list(Vec::new()))), Accepted),
        ("empty map at depth 4", ctx("d", in_three_lists(map(HashMap::new()))), Accepted),
    ];
    check_all(cases);
}

#[test]
fn strings_hold_at_most_4096_bytes_and_lists_256_elements() {
    let string = |len: usize| text(&"s".repeat(len));
    let accents = |pairs: usize| text(&"é".repeat(pairs));
    #[rustfmt::skip]
    let cases = vec![
        ("string of MAX_STRING_LEN bytes", ctx("s", string(MAX_STRING_LEN)), Accepted),
        ("string of MAX_STRING_LEN + 1 bytes", ctx("s", string(MAX_STRING_LEN + 1)), refused(r#"context["s"]"#)),
        // Bytes, not characters.
        ("string of 2,048 × `é`", ctx("s", accents(MAX_STRING_LEN / 2)), Accepted),
        ("string of 2,049 × `é`", ctx("s", accents(MAX_STRING_LEN / 2 + 1)), refused(r#"context["s"]"#)),
        ("long string in a list", ctx("l", list(vec![text("ok"), string(MAX_STRING_LEN + 1)])), refused(r#"context["l"][1]"#)),
        ("long string attribute", attr("k", string(MAX_STRING_LEN + 1)), refused(r#"resource.attributes["k"]"#)),
        ("list of MAX_LIST_LEN", ctx("l", ints(MAX_LIST_LEN)), Accepted),
        ("list of MAX_LIST_LEN + 1", ctx("l", ints(MAX_LIST_LEN + 1)), refused(r#"context["l"]"#)),
        ("nested list of MAX_LIST_LEN + 1", ctx("l", list(vec![int(1), ints(MAX_LIST_LEN + 1)])), refused(r#"context["l"][1]"#)),
        ("attribute list of MAX_LIST_LEN + 1", attr("l", ints(MAX_LIST_LEN + 1)), refused(r#"resource.attributes["l"]"#)),
    ];
    check_all(cases);
}

/// Every value counts against the 1,024 of its tree — lists and maps as well as scalars — and
/// the resource's attributes and the context each have a budget of their own.
#[test]
fn an_attribute_tree_holds_at_most_1024_values() {
    assert_eq!(
        MAX_ATTRIBUTE_VALUES, 1024,
        "the trees below are sized for 1,024"
    );
    let both = |n| {
        with(|m| {
            m.context = tree_of(n);
            resource(m).attributes = tree_of(n);
        })
    };
    // `a` + a map (1 + 30 lists of 32 = 991) + `trailing` integers after the map.
    let with_map = |trailing: usize| {
        let lists = (0..30).map(|i| (format!("k{i}"), ints(32))).collect();
        let mut values = vec![map(lists)];
        values.extend((0..trailing as i64).map(int));
        ctx("a", list(values))
    };
    let attributes = |n| with(|m| resource(m).attributes = tree_of(n));
    #[rustfmt::skip]
    let cases = vec![
        ("context of 1,024 values", with_context(tree_of(MAX_ATTRIBUTE_VALUES)), Accepted),
        // The 1,025th value is the last integer of the last list.
        ("context of 1,025 values", with_context(tree_of(MAX_ATTRIBUTE_VALUES + 1)), refused(r#"context["a"][10][92]"#)),
        ("attributes of 1,025 values", attributes(MAX_ATTRIBUTE_VALUES + 1), refused(r#"resource.attributes["a"][10][92]"#)),
        ("1,024 values in each tree", both(MAX_ATTRIBUTE_VALUES), Accepted),
        ("with a map, 1,024 values", with_map(32), Accepted),
        ("with a map, 1,025 values", with_map(33), refused(r#"context["a"][33]"#)),
    ];
    check_all(cases);
    // The accepted tree converts whole.
    let converted = context_of(&with_context(tree_of(MAX_ATTRIBUTE_VALUES)));
    let Some(AttrValue::List(lists)) = converted.get("a") else {
        panic!("`a` did not convert to a list: {converted:?}");
    };
    let integers: usize = lists
        .iter()
        .map(|inner| match inner {
            AttrValue::List(values) => values.len(),
            other => panic!("expected a list, got {other:?}"),
        })
        .sum();
    assert_eq!(1 + lists.len() + integers, MAX_ATTRIBUTE_VALUES);
}

#[test]
fn numbers_must_be_finite_and_keep_their_value() {
    #[rustfmt::skip]
    let cases = vec![
        ("NaN", ctx("x", double(f64::NAN)), refused(r#"context["x"]"#)),
        ("+inf", ctx("x", double(f64::INFINITY)), refused(r#"context["x"]"#)),
        ("-inf", ctx("x", double(f64::NEG_INFINITY)), refused(r#"context["x"]"#)),
        ("NaN in a list", ctx("l", list(vec![double(1.0), double(f64::NAN)])), refused(r#"context["l"][1]"#)),
        ("NaN attribute", attr("x", double(f64::NAN)), refused(r#"resource.attributes["x"]"#)),
    ];
    check_all(cases);
    let subnormal = f64::MIN_POSITIVE / 2.0;
    assert!(subnormal.is_subnormal());
    for number in [
        f64::MAX,
        f64::MIN,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        subnormal,
        5e-324,
    ] {
        let converted = context_of(&ctx("x", double(number)));
        let bits = match converted.get("x") {
            Some(AttrValue::Double(got)) => Some(got.to_bits()),
            _ => None,
        };
        assert_eq!(
            bits,
            Some(number.to_bits()),
            "{number:e} must convert bit for bit"
        );
    }
    for number in [i64::MIN, -1, 0, i64::MAX] {
        let converted = context_of(&ctx("n", int(number)));
        assert_eq!(converted.get("n"), Some(&AttrValue::Int(number)));
    }
}

/// protobuf's `Timestamp.nanos` is in [0, 999,999,999]; `seconds` must be in chrono's range.
#[test]
fn timestamps_must_be_valid_instants() {
    let latest = DateTime::<Utc>::MAX_UTC.timestamp();
    let earliest = DateTime::<Utc>::MIN_UTC.timestamp();
    // 2025-06-02T15:00:00Z; + 59 s is the last second of a minute.
    let june = 1_748_876_400;
    let at = |seconds, nanos| ctx("t", timestamp(seconds, nanos));
    let bad = || refused(r#"context["t"]"#);
    #[rustfmt::skip]
    let cases = vec![
        ("an ordinary instant", at(june, 0), Accepted),
        ("the last nanosecond of a second", at(june, 999_999_999), Accepted),
        ("before the epoch", at(-1, 0), Accepted),
        ("negative nanos", at(june, -1), bad()),
        ("nanos of a whole second", at(june, 1_000_000_000), bad()),
        // chrono reads 1e9..2e9 nanos in the last second of a minute as a leap second.
        ("leap-second nanos", at(june + 59, 1_000_000_000), bad()),
        ("leap-second nanos, the most", at(june + 59, 1_999_999_999), bad()),
        ("nanos i32::MAX", at(june + 59, i32::MAX), bad()),
        ("the latest instant chrono holds", at(latest, 999_999_999), Accepted),
        ("a second past it", at(latest + 1, 0), bad()),
        ("the earliest instant chrono holds", at(earliest, 0), Accepted),
        ("a second before it", at(earliest - 1, 0), bad()),
        ("seconds i64::MAX", at(i64::MAX, 0), bad()),
        ("seconds i64::MIN", at(i64::MIN, 0), bad()),
        ("bad timestamp attribute", attr("t", timestamp(0, -1)), refused(r#"resource.attributes["t"]"#)),
    ];
    check_all(cases);
    let converted = context_of(&at(june, 123_456_789));
    let want = DateTime::from_timestamp(june, 123_456_789).map(AttrValue::Timestamp);
    assert_eq!(converted.get("t"), want.as_ref());
}

#[test]
fn a_value_must_set_its_kind() {
    let unset = || pb::AttributeValue { kind: None };
    #[rustfmt::skip]
    let cases = vec![
        ("no kind", ctx("k", unset()), refused(r#"context["k"]"#)),
        ("no kind in a list", ctx("l", list(vec![int(1), unset()])), refused(r#"context["l"][1]"#)),
        ("no kind in a map", ctx("m", map(one("k", unset()))), refused(r#"context["m"]["k"]"#)),
        ("no kind in attributes", attr("k", unset()), refused(r#"resource.attributes["k"]"#)),
    ];
    check_all(cases);
}
