// Fused CPU recurrences for the whole GRU family: forward over all steps in one call, and a
// hand-written backward through time.
//
// The caller (grukit/kernels/cpu/fused.py) computes the input projection gi of every step
// in one GEMM and brings each variant to one of four kinds:
//
//   kGated  (gru, gru1-3; gate biases folded into gi, so gi is always [r, z, n]):
//     reset_after:  gh = h W^T;  r = s(gi_r + gh_r), z = s(gi_z + gh_z)
//                   n = tanh(gi_n + r (.) (gh_n + b_hn))
//     reset before: r, z as above;  n = tanh(gi_n + (r (.) h) W_n^T)
//     h' = n + z (.) (h - n)          (without read_state the gates see gi only: gru3)
//   kMgu:    f = s(gi_f + h W_f^T);  n = tanh(gi_n + (f (.) h) W_n^T);  h' = h + f (.) (n - h)
//   kLigru:  z = s(gi_z + h W_z^T);  n = relu(gi_n + h W_n^T);  h' = n + z (.) (h - n)
//   kMingru: z = s(gi_z);  h' = h + z (.) (gi_n - h)
//
// Shapes: gi (T, B, G*H), h0 (B, H), W (N, H) rows in gate order, b_hn (H), lengths (B).
// Per step: one GEMM (two for the reset-before forms) into a preallocated buffer, then one
// pointwise loop per batch row. Steps t >= lengths[b] keep the state and output 0.
// Training saves the states (T+1, B, H) and the gate values (T, B, S*H); the weight
// gradients are summed over all steps in one GEMM at the end.
//
// Regularisers (both optional):
//   recurrent dropout: the recurrent GEMMs (and the r*h, f*h they read) see m (.) h, with
//     m (B, H) one mask per sequence; the update reads h itself.
//   zoneout: after the step, h_t = h~_t + k (.) (h_{t-1} - h~_t), k from (T, B, H) or one
//     constant p; backward splits the state's gradient d into (1-k) d through the step
//     and k d straight to h_{t-1}.
// Layer norm of the recurrent projections (gated kinds and mgu): g (.) LN(. W^T) per gate
// block of H, right after each recurrent GEMM (before b_hn); training saves LN's
// normalised values and 1/sigma per block (T, B, N + N/H) for backward, which also
// returns the gain's gradient.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <tuple>
#include <type_traits>
#include <vector>

#include "bf16.h"
#include "buffers.h"
#include "math.h"
#include "team.h"

namespace grukit {

enum Kind : int64_t { kGated = 0, kMgu = 1, kLigru = 2, kMingru = 3 };

// Gate values saved per step for backward, in units of H:
//   gated after [r, z, n, gh_n + b_hn]; gated before [r, z, n, r*h]; mgu [f, n, f*h];
//   ligru [z, n]; mingru [z].
int64_t saved_width(int64_t kind) {
  switch (kind) {
    case kGated: return 4;
    case kMgu: return 3;
    case kLigru: return 2;
    default: return 1;
  }
}

struct Problem {
  int64_t T, B, H, G, N, S;  // steps, batch, hidden, gi width / H, W rows, saved width / H
  int64_t active;            // steps until every sequence has ended
  std::vector<int64_t> len;  // per-row lengths
  int64_t kind;
  bool reset_after, read_state;
  bool ln = false;  // layer norm of the recurrent projection

  bool valid(int64_t t, int64_t b) const { return t < len[b]; }
  int64_t ln_width() const { return N + N / H; }  // saved per row: LN values, 1/sigma
};

// Columns of gi per unit: [r, z, n] for the gated kinds, two blocks for the others.
int64_t gi_gates(int64_t kind) { return kind == kGated ? 3 : 2; }

// Rows of weight_hh: 3H (gated, gates reading h), H (gru3: the candidate's only), 2H (mgu,
// ligru), none (mingru).
int64_t recurrent_rows(int64_t kind, bool read_state, int64_t H) {
  if (kind == kGated) return read_state ? 3 * H : H;
  return kind == kMingru ? 0 : 2 * H;
}

Problem make_problem(const at::Tensor& gi, const at::Tensor& w, const c10::optional<at::Tensor>& lengths,
                     int64_t kind, bool reset_after, bool read_state, int64_t H) {
  Problem p;
  p.T = gi.size(0);
  p.B = gi.size(1);
  p.H = H;
  p.G = gi.size(2) / H;
  p.N = w.defined() ? w.size(0) : 0;
  p.S = saved_width(kind);
  p.kind = kind;
  p.reset_after = reset_after;
  p.read_state = read_state;
  // The op is public (torch.ops.grukit.recurrence): check what would otherwise index
  // out of bounds.
  const int64_t gates = gi_gates(kind);
  TORCH_CHECK(H > 0 && gi.size(2) == gates * H, "gi must be (T, B, ", gates, "*H) for H=", H,
              ", got ", gi.sizes());
  const int64_t rows = recurrent_rows(kind, read_state, H);
  TORCH_CHECK(rows == 0 ? !w.defined() : (w.defined() && w.dim() == 2 && w.size(0) == rows &&
                                          w.size(1) == H),
              "weight_hh must be (", rows, ", ", H, ") for this kind, got ",
              w.defined() ? w.sizes() : at::IntArrayRef{});
  p.len.assign(p.B, p.T);
  if (lengths.has_value() && lengths->defined()) {
    TORCH_CHECK(at::isIntegralType(lengths->scalar_type(), /*includeBool=*/false),
                "lengths must hold integers, got ", lengths->scalar_type());
    auto l = lengths->to(at::kCPU, at::kLong).contiguous();
    TORCH_CHECK(l.dim() == 1 && l.size(0) == p.B, "lengths must be (B=", p.B, "), got ", l.sizes());
    std::copy(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + p.B, p.len.begin());
    for (int64_t length : p.len)
      TORCH_CHECK(length >= 0 && length <= p.T, "lengths must be in 0..T=", p.T, ", got ", length);
  }
  p.active = p.B ? *std::max_element(p.len.begin(), p.len.end()) : 0;
  return p;
}

// Run f(b) for every batch row, in parallel when the rows hold enough work.
template <typename F>
void for_rows(int64_t B, int64_t H, const F& f) {
  if (B == 1) return f(0);  // at batch 1 (every step of a team) skip parallel_for's bookkeeping
  // Rows of about 4K elements or more per thread: below that a fork costs more than it saves.
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(H, 1));
  at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) f(b);
  });
}

// The recurrent products of one fused call, C (M, N) = A (M, K) W (K, N) + beta C with W
// a slice of the recurrent weights (row stride ldw): T's BLAS, or with ``bf16`` (float32
// only) bfloat16 products summed in float32, each slice of W packed once per call.
template <typename T>
struct Products {
  bool bf16 = false;
  Bf16Weights packed;

  void operator()(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* W,
                  int64_t ldw, T beta, T* C, int64_t ldc) {
    if constexpr (std::is_same_v<T, float>) {
      if (bf16) return bf16_gemm(M, A, lda, 1, packed.get(W, ldw, 1, K, N), beta != 0, C, ldc);
    }
    gemm<T>(false, false, M, N, K, A, lda, W, ldw, beta, C, ldc);
  }
};

// ------------------------------------------------------------------------- row kernels
//
// One batch row of one step each. They are free functions over __restrict pointers
// because GCC vectorises their loops there and not inside the row lambdas. The forward
// ones update hidden units [j0, j1) of H (all of them but in a team: see team.h).

template <typename T, bool ReadState, bool HasBias>
void gated_after_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi, const T* __restrict gh,
                     const T* __restrict b_hn, const T* __restrict h, T* __restrict hn,
                     T* __restrict out, T* __restrict sv) {
  const T* __restrict gh_n = ReadState ? gh + 2 * H : gh;
  for (int64_t j = j0; j < j1; ++j) {
    T ar = gi[j], az = gi[H + j];
    if (ReadState) {
      ar += gh[j];
      az += gh[H + j];
    }
    const T r = sigmoid(ar), z = sigmoid(az);
    const T ghn = HasBias ? gh_n[j] + b_hn[j] : gh_n[j];
    const T n = tanh_(gi[2 * H + j] + r * ghn);
    const T hv = n + z * (h[j] - n);
    hn[j] = hv;
    out[j] = hv;
    sv[j] = r;
    sv[H + j] = z;
    sv[2 * H + j] = n;
    sv[3 * H + j] = ghn;
  }
}

// Reset before the matmul, first half: the gates and r*h (the next GEMM's input).
template <typename T, bool ReadState>
void gated_before_gates_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi, const T* __restrict g,
                            const T* __restrict h, T* __restrict sv) {
  for (int64_t j = j0; j < j1; ++j) {
    T ar = gi[j], az = gi[H + j];
    if (ReadState) {
      ar += g[j];
      az += g[H + j];
    }
    const T r = sigmoid(ar);
    sv[j] = r;
    sv[H + j] = sigmoid(az);
    sv[3 * H + j] = r * h[j];
  }
}

