// softmax_xent.cl — fused softmax cross-entropy forward+backward, PyTorch semantics.
//
// Contract (N rows, C classes, row-major; logits and grad float32, or 16-bit in the work-group
// variant, see XENT_LOGIT below; everything else float32):
//   reads  logits (N, C); labels (N) int class indices or probs (N, C) probability targets;
//          weights (C) when has_weights; denominator[0] = Σ w_y and denominator[1] = counted rows
//          (from xent_denominator).
//   options: cap > 0 softcap (f' = cap·tanh(f/cap) before everything, gradient through it);
//          z_lambda ≥ 0 z-loss (a counted row adds λ·lse²); want_argmax: predictions and hits.
//   writes grad (N, C) = ∂(reduced loss)/∂logits, already scaled for the reduction (when write_grad);
//          row_loss (N) = the row's cross-entropy + z part, row_z (N) = its z part,
//          row_lse (N) = log Σ_j exp(f'_ij); with want_argmax pred (N) = argmax_j f_ij (first on
//          ties; the softcap is increasing, so this is f''s argmax without its rounding ties) and
//          row_hit (N) = 1 where a counted row's prediction is its label (the argmax of its target
//          row for probabilities), else 0;
//          status[0] = first row with a non-finite logit, status[1] = first row whose label is out of
//          range, status[2] = first row with a non-finite probability target (atomic_min; the host
//          presets them to INT_MAX); loss[0..2] (xent_reduce) = the reduced loss (z part
//          included), the reduced z part, the number of hits.
// Math: row_math.cl (prepended by the host): t_ij, T_i = Σ_j t_ij, L_i = Σ_j t_ij·(lse_i − f_ij),
//       ∂L_i/∂f_ij = T_i·p_ij − t_ij.
// Three variants, chosen per device by the host (or by `tune`):
//   softmax_xent_fwd_bwd_row: one work-item per row walking it with VW-wide vectors (CPUs: PoCL maps a
//     work-item onto one core's SIMD units; barriers and local memory would become loops there); the
//     exponentials of pass 1 are kept in the gradient row, so each element costs one exp;
//   softmax_xent_fwd_bwd:     one work-group per row (a power of two up to XENT_WG work-items, sized
//     by the host to the row), strided (coalesced) accesses and local-memory tree reductions (GPUs,
//     large C); each work-item keeps XENT_CACHE of its logits in registers between the passes, so
//     rows up to wg·XENT_CACHE are read once;
//   softmax_xent_fwd_bwd_lanes: eight rows per work-item, one per float8 lane (CPUs, C ≤ 64), at the
//     end of this file.
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

// Storage of the logits and of the gradient: XENT_LOGIT, XENT_GRAD = 0 float32, 1 float16,
// 2 bfloat16 (the host builds the program once per pair it needs). Every value is computed in
// float32 and rounded once when stored, so a gradient entry's p − 1 is formed before rounding.
// float16 goes through vload_half/vstore_half_rte, which need no extension; bfloat16 is the upper
// half of a float32's bits, rounded to nearest even (the gradient is finite: its NaN case is not
// needed). With a 16-bit gradient the row variant recomputes pass two from the logits (RECOMPUTE
// below) instead of reading back the exponentials it parks in a float32 gradient row.
#ifndef XENT_LOGIT
#define XENT_LOGIT 0
#endif
#ifndef XENT_GRAD
#define XENT_GRAD 0
#endif
#if XENT_LOGIT == 1
#define LOGIT_T half
#define LOAD_LOGIT(p, j) vload_half((j), (p))
#elif XENT_LOGIT == 2
#define LOGIT_T ushort
#define LOAD_LOGIT(p, j) as_float((uint)(p)[j] << 16)
#else
#define LOGIT_T float
#define LOAD_LOGIT(p, j) ((p)[j])
#endif
#if XENT_GRAD == 1
#define GRAD_T half
#define STORE_GRAD(p, j, v) vstore_half_rte((v), (j), (p))
#elif XENT_GRAD == 2
#define GRAD_T ushort
#define STORE_GRAD(p, j, v) ((p)[j] = (ushort)((as_uint(v) + 0x7FFFu + ((as_uint(v) >> 16) & 1u)) >> 16))
#else
#define GRAD_T float
#define STORE_GRAD(p, j, v) ((p)[j] = (v))
#endif

