//! The product guides' permission tables, cell by cell, against the demo tenants.
//!
//! - Seed 003 ("Chapter 3: User Roles & Permissions", section 3.3): the home-health permission
//!   matrix, every row × every standard role, on `deploy/examples/home-health.yaml`.
//! - Seed 004 ("RBAC permissions"): the PII Access column (Full / Mask / Off) and the
//!   Admin/Base permission rows, on `deploy/examples/provider-screening.yaml`.
//!
//! Each table test walks all its cells and fails once with the list of every wrong cell.

mod common;

use authz_core::{FieldVisibility, PrincipalKind, Reason, Snapshot};
use common::{Ask, Expect, ask, compile, decide, home_health, outcome, provider_screening_policy};

// ---------------------------------------------------------------------------------------------
// Seed 003, section 3.3: Permission Matrix
// ---------------------------------------------------------------------------------------------

/// A cell of the seed 003 matrix, legend included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// ✅
    Yes,
    /// ❌
    No,
    /// ✅* only for their assigned patients.
    Assigned,
    /// ✅** billing information only.
    BillingOnly,
    /// ❌*** not all patients: only the assigned ones (caseload).
    OnlyAssigned,
    /// ✅**** can reschedule own visits only.
    OwnVisits,
    /// ✅***** only when therapy is the primary discipline.
    TherapyPrimary,
    /// ✅****** view only, for billing purposes.
    ViewOnly,
}

use Cell::{Assigned, BillingOnly, No, OnlyAssigned, OwnVisits, TherapyPrimary, ViewOnly, Yes};

/// The matrix columns, in the guide's order: the role, the demo principal bound to it, and the
/// role id an allow must come from.
const ROLES: [(&str, &str, &str); 9] = [
    ("Agency Admin", "ada", "agency_admin"),
    ("Clinical Manager", "carla", "clinical_manager"),
    ("Scheduler", "sam", "scheduler"),
    ("Biller", "bo", "biller"),
    ("Intake", "ivy", "intake_coordinator"),
    ("RN Case Mgr", "rita", "rn_case_manager"),
    ("LPN/LVN", "leo", "lpn_lvn"),
    ("Therapist", "tara", "therapist"),
    ("HHA", "hank", "home_health_aide"),
];