// Second half, given gn = (r*h) W_n^T: candidate and update. Also serves the MGU with
// keep = 1 - f, which is why the update weight is passed in as a column of sv.
template <typename T>
void gated_before_update_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi_n, const T* __restrict gn,
                             const T* __restrict z, const T* __restrict h, T* __restrict hn,
                             T* __restrict out, T* __restrict n_out) {
  for (int64_t j = j0; j < j1; ++j) {
    const T n = tanh_(gi_n[j] + gn[j]);
    const T hv = n + z[j] * (h[j] - n);
    n_out[j] = n;
    hn[j] = hv;
    out[j] = hv;
  }
}

template <typename T>
void mgu_gate_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi, const T* __restrict g,
                  const T* __restrict h, T* __restrict sv) {
  for (int64_t j = j0; j < j1; ++j) {
    const T f = sigmoid(gi[j] + g[j]);
    sv[j] = f;
    sv[2 * H + j] = f * h[j];
  }
}

template <typename T>
void mgu_update_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi_n, const T* __restrict gn,
                    const T* __restrict f, const T* __restrict h, T* __restrict hn,
                    T* __restrict out, T* __restrict n_out) {
  for (int64_t j = j0; j < j1; ++j) {
    const T n = tanh_(gi_n[j] + gn[j]);
    const T hv = h[j] + f[j] * (n - h[j]);
    n_out[j] = n;
    hn[j] = hv;
    out[j] = hv;
  }
}

template <typename T>
void ligru_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi, const T* __restrict gh, const T* __restrict h,
               T* __restrict hn, T* __restrict out, T* __restrict sv) {
  for (int64_t j = j0; j < j1; ++j) {
    const T z = sigmoid(gi[j] + gh[j]);
    const T a = gi[H + j] + gh[H + j];
    const T n = std::max(a, T(0));  // relu that keeps a NaN, as torch.relu does
    const T hv = n + z * (h[j] - n);
    sv[j] = z;
    sv[H + j] = n;
    hn[j] = hv;
    out[j] = hv;
  }
}

template <typename T>
void mingru_row(int64_t H, int64_t j0, int64_t j1, const T* __restrict gi, const T* __restrict h, T* __restrict hn,
                T* __restrict out, T* __restrict sv) {
  for (int64_t j = j0; j < j1; ++j) {
    const T z = sigmoid(gi[j]);
    const T hv = h[j] + z * (gi[H + j] - h[j]);
    sv[j] = z;
    hn[j] = hv;
    out[j] = hv;
  }
}

// Backward rows. d = dh + go is the gradient of this step's new state; dnext receives the
// gradient of the previous state (before the recurrent GEMMs add their part).

template <typename T, bool ReadState>
void gated_after_back_row(int64_t H, const T* __restrict sv, const T* __restrict h,
                          const T* __restrict dh, const T* __restrict go, T* __restrict dgi,
                          T* __restrict dgh, T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sv[j], z = sv[H + j], n = sv[2 * H + j], ghn = sv[3 * H + j];
    const T d = dh[j] + go[j];
    const T dan = d * (T(1) - z) * (T(1) - n * n);
    const T dar = dan * ghn * r * (T(1) - r);
    const T daz = d * (h[j] - n) * z * (T(1) - z);
    dgi[j] = dar;
    dgi[H + j] = daz;
    dgi[2 * H + j] = dan;
    if (ReadState) {
      dgh[j] = dar;
      dgh[H + j] = daz;
      dgh[2 * H + j] = dan * r;
    } else {
      dgh[j] = dan * r;
    }
    dnext[j] = d * z;
  }
}

template <typename T>
void gated_before_back_update_row(int64_t H, const T* __restrict sv, const T* __restrict h,
                                  const T* __restrict dh, const T* __restrict go,
                                  T* __restrict dgi, T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T z = sv[H + j], n = sv[2 * H + j];
    const T d = dh[j] + go[j];
    dgi[2 * H + j] = d * (T(1) - z) * (T(1) - n * n);
    dgi[H + j] = d * (h[j] - n) * z * (T(1) - z);
    dnext[j] = d * z;
  }
}

template <typename T>
void gated_before_back_reset_row(int64_t H, const T* __restrict sv, const T* __restrict h,
                                 const T* __restrict d_rh, T* __restrict dgi,
                                 T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sv[j];
    dgi[j] = d_rh[j] * h[j] * r * (T(1) - r);
    dnext[j] += d_rh[j] * r;
  }
}

template <typename T>
void mgu_back_update_row(int64_t H, const T* __restrict sv, const T* __restrict h,
                         const T* __restrict dh, const T* __restrict go, T* __restrict dgi,
                         T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T f = sv[j], n = sv[H + j];
    const T d = dh[j] + go[j];
    dgi[H + j] = d * f * (T(1) - n * n);
    dgi[j] = d * (n - h[j]);  // df so far; completed by the gate row
    dnext[j] = d * (T(1) - f);
  }
}

template <typename T>
void mgu_back_gate_row(int64_t H, const T* __restrict sv, const T* __restrict h,
                       const T* __restrict d_fh, T* __restrict dgi, T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T f = sv[j];
    const T df = dgi[j] + d_fh[j] * h[j];
    dgi[j] = df * f * (T(1) - f);
    dnext[j] += d_fh[j] * f;
  }
}

template <typename T>
void ligru_back_row(int64_t H, const T* __restrict sv, const T* __restrict h,
                    const T* __restrict dh, const T* __restrict go, T* __restrict dgi,
                    T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T z = sv[j], n = sv[H + j];
    const T d = dh[j] + go[j];
    dgi[j] = d * (h[j] - n) * z * (T(1) - z);
    dgi[H + j] = n > T(0) ? d * (T(1) - z) : T(0);
    dnext[j] = d * z;
  }
}

template <typename T>
void mingru_back_row(int64_t H, const T* __restrict sv, const T* __restrict gi,
                     const T* __restrict h, const T* __restrict dh, const T* __restrict go,
                     T* __restrict dgi, T* __restrict dnext) {
  for (int64_t j = 0; j < H; ++j) {
    const T z = sv[j];
    const T d = dh[j] + go[j];
    dgi[j] = d * (gi[H + j] - h[j]) * z * (T(1) - z);
    dgi[H + j] = d * z;
    dnext[j] = d * (T(1) - z);
  }
}

// ------------------------------------------------------------------------------ forward

template <typename T>
struct ForwardStep {
  const Problem& p;
  const T* gi;        // (B, G*H) of this step
  const T* h;         // (B, H) state before
  const T* read;      // (B, H) what the recurrent GEMMs read: h, or m (.) h
  T* hn;              // (B, H) state after
  T* out;             // (B, H) output
  T* sv;              // (B, S*H) gate values
  T* gh;              // (B, N) scratch: recurrent projection
  const T* wt;        // (H, N): W transposed
  const T* b_hn;      // (H) or null
  int64_t t;
  const T* gain = nullptr;  // (N) layer-norm gain of the recurrent projection, or null
  T* ln = nullptr;          // (B, N + N/H) LN values and 1/sigma saved for backward, or null
  Products<T>* mm = nullptr;  // the recurrent products
  int64_t j0 = 0, j1 = 0;     // the hidden units this thread updates: [0, H) but in a team
  TeamMember* team = nullptr;  // its team (barriers between a step's products), or null
};

// The recurrent product of `blocks` gate blocks of H columns of W^T (row stride N) into C,
// only the columns of hidden units [j0, j1) of each block inside a team: one GEMM per
// block then, one for all of them otherwise.
template <typename T>
void step_product(const ForwardStep<T>& s, int64_t blocks, const T* A, int64_t lda,
                  const T* wt, T* C, int64_t ldc) {
  const int64_t H = s.p.H;
  if (s.j0 == 0 && s.j1 == H) return (*s.mm)(s.p.B, blocks * H, H, A, lda, wt, s.p.N, T(0), C, ldc);
  for (int64_t k = 0; k < blocks; ++k)
    row_times_matrix<T>(s.j1 - s.j0, H, A, 1, wt + k * H + s.j0, s.p.N, T(0), C + k * H + s.j0);
}

