// The Redfish BmcClient: service root -> Systems -> the member (or the endpoint's path),
// Basic or session auth, ComputerSystem.Reset with the ResetType the BMC allows, the Boot
// override PATCH built from its AllowableValues, If-Match per BMC. Runs on the io_context,
// one operation at a time per BMC over one keep-alive connection. docs/bmc-redfish.md.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "bmc/bmc.hpp"
#include "bmc/redfish_policy.hpp"

namespace ironboot::bmc {

struct RedfishOptions {
  // Auto: a session when the service root links SessionService/Sessions, else Basic (and
  // Basic when the BMC refuses the session POST with 404/405/501).
  enum class Auth { Auto, Basic, Session };
  Auth auth = Auth::Auto;
  redfish::EtagMode etag = redfish::EtagMode::Auto;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{20000};
  std::size_t max_response_bytes = 1024 * 1024;
  // A cycle done as ForceOff then On waits for PowerState Off between the two.
  std::chrono::milliseconds power_poll_interval{1000};
  int power_poll_attempts = 30;
};

// Never throws; a bad CA file fails every operation with reason TLS.
std::shared_ptr<BmcClient> make_redfish_client(boost::asio::io_context& io, const BmcEndpoint& endpoint,
                                               const BmcCredentials& credentials, RedfishOptions options = {});

}  // namespace ironboot::bmc
