//! The bodies of authz-core's fuzz targets, apart from libFuzzer so that the normal test suite
//! (`crates/authz-core/tests/hostile_documents.rs`) replays the corpus through this very code.

use authz_core::policy::MAX_DOCUMENT_BYTES;
use authz_core::{Snapshot, TenantPolicy};

/// `policy_document`: any bytes, as the text of a policy document. Every input may be
/// refused; none may panic, hang or take memory out of proportion to its size. A document
/// that parses compiles (or is refused) and round trips: its export is accepted again and
/// exports to the same text (what `ExportPolicy` writes, `ImportPolicy` must read).
pub fn policy_document(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(policy) = TenantPolicy::from_yaml(&text) else {
        return;
    };
    let _ = Snapshot::compile(&policy, None, 1);
    let exported = policy.to_yaml();
    assert!(
        exported.is_ok(),
        "a parsed policy does not export: {exported:?}"
    );
    let Ok(exported) = exported else { return };
    // Aliases and flow style make a document shorter than its export; an export over the size
    // limit is refused on import by design.
    if exported.len() > MAX_DOCUMENT_BYTES {
        return;
    }
    let again = TenantPolicy::from_yaml(&exported);
    assert!(
        again.is_ok(),
        "an exported policy does not import: {again:?}\n{exported}"
    );
    let Ok(again) = again else { return };
    // Text, not values: `.nan` is a valid attribute and is not equal to itself.
    assert_eq!(
        again.to_yaml().ok().as_deref(),
        Some(exported.as_str()),
        "export, import and export again changed the document"
    );
}
