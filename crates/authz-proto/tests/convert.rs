//! The edge, limit by limit: every bound of `convert` is accepted **at** the limit and refused
//! one past it, with the refused field named exactly as `INVALID_ARGUMENT` will name it. The
//! limits are read from their constants, so the cases follow them when they move.
//!
//! Here: the helpers, ids, required parts and bulk checks; attribute trees are in
//! `convert/attributes.rs`, decisions going back to the wire in `convert/decisions.rs`.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "convert/attributes.rs"]
mod attributes;
#[path = "convert/decisions.rs"]
mod decisions;

use std::collections::HashMap;
use std::fmt::Display;

use authz_core::limits::MAX_BULK_ITEMS;
use authz_core::{Attributes, MAX_ID_LEN, Origin, PrincipalKind};
use authz_proto::convert::{Consistency, FieldViolation, validate_bulk, validate_check};
use authz_proto::pb;
use pb::attribute_value::Kind;

// ---------------------------------------------------------------------------------------------
// Building requests
// ---------------------------------------------------------------------------------------------

fn value(kind: Kind) -> pb::AttributeValue {
    pb::AttributeValue { kind: Some(kind) }
}

fn text(text: &str) -> pb::AttributeValue {
    value(Kind::StringValue(text.to_owned()))
}

fn int(number: i64) -> pb::AttributeValue {
    value(Kind::IntValue(number))
}

fn double(number: f64) -> pb::AttributeValue {
    value(Kind::DoubleValue(number))
}

fn timestamp(seconds: i64, nanos: i32) -> pb::AttributeValue {
    value(Kind::TimestampValue(prost_types::Timestamp {
        seconds,
        nanos,
    }))
}

fn list(values: Vec<pb::AttributeValue>) -> pb::AttributeValue {
    value(Kind::ListValue(pb::AttributeList { values }))
}

/// A list of `n` integers.
fn ints(n: usize) -> pb::AttributeValue {
    list((0..n as i64).map(int).collect())
}

fn map(fields: HashMap<String, pb::AttributeValue>) -> pb::AttributeValue {
    value(Kind::MapValue(pb::AttributeMap { fields }))
}

/// `n` entries `k0`, `k1`…, each an integer.
fn entries(n: usize) -> HashMap<String, pb::AttributeValue> {
    (0..n).map(|i| (format!("k{i}"), int(1))).collect()
}

fn one(key: &str, value: pb::AttributeValue) -> HashMap<String, pb::AttributeValue> {
    HashMap::from([(key.to_owned(), value)])
}

/// A value `depth` levels deep: a string inside `depth - 1` lists (or maps, under key `k`).
fn nested(depth: usize, in_maps: bool) -> pb::AttributeValue {
    (1..depth).fold(text("v"), |inner, _| {
        if in_maps {
            map(one("k", inner))
        } else {
            list(vec![inner])
        }
    })
}

/// An attribute tree of exactly `n` values (n > 12): key `a` holds 11 lists (12 values) and
/// `n - 12` integers fill them, 92 per list, the remainder in the last.
fn tree_of(n: usize) -> HashMap<String, pb::AttributeValue> {
    let mut left = n - 12;
    let lists = (0..11)
        .map(|index| {
            let take = if index == 10 { left } else { left.min(92) };
            left -= take;
            ints(take)
        })
        .collect();
    one("a", list(lists))
}

fn principal(id: &str) -> pb::PrincipalRef {
    pb::PrincipalRef {
        r#type: pb::PrincipalType::User as i32,
        id: id.to_owned(),
        ..Default::default()
    }
}

/// rita views patient p-100 in the demo tenant: valid, and the base of every case.
fn request() -> pb::CheckRequest {
    pb::CheckRequest {
        tenant_id: "sunrise-home-health".to_owned(),
        principal: Some(principal("rita")),
        action: "view".to_owned(),
        resource: Some(pb::ResourceRef {
            r#type: "patient".to_owned(),
            id: "p-100".to_owned(),
            attributes: HashMap::new(),
        }),
        ..Default::default()
    }
}

