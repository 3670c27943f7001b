// The PostgreSQL driver: the original handler's statements, through libpq's
// asynchronous API with the connection's socket watched by Asio, one
// connection per agent. Default (durable) server settings.
//   read    SELECT value::text, version FROM memory WHERE workspace_id=$1 AND key=$2
//   cas     UPDATE memory SET value=$3, version=version+1, updated_at=now()
//             WHERE workspace_id=$1 AND key=$2 AND version=$4 RETURNING version
//   lww     INSERT ... ON CONFLICT (workspace_id, key) DO UPDATE
//             SET value=EXCLUDED.value, version=memory.version+1 RETURNING version
//   create  INSERT ... ON CONFLICT DO NOTHING RETURNING version
//   patch   one UPDATE: counter + 1 by jsonb_set, the agent appended with
//             ||, and (bounded) the first agent removed with `- 0`;
//             concurrent UPDATEs of the row wait for its lock and apply
//             to the newest row version (READ COMMITTED), so none is lost
//   txn     BEGIN; UPDATE first (counter - d); UPDATE second (counter + d);
//             COMMIT, sent as one multi-statement query (one round trip:
//             the most favourable way to run it); always in the same key
//             order, so two moves cannot deadlock
#include <libpq-fe.h>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "bench/contention/driver.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS memory ("
    " workspace_id text NOT NULL, key text NOT NULL, value jsonb NOT NULL,"
    " version bigint NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (workspace_id, key))";
constexpr char kRead[] =
    "SELECT value::text, version FROM memory WHERE workspace_id=$1 AND key=$2";
constexpr char kCas[] =
    "UPDATE memory SET value=$3::jsonb, version=version+1, updated_at=now() "
    "WHERE workspace_id=$1 AND key=$2 AND version=$4 RETURNING version";
constexpr char kUpsert[] =
    "INSERT INTO memory (workspace_id, key, value, version) VALUES ($1, $2, $3::jsonb, 1) "
    "ON CONFLICT (workspace_id, key) DO UPDATE SET value=EXCLUDED.value, "
    "version=memory.version+1, updated_at=now() RETURNING version";
constexpr char kCreate[] =
    "INSERT INTO memory (workspace_id, key, value, version) VALUES ($1, $2, $3::jsonb, 1) "
    "ON CONFLICT DO NOTHING RETURNING version";

constexpr char kPatchBounded[] =
    "UPDATE memory SET value=jsonb_set(jsonb_set(value, '{counter}', "
    "to_jsonb((value->>'counter')::bigint + 1)), '{agents}', ((value->'agents') - 0) || to_jsonb($3::int)), "
    "version=version+1, updated_at=now() WHERE workspace_id=$1 AND key=$2 RETURNING version";
constexpr char kPatchGrowing[] =
    "UPDATE memory SET value=jsonb_set(jsonb_set(value, '{counter}', "
    "to_jsonb((value->>'counter')::bigint + 1)), '{agents}', (value->'agents') || to_jsonb($3::int)), "
    "version=version+1, updated_at=now() WHERE workspace_id=$1 AND key=$2 RETURNING version";

class PgConnection final : public Connection {
 public:
  PgConnection(asio::io_context& io, PGconn* conn, std::string ws)
      : conn_(conn), sock_(io, PQsocket(conn)), ws_(std::move(ws)) {}
  ~PgConnection() override {
    sock_.release();  // the descriptor belongs to libpq
    PQfinish(conn_);
  }

  void Read(const std::string& key, ReadCallback cb) override {
    Query(kRead, {ws_, key}, [cb](PGresult* res, std::string err) {
      ReadResult r;
      if (!err.empty()) {
        r.error = err;
      } else {
        r.ok = true;
        if (PQntuples(res) == 1) {
          r.value = PQgetvalue(res, 0, 0);
          r.version = std::stoull(PQgetvalue(res, 0, 1));
        }
      }
      cb(std::move(r));
    });
  }

  void Write(const std::string& key, const std::string& value, std::optional<uint64_t> if_match,
             WriteCallback cb) override {
    const char* sql = !if_match ? kUpsert : (*if_match == 0 ? kCreate : kCas);
    std::vector<std::string> params = {ws_, key, value};
    if (if_match && *if_match > 0) params.push_back(std::to_string(*if_match));
    Query(sql, params, [cb](PGresult* res, std::string err) {
      WriteResult w;
      if (!err.empty()) {
        w.error = err;
      } else if (PQntuples(res) == 1) {
        w.kind = WriteResult::kCommitted;
        w.version = std::stoull(PQgetvalue(res, 0, 0));
      } else {
        w.kind = WriteResult::kConflict;  // no row matched the version (or it existed)
      }
      cb(std::move(w));
    });
  }

