//! What a grant may say and what it means, as the product guides put it: a locked grant keeps
//! the scope and condition its role type gives it; a `related:` scope must name a relation the
//! resources can hold; a condition may call only functions the engine provides.

mod common;

use std::fmt::Write as _;

use authz_core::model::LockedGrant;
use authz_core::{PolicyError, Reason, Snapshot, TenantPolicy};
use common::{
    Expect::{Allow, Deny},
    ask, check_all, compile, parse,
};

use Reason::{ConditionError, ConditionNotMet, NoMatchingGrant, OutOfScope};

// ---------------------------------------------------------------------------------------------
// Locked grants
// ---------------------------------------------------------------------------------------------

/// An ABA practice (seed 002, "Managing users and roles"): "A few permissions are forced by
/// role type (e.g. parents always have view_portal; admins always have manage_users) — these
/// appear locked", and each parent "is linked to one client".
const PRACTICE: &str = r#"
tenant: { id: bright-steps }
catalog:
  resource_types:
    client:
      relations: { guardian: { subject: user } }
      actions: { view_portal: {}, pay_invoice: {}, view_chart: {} }
    user:
      actions: { manage: {} }
locked_grants:
  # Admins manage users everywhere: the plain form, tenant-wide.
  admin: [user.manage]
  parent:
    # Parents see the portal of the clients they are guardians of, and no other.
    - { permission: client.view_portal, scope: "related:guardian" }
    # ...and pay those clients' invoices once they have passed MFA.
    - permission: client.pay_invoice
      scope: "related:guardian"
      condition: "context.mfa == true"
roles:
  - { id: office_admin, role_type: admin }
  # A parent role that states nothing itself: the locked grants are all it holds.
  - { id: parent, role_type: parent }
  # A family liaison is a parent-type role the practice lets see every portal.
  - id: family_liaison
    role_type: parent
    grants: [{ permission: client.view_portal }]
principals: [{ id: ada }, { id: pat }, { id: lou }]
bindings:
  - { id: b-ada, principal: ada, role: office_admin }
  - { id: b-pat, principal: pat, role: parent }
  - { id: b-lou, principal: lou, role: family_liaison }
relationships:
  - client:c-1#guardian@user:pat
"#;

#[test]
fn a_locked_grant_keeps_the_scope_and_condition_its_role_type_gives_it() {
    let practice = compile(&parse(PRACTICE));
    check_all(
        &practice,
        &[
            // Parents see their own child's portal, and only theirs.
            (ask("pat", "client.view_portal", "c-1"), Allow),
            (ask("pat", "client.view_portal", "c-2"), Deny(OutOfScope)),
            // The locked condition holds with the locked scope.
            (
                ask("pat", "client.pay_invoice", "c-1").ctx("mfa", true),
                Allow,
            ),
            (
                ask("pat", "client.pay_invoice", "c-1").ctx("mfa", false),
                Deny(ConditionNotMet),
            ),
            (
                ask("pat", "client.pay_invoice", "c-1"),
                Deny(ConditionError),
            ),
            (
                ask("pat", "client.pay_invoice", "c-2").ctx("mfa", true),
                Deny(OutOfScope),
            ),
            // Locked grants add only what they say.
            (
                ask("pat", "client.view_chart", "c-1"),
                Deny(NoMatchingGrant),
            ),
            // A broader grant the role states itself applies as well.
            (ask("lou", "client.view_portal", "c-2"), Allow),
            // A plain locked permission is held tenant-wide, as it always was.
            (ask("ada", "user.manage", "u-1"), Allow),
            (
                ask("ada", "client.view_portal", "c-1"),
                Deny(NoMatchingGrant),
            ),
        ],
    );
}

#[test]
fn a_role_cannot_remove_a_locked_grant_whatever_its_scope() {
    let mut policy = parse(PRACTICE);
    policy.roles[1].remove = vec!["client.view_portal".to_owned()];
    match Snapshot::compile(&policy, None, 1) {
        Err(PolicyError::LockedGrantRemoved {
            role, permission, ..
        }) => assert_eq!(
            (role.as_str(), permission.as_str()),
            ("parent", "client.view_portal")
        ),
        other => panic!("removing a locked grant: expected LockedGrantRemoved, got {other:?}"),
    }
}

/// A locked grant is checked like a role's own: the error names the locked grants it is in.
#[test]
fn a_locked_grant_is_checked_like_a_roles_own() {
    let cases: [(&str, &str); 3] = [
        (
            "{ permission: client.view_portal, scope: \"related:parent\" }",
            "locked grants of `parent`: scope `related:parent` names a relation no resource type declares",
        ),
        (
            "{ permission: client.view_portal, condition: \"context.mfa ==\" }",
            "locked grants of `parent`: invalid condition `context.mfa ==`",
        ),
        (
            "{ scope: \"related:guardian\" }",
            "locked grants of `parent`: a grant names no permission",
        ),
    ];
    for (entry, want) in cases {
        let yaml = PRACTICE.replace(
            "    - { permission: client.view_portal, scope: \"related:guardian\" }",
            &format!("    - {entry}"),
        );
        let error = match TenantPolicy::from_yaml(&yaml).map(|p| Snapshot::compile(&p, None, 1)) {
            Ok(Err(error)) => error.to_string(),
            Ok(Ok(_)) => panic!("{entry}: compiled; must be refused"),
            Err(error) => panic!("{entry}: does not parse: {error}"),
        };
        assert!(
            error.starts_with(want),
            "{entry}: `{error}` must start with `{want}`"
        );
    }
}