/// [`request`] with one change.
fn with(edit: impl FnOnce(&mut pb::CheckRequest)) -> pb::CheckRequest {
    let mut message = request();
    edit(&mut message);
    message
}

fn who(message: &mut pb::CheckRequest) -> &mut pb::PrincipalRef {
    message.principal.get_or_insert_with(Default::default)
}

fn resource(message: &mut pb::CheckRequest) -> &mut pb::ResourceRef {
    message.resource.get_or_insert_with(Default::default)
}

/// [`request`] whose context is `context`.
fn with_context(context: HashMap<String, pb::AttributeValue>) -> pb::CheckRequest {
    with(|m| m.context = context)
}

/// [`request`] whose context holds `key`.
fn ctx(key: &str, value: pb::AttributeValue) -> pb::CheckRequest {
    with_context(one(key, value))
}

/// [`request`] whose resource attributes hold `key`.
fn attr(key: &str, value: pb::AttributeValue) -> pb::CheckRequest {
    with(|m| resource(m).attributes = one(key, value))
}

// ---------------------------------------------------------------------------------------------
// The one place requests are validated
// ---------------------------------------------------------------------------------------------

/// What validating a request must do.
#[derive(Debug)]
enum Want {
    Accepted,
    /// Refused, naming this field path.
    Refused(String),
}

use Want::Accepted;

fn refused(field: impl Into<String>) -> Want {
    Want::Refused(field.into())
}

/// A message the edge validates: a check, or a bulk check.
trait Validate {
    /// `Ok(())` or the violation, as the server would see it.
    fn validate(&self) -> Result<(), FieldViolation>;
}

impl Validate for pb::CheckRequest {
    fn validate(&self) -> Result<(), FieldViolation> {
        validate_check(self, "").map(drop)
    }
}

impl Validate for pb::CheckBulkRequest {
    fn validate(&self) -> Result<(), FieldViolation> {
        validate_bulk(self).map(drop)
    }
}

/// Why validating gave `got` where the case wants `want`, if it did.
fn mismatch(got: Result<(), FieldViolation>, want: &Want) -> Option<String> {
    match (got, want) {
        (Ok(()), Want::Accepted) => None,
        (Err(violation), Want::Refused(field)) if violation.field == *field => violation
            .description
            .is_empty()
            .then(|| "refused without saying why".to_owned()),
        (Err(violation), Want::Refused(field)) => Some(format!(
            "refused naming `{}`, not `{field}`",
            violation.field
        )),
        (Ok(()), Want::Refused(field)) => {
            Some(format!("accepted; must be refused naming `{field}`"))
        }
        (Err(violation), Want::Accepted) => {
            Some(format!("refused ({violation}); must be accepted"))
        }
    }
}

