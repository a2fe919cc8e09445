//! A generated authorization question with owned values, lent to the engine as a
//! [`CheckRequest`].

use std::fmt::Write as _;

use authz_core::{
    AttrValue, Attributes, CheckRequest, Origin, PrincipalKind, PrincipalRef, ResourceRef,
};

use crate::world::at_minute;

/// Who asks for whom, what, on which resource, when — owned, so tests can keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub principal: String,
    pub kind: PrincipalKind,
    pub session_id: Option<String>,
    pub api_key_id: Option<String>,
    pub token_version: Option<u64>,
    /// The delegator, with the kind the caller claims for them.
    pub on_behalf_of: Option<(String, PrincipalKind)>,
    pub resource_type: String,
    pub action: String,
    pub resource_id: String,
    /// `resource.amount`.
    pub amount: Option<i64>,
    /// `context.level`.
    pub level: Option<i64>,
    /// Minutes after [`crate::world::base_time`].
    pub minute: i64,
    attributes: Attributes,
    context: Attributes,
}

impl Request {
    /// `principal` asks to `action` the resource `resource_type:resource_id` at `minute`.
    pub fn new(principal: &str, permission: &str, resource_id: &str, minute: i64) -> Request {
        let (resource_type, action) = permission.split_once('.').unwrap_or((permission, ""));
        Request {
            principal: principal.to_owned(),
            kind: PrincipalKind::User,
            session_id: None,
            api_key_id: None,
            token_version: None,
            on_behalf_of: None,
            resource_type: resource_type.to_owned(),
            action: action.to_owned(),
            resource_id: resource_id.to_owned(),
            amount: None,
            level: None,
            minute,
            attributes: Attributes::new(),
            context: Attributes::new(),
        }
    }

    /// Sets `resource.amount` and `context.level`, keeping the attribute maps in step.
    pub fn with_inputs(mut self, amount: Option<i64>, level: Option<i64>) -> Request {
        self.amount = amount;
        self.level = level;
        self.attributes = amount
            .map(|amount| Attributes::from([("amount".to_owned(), AttrValue::Int(amount))]))
            .unwrap_or_default();
        self.context = level
            .map(|level| Attributes::from([("level".to_owned(), AttrValue::Int(level))]))
            .unwrap_or_default();
        self
    }

    /// `type.action`.
    pub fn permission(&self) -> String {
        format!("{}.{}", self.resource_type, self.action)
    }

    /// The engine's view of this request.
    pub fn check(&self) -> CheckRequest<'_> {
        CheckRequest {
            principal: PrincipalRef {
                kind: self.kind,
                id: &self.principal,
                session_id: self.session_id.as_deref(),
                api_key_id: self.api_key_id.as_deref(),
                token_version: self.token_version,
                origin: Origin::Tenant,
            },
            action: &self.action,
            resource: ResourceRef {
                resource_type: &self.resource_type,
                id: &self.resource_id,
                attributes: &self.attributes,
            },
            context: &self.context,
            on_behalf_of: self.on_behalf_of.as_ref().map(|(id, kind)| PrincipalRef {
                kind: *kind,
                ..PrincipalRef::user(id)
            }),
            now: at_minute(self.minute),
        }
    }

    /// One line for failure messages: `ana(user) patient.view on p1 at +30m session=… …`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{}({}) {} on {} at {:+}m",
            self.principal,
            self.kind.as_str(),
            self.permission(),
            self.resource_id,
            self.minute
        );
        let credentials = [
            ("session", self.session_id.as_deref()),
            ("api_key", self.api_key_id.as_deref()),
        ];
        for (name, value) in credentials {
            if let Some(value) = value {
                let _ = write!(text, " {name}={value}");
            }
        }
        if let Some(version) = self.token_version {
            let _ = write!(text, " token_version={version}");
        }
        if let Some((id, kind)) = &self.on_behalf_of {
            let _ = write!(text, " on_behalf_of={id}({})", kind.as_str());
        }
        if let Some(amount) = self.amount {
            let _ = write!(text, " resource.amount={amount}");
        }
        if let Some(level) = self.level {
            let _ = write!(text, " context.level={level}");
        }
        text
    }
}
