//! CEL conditions: compiled once per snapshot, evaluated per check with bounded inputs.
//!
//! Evaluation is bounded by construction: CEL has no unbounded loops (comprehensions run over
//! finite lists), expressions are limited to [`MAX_CONDITION_LEN`] bytes and comprehensions to
//! [`MAX_COMPREHENSION_DEPTH`] levels of nesting at load time, and the edge bounds the size and
//! depth of every attribute map a request brings. Conditions may call only the functions the
//! environment defines ([`functions`]); anything else is refused at load time.

mod functions;

use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, IdedEntryExpr, IdedExpr};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;

pub(crate) use functions::environment;

/// Longest condition source accepted at load time.
pub const MAX_CONDITION_LEN: usize = 2048;

/// Deepest nesting of comprehensions (`all`, `exists`, `map`, `filter`…) accepted at load
/// time. Lists are bounded at the edge (256 elements), so the worst case is 256² iterations.
pub const MAX_COMPREHENSION_DEPTH: usize = 2;

/// The variables a condition may reference.
pub const CONDITION_VARIABLES: [&str; 5] = ["principal", "resource", "context", "tenant", "now"];

/// A compiled CEL condition.
pub struct Condition {
    source: Arc<str>,
    program: cel::Program,
    /// Whether the program reads `resource` / `context`: inputs it never reads are never built.
    pub(crate) uses_resource: bool,
    pub(crate) uses_context: bool,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// Why a condition was rejected at load time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("condition is longer than {MAX_CONDITION_LEN} bytes")]
    TooLong,
    #[error("condition is empty")]
    Empty,
    #[error("condition does not parse: {0}")]
    Parse(String),
    #[error(
        "condition references unknown variable `{0}` (known: principal, resource, context, tenant, now)"
    )]
    UnknownVariable(String),
    #[error(
        "condition nests comprehensions {0} deep; at most {MAX_COMPREHENSION_DEPTH} keeps evaluation bounded"
    )]
    TooDeep(usize),
    #[error("condition calls unknown function `{0}`")]
    UnknownFunction(String),
}

/// How deeply comprehensions nest inside `expr` (0 when there are none).
fn comprehension_depth(expr: &IdedExpr) -> usize {
    let deepest = |children: Vec<&IdedExpr>| {
        children
            .into_iter()
            .map(comprehension_depth)
            .max()
            .unwrap_or(0)
    };
    match &expr.expr {
        // The range is evaluated once, outside the loop; the rest runs per element.
        Expr::Comprehension(comprehension) => {
            let body = vec![
                &comprehension.accu_init,
                &comprehension.loop_cond,
                &comprehension.loop_step,
                &comprehension.result,
            ];
            comprehension_depth(&comprehension.iter_range).max(1 + deepest(body))
        }
        _ => deepest(children(expr)),
    }
}

/// The expressions directly inside `expr`.
fn children(expr: &IdedExpr) -> Vec<&IdedExpr> {
    match &expr.expr {
        Expr::Comprehension(comprehension) => vec![
            &comprehension.iter_range,
            &comprehension.accu_init,
            &comprehension.loop_cond,
            &comprehension.loop_step,
            &comprehension.result,
        ],
        Expr::Call(call) => call
            .target
            .iter()
            .map(|target| &**target)
            .chain(&call.args)
            .collect(),
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map.entries.iter().flat_map(entry_children).collect(),
        Expr::Struct(literal) => literal.entries.iter().flat_map(entry_children).collect(),
        Expr::Select(select) => vec![&select.operand],
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => Vec::new(),
    }
}

fn entry_children(entry: &IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::StructField(field) => vec![&field.value],
        EntryExpr::MapEntry(pair) => vec![&pair.key, &pair.value],
    }
}

/// The inputs a condition sees, as CEL values borrowed for the evaluation: nothing is copied
/// into the CEL context, the resolver hands out references.
#[derive(Debug)]
pub(crate) struct ConditionInput<'a> {
    pub principal: &'a (dyn Val + 'a),
    pub resource: Option<&'a (dyn Val + 'a)>,
    pub context: Option<&'a (dyn Val + 'a)>,
    pub tenant: &'a (dyn Val + 'a),
    pub now: &'a (dyn Val + 'a),
}