/// Policy export writes a policy back as it was read: a plain locked permission stays a plain
/// string, a locked grant stays a mapping.
#[test]
fn locked_grants_are_written_back_in_the_form_they_were_read() {
    let policy = parse(PRACTICE);
    let yaml = match policy.to_yaml() {
        Ok(yaml) => yaml,
        Err(error) => panic!("the practice does not export: {error}"),
    };
    assert_eq!(parse(&yaml), policy, "exported:\n{yaml}");
    let shapes: Vec<(&str, bool)> = policy
        .locked_grants
        .iter()
        .flat_map(|(role_type, entries)| {
            entries.iter().map(move |entry| {
                (
                    role_type.as_str(),
                    matches!(entry, LockedGrant::Permission(_)),
                )
            })
        })
        .collect();
    assert_eq!(
        shapes,
        [("admin", true), ("parent", false), ("parent", false)]
    );
    assert!(
        yaml.contains("- user.manage"),
        "a plain locked permission is written as a string:\n{yaml}"
    );
}

// ---------------------------------------------------------------------------------------------
// Relation scopes
// ---------------------------------------------------------------------------------------------

/// A practice where guardians are linked to clients, session notes sit in a client's file,
/// clients attend a clinic with a director, and invoices stand alone. `GRANT` is the grant of
/// the `family` role a case varies.
const FILES: &str = r#"
tenant: { id: bright-steps }
catalog:
  resource_types:
    clinic:
      container: true
      relations: { director: { subject: user } }
      actions: { view: {} }
    client:
      container: true
      relations: { clinic: { container: clinic }, guardian: { subject: user } }
      actions: { view: {}, view_portal: {} }
    session_note:
      relations: { client: { container: client }, author: { subject: user } }
      actions: { view: {} }
    invoice:
      actions: { view: {}, pay: {} }
roles:
  - { id: family, role_type: parent, grants: [GRANT] }
principals: [{ id: pat }]
bindings: [{ id: b-pat, principal: pat, role: family }]
relationships:
  - client:c-1#guardian@user:pat
  - client:c-1#clinic@clinic:north
  - session_note:n-1#client@client:c-1
"#;

/// `related:R` covers a resource where the principal holds `R` on it or on a container it sits
/// in. A grant whose resources can never hold `R` — their type declares no such relation, nor
/// does any container type it sits in — could never allow anything: for an exact permission
/// (or a pattern that keeps nothing) that is a load error naming the role, the permission and
/// the relation; a pattern keeps only the permissions whose resources can hold `R`.
#[test]
fn a_relation_scope_must_name_a_relation_the_resources_can_hold() {
    type Refused = Option<(&'static str, &'static str)>;
    #[rustfmt::skip]
    let cases: [(&str, Refused); 8] = [
        // The client declares `guardian`; a session note sits in a client; a client in a clinic.
        ("{ permission: client.view_portal, scope: \"related:guardian\" }", None),
        ("{ permission: session_note.view, scope: \"related:guardian\" }", None),
        ("{ permission: client.view, scope: \"related:director\" }", None),
        // Patterns keep what can hold the relation.
        ("{ permission: \"*.view\", scope: \"related:guardian\" }", None),
        // Invoices are linked to no one.
        ("{ permission: invoice.view, scope: \"related:guardian\" }", Some(("invoice.view", "guardian"))),
        ("{ permission: \"invoice.*\", scope: \"related:guardian\" }", Some(("invoice.*", "guardian"))),
        // Containers do not hold what their contents declare.
        ("{ permission: clinic.view, scope: \"related:guardian\" }", Some(("clinic.view", "guardian"))),
        // `clinic` is a container relation: nobody holds it.
        ("{ permissions: [client.view], scope: \"related:clinic\" }", Some(("client.view", "clinic"))),
    ];
    let mut failures = String::new();
    for (grant, want) in cases {
        let got = match Snapshot::compile(&parse(&FILES.replace("GRANT", grant)), None, 1) {
            Ok(_) => None,
            Err(PolicyError::RelationOutOfReach {
                location,
                permission,
                relation,
            }) if location == "role `family`" => Some((permission, relation)),
            Err(other) => {
                let _ = writeln!(failures, "  {grant}: refused for another reason: {other}");
                continue;
            }
        };
        let want = want.map(|(permission, relation)| (permission.to_owned(), relation.to_owned()));
        if got != want {
            let _ = writeln!(failures, "  {grant}: got {got:?}, want {want:?}");
        }
    }
    assert!(failures.is_empty(), "wrong cases:\n{failures}");
}

