// A real OpenID provider for Strongroom's identity tests (oidc-provider v9).
//
// Started by tests/identity/oidcop.py as `node provider.mjs CONFIG.json`. The config file
// names the port, the issuer, the signing keys (a private JWK Set), one static confidential
// client and the accounts with their groups. The provider prints "listening" on stdout once
// it accepts connections. Sign-in uses the development interactions (a login form and a
// consent form), which the tests drive headlessly with plain HTTP.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

const provider = new Provider(config.issuer, {
  clients: [
    {
      client_id: config.client.client_id,
      client_secret: config.client.client_secret,
      redirect_uris: config.client.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: config.jwks,
  // Every client must use PKCE (S256 is the only method oidc-provider accepts).
  pkce: { required: () => true },
  // Put the profile claims in the ID token even though an access token is issued too.
  conformIdTokenClaims: false,
  scopes: ['openid', 'email', 'groups'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) {
      return undefined;
    }
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, groups: account.groups };
      },
    };
  },
  ttl: { IdToken: config.id_token_ttl ?? 3600 },
});
// The loopback issuer is http://, which is fine for a test provider.
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write('listening\n');
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
