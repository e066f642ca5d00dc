//! The wasm-bindgen surface for the browser: PCM (one Float32Array per channel) in, MIDI bytes out, with
//! progress (and notes found so far) and cancellation through a JS callback. Errors come back as JS
//! exceptions with the library's message.

use js_sys::{Array, Float32Array, Float64Array, Function};
use wasm_bindgen::prelude::*;

use crate::audio::PcmBuffer;
use crate::notes::Note;
use crate::{midi, Flow, TranscribeOptions, Transcriber, Transcription, FAST_SEGMENT_HOP_SECONDS};

pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Threads in the pool (1 when `initThreadPool` was not called, e.g. without cross-origin isolation). Call it
/// after `initThreadPool`: the first use of the pool fixes its size.
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    rayon::current_num_threads()
}

/// Notes as a flat Float64Array: [onset, offset, pitch, velocity] per note.
fn notes_array(notes: &[Note]) -> Float64Array {
    let flat: Vec<f64> = notes.iter().flat_map(|n| [n.onset, n.offset, n.pitch as f64, n.velocity as f64]).collect();
    Float64Array::from(flat.as_slice())
}

/// A loaded model; create once per worker and reuse.
#[wasm_bindgen]
pub struct Engine {
    inner: Transcriber,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a model bundle from its bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8]) -> Result<Engine, JsError> {
        Ok(Engine { inner: Transcriber::from_bytes(model).map_err(|e| JsError::new(&e.to_string()))? })
    }

    /// Transcribes PCM. `channels`: an Array of Float32Array (same length each); `fast` selects the faster
    /// mode (less overlap between segments); `progress(fraction, secondsDone, notesSoFar)` is called after each
    /// segment, and returning `false` cancels.
    pub fn transcribe(
        &self,
        channels: Array,
        sample_rate: u32,
        pedal_extend: bool,
        include_pedals: bool,
        fast: bool,
        progress: Option<Function>,
    ) -> Result<Transcript, JsError> {
        let data: Vec<Vec<f32>> = channels
            .iter()
            .map(|c| c.dyn_into::<Float32Array>().map(|a| a.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|_| JsError::new("channels must be an Array of Float32Array"))?;
        let mut source = PcmBuffer::new(sample_rate, data).map_err(|e| JsError::new(&e.to_string()))?;
        let segment_hop_seconds = fast.then_some(FAST_SEGMENT_HOP_SECONDS);
        let options = TranscribeOptions { pedal_extend, include_pedals, segment_hop_seconds };
        let mut on_progress = |p: &crate::Progress| {
            let Some(f) = &progress else { return Flow::Continue };
            let r = f.call3(
                &JsValue::NULL,
                &JsValue::from(p.fraction.unwrap_or(0.0)),
                &JsValue::from(p.seconds_done),
                &notes_array(&p.notes_so_far()),
            );
            match r {
                Ok(v) if v == JsValue::FALSE => Flow::Cancel,
                _ => Flow::Continue,
            }
        };
        let t =
            self.inner.transcribe(&mut source, options, &mut on_progress).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Transcript { midi: midi::write(&t), t })
    }
}

/// The result of a transcription.
#[wasm_bindgen]
pub struct Transcript {
    t: Transcription,
    midi: Vec<u8>,
}

#[wasm_bindgen]
impl Transcript {
    /// The standard MIDI file.
    pub fn midi(&self) -> Vec<u8> {
        self.midi.clone()
    }

    /// [onset, offset, pitch, velocity] per note.
    pub fn notes(&self) -> Float64Array {
        notes_array(&self.t.notes)
    }

    /// [start, end, controller (64 or 67), value] per pedal press.
    pub fn pedals(&self) -> Float64Array {
        let flat: Vec<f64> =
            self.t.pedals.iter().flat_map(|p| [p.start, p.end, p.kind.controller() as f64, p.value as f64]).collect();
        Float64Array::from(flat.as_slice())
    }
}
