#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace pkd {
namespace {

struct LogState {
  LogLevel level = LogLevel::info;
  int rank = -1;
  int world_size = 1;
  bool all_ranks = std::getenv("PKD_LOG_ALL_RANKS") != nullptr;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::mutex mutex;
};

LogState& state() {
  static LogState s;
  return s;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "DEBUG";
    case LogLevel::info:
      return "INFO";
    case LogLevel::warn:
      return "WARN";
    case LogLevel::error:
      return "ERROR";
    default:
      return "";
  }
}

}  // namespace

LogLevel parse_log_level(const std::string& name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  if (name == "off") return LogLevel::off;
  usage_fail("unknown log level '", name, "': expected debug, info, warn, error or off");
}

void set_log_level(LogLevel level) {
  state().level = level;
}
LogLevel log_level() {
  return state().level;
}

void set_log_rank(int rank, int world_size) {
  state().rank = rank;
  state().world_size = world_size;
}

void log_message(LogLevel level, const std::string& message) {
  LogState& s = state();
  if (level < LogLevel::warn && s.rank > 0 && !s.all_ranks) return;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  std::string rank = s.world_size > 1 ? cat(" r", s.rank, "/", s.world_size) : std::string();
  char time[32];
  std::snprintf(time, sizeof time, "%.1fs", seconds);
  std::lock_guard<std::mutex> lock(s.mutex);
  std::fprintf(stderr, "[pkd%s %s %s] %s\n", rank.c_str(), level_name(level), time,
               message.c_str());
  std::fflush(stderr);
}

}  // namespace pkd
