//! CEL conditions: compiled once per snapshot, evaluated per check with bounded inputs.
//!
//! Evaluation is bounded by construction: CEL has no unbounded loops (comprehensions run over
//! finite lists), expressions are limited to [`MAX_CONDITION_LEN`] bytes at load time, and the
//! edge bounds the size and depth of every attribute map a request brings.

use std::sync::Arc;

use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;

/// Longest condition source accepted at load time.
pub const MAX_CONDITION_LEN: usize = 2048;

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
