// bfloat16 GEMMs with float32 accumulation for the fused kernels.
//
// C (M, N) = A (M, K) B (K, N) (+ C), with A and B rounded to bfloat16 (round to nearest
// even) and the products summed in float32: the GEMM of mixed-precision training, while
// the state, the gates and every pointwise step stay float32.
//
// The products are an AVX512-BF16 micro-kernel of our own: vdpbf16ps multiplies 16 pairs
// of bfloat16 and adds both products to 16 float32 sums, twice the float32 FMA's rate.
// Why not a library, measured on the AVX512-BF16 Zen 4 where this was written (2 threads):
// MKL's cblas_gemm_bf16bf16f32 (exported by libtorch) ran no faster than float32 sgemm;
// torch's own bfloat16 matmul is fast but rounds its output to bfloat16 and costs 5-40x
// at small batches; oneDNN's brgemm micro-kernel (ATen's cpublas::brgemm, in 64-column
// tiles) ran as fast as this kernel at the per-step shapes (400-420 GFLOP/s at 20 x 650 x
// 1950 and 64 x 512 x 1536) but 3x slower at batch 1 (28 against 76-94 GFLOP/s at
// 1 x 128 x 384), and on AMX machines it wants B in oneDNN's own packed layout, a path
// that could not be tested here. AMX tiles are therefore not used (yet): on an AMX Xeon
// this kernel still runs, at AVX512-BF16's rate; brgemm is the way to add them.
//
// Layouts: A is rounded into (M, Kp) rows, Kp = K rounded up to even; B into blocks of 32
// columns, each [Kp/2][32][2] (the two rows of a pair interleaved, as vdpbf16ps reads
// them). A weight is packed once per call of the fused op (Bf16Weights) and reused by
// every step. Each output element is summed over K in one fixed order by one thread, so
// results do not depend on the thread count.
#pragma once

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#define GRUKIT_BF16_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace grukit {

// float -> bfloat16 bits, round to nearest even; NaN stays NaN. Branch-free so loops
// vectorise.
inline uint16_t bf16_bits(float x) {
  const uint32_t u = __builtin_bit_cast(uint32_t, x);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t(0x7FC0) : uint16_t(rounded);
}

constexpr int64_t kBf16Block = 32;  // columns of B per packed block: two 16-lane registers

// B (K, N) in bfloat16 blocks of kBf16Block columns (the last one zero-padded), K rounded
// up to even (a zero row).
class Bf16Matrix {
 public:
  // Pack B from ``src`` with element (k, n) at src[k * rs + n * cs] (any strides, so that
  // a transposed weight packs without a copy).
  void pack(const float* src, int64_t rs, int64_t cs, int64_t K, int64_t N) {
    K_ = K;
    N_ = N;
    Kp_ = K + (K & 1);
    const int64_t blocks = (N + kBf16Block - 1) / kBf16Block;
    data_.assign(static_cast<size_t>(blocks * Kp_ * kBf16Block), 0);
    at::parallel_for(0, blocks, 1, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t n0 = j * kBf16Block, width = std::min(kBf16Block, N - n0);
        uint16_t* out = data_.data() + j * Kp_ * kBf16Block;
        for (int64_t k = 0; k < K; ++k) {
          const float* row = src + k * rs + n0 * cs;
          uint16_t* o = out + (k >> 1) * 2 * kBf16Block + (k & 1);
          if (cs == 1)
            for (int64_t n = 0; n < width; ++n) o[2 * n] = bf16_bits(row[n]);
          else
            for (int64_t n = 0; n < width; ++n) o[2 * n] = bf16_bits(row[n * cs]);
        }
      }
    });
  }

  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  int64_t padded_K() const { return Kp_; }
  const uint16_t* block(int64_t j) const { return data_.data() + j * Kp_ * kBf16Block; }

 private:
  int64_t K_ = 0, N_ = 0, Kp_ = 0;
  std::vector<uint16_t> data_;
};