impl VariableResolver for ConditionInput<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let value: &'b (dyn Val + 'b) = match variable {
            "principal" => self.principal,
            "resource" => self.resource?,
            "context" => self.context?,
            "tenant" => self.tenant,
            "now" => self.now,
            _ => return None,
        };
        Some(CowVal::Borrowed(value))
    }
}

impl Condition {
    /// Compiles `source` for `env`, which is `cel::Env::stdlib()` (what a snapshot evaluates
    /// conditions in): a call to a function outside it is [`ConditionError::UnknownFunction`].
    pub fn compile(env: &cel::Env, source: &str) -> Result<Condition, ConditionError> {
        if source.len() > MAX_CONDITION_LEN {
            return Err(ConditionError::TooLong);
        }
        if source.trim().is_empty() {
            return Err(ConditionError::Empty);
        }
        let program = env
            .compile(source)
            .map_err(|errors| ConditionError::Parse(errors.to_string()))?;
        let references = program.references();
        if let Some(unknown) = references
            .variables()
            .into_iter()
            .find(|name| !CONDITION_VARIABLES.contains(name))
        {
            return Err(ConditionError::UnknownVariable(unknown.to_owned()));
        }
        if let Some(name) = functions::unknown_function(program.expression()) {
            return Err(ConditionError::UnknownFunction(name.to_owned()));
        }
        let depth = comprehension_depth(program.expression());
        if depth > MAX_COMPREHENSION_DEPTH {
            return Err(ConditionError::TooDeep(depth));
        }
        let uses_resource = references.has_variable("resource");
        let uses_context = references.has_variable("context");
        drop(references);
        Ok(Condition {
            source: Arc::from(source),
            program,
            uses_resource,
            uses_context,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// `Ok(true)` only when the expression yields boolean `true`; anything else that is not
    /// `false` is an error the caller must treat as "not proven".
    pub(crate) fn evaluate(
        &self,
        env: &Arc<cel::Env>,
        input: &ConditionInput<'_>,
    ) -> Result<bool, String> {
        let mut context = cel::Context::with_env(Arc::clone(env));
        context.set_variable_resolver(input);
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(result)) => Ok(result),
            Ok(other) => Err(format!(
                "condition yielded {:?}, not a bool",
                other.type_of()
            )),
            Err(error) => Err(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_time_checks_name_what_is_wrong() {
        let env = environment();
        let nested = |depth: usize| {
            (0..depth).fold("true".to_owned(), |inner, level| {
                format!("context.items.all(x{level}, {inner})")
            })
        };
        let cases: [(String, Result<(), ConditionError>); 10] = [
            ("context.section == 'billing'".into(), Ok(())),
            (nested(1), Ok(())),
            (nested(2), Ok(())),
            (nested(3), Err(ConditionError::TooDeep(3))),
            // Nesting hidden in a call argument, a list or map literal, or the iteration range
            // still counts.
            (
                format!("size([{}]) > 0", nested(3)),
                Err(ConditionError::TooDeep(3)),
            ),
            (
                format!("size({{'k': {}}}) > 0", nested(3)),
                Err(ConditionError::TooDeep(3)),
            ),
            (
                format!("size({{{}: 1}}) > 0", nested(3)),
                Err(ConditionError::TooDeep(3)),
            ),
            (
                "user.admin".into(),
                Err(ConditionError::UnknownVariable("user".into())),
            ),
            (" ".into(), Err(ConditionError::Empty)),
            (
                "x".repeat(MAX_CONDITION_LEN + 1),
                Err(ConditionError::TooLong),
            ),
        ];
        for (source, want) in cases {
            let got = Condition::compile(&env, &source).map(|_| ());
            assert_eq!(got, want, "{source}");
        }
        assert!(matches!(
            Condition::compile(&env, "context.section =="),
            Err(ConditionError::Parse(_))
        ));
    }
}
