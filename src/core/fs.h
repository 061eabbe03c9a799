#pragma once
// File helpers. Every output pkd writes goes to a temporary name in the destination directory and
// is renamed into place once complete, so a reader never sees a half-written file under its
// final name and an interrupted job leaves only "*.tmp.*" files that the next run removes.
#include <functional>
#include <string>

namespace pkd {

// Reads a whole file; throws Error naming the path if it is missing or unreadable.
std::string read_file(const std::string& path);

// Calls `write(temp)` for a temporary path beside `path`, then renames the result onto `path`
// (fsynced first). If `write` throws, the temporary file is removed and the error propagates.
void write_via_temp(const std::string& path,
                    const std::function<void(const std::string& temp)>& write);

// Writes `content` to `path` atomically (temp file in the same directory, fsync, rename).
void write_file_atomic(const std::string& path, const std::string& content);

// A unique temporary name next to `final_path`: "<final_path>.tmp.<pid>.<counter>".
std::string temp_path_for(const std::string& final_path);

// Renames `from` onto `to` (same filesystem), fsyncing the file first; throws Error on failure.
void commit_file(const std::string& from, const std::string& to);

// Removes leftovers "*.tmp.*" of interrupted runs in `dir` (not recursive); returns how many.
int remove_stale_temp_files(const std::string& dir);

// Removes `path` and, if it is a directory, everything under it; symbolic links are removed, not
// followed. An absent path is no error. Throws Error naming the entry that could not be removed.
// pkd's own walk (nftw), never std::filesystem::remove_all: where pkd links the PyTorch wheel's
// LibTorch, libtorch.so exports its own copies of std::filesystem functions, the dynamic linker
// binds pkd's calls to them, and its remove_all(path, error_code&) crashed there, calling a null
// pointer (the GPU runs of 2026-11-30, docs/cluster.md).
void remove_tree(const std::string& path);
// The same for clean-up paths (destructors, a write that failed): never throws; returns whether
// the path is gone.
bool remove_tree_quietly(const std::string& path) noexcept;

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// Creates the directory and its parents; throws Error naming the path on failure.
void make_directories(const std::string& path);

}  // namespace pkd
