// A real OpenID Provider for the sign-in journeys: panva's certified
// oidc-provider on 127.0.0.1, with one static confidential client (PKCE
// required) and test users whose `groups` claim drives team membership.
// POST /__rotate replaces its signing key, as a provider rotating its keys
// does: the ID tokens after it are signed with a key the portal has not
// fetched yet.
import Provider from 'oidc-provider';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';

const port = Number(process.env.IDP_PORT ?? 3190);
const issuer = `http://127.0.0.1:${port}`;
const portalPorts = (process.env.IDP_PORTAL_PORTS ?? '3101,3102,3103,3104').split(',');
const providerIds = ['test-idp', 'test-idp-short', 'test-idp-wrong-issuer'];

// login → profile. Any other login signs in with no groups.
const people = {
  dana: { name: 'Dana Sso', groups: ['eng-payments'] },
  root: { name: 'Root Admin', groups: ['platform-admins'] },
};

/** A fresh RS256 signing key with its own kid. */
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function makeProvider(key) {
  const provider = new Provider(issuer, {
    jwks: { keys: [key] },
    clients: [
      {
        client_id: 'eod',
        client_secret: 'eod-test-secret',
        redirect_uris: portalPorts.flatMap((p) => providerIds.map((id) => `http://127.0.0.1:${p}/auth/${id}/callback`)),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Put the scope's claims in the ID token, where the portal reads them.
    conformIdTokenClaims: false,
    cookies: { keys: ['eod-test-idp-cookie-key'] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      async claims() {
        const who = people[sub] ?? { name: sub, groups: [] };
        return { sub, name: who.name, preferred_username: sub, email: `${sub}@idp.test`, email_verified: true, groups: who.groups };
      },
    }),
  });
  provider.proxy = false;
  return provider.callback();
}

let handle = makeProvider(signingKey());
createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__rotate') {
    handle = makeProvider(signingKey());
    res.writeHead(204).end();
    return;
  }
  handle(req, res);
}).listen(port, '127.0.0.1', () => console.log(`test IdP at ${issuer}`));
