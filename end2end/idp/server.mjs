// A real OpenID Provider for the sign-in journeys: panva's certified
// oidc-provider on 127.0.0.1, with one static confidential client (PKCE
// required) and test users whose `groups` claim drives team membership.
import Provider from 'oidc-provider';

const port = Number(process.env.IDP_PORT ?? 3190);
const issuer = `http://127.0.0.1:${port}`;
const portalPorts = (process.env.IDP_PORTAL_PORTS ?? '3101,3102,3103,3104').split(',');
const providerIds = ['test-idp', 'test-idp-short', 'test-idp-wrong-issuer'];

// login → profile. Any other login signs in with no groups.
const people = {
  dana: { name: 'Dana Sso', groups: ['eng-payments'] },
  root: { name: 'Root Admin', groups: ['platform-admins'] },
};

const provider = new Provider(issuer, {
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
provider.listen(port, '127.0.0.1', () => console.log(`test IdP at ${issuer}`));
