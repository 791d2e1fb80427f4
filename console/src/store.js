// What the signed-in person's screens share: /me and the unread count of the inbox.
import { reactive } from 'vue'
import { get } from './api.js'

export const account = reactive({ me: null, unread: 0, loading: false })

export async function refreshMe() {
  account.loading = true
  try { account.me = await get('/me') } finally { account.loading = false }
  return account.me
}

export async function refreshUnread() {
  const inbox = await get('/messages?unread=true&limit=1') // the count is of them all
  account.unread = inbox.unread_count
  return inbox
}

// The business systems' names by code (GET /systems), asked once per page load.
let catalogue = null
export function systemNames() {
  catalogue = catalogue || get('/systems', { auth: false })
    .then((answer) => Object.fromEntries(answer.items.map((s) => [s.code, s.name])))
    .catch((error) => { catalogue = null; throw error })
  return catalogue
}

export function clearAccount() {
  account.me = null
  account.unread = 0
}

// The approved associations where the person is the administrator.
export function adminAssociations(me = account.me) {
  return (me?.associations || []).filter((a) => a.role === 'admin' && a.status === 'approved')
}

export const ROLE_LABEL = { admin: '企业管理员', user: '企业用户' }
export const STATUS_LABEL = { pending: '待审核', approved: '已审核通过', rejected: '已拒绝', removed: '已解除' }
export const CARD_TYPE_LABEL = { legal_person: '法人卡', operator: '操作员卡' }

// The person's approved administrator association with the enterprise, or undefined.
export function adminOf(enterpriseId, me = account.me) {
  return adminAssociations(me).find((a) => a.enterprise_id === enterpriseId)
}
