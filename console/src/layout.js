// Phone-sized screens (390 px wide) put labels above the inputs.
import { ref, onMounted, onBeforeUnmount, computed } from 'vue'

export function useNarrow(query = '(max-width: 600px)') {
  const narrow = ref(typeof matchMedia !== 'undefined' && matchMedia(query).matches)
  let media = null
  const update = () => { narrow.value = media.matches }
  onMounted(() => { media = matchMedia(query); media.addEventListener('change', update); update() })
  onBeforeUnmount(() => media?.removeEventListener('change', update))
  return { narrow, labelPosition: computed(() => (narrow.value ? 'top' : 'right')) }
}
