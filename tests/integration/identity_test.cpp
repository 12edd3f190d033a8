// Identity end to end in-process: OIDC login against a real OpenID Provider (npm oidc-provider
// on loopback), sessions, CSRF, keys, role changes, deactivation, MFA, audit log, and the attack
// cases that need the whole stack.

#include <boost/json/serialize.hpp>

#include "identity/permissions.hpp"
#include "integration/identity_fixture.hpp"

namespace bro::api {
namespace {

constexpr const char* kChat = R"({"model":"echo","messages":[{"role":"user","content":"hi"}]})";

std::vector<std::string> Actions(const json::object& list) {
  std::vector<std::string> out;
  for (const auto& r : list.at("data").as_array()) {
    out.emplace_back(r.as_object().at("action").as_string());
  }
  return out;
}

using IdentityTest = IdentityFixture;

TEST_F(IdentityTest, LoginKeyChatDowngradeAndAuditTrail) {
  Browser admin;
  auto r = Login(admin, "admin");
  ASSERT_EQ(r.status, 302U) << r.body;
  EXPECT_EQ(r.location, "/");
  auto me = admin.Request("GET", base_ + "/api/v1/me").Json();
  EXPECT_EQ(me.at("role").as_string(), "admin") << "first user of an empty system";
  EXPECT_EQ(me.at("method").as_string(), "session");
  EXPECT_TRUE(me.at("mfa").as_bool()) << "amr carried otp";

  Browser alice;
  ASSERT_EQ(Login(alice, "alice").status, 302U);
  auto alice_me = alice.Request("GET", base_ + "/api/v1/me").Json();
  EXPECT_EQ(alice_me.at("role").as_string(), "developer");
  const std::string alice_id(alice_me.at("id").as_string());
  const std::string csrf(alice_me.at("csrf_token").as_string());

  // CSRF: a cookie-authenticated write without the token is refused.
  r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"laptop"})");
  EXPECT_EQ(r.status, 403U);
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "csrf_failed");
  r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"laptop"})", CsrfHeader("x" + csrf));
  EXPECT_EQ(r.status, 403U);
  r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"laptop"})", CsrfHeader(csrf));
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string key(r.Json().at("key").as_string());

  Browser cli;  // no cookies: the key alone
  r = cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(key));
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_NE(r.body.find("Echo: hi"), std::string::npos);

  // Listing shows the prefix, never the secret.
  r = alice.Request("GET", base_ + "/api/v1/keys");
  ASSERT_EQ(r.status, 200U);
  EXPECT_EQ(r.body.find(key), std::string::npos);
  EXPECT_NE(r.body.find(key.substr(0, 12)), std::string::npos);

  // The admin downgrades alice: her key and her session lose developer rights at once.
  const std::string admin_csrf = Csrf(admin);
  r = admin.Request("PATCH", base_ + "/api/v1/users/" + alice_id, R"({"role":"viewer"})",
                    CsrfHeader(admin_csrf));
  ASSERT_EQ(r.status, 200U) << r.body;
  r = cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(key));
  EXPECT_EQ(r.status, 403U);
  r = cli.Request("GET", base_ + "/v1/models", "", Bearer(key));
  EXPECT_EQ(r.status, 200U) << "a viewer may still list models";
  r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"again"})", CsrfHeader(csrf));
  EXPECT_EQ(r.status, 403U);

  // A login that fails (unverified email) is audited with its reason, not told to the caller.
  Browser eve;
  r = Login(eve, "eve");
  EXPECT_EQ(r.status, 401U);
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "login_failed");
  EXPECT_EQ(r.body.find("verified"), std::string::npos);

  r = admin.Request("GET", base_ + "/api/v1/audit?limit=50");
  ASSERT_EQ(r.status, 200U) << r.body;
  const auto actions = Actions(r.Json());
  for (const char* a : {"login", "key.create", "user.role_change"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
  }
  r = admin.Request("GET", base_ + "/api/v1/audit?action=login&outcome=failure");
  const auto failures = r.Json().at("data").as_array();
  ASSERT_EQ(failures.size(), 1U);
  EXPECT_EQ(failures[0].at("reason").as_string(), "email_not_verified");
  r = admin.Request("GET", base_ + "/api/v1/audit?action=user.role_change");
  const auto change_list = r.Json();  // owned: a reference into r.Json() would dangle
  ASSERT_FALSE(change_list.at("data").as_array().empty());
  const auto& change = change_list.at("data").as_array().at(0).as_object();
  EXPECT_EQ(change.at("details").at("to").as_string(), "viewer");
  EXPECT_EQ(change.at("target").at("id").as_string(), alice_id);

  // Keyset pagination walks every row once.
  std::set<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    auto p = admin
                 .Request("GET", base_ + "/api/v1/audit?limit=2" +
                                     (cursor.empty() ? "" : "&cursor=" + cursor))
                 .Json();
    for (const auto& row : p.at("data").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(row.at("id").as_string())).second);
    }
    if (p.at("next_cursor").is_null()) break;
    cursor = std::string(p.at("next_cursor").as_string());
  }
  EXPECT_EQ(seen.size(), actions.size());
}

