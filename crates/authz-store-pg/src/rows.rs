//! Model values as column values and back: enums as their policy-file names, revisions as
//! `bigint`, documents as JSON text.

use authz_core::PrincipalKind;
use authz_core::model::{BindingSource, PrincipalStatus, TenantStatus};
use authz_store::StoreError;
use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::corrupt;

pub(crate) fn tenant_status(status: TenantStatus) -> &'static str {
    authz_store::validate::status_name(status)
}

pub(crate) fn parse_tenant_status(text: &str) -> Result<TenantStatus, StoreError> {
    match text {
        "active" => Ok(TenantStatus::Active),
        "suspended" => Ok(TenantStatus::Suspended),
        "deactivated" => Ok(TenantStatus::Deactivated),
        other => Err(corrupt(format_args!("tenant status `{other}`"))),
    }
}

pub(crate) fn principal_status(status: PrincipalStatus) -> &'static str {
    match status {
        PrincipalStatus::Invited => "invited",
        PrincipalStatus::Active => "active",
        PrincipalStatus::Suspended => "suspended",
        PrincipalStatus::Deactivated => "deactivated",
    }
}

pub(crate) fn parse_principal_status(text: &str) -> Result<PrincipalStatus, StoreError> {
    match text {
        "invited" => Ok(PrincipalStatus::Invited),
        "active" => Ok(PrincipalStatus::Active),
        "suspended" => Ok(PrincipalStatus::Suspended),
        "deactivated" => Ok(PrincipalStatus::Deactivated),
        other => Err(corrupt(format_args!("principal status `{other}`"))),
    }
}

pub(crate) fn parse_principal_kind(text: &str) -> Result<PrincipalKind, StoreError> {
    PrincipalKind::parse(text).ok_or_else(|| corrupt(format_args!("principal kind `{text}`")))
}

pub(crate) fn binding_source(source: BindingSource) -> &'static str {
    match source {
        BindingSource::Direct => "direct",
        BindingSource::Delegation => "delegation",
        BindingSource::Elevation => "elevation",
        BindingSource::BreakGlass => "break_glass",
        BindingSource::Scim => "scim",
    }
}

pub(crate) fn parse_binding_source(text: &str) -> Result<BindingSource, StoreError> {
    match text {
        "direct" => Ok(BindingSource::Direct),
        "delegation" => Ok(BindingSource::Delegation),
        "elevation" => Ok(BindingSource::Elevation),
        "break_glass" => Ok(BindingSource::BreakGlass),
        "scim" => Ok(BindingSource::Scim),
        other => Err(corrupt(format_args!("binding source `{other}`"))),
    }
}

/// A revision as stored. Revisions count writes, so they never come near `i64::MAX`.
pub(crate) fn revision(stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored).map_err(|_| corrupt(format_args!("revision {stored}")))
}

/// A revision a caller names, as a `bigint` bound: beyond any stored one when it does not fit.
pub(crate) fn bound(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

/// A position in a list, as an `ordinal` column.
pub(crate) fn ordinal(index: usize) -> Result<i32, StoreError> {
    i32::try_from(index).map_err(|_| StoreError::invalid_input("policy", "has too many entities"))
}

/// `value` as the JSON text stored for it, refused unless it reads back as the same value
/// (a non-finite double, for one, would come back as `null`).
pub(crate) fn json<T>(field: &str, value: &T) -> Result<String, StoreError>
where
    T: Serialize + DeserializeOwned + PartialEq,
{
    let text = serde_json::to_string(value)
        .map_err(|error| StoreError::invalid_input(field, format!("cannot be stored: {error}")))?;
    match serde_json::from_str::<T>(&text) {
        Ok(back) if back == *value => Ok(text),
        _ => Err(StoreError::invalid_input(
            field,
            "cannot be stored exactly (a value does not survive JSON, e.g. a non-finite number)",
        )),
    }
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| corrupt(format_args!("{what}: {error}")))
}

/// A timestamp column: Postgres keeps microseconds, so a finer one would come back changed.
pub(crate) fn timestamp(
    field: impl FnOnce() -> String,
    at: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    match at {
        Some(at) if at.nanosecond() % 1000 != 0 => Err(StoreError::invalid_input(
            field(),
            format!("`{at}` is finer than a microsecond"),
        )),
        _ => Ok(at),
    }
}
