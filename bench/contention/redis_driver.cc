// The Redis driver: the optimistic-locking recipe of Redis's own docs.
// A key is a hash {value, version}. Read = UNWATCH, WATCH key, HMGET (the watch
// stays on the connection); a guarded write = MULTI, HSET value and
// version+1, EXEC, which Redis aborts (nil) if the key changed since the
// WATCH: that is the 409. hiredis encodes commands and parses replies;
// the socket is driven by Asio like every other driver. An I/O error closes
// the connection for good (Asio does not report further events on a socket
// after an error), and every later command fails at once with that error.
// Patch and Move are one EVAL each of a Lua script using Redis's bundled
// cjson: decode, change, encode, HSET value and version+1 (the nearest
// Redis has to a server-side JSON update; durable under the
// `appendfsync always` that bench/peers/run.sh starts Redis with).
#include <hiredis/hiredis.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "bench/contention/driver.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Command = std::vector<std::string>;

// KEYS[1] the key; ARGV[1] the agent; ARGV[2] "1" to drop the first agent.
// Returns the new version.
constexpr char kPatchScript[] = R"lua(
local d = cjson.decode(redis.call('HGET', KEYS[1], 'value'))
d.counter = d.counter + 1
table.insert(d.agents, tonumber(ARGV[1]))
if ARGV[2] == '1' then table.remove(d.agents, 1) end
redis.call('HSET', KEYS[1], 'value', cjson.encode(d))
return redis.call('HINCRBY', KEYS[1], 'version', 1)
)lua";

// KEYS[1] loses ARGV[1] from its counter, KEYS[2] gains it. A Lua script
// runs whole or not at all. Returns the second key's new version.
// cjson encodes an empty array as {}: agents are not touched here, so the
// script writes the counter into the value text it read instead.
constexpr char kMoveScript[] = R"lua(
local function shift(key, by)
  local v = redis.call('HGET', key, 'value')
  local d = cjson.decode(v)
  local n = d.counter + by
  v = string.gsub(v, '"counter":%-?%d+', '"counter":' .. string.format('%d', n), 1)
  redis.call('HSET', key, 'value', v)
  return redis.call('HINCRBY', key, 'version', 1)
end
local by = tonumber(ARGV[1])
shift(KEYS[1], -by)
return shift(KEYS[2], by)
)lua";

// Owns the replies of one pipeline.
struct Replies {
  std::vector<redisReply*> r;
  ~Replies() {
    for (auto* x : r) freeReplyObject(x);
  }
};

class RedisConnection final : public Connection {
 public:
  explicit RedisConnection(asio::io_context& io) : sock_(io), reader_(redisReaderCreate()) {}
  ~RedisConnection() override { redisReaderFree(reader_); }

  void Open(const std::string& host, uint16_t port, std::function<void(std::string)> done) {
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return done("bad host " + host);
    sock_.async_connect(tcp::endpoint(addr, port), [this, done](boost::system::error_code ec) {
      if (!ec) sock_.set_option(tcp::no_delay(true), ec);
      done(ec ? "connect: " + ec.message() : "");
    });
  }

  void Read(const std::string& key, ReadCallback cb) override {
    // UNWATCH first: a read that is not followed by EXEC (the read
    // workload, an abandoned retry) must not leave keys watched.
    Pipeline({{"UNWATCH"}, {"WATCH", key}, {"HMGET", key, "value", "version"}},
             [cb](std::shared_ptr<Replies> rs, std::string err) {
               ReadResult r;
               if (!err.empty()) {
                 r.error = err;
                 return cb(std::move(r));
               }
               redisReply* a = rs->r[2];
               if (a->type != REDIS_REPLY_ARRAY || a->elements != 2) {
                 r.error = "read: unexpected HMGET reply";
                 return cb(std::move(r));
               }
               r.ok = true;
               if (a->element[1]->type == REDIS_REPLY_STRING) {
                 r.version = std::stoull(a->element[1]->str);
                 r.value.assign(a->element[0]->str, a->element[0]->len);
               }
               cb(std::move(r));
             });
  }

  void Patch(const std::string& key, int agent, bool bounded, const OpOptions&, WriteCallback cb) override {
    Eval({"EVAL", kPatchScript, "1", key, std::to_string(agent), bounded ? "1" : "0"}, std::move(cb));
  }

  void Move(const std::string& first, const std::string& second, int64_t delta, const OpOptions&,
            WriteCallback cb) override {
    Eval({"EVAL", kMoveScript, "2", first, second, std::to_string(delta)}, std::move(cb));
  }

