/* patch.cu — patch extraction for the p x p stride-p patch embedding
 * (im2col) and its adjoint. With stride equal to the patch size the map is a
 * permutation, so the adjoint is a plain gather in the other direction. */
#include "kernels.h"
#include "kern_common.cuh"

/* One thread per element of cols [B, GH*GW, Cin*p*p]; dir 0 gathers from
 * img into cols, dir 1 scatters cols back into img (+= when accumulate). */
template <typename TI, typename TC>
__global__ void im2col_kernel(TI *img, TC *cols, int B, int Cin, int H, int W, int p, int dir,
                              int accumulate)
{
    int GW = W / p, GH = H / p;
    int row_len = Cin * p * p;
    size_t n = (size_t)B * GH * GW * row_len;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int col = (int)(i % row_len);
        size_t patch = i / row_len;
        int b = (int)(patch / ((size_t)GH * GW));
        int pi = (int)(patch % ((size_t)GH * GW));
        int py = pi / GW, px = pi % GW;
        int ci = col / (p * p), ky = (col / p) % p, kx = col % p;
        size_t src = (((size_t)b * Cin + ci) * H + (size_t)py * p + ky) * W + (size_t)px * p + kx;
        if (dir == 0) {
            ek_st(cols, i, ek_ld(img, src));
        } else {
            float v = ek_ld(cols, i);
            if (accumulate) v += ek_ld(img, src);
            ek_st(img, src, v);
        }
    }
}

cudaError_t ek_im2col(cudaStream_t st, int ti, int tc, void *img, void *cols, int B, int Cin,
                      int H, int W, int p, int dir, int accumulate)
{
    size_t n = (size_t)B * Cin * H * W;
    if (!n) return cudaSuccess;
    EK_DISPATCH2(ti, TI, tc, TC,
        im2col_kernel<TI, TC><<<ek_blocks(n, 256, 65535u * 4), 256, 0, st>>>(
            (TI *)img, (TC *)cols, B, Cin, H, W, p, dir, accumulate));
    return cudaGetLastError();
}

/* out = (in / 255 - mean[c]) / std[c]; the per-channel constants travel by
 * value so a captured graph needs no device copy of them. */
#define EK_MAX_NORM_CH 8
struct norm_consts {
    float mean[EK_MAX_NORM_CH], inv_std[EK_MAX_NORM_CH];
};

template <typename TO>
__global__ void normalize_u8_kernel(const uint8_t *__restrict__ in, TO *__restrict__ out,
                                    size_t n, int C, size_t plane, norm_consts k)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % C);
        ek_st(out, i, ((float)in[i] / 255.0f - k.mean[c]) * k.inv_std[c]);
    }
}

cudaError_t ek_normalize_u8(cudaStream_t st, int to, const uint8_t *in, void *out, size_t n,
                            int C, size_t plane, const float *mean, const float *std)
{
    if (!n) return cudaSuccess;
    if (C < 1 || C > EK_MAX_NORM_CH) return cudaErrorInvalidValue;
    norm_consts k;
    for (int c = 0; c < C; ++c) {
        k.mean[c] = mean[c];
        k.inv_std[c] = 1.0f / std[c];
    }
    EK_DISPATCH1(to, TO,
        normalize_u8_kernel<TO><<<ek_blocks(n, 256, 65535u * 4), 256, 0, st>>>(
            in, (TO *)out, n, C, plane, k));
    return cudaGetLastError();
}
