//! Policy documents as untrusted input (`ImportPolicy`): size, nesting and alias limits refuse
//! hostile documents early and by name, whatever YAML syntax hides them in, while every real
//! document still parses as before. Also the short, stable run of the `policy_document` fuzz
//! target: its corpus replayed, and a seeded property over arbitrary input.
//!
//! Timing is asserted only as ratios measured in the same run (never an absolute threshold):
//! the minimum of several repetitions, so a noisy shared machine slows both sides or neither.
#![allow(
    clippy::panic,
    reason = "the helpers fail the test the way `#[test]` functions do: by panicking"
)]

#[path = "../benches/documents/mod.rs"]
mod documents;
#[path = "../fuzz/src/lib.rs"]
pub mod fuzz_body;

use std::time::{Duration, Instant};

use authz_core::attr::AttrValue;
use authz_core::model::FieldVisibility;
use authz_core::policy::{
    DocumentLimit, MAX_ALIASES, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH, TextPosition,
};
use authz_core::{PolicyError, Snapshot, TenantPolicy};
use documents::*;
use proptest::prelude::*;

/// Failures of the short fuzz property are persisted here and replayed first.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/proptest-regressions/hostile_documents.txt"
);
use authz_testgen::runner;

/// Parses `text`, which must be refused for crossing `limit`: the error names the limit and,
/// unless it is the size, the line and column.
#[track_caller]
fn refused_for(text: &str, limit: DocumentLimit) -> Option<TextPosition> {
    let error = match TenantPolicy::from_yaml(text) {
        Ok(_) => panic!("accepted a document over the {limit}"),
        Err(error) => error,
    };
    let message = error.to_string();
    let PolicyError::DocumentLimit {
        limit: actual,
        position,
    } = error
    else {
        panic!("refused, but not for the {limit}: {message}");
    };
    assert_eq!(actual, limit, "refused for another limit: {message}");
    assert!(
        message.contains(&limit.to_string()) && message.contains(&limit.max().to_string()),
        "the message does not name the limit: {message}"
    );
    if limit != DocumentLimit::Size {
        assert!(
            position.is_some() && message.contains(" at line "),
            "the message does not say where: {message}"
        );
    }
    position
}

#[track_caller]
fn parses(text: &str) -> TenantPolicy {
    match TenantPolicy::from_yaml(text) {
        Ok(policy) => policy,
        Err(error) => panic!("does not parse: {error}\n{}", preview(text)),
    }
}

#[track_caller]
fn parse_error(text: &str) -> String {
    match TenantPolicy::from_yaml(text) {
        Ok(_) => panic!("accepted:\n{}", preview(text)),
        Err(PolicyError::Parse(message)) => message,
        Err(other) => panic!("refused, but not as a parse error: {other}"),
    }
}

/// The `line L column C` (or `line L, column C`) an error message ends with.
fn line_and_column(message: &str) -> Option<(u64, u64)> {
    let message = message.replace(", column", " column");
    let (_, position) = message.rsplit_once(" at line ")?;
    let (line, column) = position.split_once(" column ")?;
    Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
}

fn preview(text: &str) -> String {
    text.chars().take(200).collect()
}

fn attribute(policy: &TenantPolicy, name: &str) -> AttrValue {
    match policy
        .principals
        .first()
        .and_then(|p| p.attributes.get(name))
    {
        Some(value) => value.clone(),
        None => panic!("no attribute `{name}`"),
    }
}

// ---------------------------------------------------------------------------------------------
// Real documents still parse, compile and round trip
// ---------------------------------------------------------------------------------------------

#[test]
fn the_example_tenants_parse_compile_and_round_trip_as_yaml_and_json() {
    for (name, yaml) in [
        ("home-health", HOME_HEALTH_YAML),
        ("provider-screening", PROVIDER_SCREENING_YAML),
    ] {
        let policy = parses(yaml);
        if let Err(error) = Snapshot::compile(&policy, None, 1) {
            panic!("{name} does not compile: {error}");
        }
        let exported = match policy.to_yaml() {
            Ok(text) => text,
            Err(error) => panic!("{name} does not export: {error}"),
        };
        assert_eq!(parses(&exported), policy, "{name}: YAML round trip");
        // JSON is YAML: `ImportPolicy` with format `json` goes through the same parser.
        let json = match serde_json::to_string(&policy) {
            Ok(text) => text,
            Err(error) => panic!("{name} does not serialise as JSON: {error}"),
        };
        assert_eq!(parses(&json), policy, "{name}: JSON through the YAML path");
    }
}

