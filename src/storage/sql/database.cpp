#include "storage/sql/database.hpp"

#include <charconv>

namespace bro::storage {

const std::string& Row::Text(std::size_t i) const {
  const auto& c = cells.at(i);
  if (!c) throw DatabaseError("column " + std::to_string(i) + " is NULL");
  return *c;
}

std::int64_t Row::Int(std::size_t i) const {
  const auto& s = Text(i);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    throw DatabaseError("column " + std::to_string(i) + " is not an integer");
  return v;
}

}  // namespace bro::storage
