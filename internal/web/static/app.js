// The few behaviours htmx does not cover. No inline scripts: the pages'
// Content-Security-Policy allows scripts from this origin only.
document.addEventListener('change', (e) => {
  const box = e.target;
  if (box.id === 'select-all') {
    box.closest('table').querySelectorAll('input[name=names]').forEach((c) => { c.checked = box.checked; });
  }
  if (box.name === 'type' && box.closest('#wizard')) {
    const external = box.value === 'external';
    document.querySelectorAll('#wizard .managed-only').forEach((el) => { el.hidden = external; });
    document.querySelectorAll('#wizard .external-only').forEach((el) => { el.hidden = !external; });
  }
});