/// Section 3.3, literally. A row covering several catalog permissions lists them all; every
/// one of them must satisfy the row's cells.
#[rustfmt::skip]
const MATRIX: &[(&str, &[&str], [Cell; 9])] = &[
    // Feature / Action         permission(s)                                        Admin ClinMgr Sched Biller       Intake RN Case Mgr   LPN/LVN       Therapist       HHA
    // USER MANAGEMENT
    ("Create/edit users",       &["user.create", "user.edit"],                       [Yes, No,     No,   No,          No,    No,           No,           No,             No]),
    ("Assign roles",            &["user.assign_roles"],                              [Yes, No,     No,   No,          No,    No,           No,           No,             No]),
    ("View all users",          &["user.view"],                                      [Yes, Yes,    Yes,  Yes,         No,    No,           No,           No,             No]),
    // PATIENT MANAGEMENT
    ("Create patients",         &["patient.create"],                                 [Yes, Yes,    No,   No,          Yes,   Assigned,     No,           No,             No]),
    ("Edit patients",           &["patient.edit"],                                   [Yes, Yes,    No,   BillingOnly, Yes,   Assigned,     No,           No,             No]),
    ("View all patients",       &["patient.view"],                                   [Yes, Yes,    Yes,  Yes,         Yes,   OnlyAssigned, OnlyAssigned, OnlyAssigned,   OnlyAssigned]),
    // CARE ORDERS
    ("Create care orders",      &["care_order.create"],                              [Yes, Yes,    No,   No,          No,    Assigned,     No,           Assigned,       No]),
    ("Initiate recert",         &["care_order.initiate_recertification"],            [Yes, Yes,    No,   No,          No,    Assigned,     No,           Assigned,       No]),
    ("Initiate discharge",      &["care_order.initiate_discharge"],                  [Yes, Yes,    No,   No,          No,    Assigned,     No,           No,             No]),
    // SCHEDULING
    ("View schedule",           &["schedule.view"],                                  [Yes, Yes,    Yes,  No,          No,    Yes,          Yes,          Yes,            Yes]),
    ("Create/schedule visits",  &["visit.create"],                                   [Yes, Yes,    Yes,  No,          No,    Assigned,     No,           No,             No]),
    ("Reschedule visits",       &["visit.reschedule"],                               [Yes, Yes,    Yes,  No,          No,    Assigned,     OwnVisits,    OwnVisits,      No]),
    // CLINICAL DOCUMENTATION
    ("Document SN visits",      &["visit.document_sn"],                              [Yes, Yes,    No,   No,          No,    Yes,          No,           No,             No]),
    ("Document LVN visits",     &["visit.document_lvn"],                             [Yes, Yes,    No,   No,          No,    Yes,          Yes,          No,             No]),
    ("Document PT/OT/SLP",      &["visit.document_pt", "visit.document_ot", "visit.document_slp"],
                                                                                     [Yes, Yes,    No,   No,          No,    No,           No,           Yes,            No]),
    ("Document HHA visits",     &["visit.document_hha"],                             [Yes, Yes,    No,   No,          No,    Yes,          No,           No,             Yes]),
    ("Complete OASIS",          &["oasis.complete"],                                 [Yes, Yes,    No,   No,          No,    Yes,          No,           TherapyPrimary, No]),
    // QA REVIEW
    ("Perform QA reviews",      &["document.review"],                                [Yes, Yes,    No,   No,          No,    No,           No,           No,             No]),
    ("Approve documents",       &["document.approve"],                               [Yes, Yes,    No,   No,          No,    No,           No,           No,             No]),
    ("Return for correction",   &["document.return"],                                [Yes, Yes,    No,   No,          No,    No,           No,           No,             No]),
    // BILLING & CLAIMS
    ("Generate claims",         &["claim.generate"],                                 [Yes, No,     No,   Yes,         No,    No,           No,           No,             No]),
    ("Post payments",           &["claim.post_payment"],                             [Yes, No,     No,   Yes,         No,    No,           No,           No,             No]),
    ("Manage fee schedules",    &["fee_schedule.manage"],                            [Yes, No,     No,   Yes,         No,    No,           No,           No,             No]),
    ("View claims",             &["claim.view"],                                     [Yes, No,     No,   Yes,         No,    No,           No,           No,             No]),
    // OASIS SUBMISSION
    ("Submit OASIS to CMS",     &["oasis.submit"],                                   [Yes, Yes,    No,   No,          No,    No,           No,           No,             No]),
    ("Export OASIS XML",        &["oasis.export_xml"],                               [Yes, Yes,    No,   No,          No,    No,           No,           No,             No]),
    // REPORTS
    ("View all reports",        &["report.view"],                                    [Yes, Yes,    Yes,  Yes,         No,    No,           No,           No,             No]),
    // SETUP & CONFIGURATION
    ("Manage payers",           &["payer.manage"],                                   [Yes, No,     No,   ViewOnly,    No,    No,           No,           No,             No]),
    ("Manage pharmacies",       &["pharmacy.manage"],                                [Yes, No,     No,   No,          Yes,   No,           No,           No,             No]),
    ("Manage physicians",       &["physician.manage"],                               [Yes, Yes,    No,   No,          Yes,   Yes,          No,           No,             No]),
    ("Agency settings",         &["agency.manage_settings"],                         [Yes, No,     No,   No,          No,    No,           No,           No,             No]),
];

/// A ❌ may be denied for these reasons only: anything else (unknown action, unknown
/// principal, a condition that failed to evaluate) would pass the cell by accident.
const NOT_GRANTED: &[Reason] = &[
    Reason::NoMatchingGrant,
    Reason::OutOfScope,
    Reason::ConditionNotMet,
    Reason::ForbiddenByConstraint,
];

