#include "bmc/factory.hpp"

#include <boost/asio/io_context.hpp>

#include "bmc/ipmi_client.hpp"
#include "bmc/redfish_client.hpp"

namespace ironboot::bmc {
namespace {

class ProtocolFactory final : public BmcClientFactory {
 public:
  explicit ProtocolFactory(boost::asio::io_context& io) : io_(io) {}

  std::shared_ptr<BmcClient> make(const BmcEndpoint& endpoint, const BmcCredentials& credentials) override {
    switch (endpoint.protocol) {
      case Protocol::Ipmi: return make_ipmi_client(io_, endpoint, credentials);
      case Protocol::Redfish: return make_redfish_client(io_, endpoint, credentials);
    }
    return nullptr;
  }

 private:
  boost::asio::io_context& io_;
};

}  // namespace

std::shared_ptr<BmcClientFactory> make_bmc_client_factory(boost::asio::io_context& io) {
  return std::make_shared<ProtocolFactory>(io);
}

}  // namespace ironboot::bmc
