#include "runtime/features.h"

#include "oci/features.h"

namespace berth::runtime {

// One source of truth: the lists come from the parser's own tables (oci::runtime_features), so the runtime
// never advertises a value its parser refuses.
std::string features_json() {
  oci::Features f = oci::runtime_features();
  f.annotations["io.github.berth.runtime.version"] = "0.1.0";
  return oci::to_json(f, 4);
}

}  // namespace berth::runtime
