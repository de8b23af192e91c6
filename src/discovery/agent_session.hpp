// Who gets which token and when (docs/agent-api.md "Tokens"), pure with an injected clock and
// random source:
// - /ipxe mints a boot token for (uuid, mac, its TCP peer address, a random boot nonce), valid
//   discovery.boot_token_ttl_seconds, rate-limited per source address (MintRateLimiter);
// - register exchanges it, from that address only, for a session token bound to the same boot,
//   valid discovery.session_ttl_seconds and renewed in answers once past half its life;
// - a boot is superseded when a newer boot of the machine (uuid, mac) has registered: the
//   newest boot seen per machine is kept in a bounded table, and a restart starts it empty
//   (every token is self-contained, so a running agent carries on);
// - an Environment's kernel URL carries a ticket bound to (uuid, mac, Environment, a boot
//   nonce, address) that lets its fetch record PXEBooted.
#pragma once

#include "discovery/environment.hpp"
#include "discovery/token.hpp"

#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ironboot::discovery {

struct SessionOptions {
  std::chrono::seconds boot_token_ttl{900};  // discovery.boot_token_ttl_seconds
  std::chrono::seconds session_ttl{300};     // discovery.session_ttl_seconds
  std::size_t max_machines = 65536;          // newest boots remembered (least recently used go first)
};

class AgentSessions {
 public:
  AgentSessions(TokenKey key, const Clock& clock, RandomSource random, SessionOptions options = {});

  struct BootMint {
    std::string token;
    std::string nonce;
  };
  // A boot token for a machine asking /ipxe from `address`; nullopt when no random bytes.
  std::optional<BootMint> mint_boot(std::string_view uuid, std::string_view mac, std::string_view address) const;
  // A ticket for the Environment's kernel fetch of a boot (from `address`) with a new nonce;
  // "" when no random bytes.
  std::string mint_ticket(std::string_view uuid, std::string_view mac, std::string_view environment,
                          std::string_view address) const;

  // The claims of an agent request's bearer token from `address`: a session token, or on
  // register (`registering`) also a boot token. Refused when malformed, not ours, expired, of
  // another kind, from another address or superseded by a newer boot. A session newer than
  // the table's entry for its machine (a register before a restart) becomes the newest.
  std::optional<TokenClaims> authenticate(std::string_view token, std::string_view address, bool registering,
                                          TokenError& error);
  // A register with these claims was accepted: its boot becomes the machine's newest, and the
  // answer carries this session token (expiry now + session_ttl).
  std::string open_session(const TokenClaims& claims);
  // A renewed session token when `session` is past half its life, else "".
  std::string renewal(const TokenClaims& session) const;

  // The claims of an Environment kernel fetch's ticket from `address`.
  std::optional<TokenClaims> verify_ticket(std::string_view ticket, std::string_view address, TokenError& error) const;

  std::size_t machines() const { return order_.size(); }

 private:
  struct Boot {
    std::int64_t time = 0;
    std::string nonce;
    std::list<std::string>::iterator position;  // in order_
  };
  std::int64_t now_seconds() const;
  std::int64_t now_millis() const;
  // -1: older than the newest boot of its machine, 0: that boot, 1: newer (or none known).
  int compare_with_newest(const TokenClaims& claims) const;
  void remember(const TokenClaims& claims);

  TokenKey key_;
  const Clock& clock_;
  RandomSource random_;
  SessionOptions options_;
  std::unordered_map<std::string, Boot> newest_;  // "uuid|mac" -> its newest registered boot
  std::list<std::string> order_;                  // least recently used first
};

// A token bucket per source address: `per_minute` tokens, refilled evenly over the minute.
// At most `max_addresses` buckets are kept; when full, buckets that have refilled (equal to a
// fresh one) go first, then the least recently used.
class MintRateLimiter {
 public:
  MintRateLimiter(const Clock& clock, std::uint32_t per_minute, std::size_t max_addresses = 4096);
  // True (and one token taken) when `address` may have another boot token now.
  bool allow(std::string_view address);
  std::size_t addresses() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
    std::list<std::string>::iterator position;
  };
  double refill(Bucket& bucket, std::int64_t now_ms) const;
  void make_room(std::int64_t now_ms);

  const Clock& clock_;
  double capacity_;
  std::size_t max_addresses_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> order_;  // least recently used first
};

}  // namespace ironboot::discovery
