// In-process engine throughput without the log: guarded put, get and LWW
// put on distinct keys and on one hot key, 1 and 2 threads; and memory per
// live key beyond its key and value bytes.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/store.h"

namespace casmem {
namespace {

constexpr int kKeysPerThread = 100'000;

Store* SharedStore() {
  static std::unique_ptr<Store> store = [] {
    StoreOptions o;  // memory only, 64 shards
    o.sweep_interval = std::chrono::milliseconds(0);
    std::unique_ptr<Store> s;
    if (!Store::Open(o, &s).ok()) std::abort();
    return s;
  }();
  return store.get();
}

std::string KeyOf(int thread, int i) { return "agent-" + std::to_string(thread) + ":task:" + std::to_string(i); }

const std::string kValue = R"({"status":"running","owner":"dev-lead","n":42})";

// Keys a thread owns, pre-created so guarded puts know their versions.
struct ThreadKeys {
  std::vector<std::string> keys;
  std::vector<uint64_t> versions;
};

ThreadKeys Prepare(Store* store, int thread, bool hot) {
  ThreadKeys tk;
  const int n = hot ? 1 : kKeysPerThread;
  for (int i = 0; i < n; ++i) {
    tk.keys.push_back(hot ? std::string("hot") : KeyOf(thread, i));
    WriteResult w = store->Put(PutRequest{"bench", tk.keys.back(), kValue, std::nullopt, 0, {}, nullptr});
    tk.versions.push_back(w.version);
  }
  return tk;
}

void BM_GuardedPut(benchmark::State& state) {
  const bool hot = state.range(0) == 1;
  Store* store = SharedStore();
  ThreadKeys tk = Prepare(store, state.thread_index(), hot);
  size_t i = 0;
  int64_t conflicts = 0;
  for (auto _ : state) {
    const size_t k = i++ % tk.keys.size();
    WriteResult w = store->Put(PutRequest{"bench", tk.keys[k], kValue, tk.versions[k], 0, {}, nullptr});
    if (w.outcome == Outcome::kOk) {
      tk.versions[k] = w.version;
    } else {
      tk.versions[k] = *w.current_version;  // retry from the 409's version
      ++conflicts;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["conflicts"] = benchmark::Counter(static_cast<double>(conflicts), benchmark::Counter::kIsRate);
}

void BM_Get(benchmark::State& state) {
  const bool hot = state.range(0) == 1;
  Store* store = SharedStore();
  ThreadKeys tk = Prepare(store, state.thread_index(), hot);
  size_t i = 0;
  for (auto _ : state) {
    GetResult g = store->Get("bench", tk.keys[i++ % tk.keys.size()]);
    benchmark::DoNotOptimize(g);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_LwwPut(benchmark::State& state) {
  const bool hot = state.range(0) == 1;
  Store* store = SharedStore();
  ThreadKeys tk = Prepare(store, state.thread_index(), hot);
  size_t i = 0;
  for (auto _ : state) {
    WriteResult w =
        store->Put(PutRequest{"bench", tk.keys[i++ % tk.keys.size()], kValue, std::nullopt, 0, {}, nullptr});
    benchmark::DoNotOptimize(w);
  }
  state.SetItemsProcessed(state.iterations());
}

// Arg 0 = distinct keys, 1 = one hot key.
BENCHMARK(BM_GuardedPut)->ArgName("hot")->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Get)->ArgName("hot")->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_LwwPut)->ArgName("hot")->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

// One page of 100 keys from a workspace of 1M keys (64 shards), starting
// after a random key: the k-way merge over the shards' ordered trees.
void BM_ListPage100Of1M(benchmark::State& state) {
  static std::unique_ptr<Store> store = [] {
    StoreOptions o;
    o.sweep_interval = std::chrono::milliseconds(0);
    std::unique_ptr<Store> s;
    if (!Store::Open(o, &s).ok()) std::abort();
    for (int i = 0; i < 1'000'000; ++i) {
      const std::string key = "task:" + std::to_string(1'000'000 + i);
      s->Put(PutRequest{"big", key, kValue, std::nullopt, 0, {}, nullptr});
    }
    s->Put(PutRequest{"other", "task:1", kValue, std::nullopt, 0, {}, nullptr});
    return s;
  }();
  uint64_t seed = 12345;
  for (auto _ : state) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::string after = "task:" + std::to_string(1'000'000 + (seed >> 33) % 999'000);
    ListResult r = store->List("big", "task:", after, 100);
    if (r.entries.size() != 100) std::abort();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_ListPage100Of1M)->Unit(benchmark::kMicrosecond);

// Bytes in use from malloc: small blocks plus mmapped ones (large tables).
size_t HeapBytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// Heap bytes per live key beyond its key and value bytes, measured with
// mallinfo2 around inserting N keys into a fresh store.
void BM_MemoryPerKey(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    StoreOptions o;
    o.sweep_interval = std::chrono::milliseconds(0);
    std::unique_ptr<Store> store;
    if (!Store::Open(o, &store).ok()) std::abort();
    malloc_trim(0);
    const size_t before = HeapBytes();
    size_t payload = 0;
    std::string key, value = "12345678";  // an 8-byte JSON number
    for (int i = 0; i < n; ++i) {
      key = "key-" + std::to_string(1'000'000'000 + i);  // 14 bytes
      store->Put(PutRequest{"ws", key, value, std::nullopt, 0, {}, nullptr});
      payload += key.size() + value.size();
    }
    const size_t after = HeapBytes();
    state.counters["bytes_per_key_overhead"] =
        static_cast<double>(after - before - payload) / n;
    state.counters["keys"] = n;
  }
}
BENCHMARK(BM_MemoryPerKey)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

// The background sweep over 1M live keys, once per --sweep-interval: when
// nothing can be due (no TTL expiring yet, no tombstone past retention) it
// returns without scanning; when one key per shard has expired it scans
// every shard (what every sweep cost before the bounds).
void BM_Sweep1M(benchmark::State& state) {
  const bool due = state.range(0) != 0;
  ManualClock clock(1'800'000'000'000);
  StoreOptions o;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.clock = &clock;
  std::unique_ptr<Store> store;
  if (!Store::Open(o, &store).ok()) std::abort();
  for (int i = 0; i < 1'000'000; ++i) {
    // One key in 1000 has a TTL far in the future.
    store->Put(PutRequest{"ws", "task:" + std::to_string(i), kValue, std::nullopt,
                          i % 1000 == 0 ? 3'600'000 : 0, {}, nullptr});
  }
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (due) {
      // 64 fresh 1 ms TTLs, then 1 ms passes: something is due in most shards.
      for (int i = 0; i < 64; ++i) {
        store->Put(PutRequest{"ws", "due:" + std::to_string(round) + ":" + std::to_string(i), kValue,
                              std::nullopt, 1, {}, nullptr});
      }
      ++round;
    }
    clock.Advance(1);
    state.ResumeTiming();
    store->Sweep();
  }
  state.counters["shard_scans_per_sweep"] =
      static_cast<double>(store->counters().sweep_scans) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Sweep1M)->ArgName("due")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace casmem

BENCHMARK_MAIN();
