#include "discovery/agent_session.hpp"

#include <algorithm>
#include <tuple>

namespace ironboot::discovery {

namespace {

std::string machine_key(const TokenClaims& claims) { return claims.uuid + "|" + claims.mac; }

std::int64_t millis(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
}

}  // namespace

AgentSessions::AgentSessions(TokenKey key, const Clock& clock, RandomSource random, SessionOptions options)
    : key_(key), clock_(clock), random_(std::move(random)), options_(options) {
  if (options_.max_machines == 0) options_.max_machines = 1;
}

std::int64_t AgentSessions::now_millis() const { return millis(clock_); }
std::int64_t AgentSessions::now_seconds() const { return now_millis() / 1000; }

std::optional<AgentSessions::BootMint> AgentSessions::mint_boot(std::string_view uuid, std::string_view mac,
                                                                std::string_view address) const {
  std::string nonce = random_hex128(random_);
  if (nonce.empty()) return std::nullopt;
  TokenClaims c;
  c.kind = TokenKind::boot;
  c.uuid = std::string(uuid);
  c.mac = std::string(mac);
  c.address = std::string(address);
  c.nonce = nonce;
  c.boot_time = now_millis();
  c.expiry = now_seconds() + options_.boot_token_ttl.count();
  return BootMint{mint_token(key_, c), std::move(nonce)};
}

std::string AgentSessions::mint_ticket(std::string_view uuid, std::string_view mac, std::string_view environment,
                                       std::string_view address) const {
  std::string nonce = random_hex128(random_);
  if (nonce.empty()) return {};
  TokenClaims c;
  c.kind = TokenKind::ticket;
  c.uuid = std::string(uuid);
  c.mac = std::string(mac);
  c.address = std::string(address);
  c.nonce = std::move(nonce);
  c.boot_time = now_millis();
  c.environment = std::string(environment);
  // The kernel is fetched right after the script: the boot token's lifetime is plenty.
  c.expiry = now_seconds() + options_.boot_token_ttl.count();
  return mint_token(key_, c);
}

int AgentSessions::compare_with_newest(const TokenClaims& claims) const {
  const auto it = newest_.find(machine_key(claims));
  if (it == newest_.end()) return 1;
  const auto mine = std::tie(claims.boot_time, claims.nonce);
  const auto newest = std::tie(it->second.time, it->second.nonce);
  return mine < newest ? -1 : mine == newest ? 0 : 1;
}

void AgentSessions::remember(const TokenClaims& claims) {
  const std::string key = machine_key(claims);
  auto it = newest_.find(key);
  if (it != newest_.end()) {
    order_.splice(order_.end(), order_, it->second.position);
    if (std::tie(claims.boot_time, claims.nonce) > std::tie(it->second.time, it->second.nonce)) {
      it->second.time = claims.boot_time;
      it->second.nonce = claims.nonce;
    }
    return;
  }
  if (newest_.size() >= options_.max_machines) {
    newest_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  newest_.emplace(key, Boot{claims.boot_time, claims.nonce, std::prev(order_.end())});
}

std::optional<TokenClaims> AgentSessions::authenticate(std::string_view token, std::string_view address,
                                                       bool registering, TokenError& error) {
  std::optional<TokenClaims> claims = verify_token(key_, token, TokenKind::session, now_seconds(), error);
  if (!claims && registering && error == TokenError::wrong_kind)
    claims = verify_token(key_, token, TokenKind::boot, now_seconds(), error);
  if (!claims) return std::nullopt;
  if (claims->address != address) {
    error = TokenError::wrong_address;
    return std::nullopt;
  }
  const int order = compare_with_newest(*claims);
  if (order < 0) {
    error = TokenError::superseded;
    return std::nullopt;
  }
  // Only a register makes a session: one newer than the table came before a restart.
  if (claims->kind == TokenKind::session) remember(*claims);
  return claims;
}

std::string AgentSessions::open_session(const TokenClaims& claims) {
  remember(claims);
  TokenClaims session = claims;
  session.kind = TokenKind::session;
  session.environment.clear();
  session.expiry = now_seconds() + options_.session_ttl.count();
  return mint_token(key_, session);
}

std::string AgentSessions::renewal(const TokenClaims& session) const {
  if (session.kind != TokenKind::session) return {};
  const std::int64_t left = session.expiry - now_seconds();
  if (left * 2 > options_.session_ttl.count()) return {};
  TokenClaims renewed = session;
  renewed.expiry = now_seconds() + options_.session_ttl.count();
  return mint_token(key_, renewed);
}

std::optional<TokenClaims> AgentSessions::verify_ticket(std::string_view ticket, std::string_view address,
                                                        TokenError& error) const {
  auto claims = verify_token(key_, ticket, TokenKind::ticket, now_seconds(), error);
  if (!claims) return std::nullopt;
  if (claims->address != address) {
    error = TokenError::wrong_address;
    return std::nullopt;
  }
  return claims;
}

// ---- MintRateLimiter

MintRateLimiter::MintRateLimiter(const Clock& clock, std::uint32_t per_minute, std::size_t max_addresses)
    : clock_(clock), capacity_(std::max<std::uint32_t>(per_minute, 1)), max_addresses_(std::max<std::size_t>(max_addresses, 1)) {}

double MintRateLimiter::refill(Bucket& bucket, std::int64_t now_ms) const {
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - bucket.updated_ms);
  bucket.tokens = std::min(capacity_, bucket.tokens + capacity_ * static_cast<double>(elapsed) / 60000.0);
  bucket.updated_ms = std::max(bucket.updated_ms, now_ms);
  return bucket.tokens;
}

void MintRateLimiter::make_room(std::int64_t now_ms) {
  for (auto it = order_.begin(); it != order_.end() && buckets_.size() >= max_addresses_;) {
    auto& bucket = buckets_.at(*it);
    if (refill(bucket, now_ms) >= capacity_) {
      buckets_.erase(*it);
      it = order_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() >= max_addresses_) {
    buckets_.erase(order_.front());
    order_.pop_front();
  }
}

bool MintRateLimiter::allow(std::string_view address) {
  const std::int64_t now_ms = millis(clock_);
  const std::string key(address);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    make_room(now_ms);
    order_.push_back(key);
    it = buckets_.emplace(key, Bucket{capacity_, now_ms, std::prev(order_.end())}).first;
  } else {
    order_.splice(order_.end(), order_, it->second.position);
  }
  if (refill(it->second, now_ms) < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

}  // namespace ironboot::discovery
