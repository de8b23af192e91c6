#include "common/version.hpp"

#include <cstring>

// The stamp, at a fixed size in its own read-only section (the name kVersionSection spells),
// so objcopy --update-section can replace it in a linked, stripped binary. `used`: kept even
// though only version() refers to it.
extern "C" {
__attribute__((section(".ironboot_version"), used)) const char ironboot_version_stamp[ironboot::kVersionStampSize] =
    IRONBOOT_VERSION_STAMP;
}

namespace ironboot {

static_assert(sizeof(IRONBOOT_VERSION_STAMP) < kVersionStampSize, "the project version does not fit the stamp");

std::string_view version() {
  const char* stamp = ironboot_version_stamp;
  // The bytes are the section's at run time: without this the compiler may fold the read into
  // the initializer, and a relabeled binary would still print the version it was built with.
  asm("" : "+r"(stamp));
  return {stamp, strnlen(stamp, kVersionStampSize)};
}

}  // namespace ironboot
