// A small history router: the gateway answers every console path with index.html.
import { ref } from 'vue'

export const currentPath = ref(typeof location === 'undefined' ? '/' : location.pathname)

export function navigate(path, { replace = false } = {}) {
  if (path === currentPath.value) return
  history[replace ? 'replaceState' : 'pushState']({}, '', path)
  currentPath.value = path
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => { currentPath.value = location.pathname })
}
