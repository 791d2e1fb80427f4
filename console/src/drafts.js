// What one screen hands the next (注册账户's name and ID number to 持卡认领), in memory only: it is
// personal data, so never a URL, sessionStorage or localStorage.
import { reactive } from 'vue'

export const claimDraft = reactive({ name: '', id_number: '' })
