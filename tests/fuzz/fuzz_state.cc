// State JSON (hook stdin, `state` output): no crash, InvalidArgument only, stable round trip.
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <string_view>

#include "oci/state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = berth::oci::parse_state(text);
  if (!s) {
    if (s.error().code() != berth::Errc::InvalidArgument) abort();
    return 0;
  }
  std::string a = berth::oci::to_json(*s);
  auto again = berth::oci::parse_state(a);
  if (!again) {
    fprintf(stderr, "re-parse failed: %s\n%s\n", again.error().message().c_str(), a.c_str());
    abort();
  }
  if (berth::oci::to_json(*again) != a) abort();
  return 0;
}
