// The online commands' shared helpers (online_common.h).
#include "tools/cli/online_common.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

namespace casmem::cli {

namespace {

constexpr int kMaxDepth = 512;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// True when the bytes hold an encoded UTF-16 surrogate (ED A0..BF), which
// RapidJSON lets through from an escaped lone low surrogate.
bool HasSurrogate(const char* s, size_t n) {
  for (size_t i = 0; i + 1 < n; ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) {
      return true;
    }
  }
  return false;
}

// SAX handler: writes the whole document compactly and, for each direct
// child of the root container, its own compact text (raw number digits
// forwarded as they were written).
class SplitHandler {
 public:
  explicit SplitHandler(Json* out) : out_(out), all_(all_buf_) {}

  bool Null() { return Scalar([](JsonWriter& w) { return w.Null(); }, '0'); }
  bool Bool(bool b) { return Scalar([b](JsonWriter& w) { return w.Bool(b); }, b ? 't' : 'f'); }
  bool Int(int) { return false; }  // numbers arrive as RawNumber
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return Scalar([&](JsonWriter& w) { return w.RawValue(s, n, rapidjson::kNumberType); }, 'n');
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (HasSurrogate(s, n)) {
      bad_string_ = true;
      return false;
    }
    return Scalar([&](JsonWriter& w) { return w.String(s, n); }, '"');
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (HasSurrogate(s, n)) {
      bad_string_ = true;
      return false;
    }
    all_.Key(s, n);
    if (depth_ == 1) {
      name_.assign(s, n);
    } else {
      part_->Key(s, n);
    }
    return true;
  }
  bool StartObject() { return Start('{'); }
  bool StartArray() { return Start('['); }
  bool EndObject(rapidjson::SizeType) { return End(true); }
  bool EndArray(rapidjson::SizeType) { return End(false); }

  void Finish() { out_->compact.assign(all_buf_.GetString(), all_buf_.GetSize()); }
  bool bad_string() const { return bad_string_; }
  bool too_deep() const { return too_deep_; }

 private:
  template <class Fn>
  bool Scalar(Fn&& write, char kind) {
    write(all_);
    if (depth_ == 0) {
      out_->kind = kind;
    } else if (depth_ == 1) {
      BeginPart();
      write(*part_);
      EndPart();
    } else {
      write(*part_);
    }
    return true;
  }
  bool Start(char kind) {
    if (++depth_ > kMaxDepth) {
      too_deep_ = true;
      return false;
    }
    kind == '{' ? all_.StartObject() : all_.StartArray();
    if (depth_ == 1) {
      out_->kind = kind;
      return true;
    }
    if (depth_ == 2) BeginPart();
    kind == '{' ? part_->StartObject() : part_->StartArray();
    return true;
  }
  bool End(bool object) {
    object ? all_.EndObject() : all_.EndArray();
    if (depth_ >= 2) {
      object ? part_->EndObject() : part_->EndArray();
      if (depth_ == 2) EndPart();
    }
    --depth_;
    return true;
  }
  void BeginPart() {
    part_buf_.Clear();
    part_ = std::make_unique<JsonWriter>(part_buf_);
  }
  void EndPart() {
    out_->members.emplace_back(std::move(name_), std::string(part_buf_.GetString(), part_buf_.GetSize()));
    name_.clear();
    part_.reset();
  }

  Json* out_;
  rapidjson::StringBuffer all_buf_;
  JsonWriter all_;
  rapidjson::StringBuffer part_buf_;
  std::unique_ptr<JsonWriter> part_;
  std::string name_;
  int depth_ = 0;
  bool bad_string_ = false;
  bool too_deep_ = false;
};

std::string ErrorOf(const Response& r) {
  Json j;
  std::string ignored;
  if (ParseJson(r.body, &j, &ignored)) {
    if (auto e = j.Member("error")) return JsonStringValue(*e);
  }
  return r.body.substr(0, 200);
}

}  // namespace

bool ParseFlags(const std::vector<std::string>& args, const std::vector<std::string_view>& with_value,
                const std::vector<std::string_view>& boolean, Flags* out, std::string* error,
                bool rest_is_command) {
  auto in = [](const std::vector<std::string_view>& list, std::string_view name) {
    for (auto n : list) {
      if (n == name) return true;
    }
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out->has_rest = true;
      auto& dest = rest_is_command ? out->rest : out->positional;
      dest.insert(dest.end(), args.begin() + i + 1, args.end());
      return true;
    }
    const bool option = a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1]));
    if (!option) {
      out->positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (in(with_value, name)) {
      if (eq != std::string::npos) {
        out->values[name] = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        out->values[name] = args[++i];
      } else {
        *error = name + " needs a value";
        return false;
      }
    } else if (in(boolean, name) && eq == std::string::npos) {
      out->bools.insert(name);
    } else {
      *error = "unknown option " + name;
      return false;
    }
  }
  return true;
}

std::optional<std::string> Json::Member(std::string_view name) const {
  if (kind != '{') return std::nullopt;
  for (const auto& [n, v] : members) {
    if (n == name) return v;
  }
  return std::nullopt;
}

bool ParseJson(std::string_view text, Json* out, std::string* error) {
  *out = Json{};
  if (text.find('\0') != std::string_view::npos) {
    *error = "not JSON: it holds a NUL byte";
    return false;
  }
  SplitHandler handler(out);
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::Reader reader;
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseIterativeFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(ms, handler);
  if (!ok) {
    if (handler.bad_string()) {
      *error = "not JSON: a string holds a lone UTF-16 surrogate";
    } else if (handler.too_deep()) {
      *error = "JSON nested deeper than 512 levels";
    } else {
      *error = std::string("not JSON: ") + rapidjson::GetParseError_En(ok.Code()) + " at offset " +
               std::to_string(ok.Offset());
    }
    return false;
  }
  handler.Finish();
  return true;
}

