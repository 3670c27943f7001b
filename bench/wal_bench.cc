// The log on the real disk: the disk's own fsync rate (4 KiB pwrite +
// fdatasync), group commit in `always` mode against the number of
// concurrent writers (records/s, commit latency p50/p99, records per
// fsync), the same with each writer leading its own commit
// (Wal::LeadCommit), and recovery replay speed. Data goes under
// $CASMEM_BENCH_DIR (default ./bench-data), removed afterwards.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bench/latency.h"
#include "engine/store.h"
#include "wal/wal.h"

namespace casmem {
namespace {

using bench::LatencyRecorder;
using bench::NowNs;

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("CASMEM_BENCH_DIR");
  std::string dir = std::string(base ? base : "bench-data") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return std::filesystem::absolute(dir).string();
}

constexpr double kSeconds = 2.0;

void BM_DiskFsync4K(benchmark::State& state) {
  const std::string dir = BenchDir("fsync");
  const std::string path = dir + "/probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || posix_fallocate(fd, 0, 64 << 20) != 0) {
    state.SkipWithError("cannot create probe file");
    return;
  }
  ::fsync(fd);
  std::string page(4096, 'x');
  LatencyRecorder lat;
  for (auto _ : state) {
    std::vector<uint64_t> samples;
    const uint64_t start = NowNs();
    off_t off = 0;
    while (NowNs() - start < kSeconds * 1e9) {
      const uint64_t t0 = NowNs();
      if (::pwrite(fd, page.data(), page.size(), off) != 4096 || ::fdatasync(fd) != 0) std::abort();
      samples.push_back(NowNs() - t0);
      off = (off + 4096) % (64 << 20);
    }
    const double secs = static_cast<double>(NowNs() - start) / 1e9;
    state.SetIterationTime(secs);
    state.counters["fsyncs_per_s"] = static_cast<double>(samples.size()) / secs;
    lat.Merge(samples);
  }
  state.counters["p50_us"] = lat.PercentileUs(0.50);
  state.counters["p99_us"] = lat.PercentileUs(0.99);
  ::close(fd);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DiskFsync4K)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// A fresh log in `always` mode under the bench directory.
std::unique_ptr<wal::Wal> OpenAlwaysLog(const std::string& dir) {
  wal::WalOptions o;
  o.dir = dir;
  o.fsync = wal::FsyncMode::kAlways;
  std::unique_ptr<wal::Wal> log;
  if (!wal::Wal::Open(o, 0, [](const wal::Record&) {}, &log).ok()) return nullptr;
  return log;
}

// The figures of one group-commit run: throughput, fsync rate, batching.
void ReportGroupCommit(benchmark::State& state, double records, double fsyncs, double secs) {
  state.SetIterationTime(secs);
  state.counters["records_per_s"] = records / secs;
  state.counters["fsyncs_per_s"] = fsyncs / secs;
  state.counters["records_per_fsync"] = records / std::max(fsyncs, 1.0);
}

// ~200-byte records (header 56 + workspace 5 + key ~10 + value ~130).
const std::string kValue(130, 'v');

