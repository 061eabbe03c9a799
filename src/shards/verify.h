#pragma once
// Verify before use (docs/reliability.md). Every shard of a split is read through its manifest
// and checked against it before its contents are used:
//   Verification::kFull (the default): the file's bytes are read whole and their sha256 compared
//     with the manifest's *before* HDF5 parses anything, so a damaged file never reaches the HDF5
//     library; HDF5 then opens those same bytes from memory (nothing can change in between).
//   Verification::kMetadata: no hash (for splits too large to hash every epoch); HDF5 opens the
//     file itself. Everything below is still checked.
// Then the header against the manifest entry (task, split, shard index, first example, counts,
// settings, labels; for features the teacher's and the token shard's fingerprints), and the
// contents against the header (token_shard.h, feature_shard.h).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shards/feature_shard.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"

namespace pkd::shards {

enum class Verification { kFull, kMetadata };

// "full" | "metadata"; a UsageError naming `key` otherwise.
Verification parse_verification(const std::string& name, const std::string& key);

// `bytes` (read from `name`) checked against `sha256` and opened as HDF5 from memory.
h5::File open_verified(const std::string& name, std::shared_ptr<const std::string> bytes,
                       const std::string& sha256);
// `path` checked against `sha256` (kFull: bytes hashed, then opened from memory) or opened as it
// is (kMetadata).
h5::File open_verified(const std::string& path, const std::string& sha256, Verification v);

// Shard `i` of the token split in `dir`, whose manifest is `m`.
TokenShardHeader read_token_shard_header(const std::string& dir, const TokenManifest& m,
                                         std::size_t i, Verification v);
TokenShard read_token_shard(const std::string& dir, const TokenManifest& m, std::size_t i,
                            Verification v);
// The header of an opened shard against entry `i` of its manifest (what read_token_shard above
// checks after the digest): errors name the file, the field and both values.
void check_token_header(const TokenShardHeader& h, const TokenManifest& m, std::size_t i,
                        const std::string& path);

// Feature shard `i` of FEATURES/<split> in `dir` (manifest `f`), computed from token split
// `tokens`: its own digest, then its fingerprint (teacher config and weights, token shard
// digest and settings), counts and shape against both manifests.
FeatureShard read_feature_shard(const std::string& dir, const FeatureManifest& f,
                                const TokenManifest& tokens, std::size_t i,
                                const FeatureSelection& select, Verification v);

// A shard that an interrupted tokenize or cache-teacher run left in its output before the
// manifest: kept only if all of it reads back (HDF5 checksums every dataset), since the manifest
// written next vouches for it with its sha256. `check` reads its header and returns false when
// it was made with other settings (after throwing a UsageError when those may not be replaced),
// else reads all of it and returns true. Returns whether to keep the shard; a damaged one is
// to be written again, with a warning naming it and why (`redo`: "computing it again").
bool keep_leftover_shard(const std::string& path, const std::function<bool()>& check,
                         const char* redo);

}  // namespace pkd::shards
