// The piano roll: notes (colour by velocity) and pedals over time, with the playback cursor, labelled as a
// piano-roll editor labels it: octaves (C1..C8) in a gutter on the left, a time axis below, the pedal lane
// named. What it drew is also written on the canvas (aria-label, data-keys, data-ticks) for screen readers
// and the page tests.
const LOW = 21, HIGH = 108;
const GUTTER = 30; // CSS px for the key labels
const PEDAL_LANE = 14; // CSS px
const AXIS = 18; // CSS px for the time labels
export const HEIGHT = 380; // CSS px

const NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
export function pitchName(p) { return `${NAMES[p % 12]}${Math.floor(p / 12) - 1}`; }

function clock(t) {
  const s = Math.max(0, Math.round(t));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// Tick times for an axis of `duration` seconds about `width` CSS px wide: a step of 1, 2, 5, 10, 15, 30 s, 1,
// 2, 5, 10, 15, 30 min... leaving at least 60 px between labels.
export function ticks(duration, width) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const most = Math.max(1, Math.floor(width / 60));
  const step = steps.find((s) => duration / s <= most) || 3600 * Math.ceil(duration / most / 3600);
  const out = [];
  for (let t = 0; t <= duration + 1e-9; t += step) out.push(t);
  return out;
}

// Geometry shared by drawing and clicking: the notes' area starts after the gutter.
function area(canvas) {
  const width = canvas.clientWidth;
  return { left: GUTTER, width: Math.max(1, width - GUTTER) };
}

// notes and pedals: flat [onset/start, offset/end, pitch/controller, velocity/value] per item.
export function drawRoll(canvas, { notes, pedals, duration, cursor = null }) {
  const dpr = devicePixelRatio;
  const { left, width } = area(canvas);
  const w = (canvas.width = canvas.clientWidth * dpr);
  const h = (canvas.height = HEIGHT * dpr);
  const g = canvas.getContext('2d');
  g.fillStyle = '#11141b';
  g.fillRect(0, 0, w, h);
  const dur = Math.max(duration, 1);
  const x = (t) => (left + (t / dur) * width) * dpr;
  const keysH = (HEIGHT - PEDAL_LANE - AXIS) * dpr;
  const rowH = keysH / (HIGH - LOW + 1);
  for (let p = LOW; p <= HIGH; p++) {
    if ([1, 3, 6, 8, 10].includes(p % 12)) { g.fillStyle = '#171b24'; g.fillRect(left * dpr, (HIGH - p) * rowH, w, rowH); }
  }
  // Octave lines and labels at each C.
  g.font = `${11 * dpr}px system-ui, sans-serif`;
  g.textBaseline = 'middle';
  const keys = [];
  for (let p = 24; p <= HIGH; p += 12) {
    const y = (HIGH - p) * rowH;
    g.fillStyle = '#2a3040';
    g.fillRect(left * dpr, y + rowH - dpr, w, dpr);
    g.fillStyle = p === 60 ? '#ffffff' : '#aab2c5';
    g.fillText(pitchName(p).replace('♯', '#'), 3 * dpr, Math.max(y + rowH / 2, 7 * dpr)); // C8's row is the top one
    keys.push(pitchName(p));
  }
  for (let i = 0; i + 3 < notes.length; i += 4) {
    const v = notes[i + 3] / 127;
    g.fillStyle = `hsl(${220 - 180 * v}, 80%, ${45 + 20 * v}%)`;
    g.fillRect(x(notes[i]), (HIGH - notes[i + 2]) * rowH, Math.max(2, x(notes[i + 1]) - x(notes[i])), Math.max(2, rowH));
  }
  // The pedal lane: sustain above, soft below.
  const lane = keysH;
  g.fillStyle = '#aab2c5';
  g.font = `${9 * dpr}px system-ui, sans-serif`;
  g.fillText('pedal', 2 * dpr, lane + (PEDAL_LANE / 2) * dpr);
  for (let i = 0; i + 3 < pedals.length; i += 4) {
    const sustain = pedals[i + 2] === 64;
    g.fillStyle = sustain ? '#e0a435cc' : '#8fd3ffaa';
    g.fillRect(x(pedals[i]), lane + (sustain ? 1 : 8) * dpr, x(pedals[i + 1]) - x(pedals[i]), 5 * dpr);
  }
  // The time axis.
  const marks = ticks(dur, width);
  g.font = `${11 * dpr}px system-ui, sans-serif`;
  g.textBaseline = 'top';
  const axisY = lane + PEDAL_LANE * dpr;
  for (const t of marks) {
    g.fillStyle = '#3a4152';
    g.fillRect(x(t), axisY, dpr, 4 * dpr);
    g.fillStyle = '#aab2c5';
    g.textAlign = t === 0 ? 'left' : x(t) > w - 20 * dpr ? 'right' : 'center';
    g.fillText(clock(t), x(t), axisY + 5 * dpr);
  }
  g.textAlign = 'left';
  if (cursor !== null) {
    g.fillStyle = '#fff';
    g.fillRect(x(cursor), 0, 2 * dpr, lane);
  }
  const count = Math.floor(notes.length / 4);
  canvas.setAttribute('aria-label', `Piano roll: ${count} note${count === 1 ? '' : 's'} over ${clock(duration)}, `
    + `pitch from ${pitchName(LOW)} (bottom) to ${pitchName(HIGH)} (top); click to play from a point`);
  canvas.dataset.keys = keys.join(' ');
  canvas.dataset.ticks = marks.map(clock).join(' ');
}

// The time (seconds) at a point on the roll (a click or the pointer), clamped to the recording.
export function timeAt(canvas, event, duration) {
  const r = canvas.getBoundingClientRect();
  const { left, width } = area(canvas);
  return Math.max(0, Math.min(1, (event.clientX - r.left - left) / width)) * duration;
}

// The key at a point on the roll, or null over the pedal lane or the axis.
export function pitchAt(canvas, event) {
  const r = canvas.getBoundingClientRect();
  const y = ((event.clientY - r.top) / r.height) * HEIGHT;
  const keys = HEIGHT - PEDAL_LANE - AXIS;
  if (y < 0 || y >= keys) return null;
  return HIGH - Math.floor((y / keys) * (HIGH - LOW + 1));
}
