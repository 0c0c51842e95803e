// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/atomic_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "support/temp_dir.hpp"

namespace varpulis::common {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = varpulis::testing::fresh_test_dir("varpulis-atomic-");
    }
    void TearDown() override { fs::remove_all(dir_); }

    /// Every file in the directory but the target: leftovers of temporary files.
    std::vector<std::string> leftovers(const std::string& target) const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir_)) {
            if (e.path().filename() != target) out.push_back(e.path().filename().string());
        }
        return out;
    }

    fs::path dir_;
};

TEST_F(AtomicFileTest, CreatesTheDirectoryAndReplacesTheFile) {
    const std::string path = (dir_ / "sub" / "state.json").string();
    ASSERT_TRUE(write_file_atomically(path, "first").is_ok());
    ASSERT_TRUE(write_file_atomically(path, "second").is_ok());
    auto text = read_file(path);
    ASSERT_TRUE(text.is_ok()) << text.status().message();
    EXPECT_EQ(*text, "second");
}

TEST_F(AtomicFileTest, AppliesTheModeAndLeavesNoTemporaryFile) {
    const std::string path = (dir_ / "secret.json").string();
    ASSERT_TRUE(write_file_atomically(path, "keys", 0600).is_ok());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(leftovers("secret.json").empty());
}

TEST_F(AtomicFileTest, ConcurrentWritersEachLeaveAWholeFile) {
    // Fixed temporary names let two writers write into one file: the result was half of each.
    const std::string path = (dir_ / "state.json").string();
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
        writers.emplace_back([&, w] {
            std::string content(100'000, static_cast<char>('a' + w));
            for (int i = 0; i < 20; ++i) ASSERT_TRUE(write_file_atomically(path, content).is_ok());
        });
    }
    for (auto& t : writers) t.join();
    auto text = read_file(path);
    ASSERT_TRUE(text.is_ok());
    ASSERT_EQ(text->size(), 100'000u);
    EXPECT_EQ(text->find_first_not_of((*text)[0]), std::string::npos) << "a mix of writers";
    EXPECT_TRUE(leftovers("state.json").empty());
}

TEST_F(AtomicFileTest, ReportsAnUnwritableDirectory) {
    fs::create_directories(dir_);
    const fs::path blocker = dir_ / "file";
    ASSERT_TRUE(write_file_atomically(blocker.string(), "x").is_ok());
    // A path under a regular file cannot be created.
    Status st = write_file_atomically((blocker / "state.json").string(), "y");
    EXPECT_EQ(st.code(), ErrorCode::Io);
    EXPECT_NE(st.message().find("cannot create"), std::string::npos) << st.message();
}

TEST_F(AtomicFileTest, ReadOfAMissingFileIsNotFound) {
    auto text = read_file((dir_ / "none").string());
    EXPECT_EQ(text.status().code(), ErrorCode::NotFound);
}

}  // namespace
}  // namespace varpulis::common
