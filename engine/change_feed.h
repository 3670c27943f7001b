// ChangeFeed: fan-out of the change history to watchers (memory-api.md
// §8), on one thread of its own, so that a write never waits for a
// watcher: the log's committing thread only appends the batch to the
// history and wakes the feed (ChangeHistory's listener), and only when
// some subscription exists.
//
// The feed thread takes each new record of the history once, decodes its
// changes, and hands each subscription the changes it matches (by
// workspace, through an index, so subscriptions of other workspaces cost
// nothing per write), formatted once per change whatever the number of
// subscriptions (the Formatter). A subscription whose `since` is behind
// what the feed has dispatched is "catching up": the feed reads its
// changes from the history (memory or disk) in rounds bounded by the
// sink's Room(), between live rounds, until it reaches the dispatched
// head, then joins the live ones. Every subscription therefore receives
// each matching change after `since` exactly once, in revision order, a
// record's changes together — or Compacted() once if its `since` is older
// than the history kept.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/change_history.h"

namespace casmem {

// A change with its formatted text (the Formatter's output), as handed to
// sinks. Valid only during the Deliver call.
struct FeedEvent {
  ChangeEvent event;
  std::string_view data;
};

class ChangeFeed {
 public:
  // Formats one change once for every sink (casmemd: the SSE `data` JSON).
  using Formatter = std::function<std::string(const ChangeEvent&)>;

  // What a subscriber implements. Called on the feed thread only, never
  // two calls at once for one sink.
  class Sink {
   public:
    virtual ~Sink() = default;
    // The matching changes of one record (one revision), in op order,
    // never empty. Return false to end the subscription (the sink lagged,
    // closed or was a one-shot): it is never called again.
    virtual bool Deliver(std::span<const FeedEvent> changes) = 0;
    // How many bytes of formatted data the sink takes now without lagging;
    // a catching-up subscription is read at most this much per round, and
    // waits (until Kick) while it is 0. Live delivery does not ask.
    virtual size_t Room() = 0;
    // The subscription's `since` is older than the history kept
    // (compact_revision), or its history could not be read (then
    // compact_revision is 0 and `error` says why). Called once; the
    // subscription then ends.
    virtual void Compacted(uint64_t compact_revision, const Status& error) = 0;
  };

  struct Options {
    // Changes read per catch-up round of one subscription, at most.
    size_t catch_up_events = 1000;
  };

  ChangeFeed(ChangeHistory* history, Formatter format, Options options);
  ChangeFeed(ChangeHistory* history, Formatter format) : ChangeFeed(history, std::move(format), Options{}) {}
  ~ChangeFeed();  // Stop()
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Starts the feed thread; it dispatches from the history's head() at
  // this moment (everything before is only read back for catch-up).
  void Start();
  // Stops the thread; sinks are released without another call. Idempotent.
  void Stop();

  // Subscribes `sink` to the changes matching `filter` with revision >
  // `since`. Returns the subscription's id (never 0). Thread-safe.
  uint64_t Subscribe(ChangeFilter filter, uint64_t since, std::shared_ptr<Sink> sink);
  // Ends a subscription: after Cancel returns, its sink is never called
  // again (Cancel waits for a Deliver in progress) and the feed's
  // reference to it is dropped. Unknown or ended ids are ignored. Must not
  // be called from a Sink method.
  void Cancel(uint64_t id);
  // A sink's Room() grew (its client read): catching-up subscriptions are
  // looked at again.
  void Kick();

  // Counters for /metrics.
  size_t subscriptions() const { return subscription_count_.load(std::memory_order_relaxed); }
  uint64_t dispatched() const { return dispatched_.load(std::memory_order_acquire); }
  uint64_t changes_delivered() const { return delivered_.load(std::memory_order_relaxed); }
  // Times the feed thread was woken by a commit, a Subscribe or a Kick
  // (tests: no subscription, no wake-up).
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  struct Subscription;
  using SubPtr = std::shared_ptr<Subscription>;
  void Loop();
  void Wake();
  // Live: delivers the records (dispatched, head] to the live subscriptions.
  void Dispatch();
  // One catch-up round over the catching-up subscriptions; true when one
  // of them advanced (another round may be due).
  bool CatchUp();
  // Delivers one record's matching changes (one revision) to `sub`
  // (changes <= its cursor excluded), formatting each change at most once
  // into `formatted` (indexed like `changes`). False: the subscription
  // ended. REQUIRES mu_.
  bool DeliverTo(Subscription& sub, std::span<const ChangeEvent> changes,
                 std::vector<std::string>* formatted, std::vector<bool>* done);
  // REQUIRES mu_.
  void JoinLive(const SubPtr& sub);
  void Remove(const SubPtr& sub);

  ChangeHistory* const history_;
  const Formatter format_;
  const Options options_;

  // Subscriptions, their index, their cursors and dispatched_ (written
  // under it); held while a sink is called (so Cancel waits for it).
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, SubPtr> subs_;
  // workspace -> live subscriptions of it
  std::unordered_map<std::string, std::vector<SubPtr>> live_;
  std::vector<SubPtr> catching_up_;

  std::mutex wake_mu_;  // wake_, stop_, started_; never held with mu_ while waiting
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  bool started_ = false;
  std::mutex stop_mu_;  // one Stop joins

  std::atomic<size_t> subscription_count_{0};
  std::atomic<uint64_t> dispatched_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> wakeups_{0};
  std::thread thread_;
};

}  // namespace casmem
