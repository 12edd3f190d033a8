#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "app/app.hpp"
#include "config/config.hpp"
#include "observability/log.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage = R"(bro-ai — an OpenAI-compatible AI gateway

Usage:
  bro-ai [--version] [--help] <command> [options]

Commands:
  serve                 Serve the API (:8080) and metrics (:9090) until SIGTERM/SIGINT.
  migrate               Apply pending database migrations and exit.
  admin create-key      Create a user (if needed) and an API key; prints only the key.

Every command accepts --config FILE (default: $BRO_CONFIG, else config/app.yaml when
it exists, else built-in defaults). Run `bro-ai <command> --help` for its options.
Environment overrides: BRO_<SECTION>_<KEY> for every scalar key (e.g. BRO_SERVER_PORT),
DATABASE_URL, BRO_KEY_SECRET. See README.md for the full list.
)";

std::string DefaultConfigPath() {
  // getenv is only unsafe against concurrent setenv; nothing sets the environment.
  if (const char* p = std::getenv("BRO_CONFIG");  // NOLINT(concurrency-mt-unsafe)
      p != nullptr && *p != '\0') {
    return p;
  }
  if (std::filesystem::exists("config/app.yaml")) return "config/app.yaml";
  return {};
}

std::string ProjectId() {
  const char* p = std::getenv("GOOGLE_CLOUD_PROJECT");  // NOLINT(concurrency-mt-unsafe): see above
  return p != nullptr ? p : "";
}

po::options_description CommonOptions() {
  po::options_description d("Options");
  d.add_options()("help,h", "show help")("config,c", po::value<std::string>(),
                                         "configuration file (YAML)");
  return d;
}

bro::config::Config LoadConfig(const po::variables_map& vm) {
  const auto env = bro::config::ProcessEnvironment();
  const std::string path =
      vm.count("config") ? vm["config"].as<std::string>() : DefaultConfigPath();
  return path.empty() ? bro::config::LoadFromString("", env) : bro::config::LoadFromFile(path, env);
}

po::variables_map Parse(const std::vector<std::string>& args, const po::options_description& desc) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  po::notify(vm);
  return vm;
}

int Serve(const std::vector<std::string>& args) {
  auto desc = CommonOptions();
  desc.add_options()("role", po::value<std::string>()->default_value("all"), "api | worker | all");
  auto vm = Parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: bro-ai serve [--config FILE] [--role api|worker|all]\n\n"
                 "Serves the OpenAI-compatible API and /health, /ready on server.port (8080), and\n"
                 "Prometheus metrics on metrics.port (9090). On an empty database it creates an\n"
                 "admin user and prints one admin API key. SIGTERM/SIGINT drain gracefully.\n\n"
              << desc;
    return 0;
  }
  const auto role = vm["role"].as<std::string>();
  if (role != "api" && role != "worker" && role != "all") {
    std::cerr << "bro-ai: --role must be api, worker or all\n";
    return 2;
  }
  auto cfg = LoadConfig(vm);
  bro::observability::Logger log(cfg.logging, STDOUT_FILENO, ProjectId());
  bro::app::App app(std::move(cfg), log);
  return app.Serve(role);
}

int Migrate(const std::vector<std::string>& args) {
  auto desc = CommonOptions();
  auto vm = Parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: bro-ai migrate [--config FILE]\n\nApplies pending migrations to "
                 "database.url.\n\n"
              << desc;
    return 0;
  }
  auto cfg = LoadConfig(vm);
  bro::observability::Logger log(cfg.logging, STDERR_FILENO);
  return bro::app::App(std::move(cfg), log).Migrate();
}

int CreateKey(const std::vector<std::string>& args) {
  auto desc = CommonOptions();
  desc.add_options()("user", po::value<std::string>(),
                     "the key owner's email (created if missing)")(
      "role", po::value<std::string>()->default_value("developer"), "admin | developer | viewer")(
      "name", po::value<std::string>()->default_value("cli"), "a label for the key")(
      "models", po::value<std::vector<std::string>>()->multitoken(),
      "restrict the key to these models")("expires-in-hours", po::value<int>(),
                                          "expiry, in hours from now");
  auto vm = Parse(args, desc);
  if (vm.count("help")) {
    std::cout << "Usage: bro-ai admin create-key --user EMAIL [--role ROLE] [--name NAME] "
                 "[--models M...]\n"
                 "                               [--expires-in-hours N] [--config FILE]\n\n"
                 "Prints only the new key on stdout (shown once; stored as a keyed hash).\n\n"
              << desc;
    return 0;
  }
  if (!vm.count("user")) {
    std::cerr << "bro-ai: admin create-key needs --user EMAIL\n";
    return 2;
  }
  bro::app::App::KeyRequest req;
  req.email = vm["user"].as<std::string>();
  req.role = vm["role"].as<std::string>();
  req.name = vm["name"].as<std::string>();
  if (req.name.empty() || req.name.size() > 200) {
    std::cerr << "bro-ai: --name must be 1-200 characters\n";
    return 2;
  }
  if (vm.count("models")) req.models = vm["models"].as<std::vector<std::string>>();
  if (vm.count("expires-in-hours")) {
    int h = vm["expires-in-hours"].as<int>();
    if (h <= 0) {
      std::cerr << "bro-ai: --expires-in-hours must be positive\n";
      return 2;
    }
    req.expires_in = std::chrono::hours(h);
  }
  auto cfg = LoadConfig(vm);
  bro::observability::Logger log(cfg.logging, STDERR_FILENO);
  return bro::app::App(std::move(cfg), log).CreateKey(req);
}

}  // namespace

int main(int argc, char** argv) {
  // Everything bro-ai writes (the SQLite files, the generated key secret) is for its own user
  // alone. The storage code creates its files 0600 already; the umask also covers any file
  // created on our behalf that we did not think of.
  ::umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      std::cout << kUsage;
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
      std::cout << "bro-ai " << BRO_VERSION << "\n";
      return 0;
    }
    const std::string command = args[0];
    args.erase(args.begin());
    if (command == "serve") return Serve(args);
    if (command == "migrate") return Migrate(args);
    if (command == "admin") {
      if (args.empty() || args[0] == "--help") {
        std::cout
            << "Usage: bro-ai admin create-key [options]   (bro-ai admin create-key --help)\n";
        return args.empty() ? 2 : 0;
      }
      const std::string sub = args[0];
      args.erase(args.begin());
      if (sub == "create-key") return CreateKey(args);
      std::cerr << "bro-ai: unknown admin command '" << sub << "'\n";
      return 2;
    }
    std::cerr << "bro-ai: unknown command '" << command << "' (see bro-ai --help)\n";
    return 2;
  } catch (const bro::config::ConfigError& e) {
    std::cerr << "bro-ai: invalid configuration: " << e.what() << "\n";
    return 2;
  } catch (const po::error& e) {
    std::cerr << "bro-ai: " << e.what() << " (see bro-ai --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bro-ai: " << e.what() << "\n";
    return 1;
  }
}
