// Status: the error value of every layer (common/: used by wal/, engine/,
// net/ and the tools). Expected outcomes and I/O failures are returned as
// values, never thrown (LevelDB style). Only net/ maps a Status to an HTTP
// status code.
#pragma once

#include <string>
#include <utility>

namespace casmem {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kIOError,          // a system call failed (message carries errno text)
    kCorruption,       // on-disk data is damaged beyond a torn tail
    kInvalidArgument,  // the caller passed something the layer refuses
    kStorageFailed,    // sticky: the log failed earlier; no write is accepted
    kShutdown,         // the component is closing
    kBusy,             // transient: refused for now (the log is behind the disk); retry
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status StorageFailed(std::string msg) {
    return Status(Code::kStorageFailed, std::move(msg));
  }
  static Status Shutdown(std::string msg) { return Status(Code::kShutdown, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsStorageFailed() const { return code_ == Code::kStorageFailed; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

inline std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kIOError: return "IO error: " + message_;
    case Code::kCorruption: return "corruption: " + message_;
    case Code::kInvalidArgument: return "invalid argument: " + message_;
    case Code::kStorageFailed: return "storage failed: " + message_;
    case Code::kShutdown: return "shutdown: " + message_;
    case Code::kBusy: return "busy: " + message_;
  }
  return message_;
}

}  // namespace casmem
