// casmemd: checks its address and TLS files, opens (recovering) the store,
// serves the memory API over HTTP or HTTPS, prints the ready line, reloads
// the TLS files on SIGHUP, and on SIGTERM/SIGINT
// finishes in-flight requests, makes everything durable, snapshots and
// exits 0.
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store.h"
#include "net/access_control.h"
#include "net/metrics.h"
#include "net/options.h"
#include "net/server.h"
#include "net/token_cli.h"
#include "net/token_registry.h"
#include "common/logger.h"

using namespace casmem;

static int Die(const std::string& message) {
  std::fprintf(stderr, "casmemd: %s\n", message.c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "token") {
    return net::RunTokenCommand(std::vector<std::string>(argv + 2, argv + argc));
  }
  net::DaemonOptions opts;
  std::string error;
  if (!net::ParseOptions(std::vector<std::string>(argv + 1, argv + argc), &opts, &error)) {
    return Die(error);
  }
  if (opts.help) {
    std::fputs(net::UsageText().c_str(), stdout);
    return 0;
  }
  SetLogLevel(opts.log_level);
  // Each connection is a file descriptor: lift the soft limit (often 1024)
  // to the hard one so --max-connections can be reached.
  rlimit fds;
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fds);
  }
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < opts.server.max_connections + 64) {
    LogWarn("open-file limit " + std::to_string(fds.rlim_cur) + " is below --max-connections " +
            std::to_string(opts.server.max_connections) + "; connections past it will wait");
  }
  LogInfo(std::string("starting: data dir ") + opts.store.data_dir + ", fsync " +
          wal::FsyncModeName(opts.store.fsync) + ", inline commit " +
          (opts.store.wal_inline_commit ? "on" : "off") + ", " + std::to_string(opts.store.shards) +
          " shards, " + std::to_string(opts.server.threads) + " I/O threads");

  Status s = net::Server::ProbeListen(opts.server);
  if (!s.ok()) return Die(s.message());
  std::unique_ptr<Store> store;
  s = Store::Open(opts.store, &store);
  if (!s.ok()) return Die("cannot open data directory " + opts.store.data_dir + ": " + s.ToString());

  // Protected mode (memory-api.md §9): with no token, only loopback.
  if (!net::IsLoopbackHost(opts.server.host)) {
    net::TokenRegistry tokens(store.get());
    if (Status t = tokens.Load(); t.ok() && tokens.empty() && opts.server.insecure_no_auth) {
      LogWarn("--insecure-no-auth: serving " + opts.server.host + " with no access token: anyone "
              "who can reach it may read and write every workspace");
    } else if (t.ok() && tokens.empty()) {
      (void)store->Close();
      return Die("refusing to serve " + opts.server.host + ":" + std::to_string(opts.server.port) +
                 " with no access token (protected mode): anyone who can reach it could read and "
                 "overwrite every workspace. Create an admin token first:\n  casmemd token create "
                 "--data-dir " + opts.store.data_dir + " --name admin --workspace '*' --role admin\n"
                 "then start casmemd again; or pass --insecure-no-auth to serve it without tokens.");
    }
  }

  net::Metrics metrics;
  store->wal()->set_observer(wal::WalObserver{
      [&metrics](uint64_t records, uint64_t) { metrics.ObserveBatchRecords(records); },
      [&metrics](std::chrono::nanoseconds d) {
        metrics.ObserveFsyncSeconds(std::chrono::duration<double>(d).count());
      }});

  {
    net::Server server(store.get(), &metrics, opts.server);
    s = server.Listen();
    if (!s.ok()) return Die(s.message());
    const std::string url = (server.tls() ? "https://" : "http://") + server.bound_address();
    std::printf("casmemd listening on %s\n", url.c_str());
    std::fflush(stdout);
    LogInfo("listening on " + url);
    server.Run();
    // Every durability callback must fire while the server's io_context
    // still exists (they post to it): close the store first.
    s = store->Close();
  }
  if (!s.ok()) {
    LogError("shutdown: " + s.ToString());
    return 1;
  }
  LogInfo("stopped cleanly");
  return 0;
}