// Layer norm in place over each block of H columns of the rows of a (B, cols), which
// holds columns [c0, c0 + cols) of the recurrent projection (N columns in all):
// a = g (.) (a - mean) / sqrt(var + eps) with g = gain[c0 ...]; with ``saved`` (row
// stride N + N/H), the normalised values go to columns c0.. and 1/sigma of each block to
// column N + (c0 + k H) / H, for backward.
template <typename T>
void layer_norm_rows(const Problem& p, int64_t cols, int64_t c0, T* a, const T* gain, T* saved) {
  const int64_t H = p.H, N = p.N, W = p.ln_width(), blocks = cols / H;
  for_rows(p.B, cols, [&](int64_t b) {
    T* __restrict row = a + b * cols;
    for (int64_t k = 0; k < blocks; ++k) {
      T* __restrict x = row + k * H;
      const T* __restrict g = gain + c0 + k * H;
      // The reductions vectorise only when told they may be reordered.
      T mean = T(0);
#pragma omp simd reduction(+ : mean)
      for (int64_t j = 0; j < H; ++j) mean += x[j];
      mean /= T(H);
      T var = T(0);
#pragma omp simd reduction(+ : var)
      for (int64_t j = 0; j < H; ++j) var += (x[j] - mean) * (x[j] - mean);
      var /= T(H);
      const T rstd = T(1) / std::sqrt(var + T(1e-5));
      T* __restrict keep = saved ? saved + b * W + c0 + k * H : nullptr;
      for (int64_t j = 0; j < H; ++j) {
        const T xh = (x[j] - mean) * rstd;
        if (keep) keep[j] = xh;
        x[j] = xh * g[j];
      }
      if (saved) saved[b * W + N + (c0 + k * H) / H] = rstd;
    }
  });
}

// m (.) h into out (B, H): the state the recurrent matmuls read under recurrent dropout.
template <typename T>
void masked_state(int64_t B, int64_t H, const T* __restrict h, const T* __restrict m,
                  T* __restrict out) {
  for (int64_t i = 0; i < B * H; ++i) out[i] = h[i] * m[i];
}

// A padded step: the state is kept, the output is 0, and the saved gates are 0 (backward
// never reads them; zeros keep every output of the op deterministic).
template <typename T>
void keep_state(const ForwardStep<T>& s, int64_t b) {
  const int64_t H = s.p.H, S = s.p.S, j0 = s.j0, j1 = s.j1;
  std::copy(s.h + b * H + j0, s.h + b * H + j1, s.hn + b * H + j0);
  std::fill(s.out + b * H + j0, s.out + b * H + j1, T(0));
  for (int64_t k = 0; k < S; ++k) std::fill(s.sv + (b * S + k) * H + j0, s.sv + (b * S + k) * H + j1, T(0));
}

template <typename T, bool ReadState, bool HasBias>
void gated_after_step(const ForwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H, N = p.N;
  if (N) step_product(s, N / H, s.read, H, s.wt, s.gh, N);
  if (s.gain) layer_norm_rows<T>(p, N, 0, s.gh, s.gain, s.ln);
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return keep_state(s, b);
    gated_after_row<T, ReadState, HasBias>(H, s.j0, s.j1, s.gi + b * 3 * H, s.gh + b * N, s.b_hn,
                                           s.h + b * H, s.hn + b * H, s.out + b * H,
                                           s.sv + b * 4 * H);
  });
}

template <typename T, bool ReadState>
void gated_before_step(const ForwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H, S = 4 * H;
  // Scratch: [r, z] from the state (B, 2H), then (r*h) W_n^T (B, H).
  T* gate_state = s.gh;
  T* n_state = s.gh + p.B * 2 * H;
  if (ReadState) {
    step_product(s, 2, s.read, H, s.wt, gate_state, 2 * H);
    if (s.gain) layer_norm_rows<T>(p, 2 * H, 0, gate_state, s.gain, s.ln);
  }
  for_rows(p.B, H, [&](int64_t b) {
    gated_before_gates_row<T, ReadState>(H, s.j0, s.j1, s.gi + b * 3 * H, gate_state + b * 2 * H,
                                         s.read + b * H, s.sv + b * S);
  });
  if (s.team) s.team->sync();  // the next product reads r*h of every unit
  const T* wt_n = ReadState ? s.wt + 2 * H : s.wt;
  step_product(s, 1, s.sv + 3 * H, S, wt_n, n_state, H);
  if (s.gain) layer_norm_rows<T>(p, H, ReadState ? 2 * H : 0, n_state, s.gain, s.ln);
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return keep_state(s, b);
    T* sv = s.sv + b * S;
    gated_before_update_row<T>(H, s.j0, s.j1, s.gi + b * 3 * H + 2 * H, n_state + b * H, sv + H,
                               s.h + b * H, s.hn + b * H, s.out + b * H, sv + 2 * H);
  });
}

template <typename T>
void mgu_step(const ForwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H, S = 3 * H;
  T* gate_state = s.gh;         // (B, H): h W_f^T
  T* n_state = s.gh + p.B * H;  // (B, H): (f*h) W_n^T
  step_product(s, 1, s.read, H, s.wt, gate_state, H);
  if (s.gain) layer_norm_rows<T>(p, H, 0, gate_state, s.gain, s.ln);
  for_rows(p.B, H, [&](int64_t b) {
    mgu_gate_row<T>(H, s.j0, s.j1, s.gi + b * 2 * H, gate_state + b * H, s.read + b * H, s.sv + b * S);
  });
  if (s.team) s.team->sync();  // the next product reads f*h of every unit
  step_product(s, 1, s.sv + 2 * H, S, s.wt + H, n_state, H);
  if (s.gain) layer_norm_rows<T>(p, H, H, n_state, s.gain, s.ln);
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return keep_state(s, b);
    T* sv = s.sv + b * S;
    mgu_update_row<T>(H, s.j0, s.j1, s.gi + b * 2 * H + H, n_state + b * H, sv, s.h + b * H, s.hn + b * H,
                      s.out + b * H, sv + H);
  });
}

template <typename T>
void ligru_step(const ForwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H;
  step_product(s, 2, s.read, H, s.wt, s.gh, 2 * H);
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return keep_state(s, b);
    ligru_row<T>(H, s.j0, s.j1, s.gi + b * 2 * H, s.gh + b * 2 * H, s.h + b * H, s.hn + b * H,
                 s.out + b * H, s.sv + b * 2 * H);
  });
}

template <typename T>
void mingru_step(const ForwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H;
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return keep_state(s, b);
    mingru_row<T>(H, s.j0, s.j1, s.gi + b * 2 * H, s.h + b * H, s.hn + b * H, s.out + b * H, s.sv + b * H);
  });
}

template <typename T>
void forward_step(const ForwardStep<T>& s) {
  const Problem& p = s.p;
  switch (p.kind) {
    case kGated:
      if (p.reset_after) {
        const bool bias = s.b_hn != nullptr;
        if (p.read_state)
          bias ? gated_after_step<T, true, true>(s) : gated_after_step<T, true, false>(s);
        else
          bias ? gated_after_step<T, false, true>(s) : gated_after_step<T, false, false>(s);
      } else {
        p.read_state ? gated_before_step<T, true>(s) : gated_before_step<T, false>(s);
      }
      break;
    case kMgu: mgu_step(s); break;
    case kLigru: ligru_step(s); break;
    default: mingru_step(s);
  }
}

// How many threads should run a forward call together (see team.h): a team at batch 1,
// for products of 16K multiply-adds or more (below that a barrier costs more than half a
// product saves) with at least 32 units, over 32 steps or more (forking the team costs
// about 10 us: 8 steps' worth at H=128), in float32 or float64; not with layer norm,
// which needs every unit of a block at once, nor with bfloat16 products.
int team_threads(const Problem& p, bool bf16) {
  const bool worth_it = p.B == 1 && !bf16 && !p.ln && p.active >= 32 && p.H >= 32 &&
                        p.N * p.H >= (int64_t(1) << 14);
  return worth_it ? at::get_num_threads() : 1;
}

// Scratch columns per row for the recurrent projections of one step.
int64_t scratch_width(const Problem& p) {
  if (p.kind == kGated && !p.reset_after) return 3 * p.H;
  if (p.kind == kMgu) return 2 * p.H;
  return std::max<int64_t>(p.N, 1);
}

// Zoneout after a step, on the rows still inside their sequence, units [j0, j1):
// hn = hn + k (hprev - hn), and the output is the new state.
template <typename T>
void zoneout_rows(const Problem& p, int64_t t, int64_t j0, int64_t j1, const T* zone, T zone_p,
                  const T* h, T* hn, T* out) {
  const int64_t H = p.H;
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(t, b)) return;
    const T* __restrict k = zone ? zone + (t * p.B + b) * H : nullptr;
    const T* __restrict hp = h + b * H;
    T* __restrict hv = hn + b * H;
    T* __restrict o = out + b * H;
    for (int64_t j = j0; j < j1; ++j) {
      const T keep = k ? k[j] : zone_p;
      const T value = hv[j] + keep * (hp[j] - hv[j]);
      hv[j] = value;
      o[j] = value;
    }
  });
}

