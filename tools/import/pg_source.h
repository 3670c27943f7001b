// PgSource: reads the rows of the original handler's PostgreSQL table
// (workspace_id, key, value jsonb, version, expires_at, updated_at) with
// libpq, a page at a time through a server-side cursor inside one
// read-only REPEATABLE READ transaction: a table of any size is read in
// bounded memory, and as one consistent snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;

namespace casmem::importer {

// One row as PostgreSQL has it, in text (client encoding UTF-8).
struct PgRow {
  std::optional<std::string> workspace_id;  // nullopt: SQL NULL
  std::optional<std::string> key;
  std::optional<std::string> value;    // the JSON text of value::text
  std::optional<std::string> version;  // decimal text of version
  // Milliseconds since the epoch (floor); nullopt when NULL, infinite or the
  // column does not exist. expires_at '-infinity' is INT64_MIN (expired).
  std::optional<int64_t> updated_at_ms;
  std::optional<int64_t> expires_at_ms;
};

class PgSource {
 public:
  PgSource() = default;
  ~PgSource();
  PgSource(const PgSource&) = delete;
  PgSource& operator=(const PgSource&) = delete;

  // Connects with a libpq connection string or URI. False with *error.
  bool Connect(const std::string& conninfo, std::string* error);
  // Finds `table` ("NAME" or "SCHEMA.NAME"; without a schema, the
  // connection's current_schema()) in information_schema and opens the
  // cursor over it. workspace_id, key, value and version are required;
  // expires_at and updated_at are read when present (older migrations
  // have no expires_at). False with *error; *missing_table is set when
  // the table or a required column is not there (a usage error).
  bool Open(const std::string& table, std::string* error, bool* missing_table);
  // The next page (at most `max_rows`) into *rows: false with *error on
  // failure; an empty page at the end.
  bool Next(size_t max_rows, std::vector<PgRow>* rows, std::string* error);
  // Which optional columns the table has (after Open).
  bool has_expires_at() const { return has_expires_; }
  bool has_updated_at() const { return has_updated_; }

 private:
  pg_conn* conn_ = nullptr;
  bool has_expires_ = false, has_updated_ = false;
};

}  // namespace casmem::importer