// A (M, K) rounded to bfloat16 into ``out`` (M, Kp) row-major (a zero column when K is
// odd), from element (m, k) at src[m * rs + k * cs]. Transposed sources (cs != 1) go in
// 16 x 16 tiles: the tile's source lines stay in L1 while its rows are written.
inline void round_rows(const float* src, int64_t rs, int64_t cs, int64_t M, int64_t K,
                       uint16_t* out) {
  const int64_t Kp = K + (K & 1);
  if (cs == 1) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(Kp, 1));
    at::parallel_for(0, M, grain, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const float* __restrict row = src + m * rs;
        uint16_t* __restrict o = out + m * Kp;
        for (int64_t k = 0; k < K; ++k) o[k] = bf16_bits(row[k]);
        if (Kp != K) o[K] = 0;
      }
    });
    return;
  }
  constexpr int64_t tile = 16;
  at::parallel_for(0, (M + tile - 1) / tile, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t m0 = t0 * tile; m0 < std::min(M, t1 * tile); m0 += tile) {
      const int64_t m1 = std::min(M, m0 + tile);
      for (int64_t k0 = 0; k0 < K; k0 += tile) {
        const int64_t k1 = std::min(K, k0 + tile);
        for (int64_t m = m0; m < m1; ++m)
          for (int64_t k = k0; k < k1; ++k) out[m * Kp + k] = bf16_bits(src[m * rs + k * cs]);
      }
      if (Kp != K)
        for (int64_t m = m0; m < m1; ++m) out[m * Kp + K] = 0;
    }
  });
}

// Scratch for the rounded A of one product, reused between calls on this thread.
inline uint16_t* rounded_scratch(size_t elements) {
  static thread_local std::vector<uint16_t> scratch;
  if (scratch.size() < elements) scratch.resize(elements);
  return scratch.data();
}

// Rows [0, MR) x 32 columns of C (+)= A B over ``pairs`` row pairs of K: MR x 2 registers
// of sums, per pair one 32-bit broadcast of A per row and two loads of B. ``mask``
// selects the valid columns of a partial last block.
template <int MR>
GRUKIT_BF16_TARGET void bf16_micro_kernel(int64_t pairs, const uint16_t* a, int64_t lda,
                                          const uint16_t* b, float* c, int64_t ldc, bool load,
                                          __mmask32 mask) {
  const __mmask16 lo = static_cast<__mmask16>(mask), hi = static_cast<__mmask16>(mask >> 16);
  __m512 sum[MR][2];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    sum[r][0] = load ? _mm512_maskz_loadu_ps(lo, c + r * ldc) : _mm512_setzero_ps();
    sum[r][1] = load ? _mm512_maskz_loadu_ps(hi, c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * 2 * kBf16Block);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * 2 * kBf16Block + 32);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, sizeof(pair));
      const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
      sum[r][0] = _mm512_dpbf16_ps(sum[r][0], av, b0);
      sum[r][1] = _mm512_dpbf16_ps(sum[r][1], av, b1);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, lo, sum[r][0]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, hi, sum[r][1]);
  }
}

constexpr int64_t kBf16Rows = 12;  // rows per micro-kernel call: 24 sums, 2 of B, 1 of A

// bf16_micro_kernel for any 1 <= rows <= kBf16Rows.
inline void bf16_rows(int64_t rows, int64_t pairs, const uint16_t* a, int64_t lda,
                      const uint16_t* b, float* c, int64_t ldc, bool load, __mmask32 mask) {
  switch (rows) {
#define GRUKIT_BF16_ROWS(R) \
  case R: return bf16_micro_kernel<R>(pairs, a, lda, b, c, ldc, load, mask);
    GRUKIT_BF16_ROWS(1) GRUKIT_BF16_ROWS(2) GRUKIT_BF16_ROWS(3) GRUKIT_BF16_ROWS(4)
    GRUKIT_BF16_ROWS(5) GRUKIT_BF16_ROWS(6) GRUKIT_BF16_ROWS(7) GRUKIT_BF16_ROWS(8)
    GRUKIT_BF16_ROWS(9) GRUKIT_BF16_ROWS(10) GRUKIT_BF16_ROWS(11) GRUKIT_BF16_ROWS(12)
#undef GRUKIT_BF16_ROWS
  }
}

