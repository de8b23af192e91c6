#include "ipxe/script.hpp"

#include <gtest/gtest.h>

namespace ironboot {
namespace {

ScriptSet load() {
  std::string err;
  auto s = ScriptSet::load(err);
  EXPECT_TRUE(s) << err;
  return std::move(*s);
}

TEST(ScriptTemplate, RefusesUnknownAndUnterminatedPlaceholders) {
  std::string err;
  EXPECT_FALSE(ScriptTemplate::parse("a {{nope}} b", {"x"}, err));
  EXPECT_EQ(err, "unknown placeholder {{nope}}");
  EXPECT_FALSE(ScriptTemplate::parse("a {{x", {"x"}, err));
  auto t = ScriptTemplate::parse("a {{x}} b {{x}}", {"x"}, err);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render({{"x", "1"}}), "a 1 b 1");
}

TEST(Script, BootScriptChainsToIpxeWithIdentity) {
  const std::string s = render_boot_script(load(), "http://10.0.0.1:8080", 3);
  EXPECT_EQ(s.rfind("#!ipxe\n", 0), 0u);
  EXPECT_NE(s.find("dhcp net${ironboot-nic}"), std::string::npos);
  EXPECT_NE(s.find("iseq ${ironboot-round} 3"), std::string::npos);
  // An interface the firmware already configured chains before any DHCP is tried.
  EXPECT_LT(s.find("isset ${net${ironboot-nic}/ip} && goto chain"), s.find("dhcp net${ironboot-nic}"));
  EXPECT_NE(s.find("chain --replace http://10.0.0.1:8080/ipxe?uuid=${uuid}&mac=${net${ironboot-nic}/mac:hexhyp}"
                   "&arch=${buildarch}&platform=${platform}&serial=${serial:uristring}"
                   "&manufacturer=${manufacturer:uristring}&product=${product:uristring}"),
            std::string::npos)
      << s;
  EXPECT_EQ(s.find("{{"), std::string::npos);
}

TEST(Script, KernelBootAddsInitrdNameAndResolvesLocalUrls) {
  KernelBoot b{"/assets/env/talos/vmlinuz", "http://mirror.example/initramfs.xz?v=1", {"talos.platform=metal", "a=b&c"}};
  auto r = render_kernel_boot(load(), b, "http://10.0.0.1:8080", "environment");
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_NE(r.script.find("kernel http://10.0.0.1:8080/assets/env/talos/vmlinuz initrd=initramfs.xz "
                          "talos.platform=metal a=b&c || goto failed\n"),
            std::string::npos)
      << r.script;
  EXPECT_NE(r.script.find("initrd http://mirror.example/initramfs.xz?v=1 || goto failed\n"), std::string::npos);
  EXPECT_NE(r.script.find("\nboot || goto failed\n"), std::string::npos);
}

TEST(Script, HostileValuesNeverReachTheScript) {
  const ScriptSet s = load();
  const std::vector<std::string> hostile = {"a b",       "x\nshell",  "${net0/ip}", "$x", "||",   "&&",
                                            "q\"uote",   "back\\s",   "",           "é",  "\tx", "x\r"};
  for (const auto& h : hostile) {
    EXPECT_FALSE(safe_script_word(h)) << h;
    KernelBoot args{"/k", "/i", {"ok", h}};
    auto r = render_kernel_boot(s, args, "http://h:1", "environment");
    EXPECT_EQ(r.status, 500) << h;
    EXPECT_TRUE(r.script.empty()) << h;
    if (h == "||" || h == "&&" || h.empty()) continue;  // harmless inside a longer word
    KernelBoot url{"/k" + h, "/i", {}};
    EXPECT_EQ(render_kernel_boot(s, url, "http://h:1", "environment").status, 500) << h;
    KernelBoot initrd{"/k", "http://h/" + h, {}};
    EXPECT_EQ(render_kernel_boot(s, initrd, "http://h:1", "environment").status, 500) << h;
  }
  KernelBoot relative{"vmlinuz", "/i", {}};
  EXPECT_EQ(render_kernel_boot(s, relative, "http://h:1", "environment").status, 500);
  KernelBoot no_name{"/k", "http://h/", {}};
  EXPECT_EQ(render_kernel_boot(s, no_name, "http://h:1", "environment").status, 500);
}

TEST(Script, DiskBootMethods) {
  const ScriptSet s = load();
  auto exit = render_disk_boot(s, DiskBootMethod::ipxe_exit);
  EXPECT_EQ(exit.status, 200);
  EXPECT_NE(exit.script.find("\nexit\n"), std::string::npos);
  auto san = render_disk_boot(s, DiskBootMethod::ipxe_sanboot);
  EXPECT_NE(san.script.find("sanboot --no-describe --drive 0x80"), std::string::npos);
  EXPECT_EQ(render_disk_boot(s, DiskBootMethod::http_404).status, 404);
  EXPECT_EQ(parse_disk_boot_method("http-404"), DiskBootMethod::http_404);
  EXPECT_FALSE(parse_disk_boot_method("exit"));
  EXPECT_STREQ(to_string(DiskBootMethod::ipxe_sanboot), "ipxe-sanboot");
}

TEST(Script, ImageName) {
  EXPECT_EQ(image_name("http://h/a/b/initramfs.xz?x=/y"), "initramfs.xz");
  EXPECT_EQ(image_name("/assets/agent/initramfs"), "initramfs");
}

}  // namespace
}  // namespace ironboot
