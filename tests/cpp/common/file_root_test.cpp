// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/file_root.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "support/temp_dir.hpp"

namespace varpulis::common {
namespace {

namespace fs = std::filesystem;

class FileRootTest : public ::testing::Test {
  protected:
    void SetUp() override {
        base_ = varpulis::testing::fresh_test_dir("varpulis-root-");
        fs::create_directories(base_ / "outside");
        root_ = (base_ / "root").string();
    }
    void TearDown() override { fs::remove_all(base_); }

    std::string refusal(const std::string& path) const {
        auto fd = open_inside(root_, path);
        return fd ? "" : fd.status().message();
    }

    fs::path base_;
    std::string root_;
};

TEST_F(FileRootTest, RelativeAndInsideAbsolutePathsLandInTheRoot) {
    EXPECT_EQ(*path_inside(root_, "out.jsonl"), "out.jsonl");
    EXPECT_EQ(*path_inside(root_, "./a//b/out.jsonl"), "a/b/out.jsonl");
    EXPECT_EQ(*path_inside(root_, root_ + "/a/out.jsonl"), "a/out.jsonl");
    auto fd = open_inside(root_, "a/b/out.jsonl");  // the root and the folders are made
    ASSERT_TRUE(fd) << fd.status().message();
    ASSERT_EQ(::write(fd->get(), "x\n", 2), 2);
    EXPECT_TRUE(fs::exists(fs::path(root_) / "a/b/out.jsonl"));
}

TEST_F(FileRootTest, PathsOutsideAreRefusedWithOneMessageWhetherTheyExistOrNot) {
    const std::string existing = (base_ / "outside" / "f").string();
    const std::string missing = (base_ / "nowhere" / "f").string();
    for (const auto& path : {existing, missing, std::string("/etc/passwd"), std::string("../outside/f"),
                             std::string("a/../../outside/f"), std::string("a/../b"), root_ + "/../outside/f"}) {
        auto inside = path_inside(root_, path);
        ASSERT_FALSE(inside) << path;
        EXPECT_EQ(inside.status().message(), "path '" + path + "' is outside the server's file root (--file-root); give a path relative to it");
        EXPECT_EQ(inside.status().code(), ErrorCode::Invalid);
    }
    EXPECT_FALSE(fs::exists(base_ / "outside" / "f"));
    EXPECT_FALSE(fs::exists(base_ / "nowhere"));
    EXPECT_FALSE(path_inside(root_, root_));  // the root itself is no file
    EXPECT_FALSE(path_inside(root_, ""));
}

TEST_F(FileRootTest, SymbolicLinksInsideTheRootAreNotFollowed) {
    fs::create_directories(root_);
    fs::create_directory_symlink(base_ / "outside", fs::path(root_) / "escape");
    fs::create_symlink(base_ / "outside" / "target", fs::path(root_) / "link.jsonl");
    EXPECT_NE(refusal("escape/f").find("symbolic link or not a directory"), std::string::npos);
    EXPECT_NE(refusal("link.jsonl").find("is a symbolic link"), std::string::npos);
    EXPECT_TRUE(fs::is_empty(base_ / "outside"));
}

TEST_F(FileRootTest, AFileWhereAFolderShouldBeIsRefused) {
    fs::create_directories(root_);
    std::ofstream(fs::path(root_) / "plain") << "x";
    EXPECT_NE(refusal("plain/out.jsonl").find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace varpulis::common
