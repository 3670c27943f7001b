// MemFs, the test file system, models power loss as the durability tests
// need it: unsynced pages lost independently (later ones surviving earlier
// ones), directory changes lost unless their directory was synced, and
// CreateDirs durable because it syncs parents.
#include <gtest/gtest.h>

#include "tests/support/mem_fs.h"

namespace casmem::testing {
namespace {

std::string Read(MemFs& fs, const std::string& path) {
  std::string data;
  EXPECT_TRUE(fs.ReadFile(path, &data)) << path;
  return data;
}

TEST(MemFs, UnsyncedPagesAreLostIndependentlyAndOutOfOrder) {
  constexpr size_t kPages = 8;
  bool later_survived_earlier = false;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    MemFs fs;
    ASSERT_TRUE(fs.CreateDirs("/d").ok());
    std::unique_ptr<wal::File> f;
    ASSERT_TRUE(fs.Open("/d/f", wal::OpenMode::kCreateTrunc, &f).ok());
    ASSERT_TRUE(f->WriteAt(0, std::string(kPages * MemFs::kPageSize, 'a')).ok());
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(fs.SyncDir("/d").ok());
    ASSERT_TRUE(f->WriteAt(0, std::string(kPages * MemFs::kPageSize, 'b')).ok());
    EXPECT_EQ(fs.DirtyPages("/d/f").size(), kPages);
    f.reset();
    fs.PowerLoss(seed);
    const std::string data = Read(fs, "/d/f");
    ASSERT_EQ(data.size(), kPages * MemFs::kPageSize);
    bool lost_before = false;
    for (size_t p = 0; p < kPages; ++p) {
      const std::string page = data.substr(p * MemFs::kPageSize, MemFs::kPageSize);
      // A page is wholly old or wholly new.
      ASSERT_TRUE(page == std::string(MemFs::kPageSize, 'a') ||
                  page == std::string(MemFs::kPageSize, 'b'));
      if (page[0] == 'a') lost_before = true;
      if (page[0] == 'b' && lost_before) later_survived_earlier = true;
    }
    // The same seed gives the same outcome.
    MemFs again;
    ASSERT_TRUE(again.CreateDirs("/d").ok());
    ASSERT_TRUE(again.Open("/d/f", wal::OpenMode::kCreateTrunc, &f).ok());
    ASSERT_TRUE(f->WriteAt(0, std::string(kPages * MemFs::kPageSize, 'a')).ok());
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(again.SyncDir("/d").ok());
    ASSERT_TRUE(f->WriteAt(0, std::string(kPages * MemFs::kPageSize, 'b')).ok());
    f.reset();
    again.PowerLoss(seed);
    EXPECT_EQ(Read(again, "/d/f"), data);
  }
  EXPECT_TRUE(later_survived_earlier);
}

TEST(MemFs, AFsyncedFileInAnUnsyncedDirectoryMayVanish) {
  MemFs fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  std::unique_ptr<wal::File> f;
  ASSERT_TRUE(fs.Open("/d/f", wal::OpenMode::kCreateTrunc, &f).ok());
  ASSERT_TRUE(f->WriteAt(0, "data").ok());
  ASSERT_TRUE(f->Sync().ok());
  f.reset();
  fs.PowerLoss();
  EXPECT_FALSE(fs.Exists("/d/f"));
  EXPECT_TRUE(fs.Exists("/d")) << "CreateDirs is durable";
}

TEST(MemFs, AnUnsyncedRenameMayRevert) {
  MemFs fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  fs.WriteFile("/d/a", "x");  // durable, entry included
  ASSERT_TRUE(fs.Rename("/d/a", "/d/b").ok());
  fs.PowerLoss();
  EXPECT_TRUE(fs.Exists("/d/a"));
  EXPECT_FALSE(fs.Exists("/d/b"));
  ASSERT_TRUE(fs.Rename("/d/a", "/d/b").ok());
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  fs.PowerLoss();
  EXPECT_FALSE(fs.Exists("/d/a"));
  EXPECT_EQ(Read(fs, "/d/b"), "x");
}

TEST(MemFs, DirectoryChangesSurviveAsAPrefixInOrder) {
  // Removals oldest first, never synced: any power loss keeps a prefix, so
  // what remains is always a suffix of the list.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    MemFs fs;
    ASSERT_TRUE(fs.CreateDirs("/d").ok());
    for (char c = 'a'; c <= 'f'; ++c) fs.WriteFile(std::string("/d/") + c, "x");
    for (char c = 'a'; c <= 'f'; ++c) ASSERT_TRUE(fs.Remove(std::string("/d/") + c).ok());
    fs.PowerLoss(seed);
    const auto left = fs.Files("/d");
    for (size_t i = 0; i < left.size(); ++i) {
      EXPECT_EQ(left[i], std::string(1, static_cast<char>('f' - (left.size() - 1) + i)));
    }
  }
}

TEST(MemFs, AnUnsyncedDirectoryTakesItsFilesAlong) {
  MemFs fs;
  bool created = false;
  ASSERT_TRUE(fs.CreateDir("/d", &created).ok());  // the primitive: no parent sync
  ASSERT_TRUE(created);
  std::unique_ptr<wal::File> f;
  ASSERT_TRUE(fs.Open("/d/f", wal::OpenMode::kCreateTrunc, &f).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  f.reset();
  fs.PowerLoss();
  EXPECT_FALSE(fs.Exists("/d"));
  EXPECT_FALSE(fs.Exists("/d/f"));
}

}  // namespace
}  // namespace casmem::testing
