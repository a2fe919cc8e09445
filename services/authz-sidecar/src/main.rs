//! `authz-sidecar`: the Check API on localhost answered from the authz-sidecar cache.
//!
//! Not built yet (the sidecar cache stage). Until then it refuses to start rather than pose as
//! a working sidecar: a deployment that runs it fails loudly instead of failing open.

fn main() -> std::process::ExitCode {
    eprintln!(
        "authz-sidecar: not built yet; call authz-server directly until the sidecar cache stage lands"
    );
    std::process::ExitCode::from(2)
}
