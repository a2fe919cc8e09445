//! The functions a condition may call, checked at load time: a misspelt or invented function
//! is a load error naming it, not a `condition_error` at every check.
//!
//! cel 0.15 keeps its function registry private (`Env` answers "which overload fits these
//! values?" only while evaluating), so the functions of the environment conditions run in,
//! `cel::Env::stdlib()` with the workspace's `chrono` and `regex` features, are listed here.
//! A test evaluates every one of them, so the list cannot name a function the environment
//! lacks; upgrading `cel` means checking its `with_stdlib` for new ones.

use cel::common::ast::{Expr, IdedExpr, operators};

use super::children;

/// The environment conditions are compiled and evaluated in.
pub(crate) fn environment() -> cel::Env {
    cel::Env::stdlib()
}

/// Functions called on their own: `size(x)`, `int(s)`, `timestamp(s)`…
///
/// `optional.of`, `optional.none` and `optional.ofNonZeroValue` exist too, but a condition
/// cannot reach them: `optional` is not one of its variables.
const GLOBAL: [&str; 12] = [
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "matches",
    "size",
    "string",
    "timestamp",
    "type",
    "uint",
];

/// Functions called on a value: `name.startsWith(p)`, `now.getHours(tz)`, `list.size()`, and
/// those of an optional value (`context.?level.orValue(0)`).
const MEMBER: [&str; 19] = [
    "contains",
    "endsWith",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "hasValue",
    "matches",
    "or",
    "orValue",
    "size",
    "startsWith",
    "value",
];

/// What the parser writes as a call: operators, indexing, the optional forms, and the
/// conditions of the loops macros expand to (`all`, `exists`… are not calls once parsed).
const OPERATORS: [&str; 21] = [
    operators::CONDITIONAL,
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::SUBSTRACT,
    operators::ADD,
    operators::MULTIPLY,
    operators::DIVIDE,
    operators::MODULO,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::GREATER_EQUALS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::LESS,
    operators::NEGATE,
    operators::INDEX,
    operators::OPT_INDEX,
    operators::OPT_SELECT,
    operators::NOT_STRICTLY_FALSE,
    operators::IN,
];

