// Single sign-on's console pages (/sso/login, /sso/choose): the service sends the browser here with
// `return_to`, the authorization request to go back to. Only that request is followed: a page never
// sends the person anywhere else (a return_to of another path or another site is refused).
const AUTHORIZE = '/oauth2/authorize?'

export function returnTo(search = typeof location === 'undefined' ? '' : location.search) {
  const value = new URLSearchParams(search).get('return_to')
  return value && value.startsWith(AUTHORIZE) ? value : null
}

export function goBack(target) {
  if (target && target.startsWith(AUTHORIZE)) location.assign(target)
}