template <typename T>
std::vector<at::Tensor> forward_impl(const at::Tensor& gi, const at::Tensor& h0, const at::Tensor& w,
                                     const at::Tensor& b_hn, const Problem& p, bool save,
                                     const at::Tensor& mask, const at::Tensor& zone, double zone_p,
                                     const at::Tensor& gain, bool bf16) {
  const int64_t T_ = p.T, B = p.B, H = p.H;
  auto opts = gi.options();
  at::Tensor output = allocate({T_, B, H}, opts);
  at::Tensor states = save ? allocate({T_ + 1, B, H}, opts) : at::empty({2, B, H}, opts);
  at::Tensor saved = save ? allocate({T_, B, p.S * H}, opts) : at::empty({1, B, p.S * H}, opts);
  at::Tensor scratch = at::empty({B * scratch_width(p)}, opts);
  at::Tensor wt;
  if (w.defined()) {
    wt = allocate({w.size(1), w.size(0)}, opts);
    transpose<T>(w.size(0), w.size(1), w.data_ptr<T>(), wt.data_ptr<T>());
  }
  states[0].copy_(h0);

  at::Tensor ln_saved = save && p.ln ? allocate({T_, B, p.ln_width()}, opts) : at::empty({0}, opts);
  const int threads = team_threads(p, bf16);
  // Under recurrent dropout each thread reads m (.) h from its own (B, H) buffer.
  at::Tensor read = mask.defined() ? at::empty({threads, B, H}, opts) : at::Tensor();
  const T* m = mask.defined() ? mask.data_ptr<T>() : nullptr;
  const T* zone_data = zone.defined() ? zone.data_ptr<T>() : nullptr;
  const bool zoneout = zone_data != nullptr || zone_p != 0;
  Products<T> mm{bf16};
  T* st = states.data_ptr<T>();
  with_team(threads, [&](TeamMember& team) {
    ForwardStep<T> s{p, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                     scratch.data_ptr<T>(), wt.defined() ? wt.data_ptr<T>() : nullptr,
                     b_hn.defined() ? b_hn.data_ptr<T>() : nullptr, 0};
    s.mm = &mm;
    std::tie(s.j0, s.j1) = team.units(H);
    s.team = &team;
    T* own_read = m ? read.data_ptr<T>() + team.part() * B * H : nullptr;
    for (int64_t t = 0; t < p.active; ++t) {
      s.t = t;
      s.gi = gi.data_ptr<T>() + t * B * p.G * H;
      s.h = st + (save ? t : t % 2) * B * H;
      s.hn = st + (save ? t + 1 : (t + 1) % 2) * B * H;
      s.out = output.data_ptr<T>() + t * B * H;
      s.sv = saved.data_ptr<T>() + (save ? t : 0) * B * p.S * H;
      s.read = s.h;
      if (m) {
        masked_state<T>(B, H, s.h, m, own_read);
        s.read = own_read;
      }
      if (p.ln) {
        s.gain = gain.data_ptr<T>();
        s.ln = save ? ln_saved.data_ptr<T>() + t * B * p.ln_width() : nullptr;
      }
      forward_step(s);
      if (zoneout) zoneout_rows<T>(p, t, s.j0, s.j1, zone_data, T(zone_p), s.h, s.hn, s.out);
      team.sync();  // the next step reads every unit of this one's state
    }
  });
  if (p.active < T_) {
    output.narrow(0, p.active, T_ - p.active).zero_();
    if (save && p.ln) ln_saved.narrow(0, p.active, T_ - p.active).zero_();
    if (save) {
      saved.narrow(0, p.active, T_ - p.active).zero_();
      for (int64_t t = p.active; t < T_; ++t) states[t + 1].copy_(states[p.active]);
    }
  }
  at::Tensor h_n = states[save ? p.active : p.active % 2].clone();
  if (!save) return {output, h_n, at::empty({0}, opts), at::empty({0}, opts), ln_saved};
  return {output, h_n, states, saved, ln_saved};
}

// ----------------------------------------------------------------------------- backward

template <typename T>
struct BackwardStep {
  const Problem& p;
  const T* gi;     // (B, G*H) of this step
  const T* go;     // (B, H) gradient of this step's output
  const T* h;      // (B, H) state before the step
  const T* read;   // (B, H) what the recurrent GEMMs read: h, or m (.) h
  const T* sv;     // (B, S*H) saved gate values
  const T* dh;     // (B, H) gradient of the state after the step
  T* dnext;        // (B, H) gradient of the state before the step
  T* dread;        // (B, H) gradient of ``read``: dnext itself without recurrent dropout
  T* dgi;          // (B, G*H) gradient of gi
  T* dgh;          // (B, N) gradient of the recurrent projection (gated after only)
  T* scratch;      // (B, H)
  const T* w;      // (N, H)
  int64_t t;
  const T* gain = nullptr;  // (N) layer-norm gain, or null
  const T* ln = nullptr;    // (B, N + N/H) this step's saved LN values and 1/sigma
  T* dgain = nullptr;       // (N) the gain's gradient, summed over the steps
  T* db_hn = nullptr;       // (H) b_hn's gradient, summed over the steps (with layer norm)
  Products<T>* mm = nullptr;  // the recurrent products
};

// Backward of layer_norm_rows for one step, columns [c0, c0 + cols) of the projection:
// dy (B, cols, row stride ldy), the gradient of g (.) x^, is written to out (row stride
// ldo; may be dy itself) as the gradient of the projection before the norm,
//   dx = (1/sigma) (dx^ - mean(dx^) - x^ mean(dx^ x^)),  dx^ = g (.) dy,
// per block; the gain's gradient sum dy (.) x^ (and, with db_hn, b_hn's: the last H
// columns, added after the norm) is summed first, row by row in order, so the result does
// not depend on the thread count.
template <typename T>
void layer_norm_back_rows(const Problem& p, int64_t t, int64_t cols, int64_t c0, const T* dy,
                          int64_t ldy, T* out, int64_t ldo, const T* gain, const T* ln, T* dgain,
                          T* db_hn) {
  const int64_t N = p.N, H = p.H, W = p.ln_width(), blocks = cols / H;
  for (int64_t b = 0; b < p.B; ++b) {
    if (!p.valid(t, b)) continue;
    const T* __restrict d = dy + b * ldy;
    const T* __restrict xh = ln + b * W + c0;
    T* __restrict dg = dgain + c0;
    for (int64_t n = 0; n < cols; ++n) dg[n] += d[n] * xh[n];
    if (db_hn) {
      T* __restrict db = db_hn;
      for (int64_t j = 0; j < H; ++j) db[j] += d[cols - H + j];
    }
  }
  for_rows(p.B, cols, [&](int64_t b) {
    T* o = out + b * ldo;  // not __restrict: it may be dy itself
    if (!p.valid(t, b)) {
      std::fill(o, o + cols, T(0));
      return;
    }
    const T* d = dy + b * ldy;  // may alias o: each value is read before it is written
    const T* __restrict xh = ln + b * W + c0;
    const T* __restrict g = gain + c0;
    for (int64_t k = 0; k < blocks; ++k) {
      T m1 = T(0), m2 = T(0);
#pragma omp simd reduction(+ : m1, m2)
      for (int64_t j = 0; j < H; ++j) {
        const T dxh = d[k * H + j] * g[k * H + j];
        m1 += dxh;
        m2 += dxh * xh[k * H + j];
      }
      m1 /= T(H);
      m2 /= T(H);
      const T rstd = ln[b * W + N + (c0 + k * H) / H];
      for (int64_t j = 0; j < H; ++j) {
        const T dxh = d[k * H + j] * g[k * H + j];
        o[k * H + j] = rstd * (dxh - m1 - xh[k * H + j] * m2);
      }
    }
  });
}

// A padded step: no gradient to gi, the state's gradient passes through unchanged.
template <typename T>
void pass_through(const BackwardStep<T>& s, int64_t b, int64_t dgh_width) {
  const int64_t H = s.p.H, GH = s.p.G * H;
  std::fill(s.dgi + b * GH, s.dgi + (b + 1) * GH, T(0));
  if (dgh_width) std::fill(s.dgh + b * dgh_width, s.dgh + (b + 1) * dgh_width, T(0));
  std::copy(s.dh + b * H, s.dh + (b + 1) * H, s.dnext + b * H);
}

template <typename T, bool ReadState>
void gated_after_back(const BackwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H, N = p.N;
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return pass_through(s, b, N);
    gated_after_back_row<T, ReadState>(H, s.sv + b * 4 * H, s.h + b * H, s.dh + b * H,
                                       s.go + b * H, s.dgi + b * 3 * H, s.dgh + b * N,
                                       s.dnext + b * H);
  });
  if (s.gain)
    layer_norm_back_rows<T>(p, s.t, N, 0, s.dgh, N, s.dgh, N, s.gain, s.ln, s.dgain, s.db_hn);
  (*s.mm)(p.B, H, N, s.dgh, N, s.w, H, T(1), s.dread, H);
}

