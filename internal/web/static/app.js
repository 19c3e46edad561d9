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

// "Apply N roles": the page posts the whole batch once and replaces each
// row with its outcome as the server streams it (one JSON object {sid,
// html} per line, the row rendered by the server).
function streamApplies(form) {
  if (form.dataset.started) return;
  form.dataset.started = '1';
  const status = document.getElementById('apply-batch-status');
  const headers = JSON.parse(document.body.getAttribute('hx-headers') || '{}');
  const swap = (line) => {
    if (!line.trim()) return;
    const item = JSON.parse(line);
    const row = document.getElementById('plan-' + item.sid);
    if (!row) return;
    const holder = document.createElement('tbody');
    holder.innerHTML = item.html;
    const fresh = holder.firstElementChild;
    row.replaceWith(fresh);
    htmx.process(fresh);
  };
  fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), headers })
    .then(async (resp) => {
      if (!resp.ok) throw new Error('the server answered ' + resp.status);
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          swap(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
      swap(buf);
      if (status) status.textContent = 'Finished.';
      form.closest('.card').dataset.done = '1';
    })
    .catch((err) => {
      if (status) status.textContent = 'Stopped following the batch (' + err.message + '); the applies go on: see Sessions.';
    });
}

htmx.onLoad((el) => {
  if (el.matches && el.matches('form[data-apply-stream]')) streamApplies(el);
  if (el.querySelectorAll) el.querySelectorAll('form[data-apply-stream]').forEach(streamApplies);
});
