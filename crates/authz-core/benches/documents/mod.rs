//! Policy documents for the parse benchmark and the hostile-document tests (both include this
//! file, so they measure and assert the same documents): legitimate tenants of any size, and
//! the hostile shapes `ImportPolicy` must refuse cheaply.
#![allow(dead_code, reason = "each includer uses a different subset")]

use std::fmt::Write as _;

/// The demo home-health tenant (seed 003).
pub(crate) const HOME_HEALTH_YAML: &str =
    include_str!("../../../../deploy/examples/home-health.yaml");
/// The provider-screening tenant (seed 004).
pub(crate) const PROVIDER_SCREENING_YAML: &str =
    include_str!("../../../../deploy/examples/provider-screening.yaml");

/// The demo tenant grown to about `bytes`: its catalog and roles, then generated principals
/// (attributes, a session), bindings and relationships, as a large agency would have.
pub(crate) fn large_tenant(bytes: usize) -> String {
    let head = HOME_HEALTH_YAML
        .split_once("\nprincipals:")
        .map_or(HOME_HEALTH_YAML, |(head, _)| head);
    let mut principals = String::from("\nprincipals:\n");
    let mut bindings = String::from("bindings:\n");
    let mut relationships = String::from(
        "relationships:\n  - location:north#parent@region:west\n  - location:south#parent@region:west\n",
    );
    let mut index = 0;
    while head.len() + principals.len() + bindings.len() + relationships.len() < bytes {
        let location = if index % 2 == 0 { "north" } else { "south" };
        let _ = write!(
            principals,
            "  - id: nurse-{index:06}\n    display_name: \"Nurse {index} (generated)\"\n    attributes: {{ discipline: RN, team: t{team} }}\n    sessions:\n      - {{ id: s-{index:06} }}\n",
            team = index % 17,
        );
        let _ = writeln!(
            bindings,
            "  - {{ id: b-{index:06}, principal: nurse-{index:06}, role: rn_case_manager, locations: [location:{location}] }}"
        );
        let _ = write!(
            relationships,
            "  - patient:p-{index:06}#location@location:{location}\n  - patient:p-{index:06}#assignee@user:nurse-{index:06}\n"
        );
        index += 1;
    }
    format!("{head}{principals}{bindings}{relationships}")
}

/// A small valid tenant whose one principal has the attribute `x:` set to `value`, written
/// in block-mapping context (the only place the policy's types let values nest freely).
pub(crate) fn with_attribute(value: &str) -> String {
    format!("tenant: {{ id: acme }}\nprincipals:\n  - id: ann\n    attributes:\n      x: {value}\n")
}

/// Nesting depth of [`with_attribute`]'s `x` value itself: the document, `principals`, the
/// principal and `attributes` are four levels above it.
pub(crate) const ATTRIBUTE_DEPTH: usize = 4;

/// `[[[…]]]`, `depth` deep.
pub(crate) fn flow_sequences(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `{a: {a: … 1}}`, `depth` deep.
pub(crate) fn flow_mappings(depth: usize) -> String {
    format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth))
}

/// `- - - … x`: block sequences nested on one line (two bytes a level), as the value of an
/// attribute.
pub(crate) fn block_sequences(depth: usize) -> String {
    format!("\n        {}x", "- ".repeat(depth))
}

/// `a:` indented one more space a line, as the value of an attribute: block mappings, which
/// cost the square of their depth in bytes.
pub(crate) fn block_mappings(depth: usize) -> String {
    let mut text = String::new();
    for level in 0..depth {
        let _ = write!(text, "\n{}a:", " ".repeat(8 + level));
    }
    text.push_str(" 1");
    text
}

/// The brief's one-liner: `tenant: [[[…]]]`, where the type wants a mapping.
pub(crate) fn tenant_flow_sequences(depth: usize) -> String {
    format!("tenant: {}\n", flow_sequences(depth))
}

/// One anchor of ten scalars, then `*a, ` repeated to about `bytes`: the alias flood.
pub(crate) fn alias_flood(bytes: usize) -> String {
    let mut text = with_attribute("&a [y, y, y, y, y, y, y, y, y, y]");
    text.push_str("      z: [");
    while text.len() < bytes {
        text.push_str("*a, ");
    }
    text.push_str("*a]\n");
    text
}

/// `&a0 x, &a1 x, …` to about `bytes`: the anchor flood.
pub(crate) fn anchor_flood(bytes: usize) -> String {
    let mut text = with_attribute("[");
    text.truncate(text.len() - 1);
    let mut index = 0;
    while text.len() < bytes {
        let _ = write!(text, "&a{index} x, ");
        index += 1;
    }
    text.push_str("y]\n");
    text
}

/// "Billion laughs": `levels` anchors, each a list of nine aliases of the one before.
pub(crate) fn billion_laughs(levels: usize) -> String {
    let mut text = with_attribute("&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]");
    for level in 1..=levels {
        let previous = format!("*a{}", level - 1);
        let list = [previous.as_str(); 9].join(", ");
        let _ = writeln!(text, "      a{level}: &a{level} [{list}]");
    }
    text
}
