// Process logger: one line per notable event, "LEVEL message", to stderr
// (or to a sink a test installs). Levels below the threshold are dropped.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace casmem {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* out);
const char* LogLevelName(LogLevel level);  // what ParseLogLevel reads back
// Replaces the output (nullptr restores stderr). For tests.
void SetLogSink(std::function<void(LogLevel, std::string_view)> sink);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(std::string_view m) { Log(LogLevel::kWarn, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace casmem
