// PgServer (import_pg_server.h).
#include "tests/tools/import_pg_server.h"

#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "tests/tools/run_cli.h"

namespace casmem::testing {

namespace {

// The newest installed PostgreSQL's bin directory, or "".
std::string PgBin() {
  glob_t g{};
  std::vector<std::string> dirs;
  if (::glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string p = g.gl_pathv[i];
      dirs.push_back(p.substr(0, p.size() - std::string("/initdb").size()));
    }
  }
  ::globfree(&g);
  // Version directories sort numerically: "9.6" < "15".
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return std::stod(a.substr(20)) < std::stod(b.substr(20));
  });
  return dirs.empty() ? "" : dirs.back();
}

// A TCP port nobody listens on now: it names the server's socket file.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// As the postgres user when we are root (PostgreSQL refuses to run as root).
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace

PgServer::PgServer() {
  bin_ = PgBin();
  if (bin_.empty()) {
    error_ = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
             "install the Debian package postgresql";
    return;
  }
  dir_ = ::testing::TempDir() + "casmem-pg-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  std::filesystem::permissions(dir_, std::filesystem::perms(0755));
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      error_ = "no postgres user to run PostgreSQL as (it refuses to run as root)";
      return;
    }
  }
  port_ = FreePort();
  CliRun r = RunProgram(AsPostgres({bin_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U",
                                    "postgres", "-E", "UTF8", "--locale=C"}),
                        "", {}, 120);
  if (r.exit_code != 0) {
    error_ = "initdb failed: " + r.out + r.err;
    return;
  }
  // Unix socket only (listen_addresses ''), no fsync: a test's server.
  r = RunProgram(AsPostgres({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/log", "-w", "-t", "60",
                             "-o", "-p " + std::to_string(port_) + " -k " + dir_ +
                                       " -c listen_addresses='' -c fsync=off",
                             "start"}),
                 "", {}, 120);
  started_ = true;
  if (r.exit_code != 0) {
    error_ = "PostgreSQL did not start: " + r.out + r.err;
    return;
  }
  ok_ = true;
}

PgServer::~PgServer() {
  if (started_) {
    RunProgram(AsPostgres({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-w", "-m", "immediate", "stop"}), "",
               {}, 60);
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::string PgServer::Conninfo(const std::string& db) const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + db;
}

std::string PgServer::Sql(const std::string& sql, const std::string& db) const {
  CliRun r = RunProgram({bin_ + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", Conninfo(db), "-f", "-"},
                        sql, {}, 120);
  return r.exit_code == 0 ? "" : "psql failed (" + std::to_string(r.exit_code) + "): " + r.out + r.err;
}

}  // namespace casmem::testing