/// The first function `expr` calls that the environment does not define, if any.
///
/// A call on a value (`x.f()`) must name a member function; a call on its own (`f(x)`) a global
/// one. A qualified global (`ns.f(x)`) would parse as a call on `ns`, but a condition's only
/// names are its variables, so no such call can mean one.
pub(super) fn unknown_function(expr: &IdedExpr) -> Option<&str> {
    let mut stack = vec![expr];
    while let Some(expr) = stack.pop() {
        if let Expr::Call(call) = &expr.expr {
            let name = call.func_name.as_str();
            let known = if OPERATORS.contains(&name) {
                true
            } else if call.target.is_some() {
                MEMBER.contains(&name)
            } else {
                GLOBAL.contains(&name)
            };
            if !known {
                return Some(name);
            }
        }
        stack.extend(children(expr));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use cel::common::types::CelTimestamp;
    use chrono::DateTime;

    use super::*;
    use crate::attr::{AttrValue, Attributes, attributes_to_val};
    use crate::condition::{Condition, ConditionError, ConditionInput};

    /// Every function of the allow-list with a condition that calls it and is true, in the
    /// environment conditions run in, at `2025-06-02T15:04:05.006Z` (a Monday) with
    /// `context.level` 3 and `context.tags` `["a", "b"]`.
    const CALLS: [(&str, &str); 32] = [
        ("bool", "bool('true')"),
        ("bytes", "bytes('ab') == b'ab'"),
        ("double", "double(2) == 2.0"),
        ("duration", "duration('1h') == duration('60m')"),
        ("dyn", "dyn(1) == 1"),
        ("int", "int('2') == 2"),
        ("matches", "matches('abc', '^a')"),
        ("size", "size('abc') == 3 && size(context.tags) == 2"),
        ("string", "string(1) == '1'"),
        ("timestamp", "timestamp('2025-01-01T00:00:00Z') < now"),
        ("type", "type(1) == type(2)"),
        ("uint", "uint(1) == 1u"),
        ("contains", "'abc'.contains('b')"),
        ("endsWith", "'abc'.endsWith('c')"),
        ("getDate", "now.getDate() == 2"),
        ("getDayOfMonth", "now.getDayOfMonth() == 1"),
        ("getDayOfWeek", "now.getDayOfWeek() == 1"),
        ("getDayOfYear", "now.getDayOfYear() == 152"),
        ("getFullYear", "now.getFullYear() == 2025"),
        ("getHours", "now.getHours() == 15"),
        ("getHours", "now.getHours('America/New_York') == 11"),
        ("getMilliseconds", "now.getMilliseconds() == 6"),
        ("getMinutes", "now.getMinutes() == 4"),
        ("getMonth", "now.getMonth() == 5"),
        ("getSeconds", "now.getSeconds() == 5"),
        ("hasValue", "!context.?missing.hasValue()"),
        ("matches", "'abc'.matches('b')"),
        ("or", "context.?missing.or(context.?level).value() == 3"),
        ("orValue", "context.?missing.orValue(7) == 7"),
        ("size", "'abc'.size() == 3 && context.tags.size() == 2"),
        ("startsWith", "'abc'.startsWith('a')"),
        ("value", "context.?level.value() == 3"),
    ];

    #[test]
    fn every_function_conditions_may_call_evaluates() {
        let named: BTreeSet<&str> = CALLS.iter().map(|(name, _)| *name).collect();
        let listed: BTreeSet<&str> = GLOBAL.iter().chain(&MEMBER).copied().collect();
        assert_eq!(
            named, listed,
            "every listed function needs a call here, and no more"
        );

        let env = Arc::new(environment());
        let context = Attributes::from([
            ("level".to_owned(), AttrValue::Int(3)),
            (
                "tags".to_owned(),
                AttrValue::List(vec![AttrValue::from("a"), AttrValue::from("b")]),
            ),
        ]);
        let context = attributes_to_val(&context, []);
        let empty = Attributes::new();
        let principal = attributes_to_val(&empty, []);
        let now = DateTime::parse_from_rfc3339("2025-06-02T15:04:05.006Z").map(CelTimestamp::from);
        let Ok(now) = now else {
            panic!("the test instant parses");
        };
        let input = ConditionInput {
            principal: &*principal,
            resource: None,
            context: Some(&*context),
            tenant: &*principal,
            now: &now,
        };
        for (name, source) in CALLS {
            let result = Condition::compile(&env, source).map(|c| c.evaluate(&env, &input));
            assert_eq!(result, Ok(Ok(true)), "{name}: `{source}`");
        }
    }

    #[test]
    fn a_call_to_a_function_the_environment_lacks_is_refused_by_name() {
        let env = environment();
        let cases: [(&str, Result<(), ConditionError>); 7] = [
            ("size(context.tags) > 1", Ok(())),
            ("context.name.startsWith('a')", Ok(())),
            (
                "foo(resource.amount)",
                Err(ConditionError::UnknownFunction("foo".into())),
            ),
            // Members and globals are different functions: `contains` is only a member.
            (
                "contains(context.name, 'a')",
                Err(ConditionError::UnknownFunction("contains".into())),
            ),
            (
                "context.amount.double() > 1.0",
                Err(ConditionError::UnknownFunction("double".into())),
            ),
            // A typo deep inside a comprehension or a list is found all the same.
            (
                "context.tags.all(t, context.name.startswith('a'))",
                Err(ConditionError::UnknownFunction("startswith".into())),
            ),
            (
                "[1, max(2, 3)].size() == 2",
                Err(ConditionError::UnknownFunction("max".into())),
            ),
        ];
        for (source, want) in cases {
            assert_eq!(Condition::compile(&env, source).map(drop), want, "{source}");
        }
    }
}
