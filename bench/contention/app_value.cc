// AppValue JSON round trip (RapidJSON DOM: the values are tiny).
#include "bench/contention/app_value.h"

#include <rapidjson/document.h>

namespace casmem::bench {

std::string AppValue::ToJson() const {
  std::string out = "{\"counter\":" + std::to_string(counter) + ",\"agents\":[";
  for (size_t i = 0; i < agents.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(agents[i]);
  }
  return out + "]}";
}

std::optional<AppValue> AppValue::FromJson(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  auto c = d.FindMember("counter");
  auto a = d.FindMember("agents");
  if (c == d.MemberEnd() || !c->value.IsInt64() || a == d.MemberEnd() || !a->value.IsArray()) {
    return std::nullopt;
  }
  AppValue v;
  v.counter = c->value.GetInt64();
  for (const auto& x : a->value.GetArray()) {
    if (!x.IsInt()) return std::nullopt;
    v.agents.push_back(x.GetInt());
  }
  return v;
}

AppValue AppValue::Updated(int agent) const {
  AppValue v = *this;
  ++v.counter;
  v.agents.push_back(agent);
  while (v.agents.size() > kMaxAgents) v.agents.pop_front();
  return v;
}

AppValue AppValue::PatchSeed() {
  AppValue v;
  v.agents.assign(kPatchAgents, -1);
  return v;
}

AppValue AppValue::Patched(int agent, bool bounded) const {
  AppValue v = *this;
  ++v.counter;
  v.agents.push_back(agent);
  if (bounded && !v.agents.empty()) v.agents.pop_front();
  return v;
}

}  // namespace casmem::bench
