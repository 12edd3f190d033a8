// A real OpenID Provider (npm oidc-provider, certified) on loopback for the identity tests:
// discovery, JWKS, authorization code + PKCE (required), fixed users. The login and consent
// screens are replaced by a tiny interaction endpoint: GET /interaction/:uid?as=USER logs USER in
// (with that user's amr) and grants consent, so tests drive the flow with a plain HTTP client.
//
// Usage: node oidc_provider.js --redirect-uri URI [--port N] [--client-id ID] [--client-secret S]
// Prints one JSON line {"issuer": "...", "port": N} when ready; stops on SIGTERM.
import crypto from "node:crypto";
import http from "node:http";
import Provider from "oidc-provider";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);

export const USERS = {
  admin: { email: "admin@example.com", email_verified: true, name: "Ada Admin", amr: ["pwd", "otp"] },
  alice: { email: "alice@example.com", email_verified: true, name: "Alice Dev", amr: ["pwd"] },
  eve: { email: "eve@example.com", email_verified: false, name: "Eve Unverified", amr: ["pwd"] },
  other: { email: "bob@other.test", email_verified: true, name: "Bob Elsewhere", amr: ["pwd"] },
};

const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "test-rsa-1", use: "sig", alg: "RS256" };

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port ?? 0), "127.0.0.1", resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args["client-id"] ?? "bro-ai-test",
      client_secret: args["client-secret"] ?? "bro-ai-test-secret-0123456789abcdef",
      redirect_uris: [args["redirect-uri"]],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  // An ID token carries only the claims of its scopes (and of a `claims` request parameter):
  // amr is put in the openid scope so that every ID token says how the user authenticated,
  // as the admin MFA check needs. acr, auth_time, sid and iss are the provider's defaults.
  claims: {
    acr: null,
    auth_time: null,
    sid: null,
    iss: null,
    openid: ["sub", "amr"],
    email: ["email", "email_verified"],
    profile: ["name"],
  },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, email_verified: user.email_verified, name: user.name };
      },
    };
  },
});
provider.on("server_error", (ctx, err) => console.error("oidc-provider server_error", err));

const callback = provider.callback();
server.on("request", async (req, res) => {
  const url = new URL(req.url, issuer);
  if (!url.pathname.startsWith("/interaction/")) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const who = url.searchParams.get("as");
    if (details.prompt.name === "login") {
      if (!USERS[who]) {
        res.writeHead(400).end("unknown test user");
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: who, amr: USERS[who].amr } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
});

// Exit at once: server.close() would wait for requests in flight (up to Node's 300 s
// requestTimeout) and hold up the test that stops the provider.
process.on("SIGTERM", () => process.exit(0));
process.stdout.write(JSON.stringify({ issuer, port }) + "\n");
