// A business system's side of single sign-on with openid-client 6 (a relying party nobody here wrote),
// driven line by line from tests/e2e/test_sso_openid_client.py over stdin/stdout, on loopback only.
//   node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
// prints {"authorization_url"}; then for each callback URL read from stdin, tries the code exchange
// (openid-client checks iss per RFC 9207, state, PKCE, nonce and the ID token, its signature included)
// and prints {"error", "code"} or, on the first that passes, {"claims", "userinfo", "refreshed"} and exits.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const config = await client.discovery(
  new URL(issuer), clientId, { id_token_signed_response_alg: 'ES256' },
  client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] });
client.enableNonRepudiationChecks(config); // the ID token's ES256 signature, by the provider's JWK set

const pkceCodeVerifier = client.randomPKCECodeVerifier();
const expectedState = client.randomState();
const expectedNonce = client.randomNonce();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: 'openid profile', state: expectedState, nonce: expectedNonce,
  code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier), code_challenge_method: 'S256',
});
say({ authorization_url: url.href, metadata: config.serverMetadata() });

async function finish(callback) {
  const tokens = await client.authorizationCodeGrant(config, new URL(callback),
    { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  return { claims, userinfo, expires_in: tokens.expires_in, refresh_token: tokens.refresh_token,
           refreshed: { claims: refreshed.claims() ?? null, refresh_token: refreshed.refresh_token,
                        access_token_differs: refreshed.access_token !== tokens.access_token } };
}

for await (const line of createInterface({ input: process.stdin })) {
  try {
    say(await finish(line.trim()));
    process.exit(0);
  } catch (err) {
    say({ error: err.message, code: err.code ?? null, oauth_error: err.error ?? err.cause?.error ?? null });
  }
}
