// What src/app needs from each protocol server: start (bind) and stop (drain).
// Servers are created with the shared io_context and run on its one thread.
#pragma once

#include <string>

namespace ironboot {

struct Config;

class Service {
 public:
  virtual ~Service() = default;
  virtual const char* name() const = 0;
  // Binds sockets and starts accepting work. Returns an error text on failure.
  virtual std::string start() = 0;
  // Stops accepting new work; in-flight work may finish. Idempotent.
  virtual void stop() = 0;
  // Applies the parts of a new configuration that can change without a restart.
  virtual void reload(const Config& /*config*/) {}
  // True when no work is in flight; the daemon exits once every service is idle after stop().
  virtual bool idle() const { return true; }
};

}  // namespace ironboot