TEST_F(IdentityTest, AuditRowsCannotBeChangedOrDeleted) {
  Browser admin;
  ASSERT_EQ(Login(admin, "admin").status, 302U);
  EXPECT_THROW(Run(db_->Execute({"t", "UPDATE audit_log SET reason = 'x'"}, {})),
               storage::DatabaseError);
  EXPECT_THROW(Run(db_->Execute({"t", "DELETE FROM audit_log"}, {})), storage::DatabaseError);
}

TEST_F(IdentityTest, ReplayedStateIsRefused) {
  Browser b;
  ASSERT_EQ(Login(b, "alice").status, 302U);
  auto again = b.Request("GET", last_callback_);
  EXPECT_EQ(again.status, 401U);
  auto rows = Run(audit_->Query({"login", "", "", "failure", "", "", "", 10}));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].event.reason, "unknown_or_replayed_state");
}

TEST_F(IdentityTest, CallbackFromAnotherBrowserIsRefused) {
  Browser victim;
  auto r = victim.Request("GET", base_ + "/auth/login");
  ASSERT_EQ(r.status, 302U);
  Browser attacker;  // has no binding cookie for this state
  const auto state = r.location.substr(r.location.find("state=") + 6, 43);
  r = attacker.Request("GET", base_ + "/auth/callback?state=" + state + "&code=abc");
  EXPECT_EQ(r.status, 401U);
  auto rows = Run(audit_->Query({"login", "", "", "failure", "", "", "", 10}));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].event.reason, "browser_binding_mismatch");
}

TEST_F(IdentityTest, WrongNonceIsRefused) {
  Browser b;
  auto r = b.Request("GET", base_ + "/auth/login");
  ASSERT_EQ(r.status, 302U);
  const auto state = r.location.substr(r.location.find("state=") + 6, 43);
  // Swap the nonce we expect for another one: the ID token then carries the wrong nonce.
  auto stored = Run(kv_->Take("oidc-state:" + state)).value();
  auto doc = json::parse(stored).as_object();
  doc["nonce"] = "not-the-nonce-sent";
  Run(kv_->Set("oidc-state:" + state, json::serialize(doc), 10min));
  std::string current = base_ + "/auth/login";
  for (int hops = 0; hops < 12 && r.status >= 300 && r.status < 400; ++hops) {
    std::string next = Resolve(current, r.location);
    if (next.find("/interaction/") != std::string::npos) next += "?as=alice";
    current = next;
    r = b.Request("GET", next);
  }
  EXPECT_EQ(r.status, 401U);
  auto rows = Run(audit_->Query({"login", "", "", "failure", "", "", "", 10}));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].event.reason, "nonce_mismatch");
}

