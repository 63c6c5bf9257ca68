// row_math.cl — the math of one row, once for every kernel variant (softmax_xent.cl's row and
// work-group kernels). It implements ReferenceCrossEntropy.evaluate's t, row loss and gradient, as
// Sources/SoftmaxCPU/RowTarget.swift does for the Swift kernels; an option of the row math is an edit
// here, there and in the oracle.
//   class indices: t_j = w_j·((1 − ε)·δ_jy + ε/C) = (ε/C)·w_j + hot·δ_jy,  hot = (1 − ε)·w_y,
//                  T = Σ_j t_j = hot + (ε/C)·W  (W = Σ_j w_j)
//   probabilities: t_j = w_j·((1 − ε)·q_j + ε/C)
//   row loss:      Σ_j t_j·(lse − f_j), with lse − f_j = (m − f_j) + log S (non-negative terms)
//   gradient:      scale·(T·p_j − t_j)

// ε/C: every class's share of a class-index row's target, before its weight.
inline float class_target_uniform(const float eps, const float invC) { return eps * invC; }

// (1 − ε)·w_y: what the label's class gets beyond its share.
inline float class_target_hot(const float eps, const float wy) { return (1.0f - eps) * wy; }

// T of a class-index row.
inline float class_target_total(const float eps, const float invC, const float wy, const float weight_sum) {
    return class_target_hot(eps, wy) + class_target_uniform(eps, invC) * weight_sum;
}

// t_j of a class-index row.
inline float class_target(const int j, const int y, const float w, const float eps, const float invC, const float wy) {
    return class_target_uniform(eps, invC) * w + (j == y ? class_target_hot(eps, wy) : 0.0f);
}

// t_j of a probability row.
inline float probability_target(const float q, const float w, const float eps, const float invC) {
    return w * ((1.0f - eps) * q + eps * invC);
}

// A class-index row's loss: (1 − ε)·w_y·(m − f_y + log S) + (ε/C)·(Σ_j w_j·(m − f_j) + W·log S),
// `smooth` being Σ_j w_j·(m − f_j) (unused without smoothing).
inline float class_row_loss(const float fy, const float m, const float log_s, const float smooth, const float eps,
                            const float invC, const float wy, const float weight_sum) {
    float loss = class_target_hot(eps, wy) * (m - fy + log_s);
    if (eps > 0.0f) loss += class_target_uniform(eps, invC) * (smooth + weight_sum * log_s);
    return loss;
}
