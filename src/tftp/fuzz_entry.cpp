#include "tftp/fuzz_entry.hpp"

#include <cstdlib>
#include <span>

#include "tftp/codec.hpp"
#include "tftp/transfer.hpp"

namespace ironboot::tftp {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

bool fuzz_one(const std::uint8_t* data, std::size_t size) {
  const auto parsed = parse(std::span(data, size));
  if (!parsed.ok()) return false;
  std::vector<std::uint8_t> again;
  const auto& p = parsed.packet();
  if (const auto* r = std::get_if<Request>(&p)) {
    encode_request(*r, again);
    const auto re = parse(again);
    check(re.ok() && std::get<Request>(re.packet()).options == r->options &&
          std::get<Request>(re.packet()).filename == r->filename);
    TransferLimits limits;
    const auto n = negotiate(r->options, limits, size);
    check(n.block_size >= 8 && n.block_size <= 65464 && n.window_size >= 1 && n.window_size <= 64);
    std::vector<std::uint8_t> oack(2 + 512 * 8);
    check(write_oack(oack, n.oack) > 0);
  } else if (const auto* d = std::get_if<Data>(&p)) {
    encode_data(d->block, d->payload, again);
    check(again.size() == size);
  } else if (const auto* a = std::get_if<Ack>(&p)) {
    encode_ack(a->block, again);
    check(std::get<Ack>(parse(again).packet()).block == a->block);
  } else if (const auto* e = std::get_if<Error>(&p)) {
    encode_error(e->code, e->message, again);
    check(parse(again).ok());
  } else if (const auto* o = std::get_if<OptionAck>(&p)) {
    encode_oack(o->options, again);
    const auto re = parse(again);
    check(re.ok() && std::get<OptionAck>(re.packet()).options == o->options);
  }
  return true;
}

}  // namespace ironboot::tftp