TEST_F(IdentityTest, HostileCallbacksAreOneLoginFailedAndAudited) {
  const std::vector<std::string> hostile = {
      "",
      "?state=&code=",
      "?state=" + std::string(129, 'a') + "&code=x",
      "?state=abc&code=" + std::string(4097, 'c'),
      "?state=%00%ff%zz&code=%",
      "?code=x&code=y&state=a&state=b",
      "?state=unknown-state-value&code=abc",
  };
  for (const auto& query : hostile) {
    // Raw, not through Browser: some of these are not valid URLs at all.
    testing::Client c(port_);
    c.Send("GET /auth/callback" + query + " HTTP/1.1\r\nHost: " + origin_ +
           "\r\nConnection: close\r\n\r\n");
    auto r = c.MustRead();
    EXPECT_EQ(r.result_int(), 401) << query.substr(0, 60);
    EXPECT_EQ(json::parse(r.body()).at("error").at("code").as_string(), "login_failed")
        << query.substr(0, 60);
  }
  auto rows = Run(audit_->Query({"login", "", "", "failure", "", "", "", 50}));
  EXPECT_EQ(rows.size(), hostile.size()) << "every failed callback is audited";
  for (const auto& row : rows) {
    EXPECT_TRUE(row.event.reason == "malformed_callback" ||
                row.event.reason == "unknown_or_replayed_state")
        << row.event.reason;
  }
}

TEST_F(IdentityTest, IssuerErrorBurnsTheState) {
  Browser b;
  auto r = b.Request("GET", base_ + "/auth/login");
  ASSERT_EQ(r.status, 302U);
  const auto state = r.location.substr(r.location.find("state=") + 6, 43);
  r = b.Request("GET", base_ + "/auth/callback?error=access_denied&state=" + state);
  EXPECT_EQ(r.status, 401U);
  EXPECT_FALSE(Run(kv_->Get("oidc-state:" + state))) << "the state cannot be used afterwards";
  auto rows = Run(audit_->Query({"login", "", "", "failure", "", "", "", 10}));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].event.reason, "issuer_error_access_denied");
}

TEST_F(IdentityTest, ReturnUrlCannotRedirectOffSite) {
  for (const char* evil :
       {"//evil.test/x", "https://evil.test", "/\\evil.test", "evil.test", "/%2F%2Fevil.test"}) {
    Browser b;
    auto r = Login(b, "alice", evil);
    ASSERT_EQ(r.status, 302U) << evil;
    EXPECT_TRUE(r.location == "/" || r.location.starts_with("/%2F"))
        << evil << " -> " << r.location;
    EXPECT_FALSE(r.location.starts_with("//")) << evil;
  }
  Browser b;
  EXPECT_EQ(Login(b, "alice", "/settings?tab=keys").location, "/settings?tab=keys");
}

TEST_F(IdentityTest, LoginRotatesTheSessionIdNoFixation) {
  Browser b;
  ASSERT_EQ(Login(b, "alice").status, 302U);
  const auto first = b.Cookie(origin_, gate_->Options().session_cookie).value();
  // An attacker plants a session id (their own, valid one) in the victim's browser.
  Browser victim;
  victim.SetCookie(origin_, gate_->Options().session_cookie, first);
  ASSERT_EQ(Login(victim, "admin").status, 302U);
  const auto second = victim.Cookie(origin_, gate_->Options().session_cookie).value();
  EXPECT_NE(first, second);
  // The planted id was destroyed, and the attacker's browser is not logged in as the victim.
  EXPECT_EQ(b.Request("GET", base_ + "/api/v1/me").status, 401U);
  EXPECT_EQ(victim.Request("GET", base_ + "/api/v1/me").Json().at("email").as_string(),
            "admin@example.com");
}

TEST_F(IdentityTest, LogoutDestroysTheSession) {
  Browser b;
  ASSERT_EQ(Login(b, "alice").status, 302U);
  const auto id = b.Cookie(origin_, gate_->Options().session_cookie).value();
  EXPECT_EQ(b.Request("POST", base_ + "/auth/logout", "").status, 403U) << "CSRF applies";
  EXPECT_EQ(b.Request("POST", base_ + "/auth/logout", "", CsrfHeader(Csrf(b))).status, 200U);
  EXPECT_FALSE(b.Cookie(origin_, gate_->Options().session_cookie));
  b.SetCookie(origin_, gate_->Options().session_cookie, id);
  EXPECT_EQ(b.Request("GET", base_ + "/api/v1/me").status, 401U);
  auto rows = Run(audit_->Query({"logout", "", "", "", "", "", "", 10}));
  EXPECT_EQ(rows.size(), 1U);
}

