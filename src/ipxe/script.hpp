// iPXE script rendering. Templates come from assets/ipxe/ (compiled in); every value put
// into a script is either fixed by ironboot or checked by safe_script_word, so no request
// or API value can add iPXE commands, settings expansions or extra arguments.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipxe/boot_policy.hpp"

namespace ironboot {

struct EmbeddedTemplate {
  std::string_view name;  // file name under assets/ipxe/
  std::string_view text;
};
const std::vector<EmbeddedTemplate>& embedded_templates();

// A template with {{name}} placeholders, checked against the allowed names when parsed.
class ScriptTemplate {
 public:
  // nullopt + `error` on an unknown or unterminated placeholder.
  static std::optional<ScriptTemplate> parse(std::string_view text, const std::vector<std::string>& allowed,
                                             std::string& error);
  // Values are inserted verbatim: callers pass only checked words.
  std::string render(const std::map<std::string, std::string>& values) const;

 private:
  struct Part {
    bool placeholder = false;
    std::string text;  // literal text or placeholder name
  };
  std::vector<Part> parts_;
};

// True when `word` can stand as one iPXE argument: printable ASCII without spaces, no '$'
// (settings expansion), no quotes or backslashes, and not an operator token (||, &&).
bool safe_script_word(std::string_view word);

// The four scripts ironboot serves.
struct ScriptSet {
  ScriptTemplate boot;     // boot.ipxe: {{base_url}} {{dhcp_rounds}}
  ScriptTemplate kernel;   // kernel.ipxe: {{label}} {{kernel_url}} {{kernel_args}} {{initrd_url}} {{base_url}}
  ScriptTemplate exit;     // exit.ipxe
  ScriptTemplate sanboot;  // sanboot.ipxe

  // From the compiled-in templates; error text when one does not parse.
  static std::optional<ScriptSet> load(std::string& error);
};

// The file name iPXE gives an image fetched from `url` (last path segment, query removed);
// Linux's EFI stub finds the initrd by it through `initrd=<name>`.
std::string image_name(std::string_view url);

struct RenderedScript {
  int status = 200;
  std::string script;  // empty for http-404
  std::string error;   // non-empty: the decision carried an unsafe value (status 500)
};

// base_url: "http://10.0.0.1:8080" (no trailing slash). label: fixed text naming what boots.
RenderedScript render_kernel_boot(const ScriptSet& scripts, const KernelBoot& boot, const std::string& base_url,
                                  std::string_view label);
RenderedScript render_disk_boot(const ScriptSet& scripts, DiskBootMethod method);
std::string render_boot_script(const ScriptSet& scripts, const std::string& base_url, int dhcp_rounds);

}  // namespace ironboot
