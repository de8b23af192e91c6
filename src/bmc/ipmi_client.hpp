// The IPMI 2.0 / RMCP+ BmcClient: one UDP socket per BMC on the io_context, the pure
// ipmi::Session underneath (ipmi_session.hpp), every operation bounded by a timeout.
// docs/bmc-ipmi.md.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "bmc/bmc.hpp"
#include "bmc/ipmi_commands.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::bmc {

struct IpmiOptions {
  std::chrono::milliseconds timeout{5000};     // per operation, session setup included
  std::chrono::milliseconds retransmit{500};   // first retransmit; doubles up to 2 s
  int attempts = 4;                            // sends of one request before the session is given up
  std::chrono::seconds idle_limit{30};         // re-open a session unused this long
};

// What IPMI offers beyond BmcClient (the CLI's device-id, the suite in use).
class IpmiClient : public BmcClient {
 public:
  using DeviceIdHandler = std::function<void(BmcStatus, ipmi::DeviceId)>;
  virtual void device_id(DeviceIdHandler done) = 0;
  // The cipher suite of the last session that opened (nullopt before the first, on auto).
  virtual std::optional<int> cipher_suite() const = 0;
};

// The returned client is an IpmiClient (std::dynamic_pointer_cast for device_id).
std::shared_ptr<BmcClient> make_ipmi_client(boost::asio::io_context& io, const BmcEndpoint& endpoint,
                                            const BmcCredentials& credentials, IpmiOptions options = {});

}  // namespace ironboot::bmc