/// The visit a clinician is on (leo and hank: v-100, tara: v-101); everyone else gets v-100,
/// a visit of an assigned patient.
fn own_visit(principal: &str) -> &'static str {
    match principal {
        "tara" => "v-101",
        _ => "v-100",
    }
}

/// Another clinician's visit of the same (assigned) patient p-100.
fn someone_elses_visit(principal: &str) -> &'static str {
    match principal {
        "tara" => "v-100",
        _ => "v-101",
    }
}

/// For a resource type: (a resource the principal is assigned to or owns, one they are not).
///
/// In the demo, rita, leo, tara and hank are assigned to patient p-100 (location north);
/// p-200 (location south) is assigned to nobody in the matrix. Documents: doc-200 (on p-100) is
/// authored by rita; doc-100 is authored by carla, so it is never used here (separation of
/// duties is the scenario tests' business). `*-900` ids sit on no patient at all.
fn resources(resource_type: &str, principal: &str) -> (&'static str, &'static str) {
    match resource_type {
        "patient" => ("p-100", "p-200"),
        "care_order" => ("co-100", "co-200"),
        "visit" => (own_visit(principal), "v-200"),
        "oasis" => ("oa-100", "oa-900"),
        "document" => ("doc-200", "doc-900"),
        "claim" => ("cl-100", "cl-900"),
        // No relations: any id will do.
        _ => ("r-100", "r-900"),
    }
}

/// The checks one cell stands for: (what is asked, what the guide says, why).
fn probes<'a>(cell: Cell, principal: &'a str, permission: &'a str) -> Vec<(Ask<'a>, Expect)> {
    let resource_type = permission.split_once('.').map_or(permission, |(t, _)| t);
    let (assigned, unassigned) = resources(resource_type, principal);
    let on = |resource: &'a str| {
        let request = ask(principal, permission, resource);
        if resource_type == "oasis" {
            // Nursing primary, so a therapy-only grant cannot pass a ✅ by accident.
            request.attr("primary_discipline", "nursing")
        } else {
            request
        }
    };
    match cell {
        Yes => vec![
            (on(unassigned), Expect::Allow),
            (on(assigned), Expect::Allow),
        ],
        // ❌ holds under the most permissive circumstances the footnotes mention: on a resource
        // the principal is assigned to (or their own visit), in the billing section, on a
        // therapy-primary OASIS.
        No => [assigned, unassigned]
            .into_iter()
            .map(|resource| {
                let request = ask(principal, permission, resource).ctx("section", "billing");
                let request = if resource_type == "oasis" {
                    request.attr("primary_discipline", "therapy")
                } else {
                    request
                };
                (request, Expect::DenyAnyOf(NOT_GRANTED))
            })
            .collect(),
        Assigned | OnlyAssigned => vec![
            (on(assigned), Expect::Allow),
            (on(unassigned), Expect::Deny(Reason::OutOfScope)),
        ],
        OwnVisits => vec![
            (on(own_visit(principal)), Expect::Allow),
            (
                on(someone_elses_visit(principal)),
                Expect::Deny(Reason::OutOfScope),
            ),
            (on("v-200"), Expect::Deny(Reason::OutOfScope)),
        ],
        BillingOnly => [assigned, unassigned]
            .into_iter()
            .flat_map(|resource| {
                [
                    (on(resource).ctx("section", "billing"), Expect::Allow),
                    (
                        on(resource).ctx("section", "clinical"),
                        Expect::Deny(Reason::ConditionNotMet),
                    ),
                    // No section at all: `context.section` is a missing key, which CEL reports
                    // as an evaluation error, so the engine denies with ConditionError (fail
                    // closed). Either reason is a correct deny for the guide.
                    (
                        on(resource),
                        Expect::DenyAnyOf(&[Reason::ConditionError, Reason::ConditionNotMet]),
                    ),
                ]
            })
            .collect(),
        TherapyPrimary => vec![
            (
                ask(principal, permission, "oa-100").attr("primary_discipline", "therapy"),
                Expect::Allow,
            ),
            (
                ask(principal, permission, "oa-100").attr("primary_discipline", "nursing"),
                Expect::Deny(Reason::ConditionNotMet),
            ),
        ],
        ViewOnly => {
            let view = match permission {
                "payer.manage" => "payer.view",
                other => other,
            };
            vec![
                (on(unassigned), Expect::DenyAnyOf(NOT_GRANTED)),
                (ask(principal, view, unassigned), Expect::Allow),
            ]
        }
    }
}

