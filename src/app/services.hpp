#pragma once

#include <memory>
#include <vector>

#include "common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot {

struct Config;

// Every enabled server of the appliance, in start order, sharing one io_context.
std::vector<std::unique_ptr<Service>> make_services(boost::asio::io_context& io, const Config& config);

}  // namespace ironboot
