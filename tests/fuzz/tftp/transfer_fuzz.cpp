// libFuzzer target: TFTP path normalisation and the transfer state machine.
// Input: byte 0 picks the file size (x 97), byte 1 the client's blksize/windowsize; then a
// path up to the first NUL (through relative_components), then records of [len][kind][bytes]:
// kind 0 advances the fake clock and fires the timer, otherwise the bytes are parsed as a
// TFTP packet (ACK, ERROR, OACK, ...) and fed to on_packet. Corpus: tests/fuzz/corpus/tftp_transfer/.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/file_store.hpp"
#include "tftp/source.hpp"
#include "tftp/transfer.hpp"

namespace {

using namespace ironboot::tftp;

class FakeSource final : public FileSource {
 public:
  explicit FakeSource(std::uint64_t size) : size_(size) {}
  std::uint64_t size() const override { return size_; }
  std::int64_t read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset >= size_) return 0;
    const std::uint64_t n = std::min<std::uint64_t>(out.size(), size_ - offset);
    for (std::uint64_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(offset + i);
    return static_cast<std::int64_t>(n);
  }

 private:
  std::uint64_t size_;
};

class Sink final : public PacketSink {
 public:
  std::span<std::uint8_t> next(std::size_t max_len) override {
    buf_.resize(max_len);
    return buf_;
  }
  void commit(std::size_t len) override {
    if (len > buf_.size()) __builtin_trap();
    ++packets_;
  }

 private:
  std::vector<std::uint8_t> buf_;
  std::size_t packets_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint64_t file_size = std::uint64_t{data[0]} * 97;
  const std::uint8_t opt = data[1];
  std::size_t i = 2;
  std::string path;
  while (i < size && data[i] != 0) path.push_back(static_cast<char>(data[i++]));
  ++i;
  std::string rel;
  relative_components(path, {"/srv/tftp", "/srv/tftp/"}, rel);

  TransferLimits limits;
  limits.max_block_size = 64;
  limits.max_window_size = 8;
  std::vector<Option> requested;
  if (opt & 1) requested.emplace_back("blksize", std::to_string(8 + (opt >> 2)));
  if (opt & 2) requested.emplace_back("windowsize", std::to_string(opt >> 4));
  if (opt & 0x80) requested.emplace_back("tsize", "0");
  Negotiated n = negotiate(requested, limits, file_size);
  Transfer t(std::make_shared<FakeSource>(file_size), n, limits);
  Sink sink;
  TimePoint now{};
  t.start(now, sink);
  while (i + 2 <= size && !t.finished()) {
    const std::size_t len = data[i];
    const std::uint8_t kind = data[i + 1];
    i += 2;
    const std::size_t take = std::min(len, size - i);
    if (kind == 0) {
      now += std::chrono::milliseconds(std::size_t{1} << (len % 16));
      if (now >= t.deadline()) t.on_timer(now, sink);
    } else {
      const ParseResult r = parse(std::span<const std::uint8_t>(data + i, take));
      if (r.ok()) t.on_packet(r.packet(), now, sink);
    }
    i += take;
  }
  if (t.acked_blocks() > t.total_blocks()) __builtin_trap();
  return 0;
}
