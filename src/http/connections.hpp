// Bookkeeping shared by ironboot's HTTP servers (the plain one and the embedded API's TLS
// one): the open connections of a server, each held by an RAII slot, and the delay before
// accepting again after accept(2) failed. No Asio here.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace ironboot {
class Gauge;
}

namespace ironboot::http {

// The delay before the next accept after a failed one (EMFILE, ENFILE, ENOBUFS, ...): 10 ms,
// doubling up to 1 s while the failures go on, back to 10 ms after a success. A listener
// that retried at once would spin on the error; one that waited long would leave clients
// unanswered after the cause went away.
class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{10};
  static constexpr std::chrono::milliseconds kMax{1000};

  // Another accept failed: how long to wait before trying again.
  std::chrono::milliseconds failed() {
    const auto delay = next_;
    next_ = std::min(next_ * 2, kMax);
    return delay;
  }
  void succeeded() { next_ = kFirst; }

 private:
  std::chrono::milliseconds next_ = kFirst;
};

// The open connections of one server, counted in all and per client address. A session
// holds its Slot for its whole life and the Slot's destructor gives it back, so the counts
// (and the gauge, when given) are right on every way out of a session, an exception
// included. Slots keep the registry alive, so a session may outlive its server.
class ConnectionRegistry : public std::enable_shared_from_this<ConnectionRegistry> {
  struct Entry;

 public:
  class Slot {
   public:
    Slot(Slot&&) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();
    // What drain_all() does to this connection; nothing until set. The session sets it to
    // something that refers to itself, so it must hold the Slot no longer than itself.
    void on_drain(std::function<void()> drain);

   private:
    friend class ConnectionRegistry;
    Slot(std::shared_ptr<ConnectionRegistry> owner, std::unique_ptr<Entry> entry);
    std::shared_ptr<ConnectionRegistry> owner_;
    std::unique_ptr<Entry> entry_;
  };

  // `gauge`, when not null, follows the number of slots held.
  static std::shared_ptr<ConnectionRegistry> create(Gauge* gauge = nullptr);
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;

  // Callers check size() and count_for(client) against their limits first: refusing a
  // connection is theirs to do. `client` is the peer's address without its port.
  Slot acquire(std::string client = {});
  std::size_t size() const { return entries_.size(); }
  std::size_t count_for(std::string_view client) const;
  bool empty() const { return entries_.empty(); }
  // Runs every connection's drain hook. A hook may end its connection, but the slot is
  // released later (by the session's coroutine unwinding), never during this call.
  void drain_all();

 private:
  explicit ConnectionRegistry(Gauge* gauge) : gauge_(gauge) {}
  void release(Entry* entry);

  std::unordered_set<Entry*> entries_;
  std::unordered_map<std::string, std::size_t> per_client_;
  Gauge* gauge_;
};

}  // namespace ironboot::http