  void Write(const std::string& key, const std::string& value, std::optional<uint64_t> if_match,
             WriteCallback cb) override {
    if (!if_match) {  // LWW: no watch, the version still counts every write
      return Pipeline({{"UNWATCH"}, {"MULTI"}, {"HSET", key, "value", value}, {"HINCRBY", key, "version", "1"}, {"EXEC"}},
                      [cb](std::shared_ptr<Replies> rs, std::string err) {
                        WriteResult w;
                        redisReply* exec = err.empty() ? rs->r[4] : nullptr;
                        if (exec == nullptr || exec->type != REDIS_REPLY_ARRAY || exec->elements != 2) {
                          w.error = err.empty() ? "write: unexpected EXEC reply" : err;
                        } else {
                          w.kind = WriteResult::kCommitted;
                          w.version = static_cast<uint64_t>(exec->element[1]->integer);
                        }
                        cb(std::move(w));
                      });
    }
    if (*if_match == 0) {  // create only: watch, check absence, then write
      return Pipeline({{"WATCH", key}, {"EXISTS", key}},
                      [this, key, value, cb](std::shared_ptr<Replies> rs, std::string err) {
                        if (!err.empty()) return cb(WriteError(err));
                        if (rs->r[1]->integer != 0) {
                          return Pipeline({{"UNWATCH"}}, [cb](std::shared_ptr<Replies>, std::string) {
                            WriteResult w;
                            w.kind = WriteResult::kConflict;
                            cb(std::move(w));
                          });
                        }
                        Exec(key, value, 1, cb);
                      });
    }
    // Guarded: the WATCH from this connection's Read of the key is active.
    Exec(key, value, *if_match + 1, cb);
  }

 private:
  void Eval(Command cmd, WriteCallback cb) {
    Pipeline({{"UNWATCH"}, std::move(cmd)}, [cb](std::shared_ptr<Replies> rs, std::string err) {
      WriteResult w;
      if (!err.empty()) {
        w.error = err;
      } else if (rs->r[1]->type != REDIS_REPLY_INTEGER) {
        w.error = "eval: unexpected reply";
      } else {
        w.kind = WriteResult::kCommitted;
        w.version = static_cast<uint64_t>(rs->r[1]->integer);
      }
      cb(std::move(w));
    });
  }

  void Exec(const std::string& key, const std::string& value, uint64_t version, WriteCallback cb) {
    Pipeline({{"MULTI"}, {"HSET", key, "value", value, "version", std::to_string(version)}, {"EXEC"}},
             [cb, version](std::shared_ptr<Replies> rs, std::string err) {
               WriteResult w;
               if (!err.empty()) {
                 w.error = err;
               } else if (rs->r[2]->type == REDIS_REPLY_NIL) {
                 w.kind = WriteResult::kConflict;  // the watched key changed: EXEC aborted
               } else if (rs->r[2]->type == REDIS_REPLY_ARRAY) {
                 w.kind = WriteResult::kCommitted;
                 w.version = version;
               } else {
                 w.error = "write: unexpected EXEC reply";
               }
               cb(std::move(w));
             });
  }

  void Pipeline(std::vector<Command> cmds,
                std::function<void(std::shared_ptr<Replies>, std::string)> done) {
    if (!broken_.empty()) {
      return asio::post(sock_.get_executor(), [done, e = broken_] { done(nullptr, e); });
    }
    out_.clear();
    for (const Command& c : cmds) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : c) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      char* s = nullptr;
      const int n = redisFormatCommandArgv(&s, static_cast<int>(argv.size()), argv.data(), lens.data());
      if (n < 0) return done(nullptr, "cannot encode a command");
      out_.append(s, static_cast<size_t>(n));
      redisFreeCommand(s);
    }
    const size_t expect = cmds.size();
    asio::async_write(sock_, asio::buffer(out_), [this, expect, done](boost::system::error_code ec, size_t) {
      if (ec) return done(nullptr, Broken("send: " + ec.message()));
      Collect(std::make_shared<Replies>(), expect, done);
    });
  }

  void Collect(std::shared_ptr<Replies> got, size_t expect,
               std::function<void(std::shared_ptr<Replies>, std::string)> done) {
    while (got->r.size() < expect) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader_, &reply) != REDIS_OK) return done(nullptr, Broken("protocol error"));
      if (reply == nullptr) break;
      auto* r = static_cast<redisReply*>(reply);
      got->r.push_back(r);
      if (r->type == REDIS_REPLY_ERROR) {
        std::string msg = "redis: " + std::string(r->str, r->len);
        // Drain the rest of the pipeline's replies before reporting.
        if (got->r.size() == expect) return done(nullptr, msg);
      }
    }
    if (got->r.size() == expect) {
      for (auto* r : got->r) {
        if (r->type == REDIS_REPLY_ERROR) return done(nullptr, "redis: " + std::string(r->str, r->len));
      }
      return done(got, "");
    }
    sock_.async_read_some(asio::buffer(buf_), [this, got, expect, done](boost::system::error_code ec, size_t n) {
      if (ec) return done(nullptr, Broken("receive: " + ec.message()));
      redisReaderFeed(reader_, buf_, n);
      Collect(got, expect, done);
    });
  }

  std::string Broken(std::string error) {
    broken_ = error;
    boost::system::error_code ignored;
    sock_.close(ignored);
    return error;
  }

  tcp::socket sock_;
  std::string broken_;  // the error that closed the connection
  redisReader* reader_;
  std::string out_;
  char buf_[16384];
};

class RedisDriver final : public Driver {
 public:
  RedisDriver(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  std::string name() const override { return "redis"; }
  bool Supports(const std::string&) const override { return true; }
  void Connect(asio::io_context& io,
               std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    OpenConnection<RedisConnection>(host_, port_, std::move(done), io);
  }


 private:
  std::string host_;
  uint16_t port_;
};

}  // namespace

std::unique_ptr<Driver> MakeRedisDriver(const std::string& host, uint16_t port) {
  return std::make_unique<RedisDriver>(host, port);
}

}  // namespace casmem::bench