// VW-wide forms of the same (the row variant): VLOAD_LOGIT(p, j) reads p[j..j+VW), VSTORE_GRAD
// writes g[j..j+VW).
#define VSTORE_HALF_(n) vstore_half##n##_rte
#define VSTORE_HALF(n) VSTORE_HALF_(n)
#define VLOADN_(n) vload##n
#define VLOADN(n) VLOADN_(n)
#define VSTOREN_(n) vstore##n
#define VSTOREN(n) VSTOREN_(n)
#define UINTN_(n) uint##n
#define UINTN(n) UINTN_(n)
#define CONVERT_UINTN_(n) convert_uint##n
#define CONVERT_UINTN(n) CONVERT_UINTN_(n)
#define CONVERT_USHORTN_(n) convert_ushort##n
#define CONVERT_USHORTN(n) CONVERT_USHORTN_(n)
#define AS_FLOATN_(n) as_float##n
#define AS_FLOATN(n) AS_FLOATN_(n)
#define AS_UINTN_(n) as_uint##n
#define AS_UINTN(n) AS_UINTN_(n)
#if XENT_LOGIT == 1
// Not vload_halfN: PoCL 3.1 compiles it to aligned vector loads, and a row of odd length starts off
// the vector's alignment (a crash at C = 300). vloadN of the bits takes any 2-byte address.
#define VLOAD_LOGIT(p, j) half_bits_to_float(CONVERT_UINTN(VW)(VLOADN(VW)(0, (__global const ushort*)(p) + (j))))
#elif XENT_LOGIT == 2
#define VLOAD_LOGIT(p, j) AS_FLOATN(VW)(CONVERT_UINTN(VW)(VLOADN(VW)(0, (p) + (j))) << 16)
#else
#define VLOAD_LOGIT(p, j) VLOADN(VW)(0, (p) + (j))
#endif
#if XENT_GRAD == 1
#define VSTORE_GRAD(v, p, j) VSTORE_HALF(VW)((v), 0, (p) + (j))
#elif XENT_GRAD == 2
#define VSTORE_GRAD(v, p, j) VSTOREN(VW)(CONVERT_USHORTN(VW)((AS_UINTN(VW)(v) + 0x7FFFu + ((AS_UINTN(VW)(v) >> 16) & 1u)) >> 16), 0, (p) + (j))
#else
#define VSTORE_GRAD(v, p, j) VSTOREN(VW)((v), 0, (p) + (j))
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

#define UVTYPE UINTN(VW)
#define CONVERT_FLOATN_(n) convert_float##n
#define CONVERT_FLOATN(n) CONVERT_FLOATN_(n)

// float16 bits (the low half of each lane) to float32, exactly: a normal's exponent rebiased, a
// subnormal as its integer times 2^-24 (so float32 subnormals are never needed), infinities and
// NaNs kept.
inline VTYPE half_bits_to_float(UVTYPE h) {
    const UVTYPE em = h & 0x7FFFu;
    UVTYPE bits = (em << 13) + (UVTYPE)((127u - 15u) << 23);
    bits = select(bits, AS_UINTN(VW)(CONVERT_FLOATN(VW)(em) * 0x1p-24f), em < (UVTYPE)(0x400u));
    bits = select(bits, (UVTYPE)(0x7F800000u) | ((em & 0x3FFu) << 13), em >= (UVTYPE)(0x7C00u));
    return AS_FLOATN(VW)(bits | ((h & 0x8000u) << 16));
}

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

// Kahan-compensated running sums, one per lane (the one-group reductions below are one core's
// work on a CPU device: eight independent chains rather than one latency-bound chain).
inline void kahan_add8(float8* s, float8* comp, const float8 v) {
    const float8 t = *s + (v - *comp);
    *comp = (t - *s) - (v - *comp);
    *s = t;
}

// The sum of a float8's lanes.
inline float lanes_sum(const float8 v) {
    const float4 b = v.lo + v.hi;
    const float2 c = b.lo + b.hi;
    return c.x + c.y;
}

// A row's weight in the mean's divisor: w_y (1 without weights) where its label is counted, 0 for
// the ignore index and for a label out of 0..<C (the fused kernel reports that one).
#define LABEL_WEIGHT(y, C, has_weights, weights, ignore_index) \
    ((y) != (ignore_index) && (y) >= 0 && (y) < (C) ? ((has_weights) ? (weights)[y] : 1.0f) : 0.0f)

// out[0] = Σ_i w_{y_i} over rows that are not ignored (class indices), or N (probabilities): the
// mean's divisor; out[1] = the number of those rows: the z part's. One work-group; each work-item
// takes eight labels at a time.
__kernel void xent_denominator(const int N, const int C, __global const int* labels, __global const float* weights,
                               const int has_weights, const int use_probs, const int ignore_index,
                               __global float* out) {
    __local float partial[XENT_WG];
    const int lid = get_local_id(0);
    float s = 0.0f;
    int count = 0;
    if (!use_probs) {
        float8 s8 = (float8)(0.0f), comp8 = (float8)(0.0f);  // Kahan: N may be in the millions
        int8 count8 = (int8)(0);
        for (int b = lid; b < N / 8; b += XENT_WG) {
            const int8 y = vload8(b, labels);
            const int8 counted = (y != (int8)(ignore_index)) & (y >= (int8)(0)) & (y < (int8)(C));
            const float8 v = (float8)(LABEL_WEIGHT(y.s0, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s1, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s2, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s3, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s4, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s5, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s6, C, has_weights, weights, ignore_index),
                                      LABEL_WEIGHT(y.s7, C, has_weights, weights, ignore_index));
            kahan_add8(&s8, &comp8, v);
            count8 -= counted;  // a true comparison is −1
        }
        s = lanes_sum(s8 - comp8);
        count = count8.s0 + count8.s1 + count8.s2 + count8.s3 + count8.s4 + count8.s5 + count8.s6 + count8.s7;
        for (int i = N / 8 * 8 + lid; i < N; i += XENT_WG) {
            const int y = labels[i];
            s += LABEL_WEIGHT(y, C, has_weights, weights, ignore_index);
            count += y != ignore_index && y >= 0 && y < C;
        }
    } else if (lid == 0) {
        s = (float)N;
        count = N;
    }
    const float total = work_group_sum(partial, s, lid, XENT_WG);
    // Every work-item has read the total before the array is reused.
    barrier(CLK_LOCAL_MEM_FENCE);
    const float rows = work_group_sum(partial, (float)count, lid, XENT_WG);
    if (lid == 0) {
        out[0] = total;
        out[1] = rows;
    }
}

