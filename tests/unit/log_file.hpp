#pragma once

// A temp file a Logger writes to (its fd), read back after the logger is flushed or destroyed.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace bro::testing {

class LogFile {
 public:
  LogFile() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bro-log-XXXXXX").string();
    fd_ = ::mkstemp(tmpl.data());
    path_ = tmpl;
  }
  ~LogFile() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  int Fd() const { return fd_; }
  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::vector<std::string> Lines() const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace bro::testing