void BM_WalAlways(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  const std::string dir = BenchDir("wal-always");
  std::unique_ptr<wal::Wal> log = OpenAlwaysLog(dir);
  if (!log) {
    state.SkipWithError("cannot open the log");
    return;
  }
  LatencyRecorder lat;
  for (auto _ : state) {
    std::atomic<uint64_t> records{0};
    const uint64_t fsyncs_before = log->stats().fsyncs.load();
    const uint64_t start = NowNs();
    std::vector<std::thread> pool;
    for (int w = 0; w < writers; ++w) {
      pool.emplace_back([&, w] {
        std::vector<uint64_t> samples;
        const std::string key = "w" + std::to_string(w);
        while (NowNs() - start < kSeconds * 1e9) {
          wal::Record r;
          r.workspace = "bench";
          r.key = key;
          r.value = kValue;
          r.version = 1;
          const uint64_t t0 = NowNs();
          if (!log->WaitAcked(log->Append(&r)).ok()) std::abort();
          samples.push_back(NowNs() - t0);
        }
        records.fetch_add(samples.size());
        lat.Merge(samples);
      });
    }
    for (auto& t : pool) t.join();
    const double secs = static_cast<double>(NowNs() - start) / 1e9;
    const double fsyncs = static_cast<double>(log->stats().fsyncs.load() - fsyncs_before);
    ReportGroupCommit(state, static_cast<double>(records.load()), fsyncs, secs);
  }
  state.counters["p50_us"] = lat.PercentileUs(0.50);
  state.counters["p99_us"] = lat.PercentileUs(0.99);
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WalAlways)->ArgName("writers")->Arg(1)->Arg(8)->Arg(64)->Arg(256)
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// As BM_WalAlways, but each writer tries to lead its own commit after the
// append (Wal::LeadCommit, as casmemd's I/O thread does): 1 writer shows
// the latency without the hand-offs to the writer thread and back.
// led_fraction: the share of records whose LeadCommit led a batch.
void BM_WalAlwaysLeader(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  const std::string dir = BenchDir("wal-leader");
  std::unique_ptr<wal::Wal> log = OpenAlwaysLog(dir);
  if (!log) {
    state.SkipWithError("cannot open the log");
    return;
  }
  LatencyRecorder lat;
  std::atomic<uint64_t> led{0};
  std::atomic<uint64_t> records{0};
  for (auto _ : state) {
    const uint64_t fsyncs_before = log->stats().fsyncs.load();
    const uint64_t records_before = records.load();
    const uint64_t start = NowNs();
    std::vector<std::thread> pool;
    for (int w = 0; w < writers; ++w) {
      pool.emplace_back([&, w] {
        std::vector<uint64_t> samples;
        const std::string key = "w" + std::to_string(w);
        while (NowNs() - start < kSeconds * 1e9) {
          wal::Record r;
          r.workspace = "bench";
          r.key = key;
          r.value = kValue;
          r.version = 1;
          const uint64_t t0 = NowNs();
          const uint64_t lsn = log->Append(&r);
          if (log->LeadCommit()) led.fetch_add(1, std::memory_order_relaxed);
          if (!log->WaitAcked(lsn).ok()) std::abort();
          samples.push_back(NowNs() - t0);
        }
        records.fetch_add(samples.size());
        lat.Merge(samples);
      });
    }
    for (auto& t : pool) t.join();
    const double secs = static_cast<double>(NowNs() - start) / 1e9;
    const double fsyncs = static_cast<double>(log->stats().fsyncs.load() - fsyncs_before);
    ReportGroupCommit(state, static_cast<double>(records.load() - records_before), fsyncs, secs);
  }
  state.counters["p50_us"] = lat.PercentileUs(0.50);
  state.counters["p99_us"] = lat.PercentileUs(0.99);
  state.counters["led_fraction"] =
      static_cast<double>(led.load()) / std::max<double>(1.0, static_cast<double>(records.load()));
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WalAlwaysLeader)->ArgName("writers")->Arg(1)->Arg(8)->Arg(64)
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// The same load as casmemd drives it: N writers as closed loops of
// completion callbacks (no thread per writer). Each acknowledgement records
// the commit latency and appends that writer's next record.
class AsyncWriters {
 public:
  AsyncWriters(wal::Wal* log, int writers, uint64_t stop_at_ns)
      : log_(log), stop_at_ns_(stop_at_ns), keys_(writers) {
    for (int w = 0; w < writers; ++w) keys_[w] = "w" + std::to_string(w);
  }
  void Start() {
    for (size_t w = 0; w < keys_.size(); ++w) Issue(w);
  }
  void Wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return finished_ == keys_.size(); });
  }
  std::vector<uint64_t>& samples() { return samples_; }

 private:
  void Issue(size_t w) {
    wal::Record r;
    r.workspace = "bench";
    r.key = keys_[w];
    r.value = kValue;
    r.version = 1;
    const uint64_t t0 = NowNs();
    const uint64_t lsn = log_->Append(&r);
    log_->WhenAcked(lsn, [this, w, t0](const Status& s) {
      if (!s.ok()) std::abort();
      const uint64_t now = NowNs();
      samples_.push_back(now - t0);  // callbacks run on the log's one writer thread
      if (now < stop_at_ns_) {
        Issue(w);
      } else {
        std::lock_guard lk(mu_);
        if (++finished_ == keys_.size()) cv_.notify_one();
      }
    });
  }
  wal::Wal* log_;
  const uint64_t stop_at_ns_;
  std::vector<std::string> keys_;
  std::vector<uint64_t> samples_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t finished_ = 0;
};

