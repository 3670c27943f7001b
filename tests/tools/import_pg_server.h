// Test support for `casmem import-pg`: a throwaway PostgreSQL (the
// installed server's initdb + pg_ctl, trust authentication, listening on a
// Unix socket in its own temporary directory only), run as the postgres
// user when the tests run as root (as bench/peers/lib.sh does), and psql
// to fill it.
#pragma once

#include <string>

namespace casmem::testing {

class PgServer {
 public:
  // Starts it; ok() false with error() when it could not (including when
  // no PostgreSQL is installed: the tests then fail, naming the package).
  PgServer();
  ~PgServer();  // stops it and removes its directory
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // A libpq connection string for database `db`.
  std::string Conninfo(const std::string& db = "postgres") const;
  // Runs SQL with psql (ON_ERROR_STOP) in database `db`: "" on success,
  // else psql's output.
  std::string Sql(const std::string& sql, const std::string& db = "postgres") const;

 private:
  std::string bin_, dir_;
  int port_ = 0;
  bool ok_ = false, started_ = false;
  std::string error_;
};

}  // namespace casmem::testing
