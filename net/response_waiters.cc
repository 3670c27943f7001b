// ResponseWaiters (see response_waiters.h): one I/O thread's responses
// waiting for visibility, released in batches by one registration.
#include "net/response_waiters.h"

#include <boost/asio/post.hpp>

namespace casmem::net {

void ResponseWaiters::Add(uint64_t lsn, std::shared_ptr<Session> s, std::shared_ptr<PendingResponse> p) {
  heap_.push(Entry{lsn, ++seq_, std::move(s), std::move(p)});
  Register();
  PostLeadCommit();
}

void ResponseWaiters::PostLeadCommit() {
  wal::Wal* wal = store_->wal();
  if (lead_posted_ || wal == nullptr) return;  // a memory-only store has no log to lead
  lead_posted_ = true;
  // Posted, so that it runs behind the handlers already ready on this
  // thread (their writes join the batch it commits): one per burst.
  boost::asio::post(ioc_, [this, wal] {
    lead_posted_ = false;
    // Called even when every response was released meanwhile: the appends
    // of this thread's handlers left the writer's wake-up to this call
    // (Wal::LeaderToCome); with nothing pending it returns at once.
    leading_ = true;
    wal->LeadCommit();  // may block this thread for one fsync
    leading_ = false;
  });
}

void ResponseWaiters::Register() {
  if (registered_ || heap_.empty()) return;
  registered_ = true;
  registering_ = true;
  // The callback runs inline (already decided), on the log's writer
  // thread, or on any I/O thread that runs the log's waiters. It releases
  // inline only on this thread and outside Register (no re-entry into the
  // heap while it is being walked); otherwise one post wakes the thread.
  store_->WhenVisible(heap_.top().lsn, [this](const Status& s) {
    if (ioc_.get_executor().running_in_this_thread() && !registering_ && leading_) return OnDecided(s.ok());
    boost::asio::post(ioc_, [this, ok = s.ok()] { OnDecided(ok); });
  });
  registering_ = false;
}

void ResponseWaiters::OnDecided(bool ok) {
  registered_ = false;
  std::vector<Entry> ready;
  ready.swap(ready_);  // reuse the scratch's capacity
  // Released in lsn order. `ok` false: the log will acknowledge nothing
  // more, so what is not acknowledged by now never will be (a 503).
  while (!heap_.empty() && (!ok || store_->IsVisible(heap_.top().lsn))) {
    ready.push_back(std::move(const_cast<Entry&>(heap_.top())));
    heap_.pop();
  }
  for (Entry& e : ready) ReleaseResponse(*e.session, e.pending, store_->IsVisible(e.lsn));
  ready.clear();
  ready.swap(ready_);
  Register();
}

}  // namespace casmem::net
