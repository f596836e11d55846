// config.json parser: never crashes, fails only with InvalidArgument, and whatever it accepts serialises
// to a document it accepts again and serialises identically (parse . to_json is a fixed point).
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <string_view>

#include "oci/runtime_spec.h"

namespace {

[[noreturn]] void die(const char* what, const std::string& detail) {
  fprintf(stderr, "fuzz_runtime_spec: %s\n%s\n", what, detail.c_str());
  abort();
}

template <class T, class Parse>
void round_trip(std::string_view text, Parse parse) {
  auto first = parse(text);
  if (!first) {
    if (first.error().code() != berth::Errc::InvalidArgument) die("error class is not InvalidArgument", first.error().message());
    if (first.error().message().empty()) die("empty error message", "");
    return;
  }
  std::string a = berth::oci::to_json(*first);
  auto second = parse(a);
  if (!second) die("serialised document does not parse again", second.error().message() + "\n" + a);
  std::string b = berth::oci::to_json(*second);
  if (a != b) die("round trip changed the document", a + "\n----\n" + b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip<berth::oci::Spec>(text, [](std::string_view t) { return berth::oci::parse_runtime_spec(t); });
  round_trip<berth::oci::Process>(text, [](std::string_view t) { return berth::oci::parse_process(t); });
  return 0;
}