#[test]
fn seed_003_matrix_has_31_rows_of_catalog_permissions() {
    let snapshot = home_health();
    let catalog: Vec<&str> = snapshot.permission_names().collect();
    assert_eq!(MATRIX.len(), 31, "section 3.3 has 31 feature rows");
    let unknown: Vec<&str> = MATRIX
        .iter()
        .flat_map(|(_, permissions, _)| permissions.iter().copied())
        .chain(["payer.view"])
        .filter(|permission| !catalog.contains(permission))
        .collect();
    assert!(
        unknown.is_empty(),
        "matrix permissions missing from the catalog: {unknown:?}"
    );
}

#[test]
fn seed_003_every_matrix_cell_holds_on_the_demo_tenant() {
    let snapshot = home_health();
    let mut failures = Vec::new();
    let mut probed = 0;
    for (row, permissions, cells) in MATRIX {
        for ((role, principal, role_id), cell) in ROLES.iter().zip(cells) {
            for permission in *permissions {
                for (request, expect) in probes(*cell, principal, permission) {
                    probed += 1;
                    let decision = decide(&snapshot, &request);
                    let wrong_verdict = !expect.matches(&decision);
                    let wrong_role = decision.allowed && decision.basis.role_id != *role_id;
                    if wrong_verdict || wrong_role {
                        failures.push(format!(
                            "  [{row}] × [{role}] ({cell:?}): {} — expected {}{}, got {}",
                            request.describe(),
                            expect.describe(),
                            if expect == Expect::Allow {
                                format!(" via role `{role_id}`")
                            } else {
                                String::new()
                            },
                            outcome(&decision)
                        ));
                    }
                }
            }
        }
    }
    assert!(probed > 31 * 9 * 2, "walked only {probed} checks");
    assert!(
        failures.is_empty(),
        "{} of {probed} checks contradict the seed 003 matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a role sees of a patient's classified fields: the guide says schedulers see "names and
/// basic info but can't access detailed clinical data", HHAs "limited info", billers patient
/// information "for billing", RNs their patients' clinical data.
#[test]
fn seed_003_patient_fields_follow_the_role() {
    use FieldVisibility::{Full, Off};
    let snapshot = home_health();
    #[rustfmt::skip]
    let cases = [
        // principal  patient  ssn   diagnoses
        ("ada",       "p-200", Full, Full),
        ("carla",     "p-200", Full, Full),
        ("sam",       "p-200", Off,  Off),
        ("bo",        "p-200", Full, Off),
        ("ivy",       "p-200", Full, Off),
        ("rita",      "p-100", Full, Full),
        ("leo",       "p-100", Full, Full),
        ("tara",      "p-100", Full, Full),
        ("hank",      "p-100", Off,  Off),
    ];
    let mut failures = Vec::new();
    for (principal, patient, ssn, diagnoses) in cases {
        let decision = decide(&snapshot, &ask(principal, "patient.view", patient));
        let seen = (
            decision.allowed,
            decision.field_visibility("ssn"),
            decision.field_visibility("medicare_number"),
            decision.field_visibility("diagnoses"),
            decision.field_visibility("medications"),
        );
        if seen != (true, ssn, ssn, diagnoses, diagnoses) {
            failures.push(format!(
                "  {principal} viewing {patient}: expected allowed, pii {ssn:?}, clinical {diagnoses:?}; got {seen:?} ({})",
                outcome(&decision)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "wrong field visibility:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Seed 004: All Permissions by Role
// ---------------------------------------------------------------------------------------------

/// The seed 004 columns, in order: the role, the demo principal bound to it and its kind.
const SCREENING_ROLES: [(&str, &str, PrincipalKind); 12] = [
    ("Client Admin", "carmen", PrincipalKind::User),
    ("Client Admin + API", "cade", PrincipalKind::User),
    ("Manager", "maya", PrincipalKind::User),
    ("User", "ursula", PrincipalKind::User),
    ("User (No PII)", "nolan", PrincipalKind::User),
    ("User (No Instant Search)", "nina", PrincipalKind::User),
    ("IT", "ian", PrincipalKind::User),
    ("Viewer", "vera", PrincipalKind::User),
    ("SSO User Management Admin", "sol", PrincipalKind::User),
    ("Instant Search Admin", "isaac", PrincipalKind::User),
    ("Instant Search Only", "iris", PrincipalKind::User),
    ("API User", "screening-sync", PrincipalKind::Service),
];

fn screening_ask<'a>(
    principal: &'a str,
    kind: PrincipalKind,
    permission: &'a str,
    resource: &'a str,
) -> Ask<'a> {
    let request = ask(principal, permission, resource);
    match kind {
        PrincipalKind::Service => request.service(),
        PrincipalKind::User => request,
    }
}

fn provider_screening() -> Snapshot {
    compile(&provider_screening_policy())
}

#[test]
fn seed_004_pii_access_column() {
    use FieldVisibility::{Full, Mask, Off};
    // Data Permissions → Privacy → PII Access, left to right.
    const PII_ACCESS: [FieldVisibility; 12] = [
        Full, Full, Full, Full, Mask, Full, Full, Off, Off, Full, Full, Full,
    ];
    let snapshot = provider_screening();
    let mut failures = Vec::new();
    for ((role, principal, kind), pii) in SCREENING_ROLES.into_iter().zip(PII_ACCESS) {
        let decision = decide(
            &snapshot,
            &screening_ask(principal, kind, "provider_record.view", "pr-1"),
        );
        // SSO User Management Admin has no data access at all: the view itself is denied, and a
        // denied decision shows every field Off. Every other role may open the record (Viewer
        // included: read-only, with PII hidden).
        let expect_allowed = principal != "sol";
        if decision.allowed != expect_allowed {
            failures.push(format!(
                "  [{role}] provider_record.view: expected {}, got {}",
                if expect_allowed { "allow" } else { "deny" },
                outcome(&decision)
            ));
        }
        for field in ["ssn", "tin", "itin", "fein", "ein"] {
            let seen = decision.field_visibility(field);
            if seen != pii {
                failures.push(format!(
                    "  [{role}] PII Access on `{field}`: expected {pii:?}, got {seen:?} ({})",
                    outcome(&decision)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the seed 004 PII column does not hold:\n{}",
        failures.join("\n")
    );
}

/// A seed 004 permission cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// On / Full: the page shows everyone's items.
    Granted,
    /// Allow: the action is allowed on the items available to the principal (their own, at
    /// least).
    Allowed,
    /// LIMITED: allowed on the principal's own items only.
    OwnOnly,
    /// Off / Deny.
    Denied,
}

const ON: Access = Access::Granted;
const ALLOW: Access = Access::Allowed;
const FULL: Access = Access::Granted;
const LIMITED: Access = Access::OwnOnly;
const OFF: Access = Access::Denied;
const DENY: Access = Access::Denied;

/// "All Permissions by Role", Admin and Base rows (Privacy is the test above).
#[rustfmt::skip]
const SCREENING_MATRIX: &[(&str, &str, [Access; 12])] = &[
    // Category / Action                  permission                   CA     CA+API Mgr      User     NoPII    NoIS     IT       Viewer   SSO    ISA    ISO      API
    ("User Mgmt / View",                  "user.view",                 [ON,    ON,    ON,      OFF,     OFF,     OFF,     OFF,     OFF,     ON,    ON,    OFF,     OFF]),
    ("User Mgmt / Create",                "user.create",               [ALLOW, ALLOW, ALLOW,   DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  ALLOW, DENY,    DENY]),
    ("User Mgmt / Edit",                  "user.edit",                 [ALLOW, ALLOW, ALLOW,   DENY,    DENY,    DENY,    DENY,    DENY,    ALLOW, ALLOW, DENY,    DENY]),
    ("User Mgmt / Delete",                "user.delete",               [ALLOW, ALLOW, ALLOW,   DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  ALLOW, DENY,    DENY]),
    ("Hierarchy Management / View",       "hierarchy.view",            [ON,    ON,    OFF,     OFF,     OFF,     OFF,     OFF,     OFF,     OFF,   OFF,   OFF,     OFF]),
    ("Hierarchy Management / Delete",     "hierarchy.delete",          [ALLOW, ALLOW, DENY,    DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  DENY,  DENY,    DENY]),
    ("Alerts / View",                     "alert.view",                [ON,    ON,    ON,      ON,      ON,      ON,      OFF,     ON,      OFF,   OFF,   OFF,     ON]),
    ("Alerts / Update Alerts",            "alert.update",              [ALLOW, ALLOW, ALLOW,   ALLOW,   ALLOW,   ALLOW,   DENY,    DENY,    DENY,  DENY,  DENY,    ALLOW]),
    ("Population / View",                 "population.view",           [ON,    ON,    ON,      ON,      ON,      ON,      OFF,     ON,      OFF,   OFF,   OFF,     ON]),
    ("Population / Create/Edit",          "population.edit",           [DENY,  ALLOW, DENY,    DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  DENY,  DENY,    ALLOW]),
    ("Population / Delete",               "population.delete",         [DENY,  ALLOW, DENY,    DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  DENY,  DENY,    ALLOW]),
    ("Instant Search / View",             "search.view",               [ON,    ON,    ON,      ON,      ON,      OFF,     OFF,     OFF,     OFF,   ON,    ON,      ON]),
    ("Instant Search / Search History",   "search.view_history",       [FULL,  FULL,  LIMITED, LIMITED, LIMITED, OFF,     OFF,     OFF,     OFF,   FULL,  LIMITED, FULL]),
    ("Instant Search / NPI Search",       "search.npi_search",         [ALLOW, ALLOW, ALLOW,   ALLOW,   ALLOW,   DENY,    DENY,    DENY,    DENY,  ALLOW, ALLOW,   ALLOW]),
    ("Instant Search / Name Search",      "search.name_search",        [ALLOW, ALLOW, ALLOW,   ALLOW,   ALLOW,   DENY,    DENY,    DENY,    DENY,  ALLOW, ALLOW,   ALLOW]),
    ("Instant Search / SSN Search",       "search.ssn_search",         [ALLOW, ALLOW, ALLOW,   ALLOW,   ALLOW,   DENY,    DENY,    DENY,    DENY,  ALLOW, ALLOW,   ALLOW]),
    ("Instant Search / Review Status",    "search.update_review_status", [ALLOW, ALLOW, ALLOW, ALLOW,   ALLOW,   DENY,    DENY,    DENY,    DENY,  ALLOW, ALLOW,   ALLOW]),
    ("Reports / Report Download Page",    "report.view",               [FULL,  FULL,  FULL,    LIMITED, LIMITED, LIMITED, LIMITED, LIMITED, OFF,   OFF,   OFF,     FULL]),
    ("Reports / Download Reports",        "report.download",           [ALLOW, ALLOW, ALLOW,   ALLOW,   ALLOW,   ALLOW,   ALLOW,   ALLOW,   OFF,   OFF,   OFF,     ALLOW]),
    ("Data Management / Access",          "data_file.view",            [FULL,  FULL,  FULL,    FULL,    FULL,    FULL,    FULL,    OFF,     OFF,   OFF,   OFF,     OFF]),
    ("Data Management / Download Errors", "data_file.download_errors", [ALLOW, ALLOW, DENY,    DENY,    DENY,    DENY,    ALLOW,   DENY,    DENY,  DENY,  DENY,    DENY]),
    ("Data Management / Download Original", "data_file.download_original", [ALLOW, ALLOW, DENY, DENY,   DENY,    DENY,    ALLOW,   DENY,    DENY,  DENY,  DENY,    DENY]),
    ("Artifacts / Access",                "artifact.view",             [ON,    ON,    OFF,     OFF,     OFF,     OFF,     OFF,     OFF,     OFF,   OFF,   OFF,     ON]),
    ("Artifacts / Create/Edit",           "artifact.edit",             [DENY,  ALLOW, DENY,    DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  DENY,  DENY,    ALLOW]),
    ("Artifacts / Delete",                "artifact.delete",           [DENY,  ALLOW, DENY,    DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  DENY,  DENY,    ALLOW]),
    ("Manage Personal API Key / Create",  "api_key.create",            [DENY,  ALLOW, DENY,    DENY,    DENY,    DENY,    DENY,    DENY,    DENY,  DENY,  DENY,    ALLOW]),
];

/// Id prefix of the items a type's `owner` relation is about (searches, reports, uploads).
fn owned_prefix(permission: &str) -> Option<&'static str> {
    match permission.split_once('.').map(|(t, _)| t) {
        Some("search") => Some("s"),
        Some("report") => Some("r"),
        Some("data_file") => Some("f"),
        _ => None,
    }
}

#[test]
fn seed_004_admin_and_base_permission_rows() {
    let snapshot = provider_screening();
    let mut failures = Vec::new();
    for (row, permission, cells) in SCREENING_MATRIX {
        for ((role, principal, kind), access) in SCREENING_ROLES.iter().zip(cells) {
            // The principal's own item (`r-ursula`) and somebody else's (`r-900`). On/Full must
            // reach both; LIMITED only the own one; Allow ("download the reports available to
            // them") is probed on the own item; Off/Deny must reach neither.
            let own = owned_prefix(permission)
                .map_or_else(|| "x-1".to_owned(), |p| format!("{p}-{principal}"));
            let others =
                owned_prefix(permission).map_or_else(|| "x-1".to_owned(), |p| format!("{p}-900"));
            let probes = match access {
                Access::Granted => vec![(own.as_str(), true), (others.as_str(), true)],
                Access::Allowed => vec![(own.as_str(), true)],
                Access::OwnOnly => vec![(own.as_str(), true), (others.as_str(), false)],
                Access::Denied => vec![(own.as_str(), false), (others.as_str(), false)],
            };
            for (resource, allowed) in probes {
                let request = screening_ask(principal, *kind, permission, resource);
                let decision = decide(&snapshot, &request);
                let legit = decision.allowed
                    || matches!(
                        decision.reason,
                        Reason::NoMatchingGrant | Reason::OutOfScope
                    );
                if decision.allowed != allowed || !legit {
                    failures.push(format!(
                        "  [{row}] × [{role}] ({access:?}): {} — expected {}, got {}",
                        request.describe(),
                        if allowed { "allow" } else { "deny" },
                        outcome(&decision)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} checks contradict the seed 004 table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn seed_004_instant_search_needs_the_contracted_feature() {
    let mut policy = provider_screening_policy();
    policy
        .entitlements
        .features
        .retain(|feature| feature != "instant_search");
    let uncontracted = compile(&policy);
    let contracted = provider_screening();
    for permission in ["search.ssn_search", "search.npi_search", "search.view"] {
        let request = ask("carmen", permission, "instant-search");
        let before = decide(&contracted, &request);
        assert!(
            before.allowed,
            "{}: Client Admin is allowed with the feature, got {}",
            request.describe(),
            outcome(&before)
        );
        let after = decide(&uncontracted, &request);
        assert!(
            !after.allowed && after.reason == Reason::NotEntitled,
            "{}: without `instant_search` expected not_entitled, got {}",
            request.describe(),
            outcome(&after)
        );
    }
    // Features gate only the actions tagged with them.
    let decision = decide(
        &uncontracted,
        &ask("carmen", "provider_record.view", "pr-1"),
    );
    assert!(decision.allowed, "{}", outcome(&decision));
}
