// Segment files of the log: their names (which sort in log order), their
// header, and the pipeline that keeps the next segment preallocated so a
// rotation never waits for fallocate (etcd's file_pipeline).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "wal/file_ops.h"
#include "wal/format.h"

namespace casmem::wal {

struct SegmentName {
  uint64_t seq = 0;
  uint64_t first_lsn = 0;
};

// "<seq:016x>-<first_lsn:016x>.wal": fixed width, so bytewise order is log order.
std::string FormatSegmentName(uint64_t seq, uint64_t first_lsn);
std::optional<SegmentName> ParseSegmentName(std::string_view name);

// The 32-byte segment header. Only tests write an older format.
std::string EncodeSegmentHeader(uint64_t seq, uint32_t format = kSegmentFormat);
// Checks magic, format (kSegmentFormat or kSegmentFormatV1) and checksum;
// on success sets *seq and, if given, *format.
Status VerifySegmentHeader(std::string_view bytes, const std::string& path, uint64_t* seq,
                           uint32_t* format = nullptr);

// Keeps one preallocated, synced spare file ("spare-<n>.wal.tmp") in the
// log directory. Take() hands it over (waiting if it is still being
// prepared) and starts preparing the next one, under the next n, on the
// pipeline's own thread. Recovery deletes leftover spares.
class SegmentPipeline {
 public:
  SegmentPipeline(FileSystem* fs, std::string dir, uint64_t segment_bytes);
  ~SegmentPipeline();
  SegmentPipeline(const SegmentPipeline&) = delete;
  SegmentPipeline& operator=(const SegmentPipeline&) = delete;

  // On success the caller owns the file at *path and renames it into the log.
  Status Take(std::unique_ptr<File>* file, std::string* path);

 private:
  void Run();
  Status Prepare(const std::string& path, std::unique_ptr<File>* out);

  FileSystem* fs_;
  const std::string dir_;
  uint64_t counter_ = 0;        // n of the spare being prepared
  std::string ready_path_;
  const uint64_t segment_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool want_ = true;  // a spare should be prepared
  bool stop_ = false;
  std::unique_ptr<File> ready_;
  Status ready_status_;
  bool has_result_ = false;
  std::thread thread_;
};

}  // namespace casmem::wal
