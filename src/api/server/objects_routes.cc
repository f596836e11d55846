// Volume, network, event, system-df, auth and image-transfer routes of the Engine API.
#include "api/server/common.h"

namespace berth::api::detail {

bool route_objects(Ctx& c) {
  (void)c;
  return false;
}

}  // namespace berth::api::detail