  void Patch(const std::string& key, int agent, bool bounded, const OpOptions&, WriteCallback cb) override {
    Query(bounded ? kPatchBounded : kPatchGrowing, {ws_, key, std::to_string(agent)},
          [cb](PGresult* res, std::string err) {
            WriteResult w;
            if (!err.empty()) {
              w.error = err;
            } else if (PQntuples(res) == 1) {
              w.kind = WriteResult::kCommitted;
              w.version = std::stoull(PQgetvalue(res, 0, 0));
            } else {
              w.error = "patch: key absent";
            }
            cb(std::move(w));
          });
  }

  void Move(const std::string& first, const std::string& second, int64_t delta, const OpOptions&,
            WriteCallback cb) override {
    auto update = [&](const std::string& key, int64_t by) {
      return "UPDATE memory SET value=jsonb_set(value, '{counter}', to_jsonb((value->>'counter')::bigint + (" +
             std::to_string(by) + "))), version=version+1, updated_at=now() WHERE workspace_id=" + Literal(ws_) +
             " AND key=" + Literal(key) + ";";
    };
    const std::string sql = "BEGIN;" + update(first, -delta) + update(second, delta) + "COMMIT";
    if (!PQsendQuery(conn_, sql.c_str())) return cb(WriteError(std::string("send: ") + PQerrorMessage(conn_)));
    Flush([this, cb](PGresult*, std::string err) {
      if (err.empty()) {
        WriteResult w;
        w.kind = WriteResult::kCommitted;
        return cb(std::move(w));
      }
      // An error leaves the transaction block open and aborted: end it.
      if (!PQsendQuery(conn_, "ROLLBACK")) return cb(WriteError(err));
      Flush([cb, err](PGresult*, std::string) { cb(WriteError(err)); });
    });
  }

 private:
  using Done = std::function<void(PGresult*, std::string)>;

  std::string Literal(const std::string& s) {
    char* q = PQescapeLiteral(conn_, s.data(), s.size());
    if (q == nullptr) return "NULL";
    std::string out(q);
    PQfreemem(q);
    return out;
  }

  void Query(const char* sql, const std::vector<std::string>& params, Done done) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    if (!PQsendQueryParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                           nullptr, nullptr, 0)) {
      return done(nullptr, std::string("send: ") + PQerrorMessage(conn_));
    }
    Flush(std::move(done));
  }

  void Flush(Done done) {
    const int f = PQflush(conn_);
    if (f < 0) return done(nullptr, std::string("send: ") + PQerrorMessage(conn_));
    if (f == 1) {
      sock_.async_wait(asio::posix::stream_descriptor::wait_write,
                       [this, done](boost::system::error_code) { Flush(done); });
      return;
    }
    Await(std::move(done));
  }

  // Collects results until libpq has none left; hands over the last one.
  void Await(Done done) {
    if (!PQconsumeInput(conn_)) return done(nullptr, std::string("receive: ") + PQerrorMessage(conn_));
    while (!PQisBusy(conn_)) {
      PGresult* res = PQgetResult(conn_);
      if (res == nullptr) {
        PGresult* last = last_;
        last_ = nullptr;
        const ExecStatusType st = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
          done(last, "");
        } else {
          done(nullptr, last ? std::string("postgres: ") + PQresultErrorMessage(last) : "no result");
        }
        if (last) PQclear(last);
        return;
      }
      if (last_) PQclear(last_);
      last_ = res;
    }
    sock_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [this, done](boost::system::error_code ec) {
                       if (ec) return done(nullptr, "receive: " + ec.message());
                       Await(done);
                     });
  }

  PGconn* conn_;
  asio::posix::stream_descriptor sock_;
  std::string ws_;
  PGresult* last_ = nullptr;
};

class PgDriver final : public Driver {
 public:
  PgDriver(std::string conninfo, std::string ws) : conninfo_(std::move(conninfo)), ws_(std::move(ws)) {}
  std::string name() const override { return "postgres"; }
  bool Supports(const std::string&) const override { return true; }
  void Connect(asio::io_context& io,
               std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    // Connecting is done synchronously: it happens once per agent, before
    // the measured part of the run.
    PGconn* c = PQconnectdb(conninfo_.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string err = PQerrorMessage(c);
      PQfinish(c);
      return done(nullptr, "connect: " + err);
    }
    if (!schema_ready_) {
      PGresult* r = PQexec(c, kSchema);
      const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      std::string err = PQresultErrorMessage(r);
      PQclear(r);
      if (!ok) {
        PQfinish(c);
        return done(nullptr, "schema: " + err);
      }
      schema_ready_ = true;
    }
    PQsetnonblocking(c, 1);
    done(std::make_unique<PgConnection>(io, c, ws_), "");
  }

 private:
  std::string conninfo_, ws_;
  bool schema_ready_ = false;
};

}  // namespace

std::unique_ptr<Driver> MakePostgresDriver(const std::string& conninfo, const std::string& workspace) {
  return std::make_unique<PgDriver>(conninfo, workspace);
}

}  // namespace casmem::bench
