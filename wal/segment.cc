// Segment naming, header encoding and the preallocation pipeline.
#include "wal/segment.h"

#include <xxhash.h>

#include <cinttypes>
#include <cstdio>

#include "wal/endian.h"
#include "wal/format.h"

namespace casmem::wal {

std::string FormatSegmentName(uint64_t seq, uint64_t first_lsn) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "-%016" PRIx64 "%s", seq, first_lsn,
                kSegmentSuffix);
  return buf;
}

std::optional<SegmentName> ParseSegmentName(std::string_view name) {
  // 16 hex, '-', 16 hex, ".wal"
  if (name.size() != 33 + 4 || name[16] != '-' || name.substr(33) != kSegmentSuffix) {
    return std::nullopt;
  }
  auto hex = [](std::string_view s, uint64_t* v) {
    *v = 0;
    for (char c : s) {
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else return false;
      *v = (*v << 4) | static_cast<uint64_t>(d);
    }
    return true;
  };
  SegmentName out;
  if (!hex(name.substr(0, 16), &out.seq) || !hex(name.substr(17, 16), &out.first_lsn)) {
    return std::nullopt;
  }
  return out;
}

std::string EncodeSegmentHeader(uint64_t seq, uint32_t format) {
  std::string h(kSegmentHeaderSize, '\0');
  PutU64(h.data(), kSegmentMagic);
  PutU32(h.data() + 8, format);
  PutU32(h.data() + 12, 0);
  PutU64(h.data() + 16, seq);
  PutU64(h.data() + 24, XXH3_64bits_withSeed(h.data(), 24, kChecksumSeed));
  return h;
}

Status VerifySegmentHeader(std::string_view bytes, const std::string& path, uint64_t* seq,
                           uint32_t* format) {
  if (bytes.size() < kSegmentHeaderSize) {
    return Status::Corruption(path + ": segment shorter than its header");
  }
  const char* p = bytes.data();
  if (GetU64(p) != kSegmentMagic) return Status::Corruption(path + " offset 0: bad segment magic");
  if (GetU64(p + 24) != XXH3_64bits_withSeed(p, 24, kChecksumSeed)) {
    return Status::Corruption(path + " offset 0: segment header checksum mismatch");
  }
  const uint32_t f = GetU32(p + 8);
  if (f != kSegmentFormat && f != kSegmentFormatV1) {
    return Status::Corruption(path + ": unsupported segment format " + std::to_string(f));
  }
  *seq = GetU64(p + 16);
  if (format != nullptr) *format = f;
  return Status::OK();
}

SegmentPipeline::SegmentPipeline(FileSystem* fs, std::string dir, uint64_t segment_bytes)
    : fs_(fs),
      dir_(std::move(dir)),
      segment_bytes_(segment_bytes),
      thread_([this] { Run(); }) {}

SegmentPipeline::~SegmentPipeline() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // An unused spare is not part of the log; recovery removes it too.
  if (ready_) {
    ready_.reset();
    (void)fs_->Remove(ready_path_);
  }
}

Status SegmentPipeline::Prepare(const std::string& path, std::unique_ptr<File>* out) {
  std::unique_ptr<File> f;
  Status s = fs_->Open(path, OpenMode::kCreateTrunc, &f);
  if (s.ok()) s = f->Allocate(segment_bytes_);
  if (s.ok()) s = f->Sync();
  if (s.ok()) *out = std::move(f);
  return s;
}

void SegmentPipeline::Run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || want_; });
    if (stop_) return;
    want_ = false;
    const std::string path =
        JoinPath(dir_, "spare-" + std::to_string(++counter_) + kSpareSegmentSuffix);
    lk.unlock();
    std::unique_ptr<File> f;
    Status s = Prepare(path, &f);
    lk.lock();
    ready_ = std::move(f);
    ready_path_ = path;
    ready_status_ = s;
    has_result_ = true;
    cv_.notify_all();
  }
}

Status SegmentPipeline::Take(std::unique_ptr<File>* file, std::string* path) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return has_result_ || stop_; });
  if (!has_result_) return Status::Shutdown("segment pipeline stopped");
  has_result_ = false;
  Status s = ready_status_;
  if (s.ok()) {
    *file = std::move(ready_);
    *path = ready_path_;
  }
  want_ = true;  // prepare the next spare (after the caller renames this one)
  cv_.notify_all();
  return s;
}

}  // namespace casmem::wal
