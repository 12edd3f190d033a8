#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/errors.hpp"
#include "common/task.hpp"

namespace bro::storage {

// A bound parameter. SQL uses $1, $2 ... placeholders in both dialects.
using Value = std::variant<std::nullptr_t, std::int64_t, std::string>;
using Params = std::vector<Value>;

struct Row {
  std::vector<std::optional<std::string>> cells;
  bool IsNull(std::size_t i) const { return !cells.at(i).has_value(); }
  const std::string& Text(std::size_t i) const;
  std::int64_t Int(std::size_t i) const;
  std::optional<std::string> OptText(std::size_t i) const { return cells.at(i); }
};

struct Rows {
  std::vector<Row> rows;
  std::int64_t affected = 0;
  bool Empty() const { return rows.empty(); }
};

// A named statement: the name labels metrics, traces and errors.
struct Query {
  std::string_view name;
  std::string_view sql;
};

struct Statement {
  Query query;
  Params params;
};

struct PoolStats {
  int in_use = 0;
  int idle = 0;
  int max = 0;
};

// Infrastructure failure (unreachable, timeout, constraint bug). Caught at the HTTP boundary ->
// 503/500.
class DatabaseError : public common::InfrastructureError {
 public:
  using common::InfrastructureError::InfrastructureError;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual std::string_view Dialect() const = 0;  // "sqlite" | "postgres"
  virtual Task<Rows> Execute(Query q, Params params) = 0;
  // All statements in one transaction: all apply or none does.
  virtual Task<void> ExecuteInTransaction(std::vector<Statement> statements) = 0;
  // Runs a multi-statement SQL script in one transaction (migrations).
  virtual Task<void> ExecuteScript(std::string_view sql) = 0;
  virtual Task<bool> Ping() = 0;
  virtual PoolStats Stats() const = 0;
};

}  // namespace bro::storage
