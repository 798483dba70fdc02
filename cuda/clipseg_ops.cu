/* clipseg_ops.cu — the CUDA backend's inference ops for CLIPSeg (f32 only):
 * ReLU / quick_gelu, 3x3 convolution columns on channels-last images, the
 * scatter of a non-overlapping transposed convolution, and FiLM. Simple
 * grid-stride kernels: these run once per segmentation, not per step. */
#include "kernels.h"

static int ek_blocks(size_t n)
{
    size_t b = (n + 255) / 256;
    if (b < 1) b = 1;
    return (int)(b > 65535 ? 65535 : b);
}

__global__ void act_kernel(const float *__restrict__ x, float *y, size_t n, int act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = act == 1 ? (v > 0.0f ? v : 0.0f) : v / (1.0f + expf(-1.702f * v));
    }
}

cudaError_t ek_act_f32(cudaStream_t st, const float *x, float *y, size_t n, int act)
{
    if (n == 0) return cudaSuccess;
    act_kernel<<<ek_blocks(n), 256, 0, st>>>(x, y, n, act);
    return cudaGetLastError();
}

/* One thread per output element of cols [B, H*W, 9*C]. */
__global__ void conv3x3_cols_kernel(const float *__restrict__ x, float *__restrict__ cols,
                                    int64_t B, int64_t H, int64_t W, int64_t C)
{
    size_t n = (size_t)(B * H * W * 9 * C);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int64_t c = (int64_t)(i % (size_t)C);
        int64_t r = (int64_t)(i / (size_t)C);
        int64_t k = r % 9;
        int64_t pix = r / 9;
        int64_t xx = pix % W, y = (pix / W) % H, b = pix / (W * H);
        int64_t sy = y + k / 3 - 1, sx = xx + k % 3 - 1;
        cols[i] = (sy < 0 || sy >= H || sx < 0 || sx >= W) ? 0.0f
                                                             : x[((b * H + sy) * W + sx) * C + c];
    }
}

cudaError_t ek_conv3x3_cols_f32(cudaStream_t st, const float *x, float *cols, int64_t B,
                                int64_t H, int64_t W, int64_t C)
{
    size_t n = (size_t)(B * H * W * 9 * C);
    if (n == 0) return cudaSuccess;
    conv3x3_cols_kernel<<<ek_blocks(n), 256, 0, st>>>(x, cols, B, H, W, C);
    return cudaGetLastError();
}

/* One thread per output element of out [B, H*s, W*s, Co]. */
__global__ void deconv_scatter_kernel(const float *__restrict__ cols, const float *__restrict__ bias,
                                      float *__restrict__ out, int64_t B, int64_t H, int64_t W,
                                      int64_t Co, int s)
{
    int64_t OW = W * s, OH = H * s;
    size_t n = (size_t)(B * OH * OW * Co);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int64_t co = (int64_t)(i % (size_t)Co);
        int64_t pix = (int64_t)(i / (size_t)Co);
        int64_t ox = pix % OW, oy = (pix / OW) % OH, b = pix / (OW * OH);
        int64_t y = oy / s, ii = oy % s, xx = ox / s, j = ox % s;
        float v = cols[((b * H + y) * W + xx) * Co * s * s + (co * s + ii) * s + j];
        out[i] = bias ? v + bias[co] : v;
    }
}

cudaError_t ek_deconv_scatter_f32(cudaStream_t st, const float *cols, const float *bias,
                                  float *out, int64_t B, int64_t H, int64_t W, int64_t Co, int s)
{
    size_t n = (size_t)(B * H * W * Co * s * s);
    if (n == 0) return cudaSuccess;
    deconv_scatter_kernel<<<ek_blocks(n), 256, 0, st>>>(cols, bias, out, B, H, W, Co, s);
    return cudaGetLastError();
}

__global__ void film_kernel(const float *x, const float *__restrict__ scale,
                            const float *__restrict__ shift, float *out, int64_t B, int64_t T,
                            int64_t C, int64_t xstride)
{
    size_t n = (size_t)(B * T * C);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int64_t c = (int64_t)(i % (size_t)C);
        int64_t t = (int64_t)(i / (size_t)C) % T, b = (int64_t)(i / (size_t)(C * T));
        out[i] = scale[b * C + c] * x[b * xstride + t * C + c] + shift[b * C + c];
    }
}

cudaError_t ek_film_f32(cudaStream_t st, const float *x, const float *scale, const float *shift,
                        float *out, int64_t B, int64_t T, int64_t C, int64_t xstride)
{
    size_t n = (size_t)(B * T * C);
    if (n == 0) return cudaSuccess;
    film_kernel<<<ek_blocks(n), 256, 0, st>>>(x, scale, shift, out, B, T, C, xstride);
    return cudaGetLastError();
}
