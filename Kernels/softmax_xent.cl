// softmax_xent.cl — fused softmax cross-entropy forward+backward, PyTorch semantics.
//
// Contract (N rows, C classes, row-major float32):
//   reads  logits (N, C); labels (N) int class indices or probs (N, C) probability targets;
//          weights (C) when has_weights; denominator[0] (from xent_denominator) when mean.
//   writes grad (N, C) = ∂(reduced loss)/∂logits, already scaled for the reduction (when write_grad);
//          row_loss (N), row_lse (N) = log Σ_j exp(f_ij);
//          status[0] = first row with a non-finite logit, status[1] = first row whose label is out of
//          range, status[2] = first row with a non-finite probability target (atomic_min; the host
//          presets them to INT_MAX); loss[0] (xent_reduce) = the reduced loss.
// Math: row_math.cl (prepended by the host): t_ij, T_i = Σ_j t_ij, L_i = Σ_j t_ij·(lse_i − f_ij),
//       ∂L_i/∂f_ij = T_i·p_ij − t_ij.
// Two variants, chosen per device by the host:
//   softmax_xent_fwd_bwd_row: one work-item per row walking it with VW-wide vectors (CPUs: PoCL maps a
//     work-item onto one core's SIMD units; barriers and local memory would become loops there); the
//     exponentials of pass 1 are kept in the gradient row, so each element costs one exp;
//   softmax_xent_fwd_bwd:     one work-group per row (a power of two up to XENT_WG work-items, sized
//     by the host to the row), strided (coalesced) accesses and local-memory tree reductions (GPUs,
//     large C); each work-item keeps XENT_CACHE of its logits in registers between the passes, so
//     rows up to wg·XENT_CACHE are read once.
// The row variant reads each logit twice (statistics, then gradient); the second read hits cache for
// rows that fit.

#ifndef VW
#define VW 16
#endif
#ifndef XENT_WG
#define XENT_WG 256
#endif
#ifndef XENT_CACHE
#define XENT_CACHE 32
#endif
#ifndef XENT_BLOCK
#define XENT_BLOCK 2048
#endif
#ifndef XENT_MAX_BLOCKS
#define XENT_MAX_BLOCKS 128
#endif

#if VW == 16
#define VTYPE float16
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
#define VTYPE float8
#define VLOAD vload8
#define VSTORE vstore8
#else
#define VTYPE float4
#define VLOAD vload4
#define VSTORE vstore4
#endif

