// row_math.cl — the math of one row, once for every kernel variant (softmax_xent.cl's row and
// work-group kernels). It implements ReferenceCrossEntropy.evaluate's t, row loss and gradient, as
// Sources/SoftmaxCPU/RowTarget.swift does for the Swift kernels; an option of the row math is an edit
// here, there and in the oracle.
//   class indices: t_j = w_j·((1 − ε)·δ_jy + ε/C) = (ε/C)·w_j + hot·δ_jy,  hot = (1 − ε)·w_y,
//                  T = Σ_j t_j = hot + (ε/C)·W  (W = Σ_j w_j)
//   probabilities: t_j = w_j·((1 − ε)·q_j + ε/C)
//   row loss:      Σ_j t_j·(lse − f_j), with lse − f_j = (m − f_j) + log S (non-negative terms)
//   gradient:      scale·(T·p_j − t_j)

// Each formula is a macro so that it serves a float and any float vector alike (the lanes variant
// holds one row per vector lane); arguments are plain expressions without side effects.

// ε/C: every class's share of a class-index row's target, before its weight.
#define class_target_uniform(eps, invC) ((eps) * (invC))

// (1 − ε)·w_y: what the label's class gets beyond its share.
#define class_target_hot(eps, wy) ((1.0f - (eps)) * (wy))

// T of a class-index row.
#define class_target_total(eps, invC, wy, weight_sum) (class_target_hot(eps, wy) + class_target_uniform(eps, invC) * (weight_sum))

// t_j of a class-index row (scalars: j, y ints).
#define class_target(j, y, w, eps, invC, wy) (class_target_uniform(eps, invC) * (w) + ((j) == (y) ? class_target_hot(eps, wy) : 0.0f))

// t_j of a probability row.
#define probability_target(q, w, eps, invC) ((w) * ((1.0f - (eps)) * (q) + (eps) * (invC)))

// A class-index row's loss: (1 − ε)·w_y·(m − f_y + log S) + (ε/C)·(Σ_j w_j·(m − f_j) + W·log S),
// `smooth` being Σ_j w_j·(m − f_j) (0 without smoothing, where ε/C = 0 makes the second term 0:
// S ≥ 1, so W·log S is finite).
#define class_row_loss(fy, m, log_s, smooth, eps, invC, wy, weight_sum) \
    (class_target_hot(eps, wy) * ((m) - (fy) + (log_s)) + class_target_uniform(eps, invC) * ((smooth) + (weight_sum) * (log_s)))

// Softcap (cap > 0): f' = cap·tanh(f/cap), for a float or any float vector; cap = 0 leaves f as it
// is. inv_cap = 1/cap (0 without a cap, which makes the slope 1).
#define CAPPED(x, cap, inv_cap) ((cap) > 0.0f ? (cap) * tanh((x) * (inv_cap)) : (x))
// ∂f'/∂f = 1 − (f'/cap)², given f'.
#define CAP_SLOPE(fc, inv_cap) (1.0f - ((fc) * (inv_cap)) * ((fc) * (inv_cap)))

// The z part of a counted row: λ·lse².
#define z_row(lambda, lse) ((lambda) * (lse) * (lse))

// What the z part adds to the coefficient of p_j in the row's scaled gradient: 2λ·lse·zscale
// (zscale = 1/counted rows for mean, else 1).
#define z_p_coefficient(lambda, zscale, lse) (2.0f * (lambda) * (zscale) * (lse))
