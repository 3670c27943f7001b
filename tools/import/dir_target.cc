// The data-directory target (import_target.h): the store opened as
// `casmemd token` opens it (no sweep, no snapshot on close, nothing the
// daemon keeps dropped by this tool's retention options; the daemon
// replays the imported records at its next start and snapshots when due),
// each item through Store::Load, durable before Finish returns.
#include <memory>

#include "common/logger.h"
#include "engine/store.h"
#include "tools/import/import_target.h"
#include "wal/file_ops.h"

namespace casmem::importer {

namespace {

class DirTarget final : public ImportTarget {
 public:
  explicit DirTarget(std::unique_ptr<Store> store) : store_(std::move(store)) {}
  ~DirTarget() override {
    if (store_) (void)store_->Close();
  }

  bool Add(const ImportItem& it, bool expired, ImportCounts* counts, std::string* error) override {
    const LoadRequest req{it.workspace, it.key, it.value, it.version, it.updated_at_ms,
                          it.expires_at_ms, {}};
    WriteResult r = store_->Load(req);
    // The log is too far behind the disk: let it catch up, then again.
    for (int tries = 0; r.outcome == Outcome::kBusy && tries < 100; ++tries) {
      if (Status s = store_->WaitVisible(store_->revision()); !s.ok()) {
        *error = "the data directory failed: " + s.ToString();
        return false;
      }
      r = store_->Load(req);
    }
    switch (r.outcome) {
      case Outcome::kOk:
      case Outcome::kConflict:
        max_lsn_ = std::max(max_lsn_, r.visible_lsn);
        if (expired) {
          ++counts->expired;
        } else if (r.outcome == Outcome::kOk) {
          ++counts->imported;
        } else {
          ++counts->kept_newer;
        }
        return true;
      case Outcome::kInvalid:
      case Outcome::kTooLarge:
        ++counts->invalid;
        ReportInvalid(it.workspace + "/" + it.key, r.error);
        return true;
      default:
        *error = "the data directory failed: " + (r.error.empty() ? "storage unavailable" : r.error);
        return false;
    }
  }

  bool Finish(ImportCounts*, std::string* error) override {
    Status s = store_->WaitVisible(max_lsn_);
    if (s.ok()) s = store_->Close();
    store_.reset();
    if (!s.ok()) *error = "the import may not be durable: " + s.ToString();
    return s.ok();
  }

 private:
  std::unique_ptr<Store> store_;
  uint64_t max_lsn_ = 0;
};

}  // namespace

std::unique_ptr<ImportTarget> OpenDirTarget(const std::string& dir, uint64_t max_value_bytes,
                                            std::string* error, int* exit_code) {
  SetLogLevel(LogLevel::kWarn);  // recovery chatter is not the report
  StoreOptions o = ToolStoreOptions(dir);
  o.max_value_bytes = max_value_bytes;
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, &store);
  if (!s.ok()) {
    std::string why = s.ToString();
    if (why.find("is locked") != std::string::npos) {
      why = "casmemd is serving it: stop it, or import into the running server (without --data-dir)";
    }
    *error = "cannot open data directory " + dir + ": " + why;
    *exit_code = cli::kExitFailed;
    return nullptr;
  }
  return std::make_unique<DirTarget>(std::move(store));
}

}  // namespace casmem::importer