// C (M, N) = A B (+ C when accumulate), A already rounded (M, Kp) row-major, B packed.
// Work items are panels of up to 48 rows by one column block; a panel is summed over K in
// chunks of 512 (a chunk of B, 32 KB, stays in cache while the panel's rows pass over
// it), 12 rows at a time.
inline void bf16_product(int64_t M, const uint16_t* A, const Bf16Matrix& B, bool accumulate,
                         float* C, int64_t ldc) {
  const int64_t N = B.N(), Kp = B.padded_K();
  if (M == 0 || N == 0) return;
  constexpr int64_t panel = 4 * kBf16Rows, chunk = 512;
  const int64_t blocks = (N + kBf16Block - 1) / kBf16Block;
  const int64_t items = (M + panel - 1) / panel * blocks;
  const int64_t grain = M * N * Kp >= (int64_t(1) << 17) ? 1 : items;
  // Panels outermost: a thread's rows of A stay in cache while it sweeps B.
  at::parallel_for(0, items, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t m0 = (i / blocks) * panel, j = i % blocks;
      const int64_t n0 = j * kBf16Block, height = std::min(panel, M - m0);
      const int64_t width = std::min(kBf16Block, N - n0);
      const __mmask32 mask = width == 32 ? ~__mmask32(0) : (__mmask32(1) << width) - 1;
      float* c = C + m0 * ldc + n0;
      if (Kp == 0) {
        if (!accumulate)
          for (int64_t r = 0; r < height; ++r) std::fill(c + r * ldc, c + r * ldc + width, 0.0f);
        continue;
      }
      for (int64_t k0 = 0; k0 < Kp; k0 += chunk) {
        const int64_t pairs = std::min(chunk, Kp - k0) / 2;
        const uint16_t* b = B.block(j) + k0 * kBf16Block;
        for (int64_t r = 0; r < height; r += kBf16Rows)
          bf16_rows(std::min(kBf16Rows, height - r), pairs, A + (m0 + r) * Kp + k0, Kp, b,
                    c + r * ldc, ldc, accumulate || k0 > 0, mask);
      }
    }
  });
}

// C (M, N) = op(A) B (+ C), op(A) (M, K) read at A[m * rs + k * cs].
inline void bf16_gemm(int64_t M, const float* A, int64_t rs, int64_t cs, const Bf16Matrix& B,
                      bool accumulate, float* C, int64_t ldc) {
  uint16_t* a = rounded_scratch(static_cast<size_t>(M * B.padded_K()));
  round_rows(A, rs, cs, M, B.K(), a);
  bf16_product(M, a, B, accumulate, C, ldc);
}

// The weights of one fused call, packed on first use and found again by address and
// shape: every step multiplies by the same few slices of W.
class Bf16Weights {
 public:
  const Bf16Matrix& get(const float* src, int64_t rs, int64_t cs, int64_t K, int64_t N) {
    for (auto& entry : packed_)
      if (entry.src == src && entry.rs == rs && entry.cs == cs && entry.matrix->K() == K &&
          entry.matrix->N() == N)
        return *entry.matrix;
    auto matrix = std::make_unique<Bf16Matrix>();
    matrix->pack(src, rs, cs, K, N);
    packed_.push_back({src, rs, cs, std::move(matrix)});
    return *packed_.back().matrix;
  }

 private:
  struct Entry {
    const float* src;
    int64_t rs, cs;
    std::unique_ptr<Bf16Matrix> matrix;
  };
  std::vector<Entry> packed_;
};

// Whether this CPU runs the bfloat16 products, and right: it must have AVX512-BF16, and a
// small product of values exact in bfloat16 (whose float32 sums are exact too: odd K,
// more rows than one micro-kernel call, a partial column block) must come out bit for
// bit. Checked once; the fused kernels take the bfloat16 path only when it passes.
inline bool bf16_gemm_works() {
  static const bool ok = [] {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16") || !__builtin_cpu_supports("avx512bw"))
      return false;
    const int64_t M = 14, K = 37, N = 70;
    std::vector<float> a(M * K), b(K * N), c(M * N, 1.0f);
    for (int64_t i = 0; i < M * K; ++i) a[i] = float(int(i % 7) - 3) * 0.25f;
    for (int64_t i = 0; i < K * N; ++i) b[i] = float(int(i % 5) - 2) * 0.5f;
    Bf16Matrix packed;
    packed.pack(b.data(), N, 1, K, N);
    bf16_gemm(M, a.data(), K, 1, packed, true, c.data(), N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        float want = 1.0f;
        for (int64_t k = 0; k < K; ++k) want += a[m * K + k] * b[k * N + n];
        if (c[m * N + n] != want) return false;
      }
    return true;
  }();
  return ok;
}

}  // namespace grukit
