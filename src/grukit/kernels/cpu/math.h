// Elementwise functions and small linear algebra for the fused recurrences.
//
// The float versions of exp/sigmoid/tanh are branch-free so that the pointwise loops that
// call them vectorise (libm's expf/tanhf do not); they are accurate to a few ulp. The
// double versions are libm's: float64 is for checking, not speed.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace grukit {

// e^x for float: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial (Cephes
// expf coefficients), 2^n written into the exponent bits. Inputs are clamped to the range
// where 2^n is a normal float, and e^x beyond float's range is +inf as in libm: so that
// sigmoid(-inf) is exactly 0, as torch.sigmoid's (a floor of 6e-39 turned 0 * inf into inf
// where the reference backend gives NaN).
inline float exp_approx(float x) {
  const bool overflows = x > 88.72283935546875f;  // log(FLT_MAX)
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // Round-to-nearest by the 1.5 * 2^23 trick: vectorises, unlike nearbyint.
  const float shifter = 12582912.0f;
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;  // ln 2 split in a part exact in float and a rest
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n from its exponent bits; a bit cast (not memcpy through memory) so loops vectorise.
  const float scale = __builtin_bit_cast(float, (static_cast<int32_t>(n) + 127) << 23);
  return overflows ? __builtin_inff() : p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// tanh for float: a rational function, odd degree-13 over even degree-6 polynomial (the
// coefficients of Eigen's fast float tanh), on x clamped to +-7.9053 where tanh rounds to
// +-1 in float. One division and no exp: about 3 ulp, measured against float64 tanh.
inline float tanh_approx(float x) {
  const float bound = 7.90531110763549805f;
  x = x < -bound ? -bound : x;
  x = x > bound ? bound : x;
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

inline float tanh_(float x) { return tanh_approx(x); }
inline double tanh_(double x) { return std::tanh(x); }

}  // namespace grukit

extern "C" {
// MKL's Fortran GEMMs, exported by libtorch_cpu (at::native::cpublas is not).
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc);
// MKL's C interface (the lower-case name is the Fortran one, which takes a pointer).
int MKL_Set_Num_Threads_Local(int threads);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b,
            const int* ldb, const double* beta, double* c, const int* ldc);
}

namespace grukit {

inline void blas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k,
                      const float* alpha, const float* a, const int* lda, const float* b,
                      const int* ldb, const float* beta, float* c, const int* ldc) {
  sgemm_(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void blas_gemm(const char* ta, const char* tb, const int* m, const int* n, const int* k,
                      const double* alpha, const double* a, const int* lda, const double* b,
                      const int* ldb, const double* beta, double* c, const int* ldc) {
  dgemm_(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// y (N) = beta y + sum_k a[k * as] B[k, :] for B with row stride ldb: one row times a
// matrix, eight rows of B per pass over y (eight times less load/store traffic on y).
template <typename T>
__attribute__((noinline)) void row_times_matrix(int64_t N, int64_t K, const T* a, int64_t as, const T* B, int64_t ldb, T beta,
                      T* __restrict y) {
  if (beta == T(0)) std::fill(y, y + N, T(0));
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const T a0 = a[k * as], a1 = a[(k + 1) * as], a2 = a[(k + 2) * as], a3 = a[(k + 3) * as];
    const T a4 = a[(k + 4) * as], a5 = a[(k + 5) * as], a6 = a[(k + 6) * as],
            a7 = a[(k + 7) * as];
    const T* __restrict r0 = B + k * ldb;
    const T* __restrict r1 = r0 + ldb;
    const T* __restrict r2 = r1 + ldb;
    const T* __restrict r3 = r2 + ldb;
    const T* __restrict r4 = r3 + ldb;
    const T* __restrict r5 = r4 + ldb;
    const T* __restrict r6 = r5 + ldb;
    const T* __restrict r7 = r6 + ldb;
    for (int64_t n = 0; n < N; ++n)
      y[n] += ((a0 * r0[n] + a1 * r1[n]) + (a2 * r2[n] + a3 * r3[n])) +
              ((a4 * r4[n] + a5 * r5[n]) + (a6 * r6[n] + a7 * r7[n]));
  }
  for (; k < K; ++k) {
    const T ak = a[k * as];
    const T* __restrict row = B + k * ldb;
    for (int64_t n = 0; n < N; ++n) y[n] += ak * row[n];
  }
}

#if defined(__AVX__)
// dst (8, 8) = src (8, 8) transposed, row strides lds and ldd: three rounds of shuffles.
inline void transpose_8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r[8], t[8], s[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(s[i], s[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(s[i], s[i + 4], 0x31));
  }
}
#endif

// dst (cols, rows) = src (rows, cols) transposed, both contiguous. ATen's strided copy
// (w.t().contiguous()) took about 1 ns an element here, 50 us for a (384, 128) weight at
// every call, and a plain loop is no better; float goes through 8 x 8 register blocks.
template <typename T>
void transpose(int64_t rows, int64_t cols, const T* __restrict src, T* __restrict dst) {
  int64_t i0 = 0, j0 = 0;
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) {
    i0 = rows / 8 * 8;
    j0 = cols / 8 * 8;
    for (int64_t i = 0; i < i0; i += 8)
      for (int64_t j = 0; j < j0; j += 8) transpose_8x8(src + i * cols + j, cols, dst + j * rows + i, rows);
  }
#endif
  // What the blocks left: the last columns of every row, then the last rows.
  for (int64_t i = 0; i < i0; ++i)
    for (int64_t j = j0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
  for (int64_t i = i0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
}

// Row-major C (M, N) = op(A) op(B) + beta C, where op(A) is (M, K) and op(B) is (K, N);
// lda/ldb/ldc are row strides. beta is 0 (overwrite) or 1 (accumulate).
//
// A single row times an untransposed B (batch 1, every step) is row_times_matrix: it
// vectorises over the output and beats a BLAS call at these sizes. Everything else goes to
// MKL (column-major: C^T = op(B)^T op(A)^T).
template <typename T>
__attribute__((noinline)) void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (M == 1 && !trans_b) {
    const int64_t as = trans_a ? lda : 1;
    // Column blocks of a fixed width: each output is summed by one thread in the same
    // order whatever the thread count; two threads read half the matrix each, which
    // matters at batch 1, where the product is bound by the bandwidth of the core's L2.
    constexpr int64_t block = 256;
    const int64_t blocks = (N + block - 1) / block;
    const int64_t grain = K * N >= (int64_t(1) << 16) ? 1 : blocks;
    at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
      const int64_t n0 = b0 * block, n1 = std::min(N, b1 * block);
      row_times_matrix<T>(n1 - n0, K, A, as, B + n0, ldb, beta, C + n0);
    });
    return;
  }
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K);
  const int ld_b = static_cast<int>(ldb), ld_a = static_cast<int>(lda),
            ld_c = static_cast<int>(ldc);
  const T one = T(1);
  if (K == 0) {
    if (beta == T(0))
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = T(0);
    return;
  }
  blas_gemm(trans_b ? "T" : "N", trans_a ? "T" : "N", &m, &n, &k, &one, B, &ld_b, A, &ld_a,
            &beta, C, &ld_c);
}

}  // namespace grukit
