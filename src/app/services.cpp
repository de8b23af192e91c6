#include "app/services.hpp"

#include <boost/asio/io_context.hpp>

#include "common/config.hpp"

namespace ironboot {

std::vector<std::unique_ptr<Service>> make_services(boost::asio::io_context& io, const Config& config) {
  std::vector<std::unique_ptr<Service>> services;
  (void)io;
  (void)config;
  return services;
}

}  // namespace ironboot
