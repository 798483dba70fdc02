/* cpu_train_ops.c — the CPU backend's loss (softmax cross-entropy with label
 * smoothing) and optimizer (fused AdamW) ops. */
#include <math.h>

#include "core/bf16.h"
#include "cpu/cpu_internal.h"

static int ce_dims(const char *op, const ember_tensor *logits, const ember_tensor *labels,
                   int64_t *B, int64_t *K, float smoothing, ember_err *err) {
    if (cpu_need_f32(logits, op, "logits", -1, err)) return -1;
    if (logits->ndim < 1 || logits->shape[logits->ndim - 1] < 1)
        return ember_err_set(err, "%s: logits must be [B, K] with K >= 1", op);
    *K = logits->shape[logits->ndim - 1];
    *B = ember_tensor_numel(logits) / *K;
    if (cpu_need(labels, op, "labels", EMBER_I32, *B, err)) return -1;
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return ember_err_set(err, "%s: label smoothing must be in [0, 1], got %g", op, (double)smoothing);
    const int32_t *Y = labels->data;
    for (int64_t b = 0; b < *B; b++)
        if (Y[b] < 0 || Y[b] >= *K)
            return ember_err_set(err, "%s: label %d of row %lld is outside [0, %lld)", op, Y[b],
                                 (long long)b, (long long)*K);
    return 0;
}

int cpu_ce_fwd(const ember_backend *be, ember_tensor *loss, ember_tensor *probs,
               const ember_tensor *logits, const ember_tensor *labels, float smoothing, float scale,
               int accumulate, ember_err *err) {
    (void)be;
    const char *op = "ce_fwd";
    int64_t B, K;
    if (ce_dims(op, logits, labels, &B, &K, smoothing, err) ||
        cpu_need_f32(probs, op, "probs", B * K, err) || cpu_need_f32(loss, op, "loss", 1, err))
        return -1;
    const float *X = logits->data;
    const int32_t *Y = labels->data;
    float *P = probs->data;
    double total = 0.0;
    const double on = 1.0 - smoothing, off = (double)smoothing / (double)K;
#pragma omp parallel for schedule(static) reduction(+ : total) if (B * K > 16384)
    for (int64_t b = 0; b < B; b++) {
        const float *x = X + b * K;
        double mx = x[0], sum = 0.0, xsum = 0.0;
        for (int64_t k = 1; k < K; k++)
            if (x[k] > mx) mx = x[k];
        for (int64_t k = 0; k < K; k++) {
            sum += exp(x[k] - mx);
            xsum += x[k];
        }
        double lse = mx + log(sum);
        for (int64_t k = 0; k < K; k++) P[b * K + k] = (float)exp(x[k] - lse);
        /* -sum_k target_k (x_k - lse), with sum_k target_k = 1. */
        total += lse - on * x[Y[b]] - off * xsum;
    }
    float *L = loss->data;
    float v = (float)(total * scale);
    *L = accumulate ? *L + v : v;
    return 0;
}

int cpu_ce_bwd(const ember_backend *be, ember_tensor *dlogits, const ember_tensor *probs,
               const ember_tensor *labels, float smoothing, float scale, ember_err *err) {
    (void)be;
    const char *op = "ce_bwd";
    int64_t B, K;
    if (ce_dims(op, probs, labels, &B, &K, smoothing, err) ||
        cpu_need_f32(dlogits, op, "dlogits", B * K, err))
        return -1;
    const float *P = probs->data;
    const int32_t *Y = labels->data;
    float *D = dlogits->data;
    const double on = 1.0 - smoothing, off = (double)smoothing / (double)K;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < K; k++) {
            double t = off + (k == Y[b] ? on : 0.0);
            D[b * K + k] = (float)(scale * (P[b * K + k] - t));
        }
    return 0;
}

int cpu_adamw(const ember_backend *be, ember_tensor *params, const ember_tensor *grads,
              ember_tensor *m, ember_tensor *v, ember_tensor *params_bf16,
              const ember_tensor *step, float beta1, float beta2, float eps, float weight_decay,
              const ember_tensor *grad_scale, ember_err *err) {
    (void)be;
    const char *op = "adamw";
    int64_t n = ember_tensor_numel(params);
    if (cpu_need_f32(params, op, "params", -1, err) || cpu_need_f32(grads, op, "grads", n, err) ||
        cpu_need_f32(m, op, "m", n, err) || cpu_need_f32(v, op, "v", n, err))
        return -1;
    if (params_bf16 && cpu_need(params_bf16, op, "params_bf16", EMBER_BF16, n, err)) return -1;
    if (grad_scale && cpu_need_f32(grad_scale, op, "grad_scale", 1, err)) return -1;
    ember_step_scalars s;
    if (cpu_read_step(step, op, &s, err)) return -1;
    if (!step) return ember_err_set(err, "adamw: the step scalars tensor is required");
    if (!(s.bc1 > 0.0f && s.bc2 > 0.0f))
        return ember_err_set(err, "adamw: bias corrections must be > 0 (is the step number t >= 1?)");
    const double lr = s.lr, b1 = beta1, b2 = beta2;
    const double step_size = lr / s.bc1, bc2_sqrt = sqrt((double)s.bc2);
    const double decay = 1.0 - lr * weight_decay;
    const double gs = grad_scale ? *(const float *)grad_scale->data : 1.0;
    float *P = params->data, *M = m->data, *V = v->data;
    const float *G = grads->data;
    uint16_t *PB = params_bf16 ? params_bf16->data : NULL;
#pragma omp parallel for schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        double g = G[i] * gs;
        double p = P[i] * decay;
        double mi = b1 * M[i] + (1.0 - b1) * g;
        double vi = b2 * V[i] + (1.0 - b2) * g * g;
        p -= step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
        M[i] = (float)mi;
        V[i] = (float)vi;
        P[i] = (float)p;
        if (PB) PB[i] = ember_f32_to_bf16(P[i]);
    }
    return 0;
}