// The reduced loss into loss[0]: Σ of the rows' cross-entropy (row_loss − row_z) divided by
// denominator[0] for mean, plus Σ row_z divided by denominator[1] (the counted rows) for mean;
// loss[1] = that z part, loss[2] = Σ row_hit when want_argmax. The values that come back to the
// host per step, with the status words. One work-group; each work-item takes eight rows at a time.
__kernel void xent_reduce(const int N, __global const float* row_loss, __global const float* row_z,
                          __global const float* row_hit, const int want_argmax, __global const float* denominator,
                          const int mean, __global float* loss) {
    __local float partial[XENT_WG];
    const int lid = get_local_id(0);
    float8 ce8 = (float8)(0.0f), ce_comp8 = (float8)(0.0f), z8 = (float8)(0.0f), z_comp8 = (float8)(0.0f), hits8 = (float8)(0.0f);
    for (int b = lid; b < N / 8; b += XENT_WG) {
        const float8 l = vload8(b, row_loss), z = vload8(b, row_z);
        kahan_add8(&ce8, &ce_comp8, l - z);
        kahan_add8(&z8, &z_comp8, z);
        if (want_argmax) hits8 += vload8(b, row_hit);
    }
    float ce = lanes_sum(ce8 - ce_comp8), z = lanes_sum(z8 - z_comp8), hits = lanes_sum(hits8);
    for (int i = N / 8 * 8 + lid; i < N; i += XENT_WG) {
        ce += row_loss[i] - row_z[i];
        z += row_z[i];
        if (want_argmax) hits += row_hit[i];
    }
    const float ce_total = work_group_sum(partial, ce, lid, XENT_WG);
    barrier(CLK_LOCAL_MEM_FENCE);
    const float z_total = work_group_sum(partial, z, lid, XENT_WG);
    barrier(CLK_LOCAL_MEM_FENCE);
    const float hit_total = work_group_sum(partial, hits, lid, XENT_WG);
    if (lid == 0) {
        const float z_reduced = mean ? z_total / denominator[1] : z_total;
        loss[0] = (mean ? ce_total / denominator[0] : ce_total) + z_reduced;
        loss[1] = z_reduced;
        loss[2] = hit_total;
    }
}

// Row setup shared by the row and work-group variants: label, its weight and T = Σ_j t_j for class indices.
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

// The first j of f[b0..b1) equal to v (b0 when none: a row with NaN, which is reported anyway).
inline int first_equal(__global const LOGIT_T* f, const int b0, const int b1, const float v) {
    for (int j = b0; j < b1; ++j) if (LOAD_LOGIT(f, j) == v) return j;
    return b0;
}

// The parameters of the three fused variants, in the order XentLaunch.arguments lists them.
#define XENT_PARAMETERS \
    const int N, const int C, __global const LOGIT_T* logits, __global const int* labels, __global const float* probs, \
    __global const float* weights, const int use_probs, const int has_weights, const float eps, const float weight_sum, \
    const int ignore_index, __global const float* denominator, const int mean, __global GRAD_T* grad, const int write_grad, \
    __global float* row_loss, __global float* row_lse, __global int* status, const float cap, const float z_lambda, \
    const int want_argmax, __global int* pred, __global float* row_z, __global float* row_hit

// With a 16-bit gradient the row variant cannot park pass one's exponentials in the gradient row
// (they would be rounded): pass two then computes each entry from the logits again, a second
// exponential, label included, and rounds it once.
#define RECOMPUTE (XENT_GRAD != 0)

