#include "ipxe/script.hpp"

#include <algorithm>

namespace ironboot {

std::optional<ScriptTemplate> ScriptTemplate::parse(std::string_view text, const std::vector<std::string>& allowed,
                                                    std::string& error) {
  ScriptTemplate t;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.parts_.push_back({false, std::string(text.substr(pos))});
      break;
    }
    if (open > pos) t.parts_.push_back({false, std::string(text.substr(pos, open - pos))});
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      error = "unterminated placeholder";
      return std::nullopt;
    }
    std::string name(text.substr(open + 2, close - open - 2));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      error = "unknown placeholder {{" + name + "}}";
      return std::nullopt;
    }
    t.parts_.push_back({true, std::move(name)});
    pos = close + 2;
  }
  return t;
}

std::string ScriptTemplate::render(const std::map<std::string, std::string>& values) const {
  std::string out;
  out.reserve(1024);
  for (const auto& p : parts_) {
    if (!p.placeholder) {
      out += p.text;
      continue;
    }
    auto it = values.find(p.text);
    if (it != values.end()) out += it->second;
  }
  return out;
}

bool safe_script_word(std::string_view word) {
  if (word.empty() || word == "||" || word == "&&") return false;
  for (unsigned char c : word) {
    if (c <= 0x20 || c >= 0x7f) return false;  // spaces, control characters, non-ASCII
    if (c == '$' || c == '"' || c == '\'' || c == '\\') return false;
  }
  return true;
}

std::optional<ScriptSet> ScriptSet::load(std::string& error) {
  auto find = [](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& t : embedded_templates())
      if (t.name == name) return t.text;
    return std::nullopt;
  };
  auto one = [&](std::string_view name, const std::vector<std::string>& allowed) -> std::optional<ScriptTemplate> {
    auto text = find(name);
    if (!text) {
      error = std::string(name) + ": missing";
      return std::nullopt;
    }
    std::string e;
    auto t = ScriptTemplate::parse(*text, allowed, e);
    if (!t) error = std::string(name) + ": " + e;
    return t;
  };
  auto boot = one("boot.ipxe", {"base_url", "dhcp_rounds"});
  if (!boot) return std::nullopt;
  auto kernel = one("kernel.ipxe", {"label", "kernel_url", "kernel_args", "initrd_url", "base_url"});
  if (!kernel) return std::nullopt;
  auto exit = one("exit.ipxe", {});
  if (!exit) return std::nullopt;
  auto sanboot = one("sanboot.ipxe", {});
  if (!sanboot) return std::nullopt;
  return ScriptSet{std::move(*boot), std::move(*kernel), std::move(*exit), std::move(*sanboot)};
}

std::string image_name(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const auto slash = url.rfind('/');
  return std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
}

namespace {

// Absolute http(s) URL, or a path on this server that gets the base URL in front.
std::optional<std::string> resolve_url(const std::string& url, const std::string& base_url) {
  if (!safe_script_word(url)) return std::nullopt;
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) return url;
  if (url.rfind('/', 0) == 0) return base_url + url;
  return std::nullopt;
}

}  // namespace

RenderedScript render_kernel_boot(const ScriptSet& scripts, const KernelBoot& boot, const std::string& base_url,
                                  std::string_view label) {
  RenderedScript r;
  auto kernel = resolve_url(boot.kernel_url, base_url);
  auto initrd = resolve_url(boot.initrd_url, base_url);
  if (!kernel || !initrd) {
    r.status = 500;
    r.error = "unsafe kernel or initrd url";
    return r;
  }
  const std::string initrd_file = image_name(*initrd);
  if (!safe_script_word(initrd_file)) {
    r.status = 500;
    r.error = "initrd url has no file name";
    return r;
  }
  // initrd=<name> first: Linux's EFI stub loads the initrd by that name from iPXE's images
  // (without it an EFI boot finds no root fs); BIOS boots ignore it.
  std::string args = "initrd=" + initrd_file;
  for (const auto& a : boot.args) {
    if (!safe_script_word(a)) {
      r.status = 500;
      r.error = "unsafe kernel argument";
      return r;
    }
    args += ' ';
    args += a;
  }
  r.script = scripts.kernel.render({{"label", std::string(label)},
                                    {"kernel_url", *kernel},
                                    {"kernel_args", args},
                                    {"initrd_url", *initrd},
                                    {"base_url", base_url}});
  return r;
}

RenderedScript render_disk_boot(const ScriptSet& scripts, DiskBootMethod method) {
  RenderedScript r;
  switch (method) {
    case DiskBootMethod::ipxe_exit: r.script = scripts.exit.render({}); break;
    case DiskBootMethod::ipxe_sanboot: r.script = scripts.sanboot.render({}); break;
    case DiskBootMethod::http_404: r.status = 404; break;
  }
  return r;
}

std::string render_boot_script(const ScriptSet& scripts, const std::string& base_url, int dhcp_rounds) {
  return scripts.boot.render({{"base_url", base_url}, {"dhcp_rounds", std::to_string(dhcp_rounds)}});
}

}  // namespace ironboot
