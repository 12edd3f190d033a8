#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "observability/log.hpp"

namespace bro::app {

// The composition root: chooses backends from configuration, owns every
// component's lifetime, and shuts down in reverse order of start-up.
class App {
 public:
  App(config::Config cfg, observability::Logger& log);

  // Serves until SIGTERM/SIGINT, then drains. Returns the process exit code.
  int Serve(const std::string& role);
  int Migrate();
  struct KeyRequest {
    std::string email;
    std::string role = "developer";
    std::string name = "cli";
    std::vector<std::string> models;
    std::optional<std::chrono::hours> expires_in;
  };
  // Prints the new key (only the key) on stdout.
  int CreateKey(const KeyRequest& request);

 private:
  config::Config cfg_;
  observability::Logger& log_;
};

// The SQLite file path of a sqlite:// URL ("sqlite://data/bro.db" -> "data/bro.db").
std::string SqlitePath(const std::string& url);

}  // namespace bro::app