TEST_F(IdentityTest, SessionsExpireAbsolutelyAndWhenIdle) {
  Browser b;
  ASSERT_EQ(Login(b, "alice").status, 302U);
  for (int i = 0; i < 9; ++i) {  // active every 50 minutes: idle never reached
    clock_.Advance(50min);
    EXPECT_EQ(b.Request("GET", base_ + "/api/v1/me").status, 200U)
        << "after " << (i + 1) * 50 << " min";
  }
  // 450 min passed; at 500 min (> 8 h) the session is over however active it was.
  clock_.Advance(50min);
  EXPECT_EQ(b.Request("GET", base_ + "/api/v1/me").status, 401U);

  // Back to real time: the provider signs ID tokens with real timestamps.
  clock_.Reset();
  Browser idle;
  ASSERT_EQ(Login(idle, "alice").status, 302U);
  clock_.Advance(59min);
  EXPECT_EQ(idle.Request("GET", base_ + "/api/v1/me").status, 200U);
  clock_.Advance(61min);
  EXPECT_EQ(idle.Request("GET", base_ + "/api/v1/me").status, 401U);
}

TEST_F(IdentityTest, DeactivatedUsersSessionAndKeysStopWorking) {
  Browser admin, alice;
  ASSERT_EQ(Login(admin, "admin").status, 302U);
  ASSERT_EQ(Login(alice, "alice").status, 302U);
  const auto alice_id =
      std::string(alice.Request("GET", base_ + "/api/v1/me").Json().at("id").as_string());
  auto r =
      alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"k"})", CsrfHeader(Csrf(alice)));
  const std::string key(r.Json().at("key").as_string());
  Browser cli;
  ASSERT_EQ(cli.Request("GET", base_ + "/v1/models", "", Bearer(key)).status, 200U);
  r = admin.Request("PATCH", base_ + "/api/v1/users/" + alice_id, R"({"active":false})",
                    CsrfHeader(Csrf(admin)));
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_EQ(alice.Request("GET", base_ + "/api/v1/me").status, 401U);
  EXPECT_EQ(cli.Request("GET", base_ + "/v1/models", "", Bearer(key)).status, 401U);
  Browser again;
  EXPECT_EQ(Login(again, "alice").status, 401U) << "a deactivated user cannot log in";
  auto rows = Run(audit_->Query({"user.deactivate", "", alice_id, "", "", "", "", 10}));
  EXPECT_EQ(rows.size(), 1U);
}

TEST_F(IdentityTest, AdminActionsNeedMfa) {
  Browser admin, alice;
  ASSERT_EQ(Login(admin, "admin").status, 302U);  // amr has otp
  ASSERT_EQ(Login(alice, "alice").status, 302U);  // amr pwd only
  const auto alice_id =
      std::string(alice.Request("GET", base_ + "/api/v1/me").Json().at("id").as_string());
  ASSERT_EQ(admin
                .Request("PATCH", base_ + "/api/v1/users/" + alice_id, R"({"role":"admin"})",
                         CsrfHeader(Csrf(admin)))
                .status,
            200U);
  auto r = alice.Request("GET", base_ + "/api/v1/users");
  EXPECT_EQ(r.status, 403U);
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "mfa_required");
  EXPECT_EQ(admin.Request("GET", base_ + "/api/v1/users").status, 200U);
  // API keys carry no MFA proof: an admin key cannot reach admin routes when MFA is required.
  const auto key = CreateKey("keyadmin@example.com", auth::Role::kAdmin);
  Browser cli;
  EXPECT_EQ(cli.Request("GET", base_ + "/api/v1/audit", "", Bearer(key)).status, 403U);
}