template <typename T, bool ReadState>
void gated_before_back(const BackwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H;
  T* drh = s.scratch;  // gradient of r*h
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return pass_through(s, b, 0);
    gated_before_back_update_row<T>(H, s.sv + b * 4 * H, s.h + b * H, s.dh + b * H,
                                    s.go + b * H, s.dgi + b * 3 * H, s.dnext + b * H);
  });
  const T* w_n = ReadState ? s.w + 2 * H * H : s.w;
  // With layer norm the GEMMs take the gradients before the norm (kept in dgh, the
  // weights' too); without, the pre-activations' gradients in dgi are those.
  const T* dn = s.dgi + 2 * H;
  int64_t ldn = 3 * H;
  if (s.gain) {
    const int64_t c0 = ReadState ? 2 * H : 0;
    layer_norm_back_rows<T>(p, s.t, H, c0, s.dgi + 2 * H, 3 * H, s.dgh + c0, p.N, s.gain, s.ln,
                            s.dgain, nullptr);
    dn = s.dgh + c0;
    ldn = p.N;
  }
  (*s.mm)(p.B, H, H, dn, ldn, w_n, H, T(0), drh, H);
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return;
    gated_before_back_reset_row<T>(H, s.sv + b * 4 * H, s.read + b * H, drh + b * H,
                                   s.dgi + b * 3 * H, s.dread + b * H);
  });
  if (ReadState) {
    const T* drz = s.dgi;
    int64_t ldrz = 3 * H;
    if (s.gain) {
      layer_norm_back_rows<T>(p, s.t, 2 * H, 0, s.dgi, 3 * H, s.dgh, p.N, s.gain, s.ln, s.dgain,
                              nullptr);
      drz = s.dgh;
      ldrz = p.N;
    }
    (*s.mm)(p.B, H, 2 * H, drz, ldrz, s.w, H, T(1), s.dread, H);
  }
}

template <typename T>
void mgu_back(const BackwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H;
  T* dfh = s.scratch;  // gradient of f*h
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return pass_through(s, b, 0);
    mgu_back_update_row<T>(H, s.sv + b * 3 * H, s.h + b * H, s.dh + b * H, s.go + b * H,
                           s.dgi + b * 2 * H, s.dnext + b * H);
  });
  const T* dn = s.dgi + H;
  int64_t ld = 2 * H;
  if (s.gain) {
    layer_norm_back_rows<T>(p, s.t, H, H, s.dgi + H, 2 * H, s.dgh + H, p.N, s.gain, s.ln,
                            s.dgain, nullptr);
    dn = s.dgh + H;
    ld = p.N;
  }
  (*s.mm)(p.B, H, H, dn, ld, s.w + H * H, H, T(0), dfh, H);
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return;
    mgu_back_gate_row<T>(H, s.sv + b * 3 * H, s.read + b * H, dfh + b * H, s.dgi + b * 2 * H,
                         s.dread + b * H);
  });
  const T* df = s.dgi;
  if (s.gain) {
    layer_norm_back_rows<T>(p, s.t, H, 0, s.dgi, 2 * H, s.dgh, p.N, s.gain, s.ln, s.dgain,
                            nullptr);
    df = s.dgh;
  }
  (*s.mm)(p.B, H, H, df, s.gain ? p.N : 2 * H, s.w, H, T(1), s.dread, H);
}

template <typename T>
void ligru_back(const BackwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H;
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return pass_through(s, b, 0);
    ligru_back_row<T>(H, s.sv + b * 2 * H, s.h + b * H, s.dh + b * H, s.go + b * H,
                      s.dgi + b * 2 * H, s.dnext + b * H);
  });
  (*s.mm)(p.B, H, 2 * H, s.dgi, 2 * H, s.w, H, T(1), s.dread, H);
}

template <typename T>
void mingru_back(const BackwardStep<T>& s) {
  const Problem& p = s.p;
  const int64_t H = p.H;
  for_rows(p.B, H, [&](int64_t b) {
    if (!p.valid(s.t, b)) return pass_through(s, b, 0);
    mingru_back_row<T>(H, s.sv + b * H, s.gi + b * 2 * H, s.h + b * H, s.dh + b * H,
                       s.go + b * H, s.dgi + b * 2 * H, s.dnext + b * H);
  });
}

template <typename T>
void backward_step(const BackwardStep<T>& s) {
  const Problem& p = s.p;
  switch (p.kind) {
    case kGated:
      if (p.reset_after)
        p.read_state ? gated_after_back<T, true>(s) : gated_after_back<T, false>(s);
      else
        p.read_state ? gated_before_back<T, true>(s) : gated_before_back<T, false>(s);
      break;
    case kMgu: mgu_back(s); break;
    case kLigru: ligru_back(s); break;
    default: mingru_back(s);
  }
}

// C (M, N) = A^T X summed over K rows, the same to the bit for any number of threads.
// A: (K, M) with row stride lda; X: (K, N) with row stride ldx; C row stride ldc.
// A multi-threaded BLAS may split the long K sum between threads, and then the rounding
// depends on the thread count. Here C is cut into eight blocks of rows (a size that
// depends on M only), each summed by one single-threaded GEMM; the threads share them.
//
// With ``bf16`` (float32 only) the product is bfloat16's, summed in float32 (bf16.h: one
// thread sums each element whole, so it too is independent of the thread count).
template <typename T>
void gemm_tn_deterministic(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* X,
                           int64_t ldx, T* C, int64_t ldc, bool bf16 = false) {
  if constexpr (std::is_same_v<T, float>) {
    if (bf16) {
      Bf16Matrix packed;
      packed.pack(X, ldx, 1, K, N);
      return bf16_gemm(M, A, 1, lda, packed, false, C, ldc);
    }
  }
  const int64_t block = std::max<int64_t>(16, (M + 127) / 128 * 16);
  const int64_t blocks = (M + block - 1) / block;
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    const int previous = MKL_Set_Num_Threads_Local(1);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t m0 = b * block, rows = std::min(block, M - m0);
      gemm<T>(true, false, rows, N, K, A + m0, lda, X, ldx, T(0), C + m0 * ldc, ldc);
    }
    MKL_Set_Num_Threads_Local(previous);
  });
}

// out[j] for columns [n0, n1) (at most kColumnBlock) = the sum of rows [k0, k1) of A:
// pairwise, halves summed recursively and at most 64 rows one after another, so the
// rounding error grows with log K, not K (torch.sum's bound; summing 512,000 rows in
// sequence was 10x less accurate than the reference).
constexpr int64_t kColumnBlock = 64;
template <typename T>
void pairwise_column_sums(int64_t n0, int64_t n1, int64_t k0, int64_t k1, const T* A,
                          int64_t lda, T* __restrict out) {
  if (k1 - k0 <= 64) {
    std::fill(out, out + (n1 - n0), T(0));
    for (int64_t k = k0; k < k1; ++k) {
      const T* __restrict row = A + k * lda + n0;
      for (int64_t j = 0; j < n1 - n0; ++j) out[j] += row[j];
    }
    return;
  }
  const int64_t middle = k0 + (k1 - k0) / 2;
  T upper[kColumnBlock];
  pairwise_column_sums(n0, n1, k0, middle, A, lda, out);
  pairwise_column_sums(n0, n1, middle, k1, A, lda, upper);
  for (int64_t j = 0; j < n1 - n0; ++j) out[j] += upper[j];
}

// out (N) = sum over K rows of A (K, N) with row stride lda, pairwise. Each column block
// is summed by one thread, so the result is the same for any number of threads.
template <typename T>
void column_sums(int64_t N, int64_t K, const T* A, int64_t lda, T* out) {
  at::parallel_for(0, (N + kColumnBlock - 1) / kColumnBlock, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t n0 = b * kColumnBlock, n1 = std::min(N, n0 + kColumnBlock);
      pairwise_column_sums(n0, n1, 0, K, A, lda, out + n0);
    }
  });
}

// grad_w (rows, H) = A^T X over all K = active*B rows: the weight gradient of every step
// in one GEMM. A: (K, rows) with row stride lda; X: (K, H) with row stride ldx.
template <typename T>
void weight_grad(const Problem& p, const T* A, int64_t lda, int64_t rows, const T* X, int64_t ldx,
                 T* grad_w, bool bf16) {
  gemm_tn_deterministic<T>(rows, p.H, p.active * p.B, A, lda, X, ldx, grad_w, p.H, bf16);
}

