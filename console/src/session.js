// The browser session: the access token lives in sessionStorage (this tab only, gone when it
// closes), never in a URL or localStorage.
import { reactive } from 'vue'

const KEY = 'eport.session'

// `notice`: what 登录 tells the person on arrival, in the style `noticeType` says (a success, or a warning)
export const session = reactive({ token: null, userId: null, expiresAt: 0, notice: '', noticeType: 'warning' })

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null')
    if (saved && saved.token) Object.assign(session, saved)
  } catch { sessionStorage.removeItem(KEY) }
}
load()

export function signIn({ access_token, user_id, expires_in }, now = Date.now()) {
  Object.assign(session, { token: access_token, userId: user_id, expiresAt: now + expires_in * 1000, notice: '' })
  sessionStorage.setItem(KEY, JSON.stringify({ token: access_token, userId: user_id, expiresAt: session.expiresAt }))
}

export function signOut(notice = '') {
  Object.assign(session, { token: null, userId: null, expiresAt: 0, notice, noticeType: 'warning' })
  sessionStorage.removeItem(KEY)
}

export function isSignedIn(now = Date.now()) {
  if (session.token && session.expiresAt && now >= session.expiresAt) signOut('登录已过期，请重新登录')
  return Boolean(session.token)
}

// A success 登录 announces (注册成功, 密码已重置).
export function announce(text) {
  Object.assign(session, { notice: text, noticeType: 'success' })
}
