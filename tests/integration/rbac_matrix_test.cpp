// The RBAC matrix: every route of identity::PermissionTable() x every caller (anonymous, viewer,
// developer, admin) -> expected status, generated from the table. A route added to the table
// without a sample request here, a permission without a row in the expected-roles spec below,
// or a table row that no handler serves fails the test: no route can be forgotten.

#include <map>

#include "identity/permissions.hpp"
#include "integration/identity_fixture.hpp"

namespace bro::api {
namespace {

using identity::Permission;

// A request that the route's handler answers with `admitted` once the gate lets it through
// (a 404 for an id that does not exist is the handler's answer, not the gate's).
struct Sample {
  std::string path;
  std::string body;
  unsigned admitted;
};

std::string Key(http::Verb method, std::string_view path) {
  return std::string(http::beast::http::to_string(method)) + " " + std::string(path);
}

const std::map<std::string, Sample>& Samples() {
  using http::Verb;
  static const std::map<std::string, Sample> kSamples = {
      {Key(Verb::get, "/health"), {"/health", "", 200}},
      {Key(Verb::get, "/ready"), {"/ready", "", 200}},
      {Key(Verb::get, "/auth/login"), {"/auth/login", "", 302}},
      // No state and code: the handler's own login_failed answer.
      {Key(Verb::get, "/auth/callback"), {"/auth/callback", "", 401}},
      {Key(Verb::post, "/auth/logout"), {"/auth/logout", "", 200}},
      {Key(Verb::get, "/v1/models"), {"/v1/models", "", 200}},
      {Key(Verb::get, "/v1/models/*"), {"/v1/models/echo", "", 200}},
      {Key(Verb::post, "/v1/chat/completions"),
       {"/v1/chat/completions", R"({"model":"echo","messages":[{"role":"user","content":"hi"}]})",
        200}},
      {Key(Verb::post, "/v1/embeddings"),
       {"/v1/embeddings", R"({"model":"echo","input":"hi"})", 200}},
      {Key(Verb::get, "/api/v1/me"), {"/api/v1/me", "", 200}},
      {Key(Verb::get, "/api/v1/keys"), {"/api/v1/keys", "", 200}},
      {Key(Verb::post, "/api/v1/keys"), {"/api/v1/keys", R"({"name":"matrix"})", 201}},
      {Key(Verb::delete_, "/api/v1/keys/*"), {"/api/v1/keys/no-such-key", "", 404}},
      {Key(Verb::post, "/api/v1/keys/*"), {"/api/v1/keys/no-such-key/rotate", "", 404}},
      {Key(Verb::get, "/api/v1/users"), {"/api/v1/users", "", 200}},
      {Key(Verb::patch, "/api/v1/users/*"),
       {"/api/v1/users/no-such-user", R"({"role":"viewer"})", 404}},
      {Key(Verb::get, "/api/v1/audit"), {"/api/v1/audit", "", 200}},
      {Key(Verb::get, "/api/v1/usage"), {"/api/v1/usage", "", 200}},
      {Key(Verb::get, "/api/v1/limits"), {"/api/v1/limits", "", 200}},
      {Key(Verb::get, "/api/v1/limits/*"), {"/api/v1/limits/key/no-such-key", "", 404}},
      {Key(Verb::put, "/api/v1/limits/*"),
       {"/api/v1/limits/key/no-such-key", R"({"requests_per_minute":5})", 404}},
      {Key(Verb::delete_, "/api/v1/limits/*"), {"/api/v1/limits/key/no-such-key", "", 404}},
  };
  return kSamples;
}

enum class Caller { kAnonymous, kViewer, kDeveloper, kAdmin };

// The product's rule, written independently of identity::RoleHas (which it also checks).
std::optional<std::vector<Caller>> ExpectedCallers(Permission p) {
  switch (p) {
    case Permission::kPublic:
      return std::vector{Caller::kAnonymous, Caller::kViewer, Caller::kDeveloper, Caller::kAdmin};
    case Permission::kAuthenticated:
    case Permission::kModelsRead:
    case Permission::kKeysRead:
    case Permission::kUsageRead:
      return std::vector{Caller::kViewer, Caller::kDeveloper, Caller::kAdmin};
    case Permission::kCompletionsCreate:
    case Permission::kKeysWrite:
      return std::vector{Caller::kDeveloper, Caller::kAdmin};
    case Permission::kUsersAdmin:
    case Permission::kAuditRead:
    case Permission::kLimitsAdmin:
      return std::vector{Caller::kAdmin};
  }
  return std::nullopt;
}

const char* Name(Caller c) {
  switch (c) {
    case Caller::kAnonymous:
      return "anonymous";
    case Caller::kViewer:
      return "viewer";
    case Caller::kDeveloper:
      return "developer";
    case Caller::kAdmin:
      return "admin";
  }
  return "?";
}

std::string VerbName(http::Verb v) {
  return std::string(http::beast::http::to_string(v));
}

class RbacMatrixTest : public IdentityFixture {
 protected:
  bool RequireMfa() const override { return false; }

