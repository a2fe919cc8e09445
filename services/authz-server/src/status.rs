//! Request validation failures as gRPC status: `INVALID_ARGUMENT` with a `BadRequest` field
//! violation, so a client can point at the field.

use authz_proto::convert::FieldViolation;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

pub(crate) fn invalid_argument(violation: FieldViolation) -> Status {
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        violation.to_string(),
        ErrorDetails::with_bad_request_violation(violation.field, violation.description),
    )
}