__kernel void softmax_xent_fwd_bwd_row(XENT_PARAMETERS) {
    const int i = get_global_id(0);
    if (i >= N) return;
    __global const LOGIT_T* f = logits + (size_t)i * C;
    __global GRAD_T* g = grad + (size_t)i * C;
    __global const float* q = probs + (size_t)i * C;
    const float invC = 1.0f / (float)C;
    const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    const int store = write_grad && !use_probs && !RECOMPUTE;
    const int sloped = store && cap > 0.0f && eps == 0.0f;

    // Pass 1, block by block: the block's max of f (updating the running max and rescaling the
    // sum; f' = softcap(f) is increasing, so its max is the cap of f's), then exp(f' − m) summed
    // and, when the gradient is wanted, stored into it with m kept per block: one exponential per
    // element. A block is re-read from L1; blocks grow past XENT_BLOCK only so that a row never
    // has more than XENT_MAX_BLOCKS of them.
    int block = XENT_BLOCK;
    while ((C + block - 1) / block > XENT_MAX_BLOCKS) block *= 2;
    float block_max[XENT_MAX_BLOCKS];
    // raw_m: running max of f; m: of f'; arg_block: where raw_m last rose (its first occurrence).
    float raw_m = -INFINITY, m = -INFINITY, s = 0.0f, check = 0.0f, total = 0.0f;
    int arg_block = 0;
    VTYPE vs = (VTYPE)(0.0f), vcheck = (VTYPE)(0.0f);
    for (int b0 = 0, nb = 0; b0 < C; b0 += block, ++nb) {
        const int b1 = min(b0 + block, C);
        VTYPE vmax = (VTYPE)(-INFINITY);
        int j = b0;
        for (; j + VW <= b1; j += VW) {
            const VTYPE x = VLOAD_LOGIT(f, j);
            vmax = fmax(vmax, x);
            vcheck += x - x;
        }
        float cm = hmax(vmax);
        for (; j < b1; ++j) {
            const float x = LOAD_LOGIT(f, j);
            cm = fmax(cm, x);
            check += x - x;
        }
        if (cm > raw_m) {
            const float capped = CAPPED(cm, cap, inv_cap);
            const float r = exp(m - capped);
            vs *= r;
            s *= r;
            raw_m = cm;
            m = capped;
            arg_block = b0;
        }
        block_max[nb] = m;
        j = b0;
        if (sloped) {
            // A softcap without smoothing: its gradient is a·exp(f' − m)·slope alone, so the slope
            // goes into the stored exponential and pass 2 needs no second tanh.
            for (; j + VW <= b1; j += VW) {
                const VTYPE fc = CAPPED(VLOAD_LOGIT(f, j), cap, inv_cap);
                const VTYPE e = exp(fc - m);
                vs += e;
                VSTORE_GRAD(e * CAP_SLOPE(fc, inv_cap), g, j);
            }
            for (; j < b1; ++j) {
                const float fc = CAPPED(LOAD_LOGIT(f, j), cap, inv_cap);
                const float e = exp(fc - m);
                s += e;
                STORE_GRAD(g, j, e * CAP_SLOPE(fc, inv_cap));
            }
        }
        for (; j + VW <= b1; j += VW) {
            const VTYPE e = exp(CAPPED(VLOAD_LOGIT(f, j), cap, inv_cap) - m);
            vs += e;
            if (store) VSTORE_GRAD(e, g, j);
        }
        for (; j < b1; ++j) {
            const float e = exp(CAPPED(LOAD_LOGIT(f, j), cap, inv_cap) - m);
            s += e;
            if (store) STORE_GRAD(g, j, e);
        }
    }
    s += hsum(vs);
    check += hsum(vcheck);
    if (!(check == 0.0f)) atomic_min(&status[0], i);
    const float log_s = log(s);
    const float lse = m + log_s;
    row_lse[i] = lse;
    const int arg = want_argmax ? first_equal(f, arg_block, min(arg_block + block, C), raw_m) : 0;
    if (want_argmax) pred[i] = arg;

    const float scale = mean ? (denominator[0] > 0.0f ? 1.0f / denominator[0] : 0.0f) : 1.0f;
    const float zscale = mean ? (denominator[1] > 0.0f ? 1.0f / denominator[1] : 0.0f) : 1.0f;
    const float z = z_row(z_lambda, lse);
    int y = 0;
    float wy = 0.0f;
    if (use_probs) {
        // T = Σ_j t_j and Σ_j t_j·(m − f'_j), before the gradient needs T; the target's argmax.
        float part = 0.0f, qcheck = 0.0f;
        int target_arg = 0;
        for (int k = 0; k < C; ++k) {
            const float t = probability_target(q[k], has_weights ? weights[k] : 1.0f, eps, invC);
            qcheck += q[k] - q[k];
            total += t;
            part += t * (m - CAPPED(LOAD_LOGIT(f, k), cap, inv_cap));
            if (q[k] > q[target_arg]) target_arg = k;
        }
        if (!(qcheck == 0.0f)) atomic_min(&status[2], i);
        row_loss[i] = part + total * log_s + z;
        row_z[i] = z;
        if (want_argmax) row_hit[i] = arg == target_arg ? 1.0f : 0.0f;
        if (write_grad) {
            const float a = (scale * total + z_p_coefficient(z_lambda, zscale, lse)) / s;
            for (int k = 0; k < C; ++k) {
                const float fc = CAPPED(LOAD_LOGIT(f, k), cap, inv_cap);
                const float t = probability_target(q[k], has_weights ? weights[k] : 1.0f, eps, invC);
                STORE_GRAD(g, k, (a * exp(fc - m) - scale * t) * CAP_SLOPE(fc, inv_cap));
            }
        }
        return;
    }
    if (!class_row(i, C, labels, weights, has_weights, eps, weight_sum, ignore_index, status, &y, &wy, &total)) {
        row_loss[i] = 0.0f;
        row_z[i] = 0.0f;
        if (want_argmax) row_hit[i] = 0.0f;
        if (write_grad) for (int k = 0; k < C; ++k) STORE_GRAD(g, k, 0.0f);
        return;
    }
    if (want_argmax) row_hit[i] = arg == y ? 1.0f : 0.0f;
    // Pass 2: g_j = (a·exp(f'_j − m) − b·w_j)·∂f'_j/∂f_j from the stored exp(f'_j − m_block),
    // then the label's −scale·(1 − ε)·w_y times its slope. The smoothing part of the loss (and a
    // softcap's slope) needs the logits again.
    const float a = (scale * total + z_p_coefficient(z_lambda, zscale, lse)) / s;
    const float b = scale * class_target_uniform(eps, invC);
    // With smoothing the logits are read again (the smoothing part, and a softcap's slope); without
    // it b = 0 and the stored values already carry any slope.
    const int reread = eps > 0.0f;
    float smooth = 0.0f;
#if RECOMPUTE
    // Each entry from the logits: (a·exp(f'_j − m) − b·w_j − [j = y]·hot)·slope, rounded once.
    const float hot = scale * class_target_hot(eps, wy);
    for (int j = 0; j < C; j += VW) {
        if (j + VW <= C) {
            const VTYPE fc = CAPPED(VLOAD_LOGIT(f, j), cap, inv_cap);
            const VTYPE w = has_weights ? VLOAD(0, weights + j) : (VTYPE)(1.0f);
            if (write_grad) VSTORE_GRAD((a * exp(fc - m) - b * w) * CAP_SLOPE(fc, inv_cap), g, j);
            if (reread) smooth += hsum(w * (m - fc));
        } else {
            for (int k = j; k < C; ++k) {
                const float fc = CAPPED(LOAD_LOGIT(f, k), cap, inv_cap);
                const float w = has_weights ? weights[k] : 1.0f;
                if (write_grad) STORE_GRAD(g, k, (a * exp(fc - m) - b * w) * CAP_SLOPE(fc, inv_cap));
                if (reread) smooth += w * (m - fc);
            }
        }
    }
    const float fy = CAPPED(LOAD_LOGIT(f, y), cap, inv_cap);
    if (write_grad) {
        const float wyj = has_weights ? weights[y] : 1.0f;
        STORE_GRAD(g, y, (a * exp(fy - m) - b * wyj - hot) * CAP_SLOPE(fy, inv_cap));
    }
#else
    for (int b0 = 0, nb = 0; b0 < C; b0 += block, ++nb) {
        const int b1 = min(b0 + block, C);
        const float factor = a * exp(block_max[nb] - m);
        int j = b0;
        if (write_grad) {
            for (; j + VW <= b1; j += VW) {
                const VTYPE w = has_weights ? VLOAD(0, weights + j) : (VTYPE)(1.0f);
                if (reread) {
                    const VTYPE fc = CAPPED(VLOAD_LOGIT(f, j), cap, inv_cap);
                    VSTORE((factor * VLOAD(0, g + j) - b * w) * CAP_SLOPE(fc, inv_cap), 0, g + j);
                    smooth += hsum(w * (m - fc));
                } else {
                    VSTORE(factor * VLOAD(0, g + j), 0, g + j);
                }
            }
        }
        for (; j < b1; ++j) {
            if (reread) {
                const float w = has_weights ? weights[j] : 1.0f;
                const float fc = CAPPED(LOAD_LOGIT(f, j), cap, inv_cap);
                if (write_grad) g[j] = (factor * g[j] - b * w) * CAP_SLOPE(fc, inv_cap);
                smooth += w * (m - fc);
            } else if (write_grad) {
                g[j] = factor * g[j];
            }
        }
    }
    const float fy = CAPPED(LOAD_LOGIT(f, y), cap, inv_cap);
    if (write_grad) g[y] -= scale * class_target_hot(eps, wy) * CAP_SLOPE(fy, inv_cap);
#endif
    const float ce = class_row_loss(fy, m, log_s, smooth, eps, invC, wy, weight_sum);
    row_loss[i] = ce + z;
    row_z[i] = z;
}