TEST_F(IdentityTest, RevokedKeyIsRefusedAndRotationKeepsTheOldKeyForTheGrace) {
  Browser alice;
  ASSERT_EQ(Login(alice, "admin").status, 302U);
  const auto csrf = Csrf(alice);
  auto r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"a","role":"developer"})",
                         CsrfHeader(csrf));
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string old_key(r.Json().at("key").as_string());
  const std::string old_id(r.Json().at("id").as_string());
  Browser cli;
  ASSERT_EQ(cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(old_key)).status,
            200U);

  r = alice.Request("POST", base_ + "/api/v1/keys/" + old_id + "/rotate", "", CsrfHeader(csrf));
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string new_key(r.Json().at("key").as_string());
  const std::string new_id(r.Json().at("id").as_string());
  EXPECT_EQ(cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(new_key)).status,
            200U);
  EXPECT_EQ(cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(old_key)).status,
            200U)
      << "within the grace period";
  EXPECT_EQ(
      alice.Request("POST", base_ + "/api/v1/keys/" + old_id + "/rotate", "", CsrfHeader(csrf))
          .status,
      409U)
      << "a key is rotated once";
  // Past the 1 h grace; the admin's session stays active meanwhile (idle timeout 1 h).
  clock_.Advance(31min);
  ASSERT_EQ(alice.Request("GET", base_ + "/api/v1/me").status, 200U);
  clock_.Advance(30min);
  EXPECT_EQ(cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(old_key)).status,
            401U);
  EXPECT_EQ(cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(new_key)).status,
            200U);

  r = alice.Request("DELETE", base_ + "/api/v1/keys/" + new_id, "", CsrfHeader(csrf));
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_EQ(cli.Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(new_key)).status,
            401U);
  EXPECT_EQ(alice.Request("DELETE", base_ + "/api/v1/keys/" + new_id, "", CsrfHeader(csrf)).status,
            409U);
  auto actions = Actions(alice.Request("GET", base_ + "/api/v1/audit?target=" + old_id).Json());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "key.rotate"), actions.end());
}

TEST_F(IdentityTest, UsersCannotTouchOtherUsersKeys) {
  Browser admin, alice;
  ASSERT_EQ(Login(admin, "admin").status, 302U);
  ASSERT_EQ(Login(alice, "alice").status, 302U);
  auto r =
      admin.Request("POST", base_ + "/api/v1/keys", R"({"name":"adm"})", CsrfHeader(Csrf(admin)));
  const std::string admin_key_id(r.Json().at("id").as_string());
  const auto csrf = Csrf(alice);
  EXPECT_EQ(
      alice.Request("DELETE", base_ + "/api/v1/keys/" + admin_key_id, "", CsrfHeader(csrf)).status,
      404U);
  EXPECT_EQ(alice.Request("GET", base_ + "/api/v1/keys?all=true").status, 403U);
  EXPECT_EQ(alice
                .Request("POST", base_ + "/api/v1/keys", R"({"name":"x","role":"admin"})",
                         CsrfHeader(csrf))
                .status,
            403U)
      << "no key above one's own role";
  for (const char* bad :
       {R"({"name":""})", R"({"name":"x","models":"echo"})", R"({"name":"x","expires_in_hours":0})",
        R"({"name":"x","surprise":1})", R"({"name":"x","cache_responses":"yes"})", "[1]", "{"}) {
    EXPECT_EQ(alice.Request("POST", base_ + "/api/v1/keys", bad, CsrfHeader(csrf)).status, 400U)
        << bad;
  }
  // The response-cache opt-in is kept with the key and shown when keys are listed.
  auto made = alice.Request("POST", base_ + "/api/v1/keys",
                            R"({"name":"cached","cache_responses":true})", CsrfHeader(csrf));
  ASSERT_EQ(made.status, 201U) << made.body;
  EXPECT_TRUE(made.Json().at("cache_responses").as_bool());
  const auto made_id = std::string(made.Json().at("id").as_string());
  const auto listed = alice.Request("GET", base_ + "/api/v1/keys").Json();
  bool seen = false;
  for (const auto& k : listed.at("data").as_array()) {
    if (k.at("id").as_string() == made_id) {
      seen = true;
      EXPECT_TRUE(k.at("cache_responses").as_bool());
    } else {
      EXPECT_FALSE(k.at("cache_responses").as_bool()) << "off unless asked for";
    }
  }
  EXPECT_TRUE(seen);
}