/// Validates every case and fails once, listing each wrong one.
#[track_caller]
fn check_all<M: Validate>(cases: Vec<(impl Display, M, Want)>) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(case, message, want)| {
            mismatch(message.validate(), want).map(|why| format!("  {case}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases are wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The context of `message` (which must be accepted), converted.
#[track_caller]
fn context_of(message: &pb::CheckRequest) -> Attributes {
    match validate_check(message, "") {
        Ok(valid) => valid.context,
        Err(violation) => panic!("refused ({violation}); must be accepted"),
    }
}

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

type SetId = fn(&mut pb::CheckRequest, String);

/// Every id of a check, with its field path.
const IDS: [(&str, SetId); 9] = [
    ("tenant_id", |m, id| m.tenant_id = id),
    ("principal.id", |m, id| who(m).id = id),
    ("principal.session_id", |m, id| who(m).session_id = Some(id)),
    ("principal.api_key_id", |m, id| who(m).api_key_id = Some(id)),
    ("action", |m, id| m.action = id),
    ("resource.type", |m, id| resource(m).r#type = id),
    ("resource.id", |m, id| resource(m).id = id),
    ("request_id", |m, id| m.request_id = id),
    ("on_behalf_of.id", |m, id| {
        m.on_behalf_of = Some(principal(&id))
    }),
];

#[test]
fn every_id_is_at_most_256_bytes() {
    let mut cases = Vec::new();
    for (field, set) in IDS {
        let mut case = |name: &str, id: String, want| {
            cases.push((format!("{field} {name}"), with(|m| set(m, id)), want));
        };
        case("of MAX_ID_LEN bytes", "x".repeat(MAX_ID_LEN), Accepted);
        case(
            "of MAX_ID_LEN + 1 bytes",
            "x".repeat(MAX_ID_LEN + 1),
            refused(field),
        );
        // Bytes, not characters: 128 two-byte characters fit, one more byte does not.
        case("of 128 × `é`", "é".repeat(MAX_ID_LEN / 2), Accepted);
        case(
            "of 128 × `é` + `x`",
            "é".repeat(MAX_ID_LEN / 2) + "x",
            refused(field),
        );
    }
    check_all(cases);
}

/// Ids follow the policy's id rule (`authz_core::limits::check_id`): no whitespace and no
/// control characters, in any id. A policy can never declare such an id, so the edge refuses
/// the request as `INVALID_ARGUMENT` instead of letting it be denied as unknown.
#[test]
fn ids_refuse_whitespace_and_control_characters() {
    let mut cases = Vec::new();
    for (field, set) in IDS {
        for (what, id) in [
            ("a space", "a b"),
            ("a newline", "a\nb"),
            ("a no-break space", "a\u{a0}b"),
            ("a leading space", " ab"),
            ("a trailing tab", "ab\t"),
        ] {
            let case = format!("{field} with {what}");
            cases.push((case, with(|m| set(m, id.into())), refused(field)));
        }
        // Punctuation is not whitespace: ids like `p-100`, `user:ana` or `a.b@c` stay valid.
        let case = format!("{field} with punctuation");
        cases.push((case, with(|m| set(m, "p-1_a.b:c@d".into())), Accepted));
    }
    // Every kind of whitespace and control: C0 and C1 controls and DEL; Unicode spaces,
    // separators and the ideographic space.
    for odd in [
        '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', ' ', '\u{a0}', '\u{2028}',
        '\u{2029}', '\u{3000}',
    ] {
        let id = format!("rita{odd}");
        let case = format!("principal.id with {odd:?}");
        cases.push((case, with(|m| who(m).id = id), refused("principal.id")));
    }
    check_all(cases);

    // The description is the id rule's own.
    let message = with(|m| who(m).id = "rita smith".into());
    assert_eq!(
        validate_check(&message, "items[2]")
            .map(drop)
            .map_err(|v| v.to_string()),
        Err("`items[2].principal.id`: must not contain whitespace or control characters".into())
    );
}

#[test]
fn required_parts_must_be_present() {
    let user = pb::PrincipalType::User as i32;
    let service = pb::PrincipalType::Service as i32;
    #[rustfmt::skip]
    let cases = vec![
        ("the base request", request(), Accepted),
        ("no tenant", with(|m| m.tenant_id.clear()), refused("tenant_id")),
        ("no principal", with(|m| m.principal = None), refused("principal")),
        ("empty principal id", with(|m| who(m).id.clear()), refused("principal.id")),
        ("no action", with(|m| m.action.clear()), refused("action")),
        ("no resource", with(|m| m.resource = None), refused("resource")),
        ("empty resource type", with(|m| resource(m).r#type.clear()), refused("resource.type")),
        ("empty resource id", with(|m| resource(m).id.clear()), refused("resource.id")),
        // Optional ids: absent is fine, present but empty is not.
        ("empty session id", with(|m| who(m).session_id = Some(String::new())), refused("principal.session_id")),
        ("empty api key id", with(|m| who(m).api_key_id = Some(String::new())), refused("principal.api_key_id")),
        ("empty request id", with(|m| m.request_id.clear()), Accepted),
        ("empty delegator id", with(|m| m.on_behalf_of = Some(principal(""))), refused("on_behalf_of.id")),
        // The principal type must be user or service.
        ("principal type unspecified", with(|m| who(m).r#type = 0), refused("principal.type")),
        ("principal type unknown", with(|m| who(m).r#type = 99), refused("principal.type")),
        ("principal type negative", with(|m| who(m).r#type = -1), refused("principal.type")),
        ("service principal", with(|m| who(m).r#type = service), Accepted),
        ("user principal", with(|m| who(m).r#type = user), Accepted),
        (
            "delegator type unspecified",
            with(|m| m.on_behalf_of = Some(pb::PrincipalRef { id: "tess".into(), ..Default::default() })),
            refused("on_behalf_of.type"),
        ),
    ];
    check_all(cases);
}

#[test]
fn principals_and_consistency_convert_as_sent() {
    let message = with(|m| {
        let rita = who(m);
        rita.r#type = pb::PrincipalType::Service as i32;
        rita.session_id = Some("s-1".into());
        rita.api_key_id = Some("k-1".into());
        rita.token_version = Some(4);
        rita.platform = true;
        m.on_behalf_of = Some(principal("tess"));
        m.explain = true;
        m.request_id = "req-9".into();
    });
    let Ok(valid) = validate_check(&message, "") else {
        panic!("a valid request was refused");
    };
    let actor = valid.principal;
    assert_eq!(
        (actor.kind, actor.id, actor.session_id, actor.api_key_id),
        (PrincipalKind::Service, "rita", Some("s-1"), Some("k-1"))
    );
    assert_eq!(
        (actor.token_version, actor.origin),
        (Some(4), Origin::Platform)
    );
    let delegator = valid.on_behalf_of.map(|d| (d.kind, d.id, d.origin));
    assert_eq!(
        delegator,
        Some((PrincipalKind::User, "tess", Origin::Tenant))
    );
    assert_eq!(
        (
            valid.explain,
            valid.request_id,
            valid.tenant_id,
            valid.action
        ),
        (true, "req-9", "sunrise-home-health", "view")
    );

    use pb::consistency::Requirement;
    #[rustfmt::skip]
    let cases = [
        (None, Consistency::MinimizeLatency),
        (Some(None), Consistency::MinimizeLatency),
        (Some(Some(Requirement::MinimizeLatency(true))), Consistency::MinimizeLatency),
        (Some(Some(Requirement::AtLeastRevision(7))), Consistency::AtLeastRevision(7)),
        (Some(Some(Requirement::FullyConsistent(false))), Consistency::FullyConsistent),
    ];
    for (sent, want) in cases {
        let message =
            with(|m| m.consistency = sent.map(|requirement| pb::Consistency { requirement }));
        let got = validate_check(&message, "").map(|valid| valid.consistency);
        assert_eq!(got, Ok(want), "consistency {sent:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// CheckBulk
// ---------------------------------------------------------------------------------------------

#[test]
fn a_bulk_check_holds_1_to_100_items_and_names_the_first_bad_one() {
    let bulk = |items: Vec<pb::CheckRequest>| pb::CheckBulkRequest { items };
    let good = |n| bulk(vec![request(); n]);
    let mut two_bad = vec![request(); 10];
    two_bad[3] = with(|m| who(m).id = "x".repeat(MAX_ID_LEN + 1));
    two_bad[7] = with(|m| m.tenant_id.clear());
    let mut deep = vec![request(); 3];
    deep[2] = ctx("a", list(vec![int(1), int(2), double(f64::NAN)]));
    #[rustfmt::skip]
    let cases = vec![
        ("no items", bulk(Vec::new()), refused("items")),
        ("one item", good(1), Accepted),
        ("MAX_BULK_ITEMS items", good(MAX_BULK_ITEMS), Accepted),
        ("MAX_BULK_ITEMS + 1 items", good(MAX_BULK_ITEMS + 1), refused("items")),
        ("items 3 and 7 bad", bulk(two_bad), refused("items[3].principal.id")),
        ("a bad value deep in item 2", bulk(deep), refused(r#"items[2].context["a"][2]"#)),
    ];
    check_all(cases);
    let accepted = validate_bulk(&good(MAX_BULK_ITEMS)).map(|items| items.len());
    assert_eq!(accepted, Ok(MAX_BULK_ITEMS));
}
