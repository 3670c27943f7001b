// Torn-tail cutting and header restoration for the last log segment.
#include "wal/repair.h"

#include "wal/format.h"
#include "wal/segment.h"

namespace casmem::wal {

std::string BrokenCopyPath(const std::string& segment_path, uint64_t offset) {
  return segment_path + "." + std::to_string(offset) + kBrokenSuffix;
}

Status CutTornTail(FileSystem* fs, const std::string& dir, const std::string& path,
                   std::string_view bytes, uint64_t from, uint64_t to,
                   std::optional<uint64_t> header_seq) {
  std::unique_ptr<File> copy;
  Status s = fs->Open(BrokenCopyPath(path, from), OpenMode::kCreateTrunc, &copy);
  if (s.ok()) s = copy->WriteAt(0, bytes.substr(from, to - from));
  if (s.ok()) s = copy->Sync();
  if (s.ok()) s = fs->SyncDir(dir);
  if (!s.ok()) return s;
  std::unique_ptr<File> seg;
  s = fs->Open(path, OpenMode::kReadWrite, &seg);
  if (s.ok() && header_seq) s = seg->WriteAt(0, EncodeSegmentHeader(*header_seq));
  if (s.ok()) s = seg->WriteAt(from, std::string(to - from, '\0'));
  if (s.ok()) s = seg->Sync();
  return s;
}

Status RestoreSegmentHeader(FileSystem* fs, const std::string& path, uint64_t seq) {
  std::unique_ptr<File> f;
  Status s = fs->Open(path, OpenMode::kReadWrite, &f);
  if (s.ok()) s = f->WriteAt(0, EncodeSegmentHeader(seq));
  if (s.ok()) s = f->Sync();
  return s;
}

}  // namespace casmem::wal
