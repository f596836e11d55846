#include "runtime/features.h"

#include <algorithm>

#include "oci/features.h"

namespace berth::runtime {

// One source of truth: the lists come from the parser's own tables (oci::runtime_features), so the runtime
// never advertises a value its parser refuses. The one exception goes the other way: SCMP_ACT_NOTIFY parses,
// but compile_seccomp() refuses it until the listener fd is handed to the agent (seccomp_filter.cc), so it is
// not advertised.
std::string features_json() {
  oci::Features f = oci::runtime_features();
  auto& actions = f.linux.seccomp.actions;
  actions.erase(std::remove(actions.begin(), actions.end(), "SCMP_ACT_NOTIFY"), actions.end());
  f.annotations["io.github.berth.runtime.version"] = "0.1.0";
  return oci::to_json(f, 4);
}

}  // namespace berth::runtime
