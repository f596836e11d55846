// Container and exec routes of the Engine API (owner: the containers work).
#include "api/server/common.h"

namespace berth::api::detail {

bool route_containers(Ctx& c) {
  (void)c;
  return false;
}

}  // namespace berth::api::detail
