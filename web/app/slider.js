// The swipe to approve (seed: "Godkend"): an arrow dragged to the right end of its track. As an ARIA slider
// it also works with the keyboard: arrow keys move it, End (or Enter) moves it to the end.

import { h } from './ui.js';

/**
 * The slider labelled `label`, with `hint` below it; `onDone(reset)` runs when it reaches the end, and
 * `reset()` puts the arrow back at the start (the approval was refused).
 */
export function swipe(label, hint, onDone) {
  const knob = h('div', {
    class: 'knob', role: 'slider', tabindex: '0', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100',
    'aria-valuenow': '0', 'aria-valuetext': hint,
  }, h('span', { 'aria-hidden': 'true' }, '➜'));
  const track = h('div', { class: 'swipe' }, h('span', { class: 'swipe-label', 'aria-hidden': 'true' }, label), knob);
  let value = 0;
  let done = false;
  const max = () => track.clientWidth - knob.offsetWidth - 8;
  const set = (v) => {
    value = Math.max(0, Math.min(100, v));
    knob.style.transform = `translateX(${(max() * value) / 100}px)`;
    knob.setAttribute('aria-valuenow', String(Math.round(value)));
  };
  // A refused approval puts the arrow back at the start at once, so that it is there when the refusal is
  // read (a glide would still be crossing the label); only an arrow let go short of the end glides back.
  const reset = () => {
    done = false;
    track.classList.remove('done');
    knob.classList.remove('snap');
    set(0);
  };
  const finish = () => {
    if (done) return;
    done = true;
    set(100);
    track.classList.add('done');
    onDone(reset);
  };
  let start = null;
  knob.addEventListener('pointerdown', (e) => {
    if (done) return;
    // Where the arrow is seen now (it may be gliding back), not where it is heading.
    const seen = ((knob.getBoundingClientRect().left - track.getBoundingClientRect().left - 4) / max()) * 100;
    knob.classList.remove('snap');
    set(seen);
    start = { x: e.clientX, value };
    knob.setPointerCapture(e.pointerId);
  });
  knob.addEventListener('pointermove', (e) => {
    if (start) set(start.value + ((e.clientX - start.x) / max()) * 100);
  });
  const release = () => {
    if (!start) return;
    start = null;
    if (value >= 90) finish();
    else {
      knob.classList.add('snap');
      set(0);
    }
  };
  knob.addEventListener('pointerup', release);
  knob.addEventListener('pointercancel', release);
  knob.addEventListener('keydown', (e) => {
    if (done) return;
    if (e.key === 'ArrowRight' || e.key === 'ArrowUp') set(value + 25);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowDown' || e.key === 'Home') set(e.key === 'Home' ? 0 : value - 25);
    else if (e.key === 'End' || e.key === 'Enter') set(100);
    else return;
    e.preventDefault();
    if (value >= 100) finish();
  });
  return h('div', { class: 'swipe-wrap' }, track, h('p', { class: 'hint' }, hint));
}