// Two replicas share the database: a key revoked on one is refused by the other once its cache
// entry expires (auth.key_cache_ttl, 5 s here) — no sleeping, the clock moves.
TEST_F(IdentityTest, RevocationReachesAnotherReplicaWithinTheCacheTtl) {
  const auto key = CreateKey("dev@example.com", auth::Role::kDeveloper);
  auth::Authenticator replica_b(*keys_, auth::KeyHasher(kSecret), 5s, clock_);
  ASSERT_TRUE(Run(replica_b.Authenticate("Bearer " + key)));
  Browser cli;
  auto id = Run(keys_->ListKeys("")).at(0).id;
  ASSERT_TRUE(Run(keys_->RevokeKey(id, clock_.Now())));
  authenticator_->ForgetKey(id);
  EXPECT_EQ(cli.Request("GET", base_ + "/v1/models", "", Bearer(key)).status, 401U) << "replica A";
  EXPECT_TRUE(Run(replica_b.Authenticate("Bearer " + key))) << "replica B still trusts its cache";
  clock_.Advance(5001ms);
  EXPECT_FALSE(Run(replica_b.Authenticate("Bearer " + key))) << "bounded by the cache TTL";
}

// Behind one trusted proxy, with at most 3 logins per client address and minute.
class LoginLimitTest : public IdentityFixture {
 protected:
  std::int64_t LoginPerMinute() const override { return 3; }
  int TrustedProxyHops() const override { return 1; }
  HttpResult Start(Browser& b, const std::string& forwarded_for) {
    return b.Request("GET", base_ + "/auth/login", "",
                     "X-Forwarded-For: " + forwarded_for + "\r\n");
  }
};

TEST_F(LoginLimitTest, LoginsPerClientAddressAreLimited) {
  Browser b;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Start(b, "203.0.113.7").status, 302U) << i;
  auto refused = Start(b, "203.0.113.7");
  ASSERT_EQ(refused.status, 429U) << refused.body;
  EXPECT_EQ(refused.Json().at("error").at("code").as_string(), "too_many_logins");
  EXPECT_EQ(Start(b, "203.0.113.8").status, 302U) << "another address has its own budget";
  // What the client writes left of the proxy's entry changes nothing.
  EXPECT_EQ(Start(b, "198.51.100.1, 203.0.113.7").status, 429U);
  EXPECT_EQ(Start(b, "garbage").status, 302U) << "an unreadable entry counts as the proxy";
  clock_.Advance(61s);
  EXPECT_EQ(Start(b, "203.0.113.7").status, 302U) << "the minute has passed";
}

TEST_F(LoginLimitTest, IpV6ClientsAreCountedPerSlash64) {
  Browser b;
  for (const char* a : {"2001:db8::1", "2001:db8::2", "2001:db8::ffff:3"}) {
    EXPECT_EQ(Start(b, a).status, 302U) << a;
  }
  EXPECT_EQ(Start(b, "2001:db8::4").status, 429U) << "the same /64";
  EXPECT_EQ(Start(b, "2001:db8:0:1::1").status, 302U) << "the next /64";
}

TEST_F(LoginLimitTest, TheRefusalSaysWhenToRetry) {
  Browser b;
  for (int i = 0; i < 3; ++i) Start(b, "203.0.113.9");
  testing::Client c(port_);
  c.Send("GET /auth/login HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
  auto res = c.MustRead();
  ASSERT_EQ(res.result_int(), 429U);
  const int retry = std::stoi(std::string(res[http::Field::retry_after]));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 61);
  EXPECT_EQ(res[http::Field::cache_control], "no-store");
}

TEST_F(LoginLimitTest, TheAuditLogNamesTheClientBehindTheProxy) {
  Browser b;
  auto r = b.Request("GET", base_ + "/auth/callback?state=forged&code=x", "",
                     "X-Forwarded-For: 198.51.100.1, 203.0.113.20\r\n");
  EXPECT_EQ(r.status, 401U);
  identity::AuditFilter failed_logins;
  failed_logins.action = "login";
  failed_logins.outcome = "failure";
  auto rows = Run(audit_->Query(failed_logins));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front().event.ip, "203.0.113.20");
}

}  // namespace
}  // namespace bro::api