// Merge of two partial (max, sum) pairs.
inline void merge_stats(float* m, float* s, const float m2, const float s2) {
    const float mm = fmax(*m, m2);
    if (mm == -INFINITY) return;
    *s = *s * exp(*m - mm) + s2 * exp(m2 - mm);
    *m = mm;
}

// Pass 1 of the work-group variant for one element x = f_j (xc = f'_j): online max/sum of f',
// the first max of f, finiteness, and for probability targets T, their finiteness and argmax.
inline void wg_statistics(const float x, const float xc, const int j, __global const float* q, __global const float* weights,
                          const int use_probs, const int has_weights, const float eps, const float invC,
                          float* m, float* s, float* check, float* total, float* qcheck, float* raw_m, int* arg,
                          float* q_max, int* q_arg) {
    *check += x - x;
    if (x > *raw_m) {
        *raw_m = x;
        *arg = j;
    }
    if (xc > *m) {
        *s *= exp(*m - xc);
        *m = xc;
    }
    *s += exp(xc - *m);
    if (use_probs) {
        *total += probability_target(q[j], has_weights ? weights[j] : 1.0f, eps, invC);
        *qcheck += q[j] - q[j];
        if (q[j] > *q_max) {
            *q_max = q[j];
            *q_arg = j;
        }
    }
}