// Zoneout in backward, before a step's kernels, on the rows inside their sequence: the
// state's gradient d = dh + go splits into (1-k) d, which goes through the step (as dh,
// with go read as 0), and k d, which goes straight to h_{t-1} (``direct``).
template <typename T>
void zoneout_back_rows(const Problem& p, int64_t t, const T* zone, T zone_p, T* dh, const T* go,
                       T* direct) {
  const int64_t H = p.H;
  for_rows(p.B, H, [&](int64_t b) {
    T* __restrict dd = direct + b * H;
    if (!p.valid(t, b)) {
      std::fill(dd, dd + H, T(0));
      return;
    }
    const T* __restrict k = zone ? zone + (t * p.B + b) * H : nullptr;
    const T* __restrict g = go + b * H;
    T* __restrict d = dh + b * H;
    for (int64_t j = 0; j < H; ++j) {
      const T keep = k ? k[j] : zone_p;
      const T total = d[j] + g[j];
      dd[j] = keep * total;
      d[j] = total - keep * total;
    }
  });
}

template <typename T>
std::vector<at::Tensor> backward_impl(const at::Tensor& grad_output, const at::Tensor& grad_h_n,
                                      const at::Tensor& gi, const at::Tensor& w, const Problem& p,
                                      bool has_bias, const at::Tensor& states,
                                      const at::Tensor& saved, const at::Tensor& mask,
                                      const at::Tensor& zone, double zone_p,
                                      const at::Tensor& ln_saved, const at::Tensor& gain,
                                      bool bf16) {
  const int64_t T_ = p.T, B = p.B, H = p.H, GH = p.G * H;
  auto opts = gi.options();
  at::Tensor grad_gi = allocate({T_, B, GH}, opts);
  if (p.active < T_) grad_gi.narrow(0, p.active, T_ - p.active).zero_();
  // The recurrent projection's gradients, kept apart from gi's where they differ: the
  // reset-after form (always), every form with layer norm (before the norm).
  const bool separate_dgh = (p.kind == kGated && p.reset_after) || p.ln;
  at::Tensor dgh_all = separate_dgh ? allocate({p.active, B, p.N}, opts) : at::Tensor();
  at::Tensor dh = grad_h_n.clone();
  at::Tensor dnext = at::empty({B, H}, opts);
  at::Tensor scratch = at::empty({B, H}, opts);
  const T* m = mask.defined() ? mask.data_ptr<T>() : nullptr;
  const T* zone_data = zone.defined() ? zone.data_ptr<T>() : nullptr;
  const bool zoneout = zone_data != nullptr || zone_p != 0;
  // Recurrent dropout: the masked state and its gradient; zoneout: the direct gradient and
  // a zero output gradient (go is folded into dh).
  at::Tensor read = m ? at::empty({B, H}, opts) : at::Tensor();
  at::Tensor dread = m ? at::empty({B, H}, opts) : at::Tensor();
  at::Tensor direct = zoneout ? at::empty({B, H}, opts) : at::Tensor();
  at::Tensor no_go = zoneout ? at::zeros({B, H}, opts) : at::Tensor();
  at::Tensor grad_gain = p.ln ? at::zeros({p.N}, opts) : at::empty({0}, opts);
  at::Tensor ln_db_hn = p.ln && has_bias ? at::zeros({H}, opts) : at::Tensor();

  BackwardStep<T> s{p,       nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                    nullptr, nullptr, nullptr, scratch.data_ptr<T>(),
                    w.defined() ? w.data_ptr<T>() : nullptr, 0};
  Products<T> mm{bf16};
  s.mm = &mm;
  for (int64_t t = p.active - 1; t >= 0; --t) {
    s.t = t;
    s.gi = gi.data_ptr<T>() + t * B * GH;
    s.go = grad_output.data_ptr<T>() + t * B * H;
    s.h = states.data_ptr<T>() + t * B * H;
    s.sv = saved.data_ptr<T>() + t * B * p.S * H;
    s.dh = dh.data_ptr<T>();
    s.dnext = dnext.data_ptr<T>();
    s.dgi = grad_gi.data_ptr<T>() + t * B * GH;
    s.dgh = separate_dgh ? dgh_all.data_ptr<T>() + t * B * p.N : nullptr;
    s.read = s.h;
    s.dread = s.dnext;
    if (p.ln) {
      s.gain = gain.data_ptr<T>();
      s.ln = ln_saved.data_ptr<T>() + t * B * p.ln_width();
      s.dgain = grad_gain.data_ptr<T>();
      s.db_hn = has_bias ? ln_db_hn.data_ptr<T>() : nullptr;
    }
    if (m) {
      masked_state<T>(B, H, s.h, m, read.data_ptr<T>());
      s.read = read.data_ptr<T>();
      dread.zero_();
      s.dread = dread.data_ptr<T>();
    }
    if (zoneout) {
      zoneout_back_rows<T>(p, t, zone_data, T(zone_p), dh.data_ptr<T>(), s.go,
                           direct.data_ptr<T>());
      s.go = no_go.data_ptr<T>();
    }
    backward_step(s);
    if (m) {  // the gradient of m (.) h reaches h times m
      T* __restrict dn = s.dnext;
      const T* __restrict dr = s.dread;
      for (int64_t i = 0; i < B * H; ++i) dn[i] += dr[i] * m[i];
    }
    if (zoneout) {
      T* __restrict dn = s.dnext;
      const T* __restrict dd = direct.data_ptr<T>();
      for (int64_t i = 0; i < B * H; ++i) dn[i] += dd[i];
    }
    std::swap(dh, dnext);
  }

  at::Tensor grad_w = w.defined() ? at::empty_like(w) : at::empty({0}, opts);
  at::Tensor grad_b_hn = has_bias ? at::zeros({H}, opts) : at::empty({0}, opts);
  // The recurrent weights read m (.) h under recurrent dropout: their gradients too.
  at::Tensor read_states =
      m ? states.narrow(0, 0, std::max<int64_t>(p.active, 1)) * mask : at::Tensor();
  const T* X = m ? read_states.data_ptr<T>() : states.data_ptr<T>();
  const T* dG = grad_gi.data_ptr<T>();
  T* gw = w.defined() ? grad_w.data_ptr<T>() : nullptr;
  const T* sv = saved.data_ptr<T>();
  const int64_t SH = p.S * H;
  switch (p.kind) {
    case kGated:
      if (p.reset_after) {
        weight_grad<T>(p, dgh_all.data_ptr<T>(), p.N, p.N, X, H, gw, bf16);
        if (has_bias && p.ln)  // summed before the norm's backward (b_hn is added after it)
          grad_b_hn.copy_(ln_db_hn);
        else if (has_bias)
          column_sums<T>(H, p.active * B, dgh_all.data_ptr<T>() + (p.N - H), p.N,
                         grad_b_hn.data_ptr<T>());
      } else {
        // Gradients of the projections: gi's own, or with layer norm those before it.
        const T* dR = p.ln ? dgh_all.data_ptr<T>() : dG;
        const int64_t ld = p.ln ? p.N : GH;
        if (p.read_state) weight_grad<T>(p, dR, ld, 2 * H, X, H, gw, bf16);
        T* gw_n = p.read_state ? gw + 2 * H * H : gw;
        const int64_t n0 = p.ln ? (p.read_state ? 2 * H : 0) : 2 * H;
        weight_grad<T>(p, dR + n0, ld, H, sv + 3 * H, SH, gw_n, bf16);
      }
      break;
    case kMgu: {
      const T* dR = p.ln ? dgh_all.data_ptr<T>() : dG;
      const int64_t ld = p.ln ? p.N : GH;
      weight_grad<T>(p, dR, ld, H, X, H, gw, bf16);
      weight_grad<T>(p, dR + H, ld, H, sv + 2 * H, SH, gw + H * H, bf16);
      break;
    }
    case kLigru: weight_grad<T>(p, dG, GH, 2 * H, X, H, gw, bf16); break;
    default: break;
  }
  return {grad_gi, dh, grad_w, grad_b_hn, grad_gain};
}

// The ops are public (torch.ops.grukit.*): every tensor they read is checked here for
// exactly the shape, dtype and device the kernels index it by; contiguity is then each
// op's own .contiguous().
void check_operand(const char* name, const at::Tensor& t, const at::Tensor& like,
                   at::IntArrayRef sizes) {
  TORCH_CHECK(t.defined(), name, " is missing");
  TORCH_CHECK(t.device().is_cpu(), name, " must be a CPU tensor, got one on ", t.device());
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " must be ", like.scalar_type(),
              " like the input, got ", t.scalar_type());
  TORCH_CHECK(t.sizes() == sizes, name, " must be ", sizes, ", got ", t.sizes());
}

