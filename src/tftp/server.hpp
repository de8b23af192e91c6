// The TFTP service: a thin Asio shell around the codec, the transfer state machine and the
// file store. No Asio in this header: only the factory.
#pragma once

#include <memory>

#include "common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot {

struct Config;

std::unique_ptr<Service> make_tftp_service(boost::asio::io_context& io, const Config& config);

}  // namespace ironboot
