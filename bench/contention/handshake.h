// --workload handshake (casmem targets): each agent opens a new connection
// (TLS when the target is https://), sends one GET /healthz (with the
// token, if any), reads the 200 and closes, over and over. Reports
// connections/s (handshakes/s over TLS, TCP connects/s on plain targets,
// the reference) and the latency of the whole connect + handshake +
// request, in a RunResult: commits are completed connections, attempts
// the connections tried; there is no final read and no verdict.
//
// A TLS connection is closed without a close_notify (the TCP connection
// just ends), and no session is resumed: every connection is a full
// handshake.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/contention/client_security.h"
#include "bench/contention/runner.h"

namespace casmem::bench {

// `host` is an address (ResolveHost); `security` null: plain, no token.
RunResult RunHandshake(const std::string& host, uint16_t port, std::shared_ptr<const ConnSecurity> security,
                       const RunConfig& config);

}  // namespace casmem::bench
