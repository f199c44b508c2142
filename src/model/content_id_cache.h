// Content ids of large checkpoints kept between runs. Hashing every weight
// byte of a 70B model reads 140 GB, so an id is recorded under a key made of
// the files it was computed from (absolute paths, sizes, modification times
// to the nanosecond) and reused while none of them changes. One line
// "KEY ID" per id, appended to $QSWEEP_CACHE_DIR/content-ids (default
// $XDG_CACHE_HOME/qsweep, else ~/.cache/qsweep). A cache that is missing,
// unreadable or damaged is ignored line by line and the id recomputed; one
// that cannot be written is skipped: the cache only ever saves time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qsweep {

// The cache file (empty: no cache location).
std::string ContentIdCachePath();

// The digest of the weight bytes of `paths` (kind: what computed it), from
// the cache where it holds one for these files as they are now, else
// `hash_bytes()`, then recorded.
uint64_t CachedBytesDigest(const std::string& kind, const std::vector<std::string>& paths,
                           const std::function<uint64_t()>& hash_bytes);

}  // namespace qsweep
