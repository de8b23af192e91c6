#include "tftp/batch_sink.hpp"

#include <cerrno>

namespace ironboot::tftp {

BatchSink::BatchSink()
    : storage_(new std::uint8_t[max_packets * max_packet_size]), capacity_(max_packets * max_packet_size) {}

void BatchSink::begin(int fd, const sockaddr_in& peer) {
  if (count_ > 0) flush();
  fd_ = fd;
  peer_ = peer;
}

std::span<std::uint8_t> BatchSink::next(std::size_t max_len) {
  if (count_ == max_packets || used_ + max_len > capacity_) flush();
  pending_len_ = max_len;
  return {storage_.get() + used_, max_len};
}

void BatchSink::commit(std::size_t len) {
  if (len == 0 || len > pending_len_) return;
  iovs_[count_] = iovec{storage_.get() + used_, len};
  used_ += len;
  ++count_;
}

std::size_t BatchSink::flush() {
  for (std::size_t i = 0; i < count_; ++i) {
    auto& h = msgs_[i].msg_hdr;
    h = msghdr{};
    h.msg_name = &peer_;
    h.msg_namelen = sizeof(peer_);
    h.msg_iov = &iovs_[i];
    h.msg_iovlen = 1;
  }
  std::size_t sent = 0;
  while (sent < count_) {
    const int n = ::sendmmsg(fd_, msgs_.data() + sent, static_cast<unsigned>(count_ - sent), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN/ENOBUFS: the rest is lost like any lost datagram
    sent += static_cast<std::size_t>(n);
  }
  const std::size_t refused = count_ - sent;
  count_ = 0;
  used_ = 0;
  return refused;
}

}  // namespace ironboot::tftp