void check_optional_operand(const char* name, const at::Tensor& t, const at::Tensor& like,
                            at::IntArrayRef sizes) {
  if (t.defined()) check_operand(name, t, like, sizes);
}

// x (..., I) and weight (M, I) of the input projection (linear_forward / _backward).
void check_linear_operands(const at::Tensor& x, const at::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2, "weight must be (M, I), got ", weight.sizes());
  const int64_t I = weight.size(1);
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == I, "x must be (..., I=", I, "), got ", x.sizes());
  TORCH_CHECK(x.device().is_cpu() && at::isFloatingType(x.scalar_type()),
              "x must be a floating-point CPU tensor");
  check_operand("weight", weight, x, {weight.size(0), I});
}

// bfloat16 products: for float32 operands, on a CPU whose AVX512-BF16 products pass the
// self-check (bf16.h).
void check_bf16(bool bf16, const at::Tensor& t) {
  if (!bf16) return;
  TORCH_CHECK(t.scalar_type() == at::kFloat, "bf16 products take float32 operands, got ",
              t.scalar_type());
  TORCH_CHECK(bf16_gemm_works(),
              "bf16 products need a CPU with AVX512-BF16 (bf16_supported() is False here)");
}

// y = x W^T + b for x (..., I), W (M, I): the input projection of every step in one GEMM,
// its output from the buffer pool. With ``bf16`` (float32) the product is bfloat16's.
at::Tensor linear_forward(const at::Tensor& x_, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, bool bf16) {
  check_linear_operands(x_, weight);
  const int64_t M = weight.size(0), I = weight.size(1);
  if (bias.has_value()) check_optional_operand("bias", *bias, x_, {M});
  at::Tensor x = x_.reshape({-1, I});
  std::vector<int64_t> sizes(x_.sizes().begin(), x_.sizes().end());
  sizes.back() = M;
  check_bf16(bf16, x);
  check_bf16(bf16, weight);
  at::NoGradGuard no_grad;
  at::Tensor y = allocate({x.size(0), M}, x.options());
  const bool has_bias = bias.has_value() && bias->defined();
  if (bf16) {
    at::Tensor xc = x.contiguous(), w = weight.contiguous();
    if (has_bias) y.copy_(bias->expand({x.size(0), M}));
    Bf16Matrix packed;  // W^T (I, M): element (i, m) at W[m * I + i]
    packed.pack(w.data_ptr<float>(), 1, I, I, M);
    bf16_gemm(x.size(0), xc.data_ptr<float>(), I, 1, packed, has_bias, y.data_ptr<float>(), M);
    return y.view(sizes);
  }
  if (has_bias)
    at::addmm_out(y, *bias, x, weight.t());
  else
    at::mm_out(y, x, weight.t());
  return y.view(sizes);
}

// Backward of y = x W^T + b for x (K, I), W (M, I): grad_x = grad W (rows split between
// threads, each summed whole), grad_W = grad^T x and grad_b = column sums of grad, both
// independent of the thread count.
std::vector<at::Tensor> linear_backward(const at::Tensor& grad_, const at::Tensor& x_,
                                        const at::Tensor& weight, bool has_bias, bool bf16) {
  check_linear_operands(x_, weight);
  const int64_t M = weight.size(0), I = weight.size(1);
  std::vector<int64_t> grad_sizes(x_.sizes().begin(), x_.sizes().end());
  grad_sizes.back() = M;
  check_operand("grad", grad_, x_, grad_sizes);
  at::Tensor grad = grad_.reshape({-1, M}).contiguous();
  at::Tensor x = x_.reshape({-1, I}).contiguous();
  const int64_t K = grad.size(0);
  check_bf16(bf16, grad);
  check_bf16(bf16, x);
  check_bf16(bf16, weight);
  at::NoGradGuard no_grad;
  at::Tensor grad_x = allocate({K, I}, grad.options());
  if (bf16) {
    at::Tensor w = weight.contiguous();
    Bf16Matrix packed;  // W (M, I)
    packed.pack(w.data_ptr<float>(), I, 1, M, I);
    bf16_gemm(K, grad.data_ptr<float>(), M, 1, packed, false, grad_x.data_ptr<float>(), I);
  } else {
    at::mm_out(grad_x, grad, weight);
  }
  grad_x = grad_x.view(x_.sizes());
  at::Tensor grad_w = at::empty({M, I}, grad.options());
  at::Tensor grad_b = at::empty({has_bias ? M : 0}, grad.options());
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "grukit_linear_backward", [&] {
    gemm_tn_deterministic<scalar_t>(M, I, K, grad.data_ptr<scalar_t>(), M, x.data_ptr<scalar_t>(),
                                    I, grad_w.data_ptr<scalar_t>(), I, bf16);
    if (has_bias) column_sums<scalar_t>(M, K, grad.data_ptr<scalar_t>(), M, grad_b.data_ptr<scalar_t>());
  });
  return {grad_x, grad_w, grad_b};
}

// ------------------------------------------------------------------------------ bindings

// gi (T, B, G*H) and the (B, H) state beside it (h0, or grad_h_n in backward).
void check_inputs(const at::Tensor& gi, const at::Tensor& h0, int64_t kind) {
  TORCH_CHECK(gi.defined() && gi.dim() == 3, "gi must be (T, B, G*H), got ",
              gi.defined() ? gi.sizes() : at::IntArrayRef{});
  TORCH_CHECK(kind >= kGated && kind <= kMingru, "unknown kind ", kind);
  TORCH_CHECK(gi.device().is_cpu(), "the fused backend runs on CPU tensors, got gi on ",
              gi.device());
  TORCH_CHECK(gi.scalar_type() == at::kFloat || gi.scalar_type() == at::kDouble,
              "the fused backend runs float32 and float64, got ", gi.scalar_type());
  TORCH_CHECK(h0.defined() && h0.dim() == 2, "the state must be (B, H), got ",
              h0.defined() ? h0.sizes() : at::IntArrayRef{});
  check_operand("the state", h0, gi, {gi.size(1), h0.size(1)});
}

at::Tensor optional_contiguous(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? t->contiguous() : at::Tensor();
}

// The regularisers' tensors: a recurrent-dropout mask (B, H) only for kinds with a
// recurrent matrix, zoneout keeps (T, B, H); both of gi's dtype and on the CPU.
void check_regularisers(const Problem& p, const at::Tensor& gi, const at::Tensor& mask,
                        const at::Tensor& zone, double zone_p) {
  if (mask.defined()) {
    TORCH_CHECK(p.kind != kMingru, "recurrent_mask: mingru has no recurrent matrix");
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == p.B && mask.size(1) == p.H,
                "recurrent_mask must be (B=", p.B, ", H=", p.H, "), got ", mask.sizes());
    TORCH_CHECK(mask.scalar_type() == gi.scalar_type() && mask.device().is_cpu(),
                "recurrent_mask must be a CPU tensor of gi's dtype");
  }
  if (zone.defined()) {
    TORCH_CHECK(zone.dim() == 3 && zone.size(0) == p.T && zone.size(1) == p.B &&
                    zone.size(2) == p.H,
                "zoneout must be (T=", p.T, ", B=", p.B, ", H=", p.H, "), got ", zone.sizes());
    TORCH_CHECK(zone.scalar_type() == gi.scalar_type() && zone.device().is_cpu(),
                "zoneout must be a CPU tensor of gi's dtype");
  }
  TORCH_CHECK(zone_p >= 0 && zone_p < 1, "zoneout_p must be in [0, 1), got ", zone_p);
}

// The layer-norm gain of the recurrent projection: (N) of gi's dtype, for the reset-after
// gated kind only. Sets p.ln.
void check_gain(Problem& p, const at::Tensor& gi, const at::Tensor& gain) {
  if (!gain.defined()) return;
  TORCH_CHECK((p.kind == kGated || p.kind == kMgu) && p.N > 0,
              "norm_weight_hh: layer norm runs fused for the gated kinds and mgu only");
  TORCH_CHECK(gain.dim() == 1 && gain.size(0) == p.N && gain.scalar_type() == gi.scalar_type() &&
                  gain.device().is_cpu(),
              "norm_weight_hh must be a CPU (N=", p.N, ") tensor of gi's dtype, got ", gain.sizes());
  p.ln = true;
}