// Pass 2 for one element (xc = f'_j): writes the gradient and returns t_j·(m − f'_j), its part of
// the loss.
inline float wg_gradient(const float xc, const int j, __global const float* q, __global const float* weights,
                         const int use_probs, const int has_weights, const float eps, const float invC, const int counted,
                         const int y, const float wy, const float a, const float m, const float scale, const float inv_cap,
                         __global GRAD_T* g, const int write_grad) {
    const float w = has_weights ? weights[j] : 1.0f;
    float t;
    if (use_probs) t = probability_target(q[j], w, eps, invC);
    else t = counted ? class_target(j, y, w, eps, invC, wy) : 0.0f;
    if (write_grad) STORE_GRAD(g, j, (a * exp(xc - m) - scale * t) * CAP_SLOPE(xc, inv_cap));
    return t * (m - xc);
}

// The first (value, index) maximum of the work-group's pairs, in place in v[0], k[0]: the larger
// value, or the smaller index of equal ones.
inline void work_group_argmax(__local float* v, __local int* k, const int lid, const int wg) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = wg / 2; stride > 0; stride >>= 1) {
        if (lid < stride) {
            const float v2 = v[lid + stride];
            const int k2 = k[lid + stride];
            if (v2 > v[lid] || (v2 == v[lid] && k2 < k[lid])) {
                v[lid] = v2;
                k[lid] = k2;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// One work-group per row, of any power-of-two size up to XENT_WG (the host sizes it to the row).
// Each work-item keeps its first XENT_CACHE elements of the row (after the softcap) in registers
// between the passes, so a row of up to wg·XENT_CACHE floats (32768 with 1024 work-items) is read
// from memory once; the rest of a longer row is read again.
__kernel void softmax_xent_fwd_bwd(XENT_PARAMETERS) {
    __local float lm[XENT_WG], ls[XENT_WG], la[XENT_WG], lb[XENT_WG];
    __local int li[XENT_WG];
    const int i = get_group_id(0);
    const int lid = get_local_id(0);
    const int wg = get_local_size(0);
    if (i >= N) return;  // uniform across the work-group
    __global const LOGIT_T* f = logits + (size_t)i * C;
    __global GRAD_T* g = grad + (size_t)i * C;
    __global const float* q = probs + (size_t)i * C;
    const float invC = 1.0f / (float)C;
    const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    const int uncached = lid + XENT_CACHE * wg;

    // Pass 1: each work-item's online max/sum over a strided (coalesced) slice, plus the finiteness
    // check, the first max and, for probability targets, T and the target's first max.
    float m = -INFINITY, s = 0.0f, check = 0.0f, total = 0.0f, qcheck = 0.0f, raw_m = -INFINITY, q_max = -INFINITY;
    int arg = 0, q_arg = 0;
    float cache[XENT_CACHE > 0 ? XENT_CACHE : 1];
    #pragma unroll
    for (int k = 0; k < XENT_CACHE; ++k) {
        const int j = lid + k * wg;
        if (j < C) {
            const float x = LOAD_LOGIT(f, j);
            cache[k] = CAPPED(x, cap, inv_cap);
            wg_statistics(x, cache[k], j, q, weights, use_probs, has_weights, eps, invC, &m, &s, &check, &total, &qcheck,
                          &raw_m, &arg, &q_max, &q_arg);
        }
    }
    for (int j = uncached; j < C; j += wg) {
        const float x = LOAD_LOGIT(f, j);
        wg_statistics(x, CAPPED(x, cap, inv_cap), j, q, weights, use_probs, has_weights, eps, invC, &m, &s, &check, &total,
                      &qcheck, &raw_m, &arg, &q_max, &q_arg);
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
    const float lse = m + log_s;
    const float scale = mean ? (denominator[0] > 0.0f ? 1.0f / denominator[0] : 0.0f) : 1.0f;
    const float zscale = mean ? (denominator[1] > 0.0f ? 1.0f / denominator[1] : 0.0f) : 1.0f;

    int y = -1;
    float wy = 0.0f;
    int counted = 1;
    if (!use_probs) {
        counted = class_row(i, C, labels, weights, has_weights, eps, weight_sum, ignore_index, status, &y, &wy, &total);
    }
    // The row's first max of f (and of the target row): uniform branches, so the barriers are safe.
    int row_arg = 0, target_arg = -1;
    if (want_argmax) {
        lm[lid] = raw_m;
        li[lid] = arg;
        work_group_argmax(lm, li, lid, wg);
        row_arg = li[0];
        if (use_probs) {
            barrier(CLK_LOCAL_MEM_FENCE);
            lm[lid] = q_max;
            li[lid] = q_arg;
            work_group_argmax(lm, li, lid, wg);
            target_arg = li[0];
        } else {
            target_arg = counted ? y : -1;
        }
    }
    // Pass 2: the gradient and this slice's part of the loss.
    const float a = counted ? (scale * total + z_p_coefficient(z_lambda, zscale, lse)) / s : 0.0f;
    float part = 0.0f;
    #pragma unroll
    for (int k = 0; k < XENT_CACHE; ++k) {
        const int j = lid + k * wg;
        if (j < C) {
            part += wg_gradient(cache[k], j, q, weights, use_probs, has_weights, eps, invC, counted, y, wy, a, m, scale, inv_cap,
                                g, write_grad);
        }
    }
    for (int j = uncached; j < C; j += wg) {
        part += wg_gradient(CAPPED(LOAD_LOGIT(f, j), cap, inv_cap), j, q, weights, use_probs, has_weights, eps, invC, counted, y, wy, a, m,
                            scale, inv_cap, g, write_grad);
    }
    const float rowPart = work_group_sum(la, part, lid, wg);
    if (lid == 0) {
        const float z = counted ? z_row(z_lambda, lse) : 0.0f;
        row_lse[i] = lse;
        row_loss[i] = counted ? rowPart + total * log_s + z : 0.0f;
        row_z[i] = z;
        if (want_argmax) {
            pred[i] = row_arg;
            row_hit[i] = row_arg == target_arg ? 1.0f : 0.0f;
        }
    }
}

// Rows in vector lanes (CPU devices, C ≤ XENT_LANES_MAX_C): each work-item takes 8 consecutive
// rows, lane k holding row r0 + k, so max, sum and gradient are element-wise float8 operations
// and a row of 10 classes costs no horizontal reductions or tails (the Swift lanes kernel's idea;
// PoCL's one-row-per-work-item kernel spent most of its time on scalar tails at C = 10). Column c
// of the 8 rows is gathered (8 loads a stride of C apart, from L1) and the gradient scattered the
// same way; f' and exp(f' − m) stay in private arrays between the passes, so each logit is read
// once and costs one exponential. Lane k of every work-item is at k·C from its first row, so
// every address is the base plus a multiple of C (per-lane offsets as a vector, or clamped at the
// last row, cost a third more): the last work-item, when N is not a multiple of 8, takes the last
// eight rows, some of which its neighbour also computes and stores — the same values. N ≥ 8 (the
// host takes the row variant for fewer rows).
#ifndef XENT_LANES_MAX_C
#define XENT_LANES_MAX_C 64
#endif
// Column c of the eight rows at p (rows `stride` apart), and its store.
#define GATHER8(LOAD, p, c, stride) (float8)(LOAD(p, c), LOAD(p, (stride) + (c)), LOAD(p, 2 * (stride) + (c)), \
    LOAD(p, 3 * (stride) + (c)), LOAD(p, 4 * (stride) + (c)), LOAD(p, 5 * (stride) + (c)), LOAD(p, 6 * (stride) + (c)), \
    LOAD(p, 7 * (stride) + (c)))
#define SCATTER8(STORE, p, c, stride, v) do { STORE(p, c, (v).s0); STORE(p, (stride) + (c), (v).s1); \
    STORE(p, 2 * (stride) + (c), (v).s2); STORE(p, 3 * (stride) + (c), (v).s3); STORE(p, 4 * (stride) + (c), (v).s4); \
    STORE(p, 5 * (stride) + (c), (v).s5); STORE(p, 6 * (stride) + (c), (v).s6); STORE(p, 7 * (stride) + (c), (v).s7); } while (0)
#define LOAD_AT(p, j) ((p)[j])
#define STORE_AT(p, j, v) ((p)[j] = (v))

// atomic_min(&word, r0 + k) for each lane k whose mask is set (a rare path: bad input).
inline void lanes_report(__global int* word, const int8 mask, const int r0) {
    if (!any(mask)) return;
    if (mask.s0) atomic_min(word, r0);
    if (mask.s1) atomic_min(word, r0 + 1);
    if (mask.s2) atomic_min(word, r0 + 2);
    if (mask.s3) atomic_min(word, r0 + 3);
    if (mask.s4) atomic_min(word, r0 + 4);
    if (mask.s5) atomic_min(word, r0 + 5);
    if (mask.s6) atomic_min(word, r0 + 6);
    if (mask.s7) atomic_min(word, r0 + 7);
}

__kernel void softmax_xent_fwd_bwd_lanes(XENT_PARAMETERS) {
    if ((int)get_global_id(0) * 8 >= N || N < 8 || C > XENT_LANES_MAX_C) return;
    const int r0 = min((int)get_global_id(0) * 8, N - 8);
    __global const LOGIT_T* f = logits + (size_t)r0 * C;
    __global GRAD_T* g = grad + (size_t)r0 * C;
    __global const float* q = probs + (size_t)r0 * C;
    const float invC = 1.0f / (float)C;
    const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    float8 fcache[XENT_LANES_MAX_C], ecache[XENT_LANES_MAX_C];

    // Pass 1: f' kept, its max m, the first max of f (the softcap is increasing), finiteness.
    float8 m = (float8)(-INFINITY), raw_m = (float8)(-INFINITY), check = (float8)(0.0f);
    int8 arg = (int8)(0);
    for (int c = 0; c < C; ++c) {
        const float8 x = GATHER8(LOAD_LOGIT, f, c, C);
        check += x - x;
        arg = select(arg, (int8)(c), x > raw_m);
        raw_m = fmax(raw_m, x);
        const float8 fc = CAPPED(x, cap, inv_cap);
        fcache[c] = fc;
        m = fmax(m, fc);
    }
    // Pass 2: exp(f' − m), kept, and summed.
    float8 s = (float8)(0.0f);
    for (int c = 0; c < C; ++c) {
        const float8 e = exp(fcache[c] - m);
        ecache[c] = e;
        s += e;
    }
    lanes_report(&status[0], !(check == (float8)(0.0f)), r0);
    const float8 log_s = log(s);
    const float8 lse = m + log_s;
    vstore8(lse, 0, row_lse + r0);
    if (want_argmax) vstore8(arg, 0, pred + r0);
    const float scale = mean ? (denominator[0] > 0.0f ? 1.0f / denominator[0] : 0.0f) : 1.0f;
    const float zscale = mean ? (denominator[1] > 0.0f ? 1.0f / denominator[1] : 0.0f) : 1.0f;
    const float8 z = z_row(z_lambda, lse);

    if (use_probs) {
        // T = Σ_j t_j, Σ_j t_j·(m − f'_j) and the target's first max, then the gradient.
        float8 total = (float8)(0.0f), part = (float8)(0.0f), qcheck = (float8)(0.0f), q_max = (float8)(-INFINITY);
        int8 target_arg = (int8)(0);
        for (int c = 0; c < C; ++c) {
            const float8 qv = GATHER8(LOAD_AT, q, c, C);
            const float8 t = probability_target(qv, has_weights ? weights[c] : 1.0f, eps, invC);
            qcheck += qv - qv;
            total += t;
            part += t * (m - fcache[c]);
            target_arg = select(target_arg, (int8)(c), qv > q_max);
            q_max = fmax(q_max, qv);
        }
        lanes_report(&status[2], !(qcheck == (float8)(0.0f)), r0);
        vstore8(part + total * log_s + z, 0, row_loss + r0);
        vstore8(z, 0, row_z + r0);
        if (want_argmax) vstore8(select((float8)(0.0f), (float8)(1.0f), arg == target_arg), 0, row_hit + r0);
        if (write_grad) {
            const float8 a = (scale * total + z_p_coefficient(z_lambda, zscale, lse)) / s;
            for (int c = 0; c < C; ++c) {
                const float8 t = probability_target(GATHER8(LOAD_AT, q, c, C), has_weights ? weights[c] : 1.0f, eps, invC);
                const float8 v = (a * ecache[c] - scale * t) * CAP_SLOPE(fcache[c], inv_cap);
                SCATTER8(STORE_GRAD, g, c, C, v);
            }
        }
        return;
    }
    // Class indices: an ignored row, or one whose label is out of range (reported), counts nothing.
    const int8 y = vload8(0, labels + r0);
    const int8 ignored = y == (int8)(ignore_index);
    const int8 bad = ~ignored & ((y < (int8)(0)) | (y >= (int8)(C)));
    lanes_report(&status[1], bad, r0);
    const int8 counted = ~(ignored | bad);
    const int8 yc = select((int8)(0), y, counted);
    const float8 wy = has_weights ? (float8)(weights[yc.s0], weights[yc.s1], weights[yc.s2], weights[yc.s3], weights[yc.s4], weights[yc.s5], weights[yc.s6], weights[yc.s7]) : (float8)(1.0f);
    const float8 total = class_target_total(eps, invC, wy, weight_sum);
    // g_j = (a·exp(f'_j − m) − b·w_j − [j = y]·hot)·∂f'_j/∂f_j; the loss needs f'_y and, with
    // smoothing, Σ_j w_j·(m − f'_j).
    const float8 a = (scale * total + z_p_coefficient(z_lambda, zscale, lse)) / s;
    const float b = scale * class_target_uniform(eps, invC);
    const float8 hot = scale * class_target_hot(eps, wy);
    float8 fy = (float8)(0.0f), smooth = (float8)(0.0f);
    for (int c = 0; c < C; ++c) {
        const float w = has_weights ? weights[c] : 1.0f;
        const float8 fc = fcache[c];
        const int8 is_y = yc == (int8)(c);
        fy = select(fy, fc, is_y);
        smooth += w * (m - fc);
        if (write_grad) {
            const float8 v = (a * ecache[c] - b * w - select((float8)(0.0f), hot, is_y)) * CAP_SLOPE(fc, inv_cap);
            SCATTER8(STORE_GRAD, g, c, C, select((float8)(0.0f), v, counted));
        }
    }
    const float8 ce = class_row_loss(fy, m, log_s, smooth, eps, invC, wy, weight_sum);
    vstore8(select((float8)(0.0f), ce + z, counted), 0, row_loss + r0);
    vstore8(select((float8)(0.0f), z, counted), 0, row_z + r0);
    if (want_argmax) vstore8(select((float8)(0.0f), (float8)(1.0f), counted & (arg == yc)), 0, row_hit + r0);
}
