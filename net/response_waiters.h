// ResponseWaiters: one I/O thread's responses waiting for the log to
// acknowledge their lsn (the visibility contract, spec section 2), with
// at most one Store::WhenVisible registration outstanding for all of
// them, so that one fsync releases a whole batch with one wake-up of the
// thread instead of one asio::post per response. It also posts the
// thread's LeadCommit (leader/follower group commit) once per burst.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "engine/store.h"

namespace casmem::net {

class Session;
struct PendingResponse;

// session.cc: `p` (of `s`) may be sent: OK (`ok`) or as a 503 (the log
// failed or closed before its lsn was acknowledged). On s's thread.
void ReleaseResponse(Session& s, const std::shared_ptr<PendingResponse>& p, bool ok);

class ResponseWaiters {
 public:
  // `store` and `ioc` outlive this; `ioc` is run by one thread, the only
  // one that calls Add (and the one every release runs on).
  ResponseWaiters(boost::asio::io_context& ioc, Store* store) : ioc_(ioc), store_(store) {}
  ResponseWaiters(const ResponseWaiters&) = delete;
  ResponseWaiters& operator=(const ResponseWaiters&) = delete;

  // Queues `p` until `lsn` is acknowledged (then ReleaseResponse(ok)) or can
  // never be (ReleaseResponse(false)). Never releases inline: always from
  // a later handler of the thread, or from its LeadCommit.
  void Add(uint64_t lsn, std::shared_ptr<Session> s, std::shared_ptr<PendingResponse> p);

  size_t size() const { return heap_.size(); }  // for tests and asserts

 private:
  struct Entry {
    uint64_t lsn;
    uint64_t seq;  // FIFO among equal lsns
    std::shared_ptr<Session> session;
    std::shared_ptr<PendingResponse> pending;
    bool operator>(const Entry& o) const { return lsn != o.lsn ? lsn > o.lsn : seq > o.seq; }
  };

  // Registers one WhenVisible for the smallest waiting lsn, unless one is
  // outstanding. A smaller lsn queued while one is outstanding waits for
  // it (the log acknowledges in lsn order, so it is released then at the
  // latest); the invariant "released => acknowledged" never depends on it.
  void Register();
  // On the thread: releases every entry whose lsn is acknowledged; when
  // the log can no longer acknowledge (`ok` false), every other one as a
  // 503; then registers for what is left.
  void OnDecided(bool ok);
  // Once per burst: posts one store->wal()->LeadCommit() to this thread,
  // so that a thread whose responses wait commits the log's pending batch
  // itself when the log is idle (leader/follower group commit). While it
  // runs (leading_), the waiters it acknowledges release inline.
  void PostLeadCommit();

  boost::asio::io_context& ioc_;
  Store* const store_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  uint64_t seq_ = 0;
  bool registered_ = false;    // a WhenVisible of ours is outstanding
  bool registering_ = false;   // inside Register's WhenVisible call
  int inline_decision_ = 0;    // set by a callback run inline by Register: 1 ok, 2 failed
  bool leading_ = false;       // inside this thread's LeadCommit call
  bool lead_posted_ = false;   // a LeadCommit is posted and has not run yet
  std::vector<Entry> ready_;   // OnDecided's scratch, reused
};

}  // namespace casmem::net