std::vector<at::Tensor> forward(const at::Tensor& gi_, const at::Tensor& h0_,
                                const c10::optional<at::Tensor>& w_,
                                const c10::optional<at::Tensor>& b_hn_,
                                const c10::optional<at::Tensor>& lengths, int64_t kind,
                                bool reset_after, bool read_state, bool save,
                                const c10::optional<at::Tensor>& mask_,
                                const c10::optional<at::Tensor>& zone_, double zone_p,
                                const c10::optional<at::Tensor>& gain_, bool bf16) {
  check_inputs(gi_, h0_, kind);
  check_bf16(bf16, gi_);
  at::Tensor gi = gi_.contiguous(), h0 = h0_.contiguous();
  at::Tensor w = optional_contiguous(w_), b_hn = optional_contiguous(b_hn_);
  at::Tensor mask = optional_contiguous(mask_), zone = optional_contiguous(zone_);
  at::Tensor gain = optional_contiguous(gain_);
  Problem p = make_problem(gi, w, lengths, kind, reset_after, read_state, h0.size(1));
  check_optional_operand("weight_hh", w, gi, {p.N, p.H});
  check_optional_operand("bias_hn", b_hn, gi, {p.H});
  check_regularisers(p, gi, mask, zone, zone_p);
  check_gain(p, gi, gain);
  at::NoGradGuard no_grad;
  return AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "grukit_forward", [&] {
    return forward_impl<scalar_t>(gi, h0, w, b_hn, p, save, mask, zone, zone_p, gain, bf16);
  });
}

std::vector<at::Tensor> backward(const at::Tensor& grad_output, const at::Tensor& grad_h_n,
                                 const at::Tensor& gi_, const c10::optional<at::Tensor>& w_,
                                 const c10::optional<at::Tensor>& lengths,
                                 const at::Tensor& states, const at::Tensor& saved, int64_t kind,
                                 bool reset_after, bool read_state, bool has_bias,
                                 const c10::optional<at::Tensor>& mask_,
                                 const c10::optional<at::Tensor>& zone_, double zone_p,
                                 const c10::optional<at::Tensor>& ln_saved_,
                                 const c10::optional<at::Tensor>& gain_, bool bf16) {
  at::Tensor gi = gi_.contiguous(), w = optional_contiguous(w_);
  at::Tensor mask = optional_contiguous(mask_), zone = optional_contiguous(zone_);
  at::Tensor gain = optional_contiguous(gain_), ln_saved = optional_contiguous(ln_saved_);
  check_inputs(gi, grad_h_n, kind);
  check_bf16(bf16, gi);
  Problem p = make_problem(gi, w, lengths, kind, reset_after, read_state, grad_h_n.size(1));
  check_optional_operand("weight_hh", w, gi, {p.N, p.H});
  check_operand("grad_output", grad_output, gi, {p.T, p.B, p.H});
  check_operand("states", states, gi, {p.T + 1, p.B, p.H});
  check_operand("saved", saved, gi, {p.T, p.B, p.S * p.H});
  check_regularisers(p, gi, mask, zone, zone_p);
  check_gain(p, gi, gain);
  if (p.ln) check_operand("ln_saved", ln_saved, gi, {p.T, p.B, p.ln_width()});
  at::NoGradGuard no_grad;
  return AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "grukit_backward", [&] {
    return backward_impl<scalar_t>(grad_output.contiguous(), grad_h_n.contiguous(), gi, w, p,
                                   has_bias, states.contiguous(), saved.contiguous(), mask, zone,
                                   zone_p, ln_saved, gain, bf16);
  });
}

// One step for streaming (inference, no lengths): x (B, I) -> h' (B, H), all in one call.
// gi = x W_ih^T + b_i when wih_t (I, G*H) is given, else x is gi itself (B, G*H);
// whh_t (H, N) is the recurrent weight already transposed, b_hn as in forward.
at::Tensor stream_step(const at::Tensor& x_, const at::Tensor& h_,
                       const c10::optional<at::Tensor>& wih_t_, const c10::optional<at::Tensor>& b_i_,
                       const c10::optional<at::Tensor>& whh_t_, const c10::optional<at::Tensor>& b_hn_,
                       int64_t kind, bool reset_after, bool read_state, int64_t gi_width) {
  at::Tensor x = x_.contiguous(), h = h_.contiguous();
  at::Tensor wih_t = optional_contiguous(wih_t_), b_i = optional_contiguous(b_i_);
  at::Tensor whh_t = optional_contiguous(whh_t_), b_hn = optional_contiguous(b_hn_);
  // x (B, I) with wih_t (I, gi_width), or gi itself (B, gi_width); h (B, H); whh_t (H, N).
  TORCH_CHECK(x.dim() == 2 && h.dim() == 2, "x and h must be (B, I) and (B, H), got ", x.sizes(),
              " and ", h.sizes());
  TORCH_CHECK(x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble),
              "x must be a float32 or float64 CPU tensor");
  TORCH_CHECK(kind >= kGated && kind <= kMingru, "unknown kind ", kind);
  const int64_t B = x.size(0), H = h.size(1);
  const int64_t gates = gi_gates(kind);
  TORCH_CHECK(H > 0 && gi_width == gates * H, "gi_width must be ", gates, "*H=", gates * H,
              ", got ", gi_width);
  check_operand("h", h, x, {B, H});
  if (wih_t.defined())
    check_operand("wih_t", wih_t, x, {x.size(1), gi_width});
  else
    TORCH_CHECK(x.size(1) == gi_width, "x must be gi (B, ", gi_width, ") without wih_t, got ",
                x.sizes());
  check_optional_operand("b_i", b_i, x, {gi_width});
  const int64_t rows = recurrent_rows(kind, read_state, H);
  TORCH_CHECK(rows == 0 || whh_t.defined(), "whh_t is missing");
  check_optional_operand("whh_t", whh_t, x, {H, rows});
  check_optional_operand("b_hn", b_hn, x, {H});
  at::NoGradGuard no_grad;
  return AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grukit_stream_step", [&] {
    using T = scalar_t;
    Problem p;
    p.T = 1;
    p.B = B;
    p.H = H;
    p.G = gi_width / H;
    p.N = whh_t.defined() ? whh_t.size(1) : 0;
    p.S = saved_width(kind);
    p.kind = kind;
    p.reset_after = reset_after;
    p.read_state = read_state;
    p.len.assign(B, 1);
    p.active = 1;
    // One workspace for gi, the output, the gate values and the GEMM scratch.
    const int64_t gi_size = wih_t.defined() ? B * gi_width : 0;
    at::Tensor work =
        at::empty({gi_size + B * H + B * p.S * H + B * scratch_width(p)}, x.options());
    T* gi = wih_t.defined() ? work.data_ptr<T>() : x.data_ptr<T>();
    T* out = work.data_ptr<T>() + gi_size;
    T* sv = out + B * H;
    T* scratch = sv + B * p.S * H;
    if (wih_t.defined()) {
      T beta = T(0);
      if (b_i.defined()) {
        for (int64_t b = 0; b < B; ++b)
          std::copy(b_i.data_ptr<T>(), b_i.data_ptr<T>() + gi_width, gi + b * gi_width);
        beta = T(1);
      }
      gemm<T>(false, false, B, gi_width, x.size(1), x.data_ptr<T>(), x.size(1),
              wih_t.data_ptr<T>(), gi_width, beta, gi, gi_width);
    }
    at::Tensor h_next = at::empty({B, H}, x.options());
    ForwardStep<T> s{p, gi, h.data_ptr<T>(), h.data_ptr<T>(), h_next.data_ptr<T>(), out, sv,
                     scratch,
                     whh_t.defined() ? whh_t.data_ptr<T>() : nullptr,
                     b_hn.defined() ? b_hn.data_ptr<T>() : nullptr, 0};
    Products<T> mm;
    s.mm = &mm;
    s.j1 = H;
    forward_step(s);
    return h_next;
  });
}

}  // namespace grukit

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "grukit fused CPU recurrences (forward over all steps, backward through time)";
  m.def("forward", &grukit::forward, "recurrence forward");
  m.def("backward", &grukit::backward, "recurrence backward");
  m.def("linear_forward", &grukit::linear_forward, "input projection");
  m.def("linear_backward", &grukit::linear_backward, "input projection backward");
  m.def("stream_step", &grukit::stream_step, "one inference step for streaming");
  m.def("release_buffers", [] { return grukit::buffer_pool().release(); },
        "free every buffer the pool keeps for reuse; returns the bytes freed");
  m.def("cached_buffer_bytes", [] { return grukit::buffer_pool().cached(); },
        "bytes the buffer pool keeps for reuse");
  m.def("teams_formed", [] { return grukit::teams_formed().load(); },
        "how many forward calls have run on a team of threads (see team.h)");
  m.def("set_team_join_wait_us",
        [](int64_t us) { return grukit::team_join_wait_us().exchange(std::max<int64_t>(us, 0)); },
        "set how long (microseconds) a team's caller waits for its threads to join; returns "
        "the previous value (10000 unless changed; tests raise it, see team.h)");
  m.def("bf16_supported", &grukit::bf16_gemm_works,
        "whether this CPU runs the bfloat16 products (AVX512-BF16, self-checked)");
}