inline float hsum(VTYPE v) {
#if VW == 16
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
#elif VW == 8
    float4 b = v.lo + v.hi;
#else
    float4 b = v;
#endif
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

inline float hmax(VTYPE v) {
#if VW == 16
    float8 a = fmax(v.lo, v.hi);
    float4 b = fmax(a.lo, a.hi);
#elif VW == 8
    float4 b = fmax(v.lo, v.hi);
#else
    float4 b = v;
#endif
    float2 c = fmax(b.lo, b.hi);
    return fmax(c.x, c.y);
}

// Σ of every work-item's v over the work-group (wg items, a power of two), through the local
// array a (wg floats); every work-item gets the total.
inline float work_group_sum(__local float* a, const float v, const int lid, const int wg) {
    a[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = wg / 2; stride > 0; stride >>= 1) {
        if (lid < stride) a[lid] += a[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return a[0];
}

// Σ_i w_{y_i} over rows that are not ignored (class indices), or N (probabilities): the mean's divisor.
// One work-group.
__kernel void xent_denominator(const int N, __global const int* labels, __global const float* weights,
                               const int has_weights, const int use_probs, const int ignore_index,
                               __global float* out) {
    __local float partial[XENT_WG];
    const int lid = get_local_id(0);
    float s = 0.0f, comp = 0.0f;  // Kahan: N may be in the millions
    if (!use_probs) {
        for (int i = lid; i < N; i += XENT_WG) {
            const int y = labels[i];
            if (y == ignore_index) continue;
            const float v = has_weights ? weights[y] : 1.0f;
            const float t = s + (v - comp);
            comp = (t - s) - (v - comp);
            s = t;
        }
    } else if (lid == 0) {
        s = (float)N;
    }
    const float total = work_group_sum(partial, s, lid, XENT_WG);
    if (lid == 0) out[0] = total;
}

// Σ_i row_loss[i] (divided by the denominator for mean) into loss[0]: the one value that comes
// back to the host per step, with the status words. One work-group.
__kernel void xent_reduce(const int N, __global const float* row_loss, __global const float* denominator,
                          const int mean, __global float* loss) {
    __local float partial[XENT_WG];
    const int lid = get_local_id(0);
    float s = 0.0f, comp = 0.0f;
    for (int i = lid; i < N; i += XENT_WG) {
        const float v = row_loss[i];
        const float t = s + (v - comp);
        comp = (t - s) - (v - comp);
        s = t;
    }
    const float total = work_group_sum(partial, s, lid, XENT_WG);
    if (lid == 0) {
        loss[0] = mean ? total / denominator[0] : total;
    }
}

// Row setup shared by both variants: label, its weight and T = Σ_j t_j for class indices.
// Returns 0 when the row contributes nothing (ignored or bad label: grad row zero, loss 0).
inline int class_row(const int i, const int C, __global const int* labels, __global const float* weights,
                     const int has_weights, const float eps, const float weight_sum, const int ignore_index,
                     __global int* status, int* y_out, float* wy_out, float* total_out) {
    const int y = labels[i];
    if (y == ignore_index) return 0;
    if (y < 0 || y >= C) {
        atomic_min(&status[1], i);
        return 0;
    }
    const float wy = has_weights ? weights[y] : 1.0f;
    *y_out = y;
    *wy_out = wy;
    *total_out = class_target_total(eps, 1.0f / (float)C, wy, weight_sum);
    return 1;
}

__kernel void softmax_xent_fwd_bwd_row(
    const int N, const int C, __global const float* logits, __global const int* labels, __global const float* probs,
    __global const float* weights, const int use_probs, const int has_weights, const float eps, const float weight_sum,
    const int ignore_index, __global const float* denominator, const int mean, __global float* grad, const int write_grad,
    __global float* row_loss, __global float* row_lse, __global int* status) {
    const int i = get_global_id(0);
    if (i >= N) return;
    __global const float* f = logits + (size_t)i * C;
    __global float* g = grad + (size_t)i * C;
    __global const float* q = probs + (size_t)i * C;
    const float invC = 1.0f / (float)C;
    const int store = write_grad && !use_probs;

    // Pass 1, block by block: the block's max (updating the running max m and rescaling the sum),
    // then exp(f − m) summed and, when the gradient is wanted, stored into it with m kept per block:
    // one exponential per element. A block is re-read from L1; blocks grow past XENT_BLOCK only so
    // that a row never has more than XENT_MAX_BLOCKS of them.
    int block = XENT_BLOCK;
    while ((C + block - 1) / block > XENT_MAX_BLOCKS) block *= 2;
    float block_max[XENT_MAX_BLOCKS];
    float m = -INFINITY, s = 0.0f, check = 0.0f, total = 0.0f;
    VTYPE vs = (VTYPE)(0.0f), vcheck = (VTYPE)(0.0f);
    for (int b0 = 0, nb = 0; b0 < C; b0 += block, ++nb) {
        const int b1 = min(b0 + block, C);
        VTYPE vmax = (VTYPE)(-INFINITY);
        int j = b0;
        for (; j + VW <= b1; j += VW) {
            const VTYPE x = VLOAD(0, f + j);
            vmax = fmax(vmax, x);
            vcheck += x - x;
        }
        float cm = hmax(vmax);
        for (; j < b1; ++j) {
            cm = fmax(cm, f[j]);
            check += f[j] - f[j];
        }
        if (cm > m) {
            const float r = exp(m - cm);
            vs *= r;
            s *= r;
            m = cm;
        }
        block_max[nb] = m;
        j = b0;
        for (; j + VW <= b1; j += VW) {
            const VTYPE e = exp(VLOAD(0, f + j) - m);
            vs += e;
            if (store) VSTORE(e, 0, g + j);
        }
        for (; j < b1; ++j) {
            const float e = exp(f[j] - m);
            s += e;
            if (store) g[j] = e;
        }
    }
    s += hsum(vs);
    check += hsum(vcheck);
    if (!(check == 0.0f)) atomic_min(&status[0], i);
    const float log_s = log(s);
    row_lse[i] = m + log_s;

    const float scale = mean ? (denominator[0] > 0.0f ? 1.0f / denominator[0] : 0.0f) : 1.0f;
    int y = 0;
    float wy = 0.0f;
    if (use_probs) {
        // T = Σ_j t_j and Σ_j t_j·(m − f_j), before the gradient needs T.
        float part = 0.0f, qcheck = 0.0f;
        for (int k = 0; k < C; ++k) {
            const float t = probability_target(q[k], has_weights ? weights[k] : 1.0f, eps, invC);
            qcheck += q[k] - q[k];
            total += t;
            part += t * (m - f[k]);
        }
        if (!(qcheck == 0.0f)) atomic_min(&status[2], i);
        row_loss[i] = part + total * log_s;
        if (write_grad) {
            const float a = scale * total / s;
            for (int k = 0; k < C; ++k) {
                g[k] = a * exp(f[k] - m) - scale * probability_target(q[k], has_weights ? weights[k] : 1.0f, eps, invC);
            }
        }
        return;
    }
    if (!class_row(i, C, labels, weights, has_weights, eps, weight_sum, ignore_index, status, &y, &wy, &total)) {
        row_loss[i] = 0.0f;
        if (write_grad) for (int k = 0; k < C; ++k) g[k] = 0.0f;
        return;
    }
    // Pass 2: g_j = a·exp(f_j − m) − b·w_j from the stored exp(f_j − m_block), then the label's
    // −scale·(1 − ε)·w_y. The smoothing part of the loss needs the logits again.
    const float a = scale * total / s;
    const float b = scale * class_target_uniform(eps, invC);
    float smooth = 0.0f;
    for (int b0 = 0, nb = 0; b0 < C; b0 += block, ++nb) {
        const int b1 = min(b0 + block, C);
        const float factor = a * exp(block_max[nb] - m);
        int j = b0;
        if (write_grad) {
            for (; j + VW <= b1; j += VW) {
                const VTYPE w = has_weights ? VLOAD(0, weights + j) : (VTYPE)(1.0f);
                VSTORE(factor * VLOAD(0, g + j) - b * w, 0, g + j);
                if (eps > 0.0f) smooth += hsum(w * (m - VLOAD(0, f + j)));
            }
        }
        for (; j < b1; ++j) {
            const float w = has_weights ? weights[j] : 1.0f;
            if (write_grad) g[j] = factor * g[j] - b * w;
            if (eps > 0.0f) smooth += w * (m - f[j]);
        }
    }
    if (write_grad) g[y] -= scale * class_target_hot(eps, wy);
    row_loss[i] = class_row_loss(f[y], m, log_s, smooth, eps, invC, wy, weight_sum);
}

// Merge of two partial (max, sum) pairs.
inline void merge_stats(float* m, float* s, const float m2, const float s2) {
    const float mm = fmax(*m, m2);
    if (mm == -INFINITY) return;
    *s = *s * exp(*m - mm) + s2 * exp(m2 - mm);
    *m = mm;
}

// Pass 1 of the work-group variant for one element: online max/sum, finiteness, and for
// probability targets T and their finiteness.
inline void wg_statistics(const float x, const int j, __global const float* q, __global const float* weights,
                          const int use_probs, const int has_weights, const float eps, const float invC,
                          float* m, float* s, float* check, float* total, float* qcheck) {
    *check += x - x;
    if (x > *m) {
        *s *= exp(*m - x);
        *m = x;
    }
    *s += exp(x - *m);
    if (use_probs) {
        *total += probability_target(q[j], has_weights ? weights[j] : 1.0f, eps, invC);
        *qcheck += q[j] - q[j];
    }
}

// Pass 2 for one element: writes the gradient and returns t_j·(m − f_j), its part of the loss.
inline float wg_gradient(const float x, const int j, __global const float* q, __global const float* weights,
                         const int use_probs, const int has_weights, const float eps, const float invC, const int counted,
                         const int y, const float wy, const float a, const float m, const float scale,
                         __global float* g, const int write_grad) {
    const float w = has_weights ? weights[j] : 1.0f;
    float t;
    if (use_probs) t = probability_target(q[j], w, eps, invC);
    else t = counted ? class_target(j, y, w, eps, invC, wy) : 0.0f;
    if (write_grad) g[j] = a * exp(x - m) - scale * t;
    return t * (m - x);
}

// One work-group per row, of any power-of-two size up to XENT_WG (the host sizes it to the row).
// Each work-item keeps its first XENT_CACHE elements of the row in registers between the passes,
// so a row of up to wg·XENT_CACHE floats (32768 with 1024 work-items) is read from memory once;
// the rest of a longer row is read again.
__kernel void softmax_xent_fwd_bwd(
    const int N, const int C, __global const float* logits, __global const int* labels, __global const float* probs,
    __global const float* weights, const int use_probs, const int has_weights, const float eps, const float weight_sum,
    const int ignore_index, __global const float* denominator, const int mean, __global float* grad, const int write_grad,
    __global float* row_loss, __global float* row_lse, __global int* status) {
    __local float lm[XENT_WG], ls[XENT_WG], la[XENT_WG], lb[XENT_WG];
    const int i = get_group_id(0);
    const int lid = get_local_id(0);
    const int wg = get_local_size(0);
    if (i >= N) return;  // uniform across the work-group
    __global const float* f = logits + (size_t)i * C;
    __global float* g = grad + (size_t)i * C;
    __global const float* q = probs + (size_t)i * C;
    const float invC = 1.0f / (float)C;
    const int uncached = lid + XENT_CACHE * wg;

    // Pass 1: each work-item's online max/sum over a strided (coalesced) slice, plus the finiteness
    // check and, for probability targets, T.
    float m = -INFINITY, s = 0.0f, check = 0.0f, total = 0.0f, qcheck = 0.0f;
    float cache[XENT_CACHE > 0 ? XENT_CACHE : 1];
    #pragma unroll
    for (int k = 0; k < XENT_CACHE; ++k) {
        const int j = lid + k * wg;
        if (j < C) {
            cache[k] = f[j];
            wg_statistics(cache[k], j, q, weights, use_probs, has_weights, eps, invC, &m, &s, &check, &total, &qcheck);
        }
    }
    for (int j = uncached; j < C; j += wg) {
        wg_statistics(f[j], j, q, weights, use_probs, has_weights, eps, invC, &m, &s, &check, &total, &qcheck);
    }
    if (!(qcheck == 0.0f)) atomic_min(&status[2], i);
    lm[lid] = m;
    ls[lid] = s;
    la[lid] = check;
    lb[lid] = total;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = wg / 2; stride > 0; stride >>= 1) {
        if (lid < stride) {
            float mm = lm[lid], ss = ls[lid];
            merge_stats(&mm, &ss, lm[lid + stride], ls[lid + stride]);
            lm[lid] = mm;
            ls[lid] = ss;
            la[lid] += la[lid + stride];
            lb[lid] += lb[lid + stride];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = lm[0];
    s = ls[0];
    const int finite = la[0] == 0.0f;
    if (use_probs) total = lb[0];
    // Every work-item has read the totals before any is overwritten below.
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0 && !finite) atomic_min(&status[0], i);
    const float log_s = log(s);
    const float scale = mean ? (denominator[0] > 0.0f ? 1.0f / denominator[0] : 0.0f) : 1.0f;

    int y = -1;
    float wy = 0.0f;
    int counted = 1;
    if (!use_probs) {
        counted = class_row(i, C, labels, weights, has_weights, eps, weight_sum, ignore_index, status, &y, &wy, &total);
    }
    // Pass 2: the gradient and this slice's part of the loss.
    const float a = counted ? scale * total / s : 0.0f;
    float part = 0.0f;
    #pragma unroll
    for (int k = 0; k < XENT_CACHE; ++k) {
        const int j = lid + k * wg;
        if (j < C) {
            part += wg_gradient(cache[k], j, q, weights, use_probs, has_weights, eps, invC, counted, y, wy, a, m, scale, g, write_grad);
        }
    }
    for (int j = uncached; j < C; j += wg) {
        part += wg_gradient(f[j], j, q, weights, use_probs, has_weights, eps, invC, counted, y, wy, a, m, scale, g, write_grad);
    }
    const float rowPart = work_group_sum(la, part, lid, wg);
    if (lid == 0) {
        row_lse[i] = m + log_s;
        row_loss[i] = counted ? rowPart + total * log_s : 0.0f;
    }
}
