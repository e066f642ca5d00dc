// Which build of the engine this browser runs. Two builds ship: one with WebAssembly relaxed SIMD (fused
// multiply-add in the matrix kernels, ~10 % faster here) and one with plain SIMD for browsers without it.
// ?simd=baseline picks the plain one anyway (for comparisons and its test).

// A module whose one function uses f32x4.relaxed_madd: it validates only where relaxed SIMD is supported.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
  0xfd, 0x0c, ...new Array(16).fill(0),
  0xfd, 0x0c, ...new Array(16).fill(0),
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

export function relaxedSimdSupported() {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch (_) {
    return false;
  }
}

// The package folder (next to this file) and its name for the UI: 'relaxed' or 'baseline'.
export function engineBuild(search = '') {
  const forced = new URLSearchParams(search).get('simd') === 'baseline';
  return !forced && relaxedSimdSupported() ? { simd: 'relaxed', dir: './pkg-relaxed/' } : { simd: 'baseline', dir: './pkg/' };
}
