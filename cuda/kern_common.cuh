/* kern_common.cuh — small device helpers every kernel file shares: loads and
 * stores that convert between the storage type (fp32 or bf16) and fp32 math,
 * warp and block reductions, and launch-size arithmetic. */
#ifndef EMBER_CUDA_KERN_COMMON_CUH
#define EMBER_CUDA_KERN_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

/* Storage types the kernels are instantiated for. */
enum ek_type { EK_F32 = 0, EK_BF16 = 1 };

__device__ __forceinline__ float ek_ld(const float *p, size_t i) { return p[i]; }
__device__ __forceinline__ float ek_ld(const bf16 *p, size_t i) { return __bfloat162float(p[i]); }
/* bf16 stores round to nearest even, as the CPU backend's cast does. */
__device__ __forceinline__ void ek_st(float *p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void ek_st(bf16 *p, size_t i, float v) { p[i] = __float2bfloat16_rn(v); }

/* Four consecutive elements at i (i a multiple of 4, the pointer 16-byte
 * aligned for f32, 8-byte for bf16): one vector access instead of four. */
__device__ __forceinline__ void ek_ld4(const float *p, size_t i, float v[4])
{
    float4 t = *(const float4 *)(p + i);
    v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w;
}
__device__ __forceinline__ void ek_ld4(const bf16 *p, size_t i, float v[4])
{
    uint2 t = *(const uint2 *)(p + i);
    __nv_bfloat162 a = *(const __nv_bfloat162 *)&t.x, b = *(const __nv_bfloat162 *)&t.y;
    v[0] = __low2float(a); v[1] = __high2float(a); v[2] = __low2float(b); v[3] = __high2float(b);
}
__device__ __forceinline__ void ek_st4(float *p, size_t i, const float v[4])
{
    *(float4 *)(p + i) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void ek_st4(bf16 *p, size_t i, const float v[4])
{
    __nv_bfloat162 a = __floats2bfloat162_rn(v[0], v[1]), b = __floats2bfloat162_rn(v[2], v[3]);
    uint2 t;
    t.x = *(const unsigned *)&a;
    t.y = *(const unsigned *)&b;
    *(uint2 *)(p + i) = t;
}

/* Whether every pointer suits ek_ld4/ek_st4 and n is a multiple of 4. */
static inline int ek_vec4_ok(size_t n, const void *a, const void *b, const void *c)
{
    return n % 4 == 0 && !((uintptr_t)a % 16) && !((uintptr_t)b % 16) && !((uintptr_t)c % 16);
}

__device__ __forceinline__ float ek_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float ek_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the whole block; every thread gets the result. scratch holds 32
 * floats. The block size must be a multiple of 32. */
__device__ __forceinline__ float ek_block_sum(float v, float *scratch)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = ek_warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[wid] = v;
    __syncthreads();
    float t = lane < nw ? scratch[lane] : 0.0f;
    return ek_warp_sum(t);
}

static inline unsigned ek_blocks(size_t n, unsigned threads, unsigned cap)
{
    size_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > cap) b = cap;
    return (unsigned)b;
}

/* Dispatch a template on one storage type held in a runtime value. */
#define EK_DISPATCH1(t, T, ...)                                  \
    do {                                                         \
        if ((t) == EK_F32) { typedef float T; __VA_ARGS__; }     \
        else               { typedef bf16 T; __VA_ARGS__; }      \
    } while (0)

#define EK_DISPATCH2(ta, TA, tb, TB, ...)                                   \
    EK_DISPATCH1(ta, TA, EK_DISPATCH1(tb, TB, __VA_ARGS__))

#endif
