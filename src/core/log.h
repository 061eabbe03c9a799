#pragma once
// Levelled logging to stderr with a rank prefix: "[pkd r1/2 WARN 12.3s] message".
// Progress (debug/info) is printed by rank 0 only unless PKD_LOG_ALL_RANKS=1; warnings and
// errors are printed by every rank, so a failing rank always names itself.
#include <string>

#include "core/strings.h"

namespace pkd {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// Parses "debug", "info", "warn", "error" or "off"; throws UsageError otherwise.
LogLevel parse_log_level(const std::string& name);

void set_log_level(LogLevel level);
LogLevel log_level();
// Called once the rank is known (mpi::init); before that the prefix has no rank.
void set_log_rank(int rank, int world_size);

void log_message(LogLevel level, const std::string& message);

template <class... Args>
void log_debug(Args&&... args) {
  if (log_level() <= LogLevel::debug)
    log_message(LogLevel::debug, cat(std::forward<Args>(args)...));
}
template <class... Args>
void log_info(Args&&... args) {
  if (log_level() <= LogLevel::info) log_message(LogLevel::info, cat(std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(Args&&... args) {
  if (log_level() <= LogLevel::warn) log_message(LogLevel::warn, cat(std::forward<Args>(args)...));
}
template <class... Args>
void log_error(Args&&... args) {
  if (log_level() <= LogLevel::error)
    log_message(LogLevel::error, cat(std::forward<Args>(args)...));
}

}  // namespace pkd
