#include "common/time.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace ironboot {

namespace {

// Parses exactly `digits` decimal digits at text[pos].
bool fixed_number(std::string_view text, std::size_t pos, std::size_t digits, int& out) {
  if (pos + digits > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + digits; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_rfc3339_micros(std::chrono::system_clock::time_point t) {
  const auto floor = std::chrono::floor<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - floor).count();
  std::string out = format_rfc3339(floor);
  char frac[16];
  // micros is 0..999999; unsigned tells the compiler the field cannot be 17 digits wide.
  std::snprintf(frac, sizeof frac, ".%06uZ", static_cast<unsigned>(micros));
  out.pop_back();  // 'Z'
  out += frac;
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  std::tm tm{};
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':')
    return std::nullopt;
  if (!fixed_number(text, 0, 4, tm.tm_year) || !fixed_number(text, 5, 2, tm.tm_mon) ||
      !fixed_number(text, 8, 2, tm.tm_mday) || !fixed_number(text, 11, 2, tm.tm_hour) ||
      !fixed_number(text, 14, 2, tm.tm_min) || !fixed_number(text, 17, 2, tm.tm_sec))
    return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = timegm(&tm);
  std::size_t pos = 19;
  std::chrono::microseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    std::size_t digits = 0;
    long long micros = 0;
    while (++pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits++ < 6) micros = micros * 10 + (text[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 6; ++digits) micros *= 10;
    fraction = std::chrono::microseconds(micros);
  }
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0, om = 0;
    if (pos + 6 != text.size() || text[pos + 3] != ':' || !fixed_number(text, pos + 1, 2, oh) ||
        !fixed_number(text, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    const long offset = (oh * 3600L + om * 60L) * (text[pos] == '+' ? 1 : -1);
    t -= offset;
  } else if (pos + 1 != text.size() || (text[pos] != 'Z' && text[pos] != 'z')) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: it ends in 2262 (and begins in 1677). A
  // time outside that range is refused, not converted with overflow.
  constexpr std::time_t kClockLimit = 9'200'000'000;  // seconds, just inside the range
  if (t > kClockLimit || t < -kClockLimit) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t) + fraction;
}

}  // namespace ironboot
