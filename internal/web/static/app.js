// The few behaviours htmx does not cover. No inline scripts: the pages'
// Content-Security-Policy allows scripts from this origin only.
document.addEventListener('change', (e) => {
  const box = e.target;
  if (box.id === 'select-all') {
    box.closest('table').querySelectorAll('input[name=names], input[name=grant]').forEach((c) => { c.checked = box.checked; });
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

// The console: Ctrl-Enter runs, Cancel aborts the run (the server cancels
// the query), Download CSV posts the same form without htmx, and long
// results show 100 rows a page.
document.addEventListener('keydown', (e) => {
  if (e.target.id === 'console-sql' && e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    htmx.trigger('#console-form', 'submit');
  }
});
document.addEventListener('click', (e) => {
  if (e.target.id === 'console-cancel') {
    htmx.trigger('#console-form', 'htmx:abort');
  }
  if (e.target.id === 'console-csv') {
    const plain = document.createElement('form');
    plain.method = 'post';
    plain.action = '/console/csv';
    for (const [k, v] of new FormData(document.getElementById('console-form'))) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = k;
      input.value = v;
      plain.appendChild(input);
    }
    document.body.appendChild(plain);
    plain.submit();
    plain.remove();
  }
});
document.addEventListener('htmx:afterSwap', () => {
  document.querySelectorAll('table.paged:not([data-paged])').forEach((table) => {
    table.dataset.paged = '1';
    const rows = [...table.tBodies[0].rows];
    if (rows.length <= 100) return;
    let page = 0;
    const pages = Math.ceil(rows.length / 100);
    const pager = document.createElement('p');
    pager.className = 'pager';
    const show = () => {
      rows.forEach((r, i) => { r.hidden = Math.floor(i / 100) !== page; });
      pager.querySelector('span').textContent = `rows ${page * 100 + 1}-${Math.min((page + 1) * 100, rows.length)} of ${rows.length}`;
    };
    pager.innerHTML = '<button type="button" class="secondary">← previous</button> <span></span> <button type="button" class="secondary">next →</button>';
    const [prev, next] = pager.querySelectorAll('button');
    prev.onclick = () => { if (page > 0) { page--; show(); } };
    next.onclick = () => { if (page < pages - 1) { page++; show(); } };
    table.after(pager);
    show();
  });
});