#[test]
fn a_large_generated_tenant_parses_and_compiles() {
    let text = large_tenant(MAX_DOCUMENT_BYTES / 4);
    let policy = parses(&text);
    assert!(
        policy.principals.len() > 2_000,
        "{}",
        policy.principals.len()
    );
    if let Err(error) = Snapshot::compile(&policy, None, 1) {
        panic!("the generated tenant does not compile: {error}");
    }
}

#[test]
fn scalars_keep_the_meaning_they_had() {
    // YAML 1.2 core rules, as serde_norway read them: only `true`/`false` are booleans,
    // numbers with leading zeros or underscores are text, `~` in a string field is text.
    let policy = parses(
        "tenant: { id: acme, name: ~ }\n\
         catalog:\n  sensitivity_classes:\n    pii: { default_visibility: off }\n    phi: { default_visibility: \"mask\" }\n\
         principals:\n  - id: ann\n    attributes: { a: off, b: yes, c: 0755, d: 1_000, e: true, f: 12, g: 1.5, h: \"12\", i: 2025-01-01 }\n",
    );
    assert_eq!(policy.tenant.name, "~");
    assert_eq!(
        policy.catalog.sensitivity_classes["pii"].default_visibility,
        FieldVisibility::Off
    );
    assert_eq!(
        policy.catalog.sensitivity_classes["phi"].default_visibility,
        FieldVisibility::Mask
    );
    let expected = [
        ("a", AttrValue::from("off")),
        ("b", AttrValue::from("yes")),
        ("c", AttrValue::from("0755")),
        ("d", AttrValue::from("1_000")),
        ("e", AttrValue::Bool(true)),
        ("f", AttrValue::Int(12)),
        ("g", AttrValue::Double(1.5)),
        ("h", AttrValue::from("12")),
        ("i", AttrValue::from("2025-01-01")),
    ];
    for (name, value) in expected {
        assert_eq!(attribute(&policy, name), value, "attribute `{name}`");
    }
}