std::string JsonStringValue(std::string_view json_text) {
  rapidjson::Document d;
  d.Parse(json_text.data(), json_text.size());
  if (d.HasParseError() || !d.IsString()) return "";
  return std::string(d.GetString(), d.GetStringLength());
}

std::string JsonQuote(std::string_view s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::optional<uint64_t> IntMember(const Json& j, std::string_view name) {
  auto m = j.Member(name);
  uint64_t v = 0;
  if (!m || !ParseCount(*m, &v)) return std::nullopt;
  return v;
}

bool ReadSource(const std::string& arg, const std::string& file, std::string* out,
                std::string* error) {
  std::stringstream ss;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      *error = "cannot read " + file;
      return false;
    }
    ss << in.rdbuf();
  } else if (arg == "-") {
    ss << std::cin.rdbuf();
  } else {
    *out = arg;
    return true;
  }
  *out = ss.str();
  return true;
}

bool ParseCount(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;  // beyond 2^64-1: refused, never wrapped
    v = v * 10 + digit;
  }
  *value = v;
  return true;
}

bool ParseDurationMs(std::string_view text, long long* ms, std::string* error) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  uint64_t n = 0;
  const std::string_view unit = text.substr(digits);
  long long ms_per = 0;
  if (unit.empty() || unit == "s") {
    ms_per = 1000;
  } else if (unit == "ms") {
    ms_per = 1;
  } else if (unit == "m") {
    ms_per = 60'000;
  } else if (unit == "h") {
    ms_per = 3'600'000;
  }
  if (ms_per == 0 || !ParseCount(text.substr(0, digits), &n) ||
      n > static_cast<uint64_t>(kMaxDurationMs / ms_per)) {
    *error = "bad duration \"" + std::string(text) + "\" (an integer with ms, s, m or h, up to 10 years)";
    return false;
  }
  *ms = static_cast<long long>(n) * ms_per;
  return true;
}

bool ParseTtlSeconds(std::string_view text, long long* seconds, std::string* error) {
  long long ms = 0;
  if (!ParseDurationMs(text, &ms, error)) return false;
  if (ms % 1000 != 0 || ms < 1000) {
    *error = "--ttl must be a whole number of seconds from 1s to 315360000s, not \"" +
             std::string(text) + "\"";
    return false;
  }
  *seconds = ms / 1000;
  return true;
}

std::string WorkspacePath(const GlobalOptions& global) {
  return "/workspaces/" + EncodePathSegment(global.workspace);
}

std::string KeyPath(const GlobalOptions& global, std::string_view key) {
  return WorkspacePath(global) + "/memory/" + EncodePathSegment(key);
}

std::string NewIdempotencyKey() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    const bool ok = fd >= 0 && ::read(fd, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes);
    if (fd >= 0) ::close(fd);
    if (!ok) {  // never expected; a time-and-pid key still differs per write
      const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
      for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<unsigned char>((t >> (i % 8 * 8)) ^ ::getpid() ^ i);
    }
  }
  static const char* kHex = "0123456789abcdef";
  std::string key = "casmem-";
  for (unsigned char b : bytes) {
    key.push_back(kHex[b >> 4]);
    key.push_back(kHex[b & 15]);
  }
  return key;
}

bool SendWrite(HttpClient& client, std::string_view method, std::string_view target,
               std::string_view body, HeaderList headers, Response* out, std::string* error) {
  headers.emplace_back("Idempotency-Key", NewIdempotencyKey());
  bool retried = false;
  for (int in_progress = 0;; ) {
    if (!client.Request(method, target, body, headers, out, error)) {
      if (retried) return false;
      retried = true;  // same key: applied at most once
      continue;
    }
    // A repeat that met the first attempt still waiting for its fsync.
    if (retried && out->status == 409 && ErrorOf(*out) == "request in progress" && in_progress < 50) {
      ++in_progress;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    return true;
  }
}

int FailStatus(const Response& r, std::string_view what) {
  const std::string reason = ErrorOf(r);
  switch (r.status) {
    case 404:
      return Fail(kExitNotFound, std::string(what) + " not found");
    case 409: {
      PrintLine(r.body);
      Json j;
      std::string ignored;
      std::string detail;
      if (ParseJson(r.body, &j, &ignored)) {
        if (auto v = j.Member("current_version")) detail = " (current version " + *v + ")";
      }
      return Fail(kExitConflict, "conflict: " + reason + detail);
    }
    case 400:
    case 413:
    case 415:
    case 422:
      return Fail(kExitUsage, "request refused (" + std::to_string(r.status) + "): " + reason);
    case 401:
      return Fail(kExitFailed, "unauthorized (401): " + reason +
                                   " (give a token with --token or CASMEM_TOKEN)");
    case 403:
      return Fail(kExitFailed, "forbidden (403): " + reason);
    default:
      return Fail(kExitFailed, "server error (" + std::to_string(r.status) + "): " + reason);
  }
}

void PrintLine(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

bool CheckPositional(const Flags& f, size_t min, size_t max, std::string_view usage,
                     std::string* error) {
  if (f.positional.size() >= min && f.positional.size() <= max) return true;
  *error = (f.positional.size() < min ? "missing arguments" : "too many arguments") +
           std::string("; usage: ") + std::string(usage);
  return false;
}

}  // namespace casmem::cli
