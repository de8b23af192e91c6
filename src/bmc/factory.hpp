// The BmcClientFactory the daemon uses: IPMI 2.0 (ipmi_client.hpp) or Redfish
// (redfish_client.hpp) by the endpoint's protocol, each with its default options.
#pragma once

#include <memory>

#include "bmc/bmc.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::bmc {

std::shared_ptr<BmcClientFactory> make_bmc_client_factory(boost::asio::io_context& io);

}  // namespace ironboot::bmc
