// A business system's page on oidc-client-ts (its UserManager with default settings): a public client
// (`eport clients add --public`), so the page holds no secret; the test clicks its buttons and reads what it shows.
/* global oidc, RP_CONFIG */
const here = location.origin
const mgr = new oidc.UserManager({
  authority: RP_CONFIG.issuer,
  client_id: RP_CONFIG.client_id,
  redirect_uri: `${here}/callback.html`,
  post_logout_redirect_uri: `${here}/logged-out.html`,
  scope: 'openid profile',
  // automaticSilentRenew is on by default; on ?renew=soon it renews 3 s after each token (else 60 s before expiry)
  ...(new URLSearchParams(location.search).get('renew') === 'soon'
    ? { accessTokenExpiringNotificationTimeInSeconds: RP_CONFIG.renew_notice } : {}),
})
const rp = { mgr, loaded: [], errors: [] }
mgr.events.addUserLoaded((user) => rp.loaded.push(user.access_token))
mgr.events.addSilentRenewError((error) => rp.errors.push(String(error)))
window.rp = rp

function show(id, value) {
  document.getElementById(id).textContent = typeof value === 'string' ? value : JSON.stringify(value)
}

function button(id, action) {
  const element = document.getElementById(id)
  if (element) element.addEventListener('click', () => action().catch((error) => show('error', String(error))))
}

button('login', () => mgr.signinRedirect())
button('login-again', () => mgr.signinRedirect({ prompt: 'login' }))
// ?enterprise=<id>: the business system names the enterprise (no chooser)
button('login-for', () => mgr.signinRedirect({
  scope: `openid profile eport:enterprise:${new URLSearchParams(location.search).get('enterprise')}` }))
button('logout', () => mgr.signoutRedirect({ state: 'bye' }))

if (location.pathname === '/logged-out.html') {
  mgr.signoutRedirectCallback()
    .then(async (response) => show('profile', { state: response.userState, user: await mgr.getUser() }))
    .catch((error) => show('error', String(error)))
}
if (location.pathname === '/callback.html') {
  mgr.signinRedirectCallback()
    .then((user) => { show('profile', user.profile); show('scope', user.scope || '') })
    .catch((error) => show('error', String(error)))
}
