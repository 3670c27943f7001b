// ChangeFeed implementation: the feed thread (live dispatch of new
// records, then catch-up rounds), subscriptions and their index.
//
// Invariant (exactly once, in order): dispatched_ only grows and is
// written under mu_ by the feed thread (and by Subscribe when there is no
// subscription at all). A live subscription receives, under mu_, every
// matching record with revision > dispatched_ at the moment it went live
// and > its cursor; a catching-up one reads (cursor, dispatched_] from
// the history and goes live, under mu_, when its cursor reaches
// dispatched_ — which only the feed thread, busy with that catch-up,
// could move. Each delivery advances the cursor to the record's revision.
#include "engine/change_feed.h"

#include <algorithm>

namespace casmem {

struct ChangeFeed::Subscription {
  uint64_t id = 0;
  ChangeFilter filter;  // immutable once subscribed
  uint64_t cursor = 0;  // every matching change <= it was delivered (or predates since)
  std::shared_ptr<Sink> sink;
  bool live = false;
  bool ended = false;
};

ChangeFeed::ChangeFeed(ChangeHistory* history, Formatter format, Options options)
    : history_(history), format_(std::move(format)), options_(options) {}

ChangeFeed::~ChangeFeed() { Stop(); }

void ChangeFeed::Start() {
  {
    std::lock_guard lk(wake_mu_);
    if (started_ || stop_) return;
    started_ = true;
  }
  {
    std::lock_guard lk(mu_);
    dispatched_.store(std::max(dispatched_.load(), history_->head()), std::memory_order_release);
  }
  history_->set_listener([this](uint64_t) {
    // With no subscription a commit costs this one load.
    if (subscription_count_.load(std::memory_order_seq_cst) != 0) Wake();
  });
  thread_ = std::thread([this] { Loop(); });
}

void ChangeFeed::Stop() {
  std::lock_guard stop_lk(stop_mu_);
  bool started;
  {
    std::lock_guard lk(wake_mu_);
    stop_ = true;
    started = started_;
  }
  cv_.notify_all();
  if (started) history_->set_listener(nullptr);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(mu_);
  for (auto& [id, sub] : subs_) sub->ended = true;
  subs_.clear();
  live_.clear();
  catching_up_.clear();
  subscription_count_.store(0);
}

void ChangeFeed::Wake() {
  {
    std::lock_guard lk(wake_mu_);
    if (wake_) return;
    wake_ = true;
  }
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  cv_.notify_one();
}

void ChangeFeed::Kick() { Wake(); }

uint64_t ChangeFeed::Subscribe(ChangeFilter filter, uint64_t since, std::shared_ptr<Sink> sink) {
  auto sub = std::make_shared<Subscription>();
  sub->filter = std::move(filter);
  sub->cursor = since;
  sub->sink = std::move(sink);
  uint64_t id;
  {
    std::lock_guard lk(mu_);
    if (subs_.empty()) {
      // Nothing was dispatched while nobody listened (the feed was not
      // woken): what is in the history now is all before this point.
      dispatched_.store(std::max(dispatched_.load(), history_->head()), std::memory_order_release);
    }
    id = sub->id = next_id_++;
    subs_.emplace(id, sub);
    if (since >= dispatched_.load()) {
      JoinLive(sub);
    } else {
      catching_up_.push_back(sub);
    }
    subscription_count_.fetch_add(1, std::memory_order_seq_cst);
  }
  Wake();
  return id;
}

void ChangeFeed::Cancel(uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  const SubPtr sub = it->second;  // Remove erases the map's copy
  Remove(sub);
}

void ChangeFeed::JoinLive(const SubPtr& sub) {
  std::erase(catching_up_, sub);
  sub->live = true;
  live_[sub->filter.workspace].push_back(sub);
}

void ChangeFeed::Remove(const SubPtr& sub) {
  if (sub->ended) return;
  sub->ended = true;
  subs_.erase(sub->id);
  if (sub->live) {
    auto it = live_.find(sub->filter.workspace);
    if (it != live_.end()) {
      std::erase(it->second, sub);
      if (it->second.empty()) live_.erase(it);
    }
  } else {
    std::erase(catching_up_, sub);
  }
  subscription_count_.fetch_sub(1, std::memory_order_seq_cst);
}

void ChangeFeed::Loop() {
  for (;;) {
    {
      std::unique_lock lk(wake_mu_);
      cv_.wait(lk, [&] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;
    }
    // Live first, then one catch-up round, while catch-ups advance.
    for (;;) {
      Dispatch();
      const bool again = CatchUp();
      {
        std::lock_guard lk(wake_mu_);
        if (stop_) return;
      }
      if (!again) break;
    }
  }
}

bool ChangeFeed::DeliverTo(Subscription& sub, std::span<const ChangeEvent> changes,
                           std::vector<std::string>* formatted, std::vector<bool>* done) {
  if (changes.empty() || changes.front().revision <= sub.cursor) return true;
  std::vector<FeedEvent> out;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (!sub.filter.Matches(changes[i])) continue;
    if (!(*done)[i]) {
      (*formatted)[i] = format_(changes[i]);
      (*done)[i] = true;
    }
    out.push_back(FeedEvent{changes[i], (*formatted)[i]});
  }
  sub.cursor = changes.front().revision;
  if (out.empty()) return true;
  delivered_.fetch_add(out.size(), std::memory_order_relaxed);
  return sub.sink->Deliver(out);
}

void ChangeFeed::Dispatch() {
  const uint64_t head = history_->head();
  ChangeHistory::Query q;
  q.max_events = 4096;
  q.max_bytes = 16ULL << 20;
  q.until = head;
  {
    std::lock_guard lk(mu_);
    q.since = dispatched_.load();
    if (head <= q.since) return;
    if (live_.empty()) {
      // Nobody to deliver to: catching-up subscriptions read it back.
      dispatched_.store(head, std::memory_order_release);
      return;
    }
  }
  ChangeHistory::Page page;
  std::vector<std::string> formatted;
  std::vector<bool> done;
  std::vector<SubPtr> dropped;
  while (q.since < head) {
    Status s = history_->Read(q, &page);
    std::lock_guard lk(mu_);
    if (!s.ok() || page.compacted) {
      // The history is gone under the live subscriptions (a memory-only
      // store that outran the feed) or unreadable: they all end.
      std::vector<SubPtr> all;
      for (auto& [ws, subs] : live_) all.insert(all.end(), subs.begin(), subs.end());
      for (const SubPtr& sub : all) {
        sub->sink->Compacted(s.ok() ? page.compact_revision : 0, s);
        Remove(sub);
      }
      dispatched_.store(std::max(dispatched_.load(), head), std::memory_order_release);
      return;
    }
    const std::span<const ChangeEvent> events(page.events);
    for (size_t i = 0; i < events.size();) {
      size_t j = i + 1;
      while (j < events.size() && events[j].revision == events[i].revision) ++j;
      const std::span<const ChangeEvent> rec = events.subspan(i, j - i);
      i = j;
      if (rec.front().revision <= dispatched_.load()) continue;
      auto it = live_.find(std::string(rec.front().workspace));
      if (it != live_.end()) {
        formatted.assign(rec.size(), std::string());
        done.assign(rec.size(), false);
        dropped.clear();
        for (const SubPtr& sub : it->second) {
          if (!DeliverTo(*sub, rec, &formatted, &done)) dropped.push_back(sub);
        }
        for (const SubPtr& sub : dropped) Remove(sub);
      }
      dispatched_.store(rec.front().revision, std::memory_order_release);
    }
    if (page.next_since > dispatched_.load()) {
      dispatched_.store(page.next_since, std::memory_order_release);
    }
    q.since = std::max(page.next_since, dispatched_.load());
    if (live_.empty()) {
      dispatched_.store(std::max(dispatched_.load(), head), std::memory_order_release);
      return;
    }
  }
}

bool ChangeFeed::CatchUp() {
  std::vector<SubPtr> round;
  {
    std::lock_guard lk(mu_);
    round = catching_up_;
  }
  bool again = false;
  ChangeHistory::Page page;
  std::vector<std::string> formatted;
  std::vector<bool> done;
  for (const SubPtr& sub : round) {
    ChangeHistory::Query q;
    q.filter = sub->filter;
    q.max_events = options_.catch_up_events;
    {
      std::lock_guard lk(mu_);
      if (sub->ended) continue;
      q.since = sub->cursor;
      q.until = dispatched_.load();
      if (q.since >= q.until) {
        JoinLive(sub);
        continue;
      }
      q.max_bytes = sub->sink->Room();
      if (q.max_bytes == 0) continue;  // until Kick
    }
    // The read (perhaps from disk) holds no lock: Subscribe and Cancel go on.
    Status s = history_->Read(q, &page);
    std::lock_guard lk(mu_);
    if (sub->ended) continue;
    if (!s.ok() || page.compacted) {
      sub->sink->Compacted(s.ok() ? page.compact_revision : 0, s);
      Remove(sub);
      continue;
    }
    const std::span<const ChangeEvent> events(page.events);
    bool alive = true;
    for (size_t i = 0; i < events.size() && alive;) {
      size_t j = i + 1;
      while (j < events.size() && events[j].revision == events[i].revision) ++j;
      formatted.assign(j - i, std::string());
      done.assign(j - i, false);
      alive = DeliverTo(*sub, events.subspan(i, j - i), &formatted, &done);
      i = j;
    }
    if (!alive) {
      Remove(sub);
      continue;
    }
    if (page.next_since > sub->cursor) sub->cursor = page.next_since;
    // dispatched_ has not moved since q.until was read: only this thread
    // moves it (Subscribe only while there is no subscription).
    if (sub->cursor >= dispatched_.load()) {
      JoinLive(sub);
    } else {
      again = true;
    }
  }
  return again;
}

}  // namespace casmem
