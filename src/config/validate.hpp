#pragma once

#include "config/config.hpp"

namespace bro::config {

// What no single key can check: keys that depend on each other, defaults derived from other
// keys, references between sections (models to providers, fallbacks to models), and the
// secrets named by the configuration (from the environment or from files).
void Validate(Config& c, const Environment& env);

}  // namespace bro::config
