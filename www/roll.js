// The piano roll: notes (colour by velocity) and pedals over time, with the playback cursor.
const LOW = 21, HIGH = 108;

// notes and pedals: flat [onset/start, offset/end, pitch/controller, velocity/value] per item.
export function drawRoll(canvas, { notes, pedals, duration, cursor = null }) {
  const dpr = devicePixelRatio;
  const w = (canvas.width = canvas.clientWidth * dpr);
  const h = (canvas.height = 360 * dpr);
  const g = canvas.getContext('2d');
  g.fillStyle = '#11141b';
  g.fillRect(0, 0, w, h);
  const dur = Math.max(duration, 1);
  const x = (t) => (t / dur) * w;
  const rowH = (h - 14 * dpr) / (HIGH - LOW + 1);
  for (let p = LOW; p <= HIGH; p++) {
    if ([1, 3, 6, 8, 10].includes(p % 12)) { g.fillStyle = '#171b24'; g.fillRect(0, (HIGH - p) * rowH, w, rowH); }
  }
  for (let i = 0; i + 3 < notes.length; i += 4) {
    const v = notes[i + 3] / 127;
    g.fillStyle = `hsl(${220 - 180 * v}, 80%, ${45 + 20 * v}%)`;
    g.fillRect(x(notes[i]), (HIGH - notes[i + 2]) * rowH, Math.max(2, x(notes[i + 1]) - x(notes[i])), Math.max(2, rowH));
  }
  for (let i = 0; i + 3 < pedals.length; i += 4) {
    const sustain = pedals[i + 2] === 64;
    g.fillStyle = sustain ? '#e0a43588' : '#8fd3ff66';
    g.fillRect(x(pedals[i]), h - (sustain ? 12 : 6) * dpr, x(pedals[i + 1]) - x(pedals[i]), 5 * dpr);
  }
  if (cursor !== null) {
    g.fillStyle = '#fff';
    g.fillRect(x(cursor), 0, 2 * dpr, h);
  }
}

// The time (seconds) at a click on the roll.
export function timeAt(canvas, event, duration) {
  const r = canvas.getBoundingClientRect();
  return Math.max(0, Math.min(1, (event.clientX - r.left) / r.width)) * duration;
}