#[test]
fn a_pattern_with_a_relation_scope_grants_only_what_can_hold_the_relation() {
    let files = compile(&parse(&FILES.replace(
        "GRANT",
        "{ permission: \"*.view\", scope: \"related:guardian\" }",
    )));
    check_all(
        &files,
        &[
            (ask("pat", "client.view", "c-1"), Allow),
            (ask("pat", "session_note.view", "n-1"), Allow),
            (ask("pat", "client.view", "c-2"), Deny(OutOfScope)),
            // Never in the role: no invoice or clinic can be linked to a guardian.
            (ask("pat", "invoice.view", "i-1"), Deny(NoMatchingGrant)),
            (ask("pat", "clinic.view", "north"), Deny(NoMatchingGrant)),
        ],
    );
}

#[test]
fn the_error_names_the_role_the_permission_and_the_relation() {
    let yaml = FILES.replace(
        "GRANT",
        "{ permission: invoice.pay, scope: \"related:guardian\" }",
    );
    let message = match Snapshot::compile(&parse(&yaml), None, 1) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a guardian scope on invoices loaded"),
    };
    assert_eq!(
        message,
        "role `family`: scope `related:guardian` can never cover `invoice.pay`: its resource \
         types declare no relation `guardian` a principal holds, nor do the container types they \
         sit in"
    );
    // A locked grant is held to the same rule.
    let yaml = FILES.replace("GRANT", "{ permission: client.view }").replace(
        "roles:",
        "locked_grants:\n  parent: [{ permission: invoice.view, scope: \"related:guardian\" }]\nroles:",
    );
    match Snapshot::compile(&parse(&yaml), None, 1) {
        Err(PolicyError::RelationOutOfReach { location, .. }) => {
            assert_eq!(location, "locked grants of `parent`");
        }
        other => panic!("a locked guardian scope on invoices: {other:?}"),
    }
}

/// Platform roles name the permissions and relations of every tenant's catalog: a tenant whose
/// resources cannot hold the relation simply gives the platform role nothing there.
#[test]
fn a_platform_relation_scope_a_tenant_cannot_hold_is_skipped_there() {
    let platform = parse(
        r#"
tenant: { id: platform }
roles:
  - { id: family_support, role_type: platform_support, grants: [{ permission: invoice.view, scope: "related:guardian" }, { permission: client.view }] }
principals: [{ id: sam }]
bindings: [{ id: b-sam, principal: sam, role: family_support }]
"#,
    );
    let tenant = parse(&FILES.replace("GRANT", "{ permission: client.view }"));
    let files = match Snapshot::compile(&tenant, Some(&platform), 1) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("the platform's relation scope must be skipped: {error}"),
    };
    check_all(
        &files,
        &[
            (ask("sam", "client.view", "c-1").platform(), Allow),
            (
                ask("sam", "invoice.view", "i-1").platform(),
                Deny(NoMatchingGrant),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

/// A clinic whose roles and constraint carry a condition each; `CONDITION` is the one a case
/// varies.
const CLINIC: &str = r#"
tenant: { id: clinic }
catalog:
  resource_types:
    invoice: { actions: { approve: {}, view: {} } }
roles:
  - { id: biller, role_type: billing, grants: [{ permission: invoice.approve, condition: "ROLE" }] }
constraints:
  - { id: big-invoices, permissions: [invoice.approve], condition: "CONSTRAINT" }
"#;

/// A condition that calls a function the engine does not provide is refused when the policy
/// loads, naming the function and where it is; it would otherwise fail at every check.
#[test]
fn a_condition_calling_an_unknown_function_is_refused_at_load() {
    let fine = "resource.amount < 100";
    let cases = [
        ("ROLE", "foo(resource.amount)", "role `biller`", "foo"),
        (
            "ROLE",
            "resource.owner.startswith('a')",
            "role `biller`",
            "startswith",
        ),
        (
            "CONSTRAINT",
            "max(resource.amount, 10) > 1000",
            "constraint `big-invoices`",
            "max",
        ),
    ];
    for (placeholder, condition, location, function) in cases {
        let yaml = CLINIC
            .replace(placeholder, condition)
            .replace("ROLE", fine)
            .replace("CONSTRAINT", fine);
        let error = match Snapshot::compile(&parse(&yaml), None, 1) {
            Err(error) => error,
            Ok(_) => panic!("`{condition}` loaded; must be refused"),
        };
        let message = error.to_string();
        match error {
            PolicyError::Condition {
                location: at,
                error: authz_core::condition::ConditionError::UnknownFunction(name),
                ..
            } => assert_eq!((at.as_str(), name.as_str()), (location, function)),
            other => panic!("`{condition}`: expected an unknown function, got {other:?}"),
        }
        assert!(
            message.contains(location) && message.contains(&format!("`{function}`")),
            "{message}"
        );
    }
    let yaml = CLINIC.replace("ROLE", fine).replace("CONSTRAINT", fine);
    compile(&parse(&yaml));
}