#[test]
fn mistakes_are_still_refused_with_the_line_and_column() {
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "a typo in a key",
            "tenant: { id: acme }\nroles:\n  - { id: nurse, role_type: clinician, colour: teal }\n",
            &["unknown field `colour`", "line 3"],
        ),
        (
            "a key given twice",
            "tenant: { id: acme }\ntenant: { id: other }\n",
            &["duplicate", "tenant", "line 2"],
        ),
        (
            "two documents in one file",
            "tenant: { id: acme }\n---\ntenant: { id: other }\n",
            &["second YAML document", "line 3"],
        ),
        (
            "an application tag",
            "tenant: { id: acme }\nprincipals: [{ id: ann, attributes: { key: !secret abc } }]\n",
            &["tag", "line 2"],
        ),
        (
            "a merge key where a field belongs",
            "tenant:\n  <<: { id: acme }\n",
            &["unknown field `<<`", "line 2"],
        ),
        (
            "a collection where the tenant belongs",
            "tenant: [a, b]\n",
            &["line 1 column 9"],
        ),
    ];
    for (name, text, needles) in cases {
        let message = parse_error(text).replace(", column", " column");
        for needle in needles {
            assert!(
                message.contains(needle),
                "{name}: `{needle}` not in `{message}`"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Size and nesting
// ---------------------------------------------------------------------------------------------

#[test]
fn a_document_over_the_size_limit_is_refused_before_parsing() {
    // Valid YAML, and otherwise a fine tenant: only its size is wrong.
    let mut text = String::from("tenant: { id: acme }\n");
    text.push_str(&"#".repeat(MAX_DOCUMENT_BYTES + 1 - text.len()));
    assert_eq!(refused_for(&text, DocumentLimit::Size), None);
    text.pop();
    parses(&text);
}

#[test]
fn nesting_100_000_deep_is_refused_at_the_depth_limit() {
    let depth = 100_000;
    let cases = [
        ("flow sequences", with_attribute(&flow_sequences(depth))),
        ("flow mappings", with_attribute(&flow_mappings(depth))),
        ("block sequences", with_attribute(&block_sequences(depth))),
        (
            "flow sequences in JSON",
            format!(
                "{{\"tenant\": {{\"id\": \"acme\"}}, \"principals\": [{{\"id\": \"ann\", \"attributes\": {{\"x\": {}}}}}]}}",
                flow_sequences(depth)
            ),
        ),
        // Block mappings cost the square of their depth in bytes: 2,000 levels is 2 MB.
        ("block mappings", with_attribute(&block_mappings(2_000))),
    ];
    for (name, text) in cases {
        let position = refused_for(&text, DocumentLimit::Depth);
        let Some(TextPosition { line, column }) = position else {
            panic!("{name}: no position");
        };
        // Refused where the nesting crosses the limit, not at the end of the document.
        assert!(
            line <= 5 + MAX_NESTING_DEPTH as u64 && column <= 16 + 8 * MAX_NESTING_DEPTH as u64,
            "{name}: refused at line {line} column {column}"
        );
    }
}

#[test]
fn nesting_is_accepted_up_to_the_limit_and_refused_one_level_past_it() {
    let inside = MAX_NESTING_DEPTH - ATTRIBUTE_DEPTH;
    let policy = parses(&with_attribute(&flow_sequences(inside)));
    let mut value = attribute(&policy, "x");
    let mut levels = 0;
    while let AttrValue::List(mut items) = value {
        levels += 1;
        value = items.pop().unwrap_or(AttrValue::Bool(false));
    }
    assert_eq!(levels, inside);
    parses(&with_attribute(&flow_mappings(inside)));
    parses(&with_attribute(&block_sequences(inside)));
    parses(&with_attribute(&block_mappings(inside)));
    for text in [
        with_attribute(&flow_sequences(inside + 1)),
        with_attribute(&flow_mappings(inside + 1)),
        with_attribute(&block_sequences(inside + 1)),
        with_attribute(&block_mappings(inside + 1)),
    ] {
        refused_for(&text, DocumentLimit::Depth);
    }
}

#[test]
fn nesting_where_the_types_want_something_else_is_refused_at_once() {
    // `tenant: [[[…]]]`: the policy's types are checked as the document streams, so the first
    // `[` is already wrong and nothing deeper is read. Where the scanner's lookahead reaches
    // the depth limit first (a document that is one flow collection), that is the error.
    for text in [
        tenant_flow_sequences(100_000),
        format!("tenant:\n  id: {}\n", flow_sequences(100_000)),
        format!(
            "tenant: {{ id: acme }}\nroles: {}\n",
            flow_mappings(100_000)
        ),
        flow_sequences(100_000),
        flow_mappings(100_000),
    ] {
        let message = match TenantPolicy::from_yaml(&text) {
            Ok(_) => panic!("accepted {}", preview(&text)),
            Err(PolicyError::Parse(message)) => message,
            Err(
                error @ PolicyError::DocumentLimit {
                    limit: DocumentLimit::Depth,
                    ..
                },
            ) => error.to_string(),
            Err(other) => panic!("refused for another reason: {other}"),
        };
        let Some((line, column)) = line_and_column(&message) else {
            panic!("no position in `{message}`");
        };
        assert!(
            line <= 2 && column <= 8 * MAX_NESTING_DEPTH as u64,
            "not refused at once: {message}"
        );
    }
}

#[test]
fn yaml_syntax_does_not_hide_nesting() {
    let deep = flow_sequences(MAX_NESTING_DEPTH);
    let cases = [
        // Closing brackets inside quoted scalars would cancel real openers in a scanner that
        // ignored quotes.
        (
            "closers in quotes",
            with_attribute(&format!("[\"]]]]}}}}\", ']]]]}}}}', {deep}]")),
        ),
        // `'` inside a plain scalar opens nothing; a scanner that took it for a quote would
        // skip the real nesting until the next `'`.
        (
            "apostrophes in plain scalars",
            with_attribute(&format!("[a'b, {deep}, c'd]")),
        ),
        (
            "double quote in a plain scalar",
            with_attribute(&format!("[a\"b, {deep}, c\"d]")),
        ),
        (
            "closers in a comment",
            with_attribute(&format!("[ # ]]]]]]]] }}}}}}}}\n        {deep}]")),
        ),
        (
            "closers in a block scalar",
            format!(
                "tenant: {{ id: acme }}\nprincipals:\n  - id: ann\n    attributes:\n      w: |\n        ]]]]]]]] }}}}}}}}\n      v: >\n        ]]]]]]]]\n      x: {deep}\n"
            ),
        ),
        (
            "closers in a multi-line plain scalar",
            format!(
                "tenant: {{ id: acme }}\nprincipals:\n  - id: ann\n    attributes:\n      w: a\n        ]]]]]]]] }}}}}}}}\n        b\n      x: {deep}\n"
            ),
        ),
        (
            "flow inside block inside flow",
            with_attribute(&format!("\n        - - [{{a: {deep}}}]")),
        ),
        (
            "a tag on every level",
            with_attribute(&format!(
                "{}x{}",
                "!!seq [".repeat(MAX_NESTING_DEPTH),
                "]".repeat(MAX_NESTING_DEPTH)
            )),
        ),
        (
            "an anchor on every level",
            with_attribute(&format!(
                "{}x{}",
                (0..MAX_NESTING_DEPTH)
                    .map(|level| format!("&a{level} ["))
                    .collect::<String>(),
                "]".repeat(MAX_NESTING_DEPTH)
            )),
        ),
        (
            // Neither half is over the limit; an alias replays its anchor where it stands.
            "an alias that deepens",
            format!(
                "{}      y: {}*d{}\n",
                with_attribute(&format!("&d {}", flow_sequences(40))),
                "[".repeat(30),
                "]".repeat(30)
            ),
        ),
        (
            "a merge key that deepens",
            format!(
                "{}      y: {}{{<<: *d}}{}\n",
                with_attribute(&format!("&d {{k: {}}}", flow_sequences(40))),
                "[".repeat(30),
                "]".repeat(30)
            ),
        ),
    ];
    for (name, text) in cases {
        match TenantPolicy::from_yaml(&text) {
            Err(PolicyError::DocumentLimit {
                limit: DocumentLimit::Depth,
                ..
            }) => {}
            other => panic!("{name}: {other:?}\n{}", preview(&text)),
        }
    }
}

#[test]
fn brackets_in_text_are_only_text() {
    // Nothing counts what is not structure: a quoted, commented or block scalar full of
    // brackets is an ordinary value.
    let brackets = "[[[[{{{{".repeat(2_000);
    for value in [
        format!("\"{brackets}\""),
        format!("'{brackets}'"),
        format!("|\n        {brackets}"),
        format!(">\n        {brackets}"),
        format!("a\n        {brackets}"),
        format!("ok # {brackets}"),
    ] {
        let policy = parses(&with_attribute(&value));
        assert!(matches!(attribute(&policy, "x"), AttrValue::String(_)));
    }
}

// ---------------------------------------------------------------------------------------------
// Anchors and aliases
// ---------------------------------------------------------------------------------------------

#[test]
fn a_4_mib_alias_flood_is_refused_at_the_alias_limit() {
    let text = alias_flood(MAX_DOCUMENT_BYTES - 64);
    let Some(position) = refused_for(&text, DocumentLimit::Aliases) else {
        panic!("no position");
    };
    // Refused at the first alias past the limit, near the start of the 4 MiB line.
    assert_eq!(position.line, 6);
    assert!(position.column < 8 * MAX_ALIASES as u64, "{position:?}");
}

#[test]
fn expansion_is_bounded_however_the_aliases_are_arranged() {
    // Nested anchors, each nine aliases of the one before: 9^9 nodes if expanded.
    refused_for(&billion_laughs(9), DocumentLimit::AliasExpansion);
    // Few aliases of a large anchor.
    let large = format!("&big [{}]", vec!["x"; 10_000].join(", "));
    let text = format!(
        "{}      y: [{}]\n",
        with_attribute(&large),
        vec!["*big"; 100].join(", ")
    );
    refused_for(&text, DocumentLimit::AliasExpansion);
    // Few aliases of a long scalar: the text they repeat is what counts.
    let long = format!("&long '{}'", "x".repeat(MAX_DOCUMENT_BYTES / 2));
    let text = format!(
        "{}      y: [{}]\n",
        with_attribute(&long),
        vec!["*long"; 40].join(", ")
    );
    refused_for(&text, DocumentLimit::ScalarBytes);
    // Merge keys are ordinary keys here, but their aliases still count.
    let merges = format!("[{}]", vec!["{<<: *a}"; MAX_ALIASES + 1].join(", "));
    let text = format!("{}      y: {merges}\n", with_attribute("&a {k: v}"));
    refused_for(&text, DocumentLimit::Aliases);
    // Anchors without aliases still cost a copy each.
    refused_for(&anchor_flood(1 << 20), DocumentLimit::Anchors);
}

#[test]
fn a_few_aliases_are_fine() {
    let text = "tenant: { id: acme }\n\
                principals:\n  - id: ann\n    attributes: &shared { team: north, level: 3 }\n  - id: bob\n    attributes: *shared\n";
    let policy = parses(text);
    assert_eq!(
        policy.principals[0].attributes,
        policy.principals[1].attributes
    );
    let recursive = "tenant: { id: acme }\nprincipals: [{ id: ann, attributes: &a { x: *a } }]\n";
    assert!(TenantPolicy::from_yaml(recursive).is_err());
}

// ---------------------------------------------------------------------------------------------
// Time: linear in the size, and refusals cheaper than parsing
// ---------------------------------------------------------------------------------------------

/// The least time `run` takes over a few repetitions (at least 3, and until 30 ms have
/// passed): the run least disturbed by the rest of the machine.
fn least_time(mut run: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut best = Duration::MAX;
    for repetition in 0.. {
        let start = Instant::now();
        run();
        best = best.min(start.elapsed());
        if repetition >= 2 && (started.elapsed() > Duration::from_millis(30) || repetition > 200) {
            break;
        }
    }
    best
}

fn refuse(text: &str) {
    assert!(TenantPolicy::from_yaml(text).is_err());
}

#[test]
fn hostile_documents_are_refused_faster_than_a_legitimate_one_of_the_same_size_parses() {
    let size = MAX_DOCUMENT_BYTES / 4;
    let legitimate = large_tenant(size);
    let parse = least_time(|| {
        parses(&legitimate);
    });
    let hostile = [
        ("alias flood", alias_flood(size)),
        ("flow sequences", with_attribute(&flow_sequences(size / 2))),
        ("flow mappings", with_attribute(&flow_mappings(size / 5))),
        (
            "block sequences",
            with_attribute(&block_sequences(size / 2)),
        ),
        ("anchor flood", anchor_flood(size)),
        ("tenant: [[[…]]]", tenant_flow_sequences(size / 2)),
    ];
    for (name, text) in hostile {
        let refusal = least_time(|| refuse(&text));
        // Generous: a refusal takes a few percent of a parse; quadratic work is many times it.
        assert!(
            refusal < parse,
            "{name}: refusing {} bytes took {refusal:?}, parsing a legitimate {} bytes {parse:?}",
            text.len(),
            legitimate.len()
        );
    }
}

#[test]
fn refusing_deeper_nesting_costs_at_most_proportionally_more() {
    // libyaml took 16 times as long for 4 times the depth; linear work takes at most 4 times.
    for (name, make) in [
        ("flow sequences", flow_sequences as fn(usize) -> String),
        ("flow mappings", flow_mappings),
        ("block sequences", block_sequences),
    ] {
        let shallow = with_attribute(&make(25_000));
        let deep = with_attribute(&make(100_000));
        let shallow_time = least_time(|| refuse(&shallow));
        let deep_time = least_time(|| refuse(&deep));
        assert!(
            deep_time < shallow_time * 8,
            "{name}: 4 times deeper took {deep_time:?} against {shallow_time:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The `policy_document` fuzz target, briefly
// ---------------------------------------------------------------------------------------------

#[test]
fn the_policy_document_fuzz_corpus_replays_cleanly() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/policy_document");
    let replayed = runner::replay_corpus(directory, fuzz_body::policy_document);
    assert!(replayed >= 10, "only {replayed} corpus files");
}

/// YAML-ish text: the tokens a policy document is made of, in any order.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "tenant:",
        "id:",
        "acme",
        "principals:",
        "attributes:",
        "roles:",
        "grants:",
        "permission:",
        "relationships:",
        "bindings:",
        "- ",
        ": ",
        ", ",
        "[",
        "]",
        "{",
        "}",
        "'",
        "\"",
        "#",
        "\n",
        "\n  ",
        "\n    ",
        " ",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "<<: ",
        "!!str ",
        "!x ",
        "|",
        ">",
        "? ",
        "---\n",
        "...\n",
        "%YAML 1.2\n",
        "~",
        "off",
        "1_000",
        ".nan",
        "\\L",
        "\t",
        "\u{feff}",
        "é",
        "patient:p-1#assignee@user:ann",
    ]);
    prop::collection::vec(token, 0..64).prop_map(|tokens| tokens.concat())
}

#[test]
fn the_policy_document_fuzz_target_survives_arbitrary_input() {
    let strategy = prop_oneof![
        yamlish().prop_map(String::into_bytes),
        // The same soup as an attribute value of a valid tenant, where anything may nest.
        yamlish().prop_map(|value| with_attribute(&value).into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ];
    runner::check(
        "the_policy_document_fuzz_target_survives_arbitrary_input",
        256,
        REGRESSIONS,
        strategy,
        |data| {
            fuzz_body::policy_document(&data);
            Ok(())
        },
    );
}