void BM_WalAlwaysAsync(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  const std::string dir = BenchDir("wal-async");
  std::unique_ptr<wal::Wal> log = OpenAlwaysLog(dir);
  if (!log) {
    state.SkipWithError("cannot open the log");
    return;
  }
  LatencyRecorder lat;
  for (auto _ : state) {
    const uint64_t fsyncs_before = log->stats().fsyncs.load();
    const uint64_t start = NowNs();
    AsyncWriters load(log.get(), writers, start + static_cast<uint64_t>(kSeconds * 1e9));
    load.Start();
    load.Wait();
    const double secs = static_cast<double>(NowNs() - start) / 1e9;
    const double records = static_cast<double>(load.samples().size());
    const double fsyncs = static_cast<double>(log->stats().fsyncs.load() - fsyncs_before);
    ReportGroupCommit(state, records, fsyncs, secs);
    lat.Merge(load.samples());
  }
  state.counters["p50_us"] = lat.PercentileUs(0.50);
  state.counters["p99_us"] = lat.PercentileUs(0.99);
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WalAlwaysAsync)->ArgName("writers")->Arg(1)->Arg(8)->Arg(64)->Arg(256)
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// Recovery: a log of N ~200-byte records over 10k keys, replayed by
// Store::Open into the shards (decode + checksum + apply).
void BM_RecoveryReplay(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string dir = BenchDir("recovery");
  uint64_t log_bytes = 0;
  {
    wal::WalOptions o;
    o.dir = dir + "/wal";
    o.fsync = wal::FsyncMode::kNever;
    std::unique_ptr<wal::Wal> log;
    if (!wal::Wal::Open(o, 0, [](const wal::Record&) {}, &log).ok()) std::abort();
    std::vector<std::string> keys;
    for (int k = 0; k < 10'000; ++k) keys.push_back("task:" + std::to_string(k));
    for (int i = 0; i < n; ++i) {
      wal::Record r;
      r.workspace = "bench";
      r.key = keys[i % keys.size()];
      r.value = kValue;
      r.version = static_cast<uint64_t>(i / keys.size() + 1);
      r.updated_at_ms = 1'800'000'000'000;
      log->Append(&r);
    }
    if (!log->SyncAll().ok()) std::abort();
    log_bytes = log->bytes_appended();
  }
  for (auto _ : state) {
    StoreOptions so;
    so.data_dir = dir;
    so.fsync = wal::FsyncMode::kNever;
    so.sweep_interval = std::chrono::milliseconds(0);
    std::unique_ptr<Store> store;
    const uint64_t t0 = NowNs();
    Status s = Store::Open(so, &store);
    const double secs = static_cast<double>(NowNs() - t0) / 1e9;
    if (!s.ok() || store->recovery().log_records != static_cast<uint64_t>(n)) {
      state.SkipWithError("recovery failed");
      return;
    }
    state.SetIterationTime(secs);
    state.counters["records_per_s"] = n / secs;
    state.counters["MB_per_s"] = static_cast<double>(log_bytes) / 1e6 / secs;
    store->wal()->Close();  // skip the shutdown snapshot: the log stays for the next run
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RecoveryReplay)->Arg(1'000'000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace casmem

BENCHMARK_MAIN();
