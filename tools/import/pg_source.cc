// PgSource (pg_source.h): libpq, a cursor, pages of rows.
#include "tools/import/pg_source.h"

#include <libpq-fe.h>

#include <charconv>
#include <climits>
#include <memory>
#include <set>

namespace casmem::importer {

namespace {

constexpr char kCursor[] = "casmem_import";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string LastError(PGconn* c) {
  std::string e = PQerrorMessage(c);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

// Runs a command that returns no rows; false with *error.
bool Exec(PGconn* c, const std::string& sql, std::string* error) {
  Result r(PQexec(c, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    *error = LastError(c);
    return false;
  }
  return true;
}

// The identifier quoted for SQL ("a""b"), or empty on failure.
std::string Quote(PGconn* c, const std::string& name) {
  char* q = PQescapeIdentifier(c, name.data(), name.size());
  if (q == nullptr) return "";
  std::string out = q;
  PQfreemem(q);
  return out;
}

// Epoch ms of a timestamp column: NULL for NULL and +infinity, the
// smallest bigint for -infinity (long past).
std::string EpochMs(const std::string& col) {
  return "CASE WHEN " + col + " = '-infinity' THEN '" + std::to_string(LLONG_MIN) +
         "'::bigint WHEN isfinite(" + col + ") THEN floor(extract(epoch FROM " + col +
         ") * 1000)::bigint END";
}

std::optional<std::string> Text(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

std::optional<int64_t> Int(PGresult* r, int row, int col) {
  auto t = Text(r, row, col);
  int64_t v = 0;
  if (!t || std::from_chars(t->data(), t->data() + t->size(), v).ec != std::errc()) return std::nullopt;
  return v;
}

}  // namespace

PgSource::~PgSource() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgSource::Connect(const std::string& conninfo, std::string* error) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    *error = "cannot connect to PostgreSQL: " + (conn_ ? LastError(conn_) : std::string("out of memory"));
    return false;
  }
  // Keys and values arrive as UTF-8 whatever the database's encoding.
  if (PQsetClientEncoding(conn_, "UTF8") != 0) {
    *error = "cannot set client_encoding UTF8: " + LastError(conn_);
    return false;
  }
  return true;
}

bool PgSource::Open(const std::string& table, std::string* error, bool* missing_table) {
  *missing_table = false;
  std::optional<std::string> schema;
  std::string name = table;
  if (const size_t dot = table.find('.'); dot != std::string::npos) {
    schema = table.substr(0, dot);
    name = table.substr(dot + 1);
  }
  // One snapshot for the column lookup and every page.
  if (!Exec(conn_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error)) return false;
  const char* params[2] = {schema ? schema->c_str() : nullptr, name.c_str()};
  Result cols(PQexecParams(conn_,
                           "SELECT column_name FROM information_schema.columns "
                           "WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2",
                           2, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(cols.get()) != PGRES_TUPLES_OK) {
    *error = LastError(conn_);
    return false;
  }
  std::set<std::string> have;
  for (int i = 0; i < PQntuples(cols.get()); ++i) have.insert(PQgetvalue(cols.get(), i, 0));
  if (have.empty()) {
    *missing_table = true;
    *error = "no table " + table + " (see --table)";
    return false;
  }
  for (const char* need : {"workspace_id", "key", "value", "version"}) {
    if (!have.count(need)) {
      *missing_table = true;
      *error = "table " + table + " has no column " + need;
      return false;
    }
  }
  has_expires_ = have.count("expires_at") > 0;
  has_updated_ = have.count("updated_at") > 0;
  const std::string qualified = (schema ? Quote(conn_, *schema) + "." : std::string()) + Quote(conn_, name);
  if (qualified.empty() || (schema && qualified.front() == '.')) {
    *error = "cannot quote the table name: " + LastError(conn_);
    return false;
  }
  const std::string sql =
      std::string("DECLARE ") + kCursor + " NO SCROLL CURSOR FOR SELECT workspace_id::text, key::text, " +
      "value::text, version::text, " + (has_updated_ ? EpochMs("updated_at") : "NULL::bigint") + ", " +
      (has_expires_ ? EpochMs("expires_at") : "NULL::bigint") + " FROM " + qualified;
  return Exec(conn_, sql, error);
}

bool PgSource::Next(size_t max_rows, std::vector<PgRow>* rows, std::string* error) {
  rows->clear();
  Result r(PQexec(conn_, ("FETCH FORWARD " + std::to_string(max_rows) + " FROM " + kCursor).c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    *error = LastError(conn_);
    return false;
  }
  const int n = PQntuples(r.get());
  rows->reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    PgRow row;
    row.workspace_id = Text(r.get(), i, 0);
    row.key = Text(r.get(), i, 1);
    row.value = Text(r.get(), i, 2);
    row.version = Text(r.get(), i, 3);
    row.updated_at_ms = Int(r.get(), i, 4);
    row.expires_at_ms = Int(r.get(), i, 5);
    rows->push_back(std::move(row));
  }
  if (n == 0) (void)Exec(conn_, "COMMIT", error);  // read-only: nothing to lose if it fails
  return true;
}

}  // namespace casmem::importer