  std::map<Caller, std::string> Keys() {
    return {{Caller::kViewer, CreateKey("viewer@example.com", auth::Role::kViewer)},
            {Caller::kDeveloper, CreateKey("developer@example.com", auth::Role::kDeveloper)},
            {Caller::kAdmin, CreateKey("admin@example.com", auth::Role::kAdmin)}};
  }

  unsigned Call(const identity::RouteRule& rule, const Sample& s, const std::string& key) {
    Browser b;
    const std::string auth = key.empty() ? "" : Bearer(key);
    return b.Request(VerbName(rule.method), base_ + s.path, s.body, auth).status;
  }
};

TEST_F(RbacMatrixTest, EveryRouteIsInTheTableAndEveryRowIsServed) {
  AccessGate::CheckCoverage(router_);  // no registered route without a rule
  for (const auto& rule : identity::PermissionTable()) {
    const auto& routes = router_.Routes();
    EXPECT_TRUE(std::any_of(
        routes.begin(), routes.end(),
        [&](const http::Route& r) { return r.method == rule.method && r.path == rule.path; }))
        << Key(rule.method, rule.path) << " is in the table but no handler serves it";
  }
}

TEST_F(RbacMatrixTest, EveryRouteTimesEveryRole) {
  const auto keys = Keys();
  std::size_t cells = 0;
  for (const auto& rule : identity::PermissionTable()) {
    const auto name = Key(rule.method, rule.path);
    const auto sample = Samples().find(name);
    ASSERT_NE(sample, Samples().end()) << "add a sample request for " << name;
    const auto allowed = ExpectedCallers(rule.permission);
    ASSERT_TRUE(allowed) << "add " << identity::PermissionName(rule.permission)
                         << " to ExpectedCallers";
    for (Caller c : {Caller::kAnonymous, Caller::kViewer, Caller::kDeveloper, Caller::kAdmin}) {
      const bool ok = std::find(allowed->begin(), allowed->end(), c) != allowed->end();
      if (c != Caller::kAnonymous) {
        const auto role = c == Caller::kViewer      ? auth::Role::kViewer
                          : c == Caller::kDeveloper ? auth::Role::kDeveloper
                                                    : auth::Role::kAdmin;
        EXPECT_EQ(identity::RoleHas(role, rule.permission), ok)
            << name << " " << Name(c) << ": RoleHas disagrees with the spec";
      }
      const unsigned expected =
          ok ? sample->second.admitted : (c == Caller::kAnonymous ? 401U : 403U);
      const auto key = c == Caller::kAnonymous ? std::string() : keys.at(c);
      EXPECT_EQ(Call(rule, sample->second, key), expected) << name << " as " << Name(c);
      ++cells;
    }
  }
  EXPECT_EQ(cells, identity::PermissionTable().size() * 4);
}

// With auth.require_mfa_for_admin on, an admin API key (no MFA proof) loses exactly the admin
// permissions, and keeps every other one.
class RbacMatrixMfaTest : public RbacMatrixTest {
 protected:
  bool RequireMfa() const override { return true; }
};

TEST_F(RbacMatrixMfaTest, AdminKeyWithoutMfaLosesOnlyAdminPermissions) {
  const auto key = CreateKey("admin@example.com", auth::Role::kAdmin);
  for (const auto& rule : identity::PermissionTable()) {
    const auto name = Key(rule.method, rule.path);
    const auto sample = Samples().find(name);
    ASSERT_NE(sample, Samples().end()) << "add a sample request for " << name;
    const unsigned expected =
        identity::IsAdminPermission(rule.permission) ? 403U : sample->second.admitted;
    EXPECT_EQ(Call(rule, sample->second, key), expected) << name;
  }
}

}  // namespace
}  // namespace bro::api
