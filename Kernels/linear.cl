// linear.cl — the linear classifier's products and the SGD update.
//
// Contract (row-major float32; x (N, D), w (D, C), b (C), g (N, C)):
//   matmul_bias:  scores (N, C) = x·w + b
//   matmul_tn_l2: dw (D, C)     = xᵀ·g + l2·w
//   column_sums:  db (C)        = Σ_i g[i, :]
//   sgd_momentum: v = μ·v + grad; p −= lr·v   (count elements)
// The products are TILE×TILE tiles through local memory, launched on 2-D ranges rounded up to the
// tile (work-items outside the matrix load zeros and store nothing).

#ifndef TILE
#define TILE 16
#endif

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void matmul_bias(const int N, const int D, const int C, __global const float* x, __global const float* w,
                 __global const float* b, __global float* scores) {
    __local float xs[TILE][TILE], ws[TILE][TILE + 1];
    const int col = get_global_id(0), row = get_global_id(1);
    const int lc = get_local_id(0), lr = get_local_id(1);
    float acc = 0.0f;
    for (int t = 0; t < D; t += TILE) {
        xs[lr][lc] = (row < N && t + lc < D) ? x[(size_t)row * D + t + lc] : 0.0f;
        ws[lr][lc] = (t + lr < D && col < C) ? w[(size_t)(t + lr) * C + col] : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TILE; ++k) acc = fma(xs[lr][k], ws[k][lc], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < N && col < C) scores[(size_t)row * C + col] = acc + b[col];
}

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void matmul_tn_l2(const int N, const int D, const int C, __global const float* x, __global const float* g,
                  __global const float* w, const float l2, __global float* dw) {
    __local float xs[TILE][TILE + 1], gs[TILE][TILE + 1];
    const int col = get_global_id(0), row = get_global_id(1);  // row indexes D, col indexes C
    const int lc = get_local_id(0), lr = get_local_id(1);
    float acc = 0.0f;
    for (int t = 0; t < N; t += TILE) {
        // xs[k][r] = x[t + k, row0 + r]: read along x's rows so neighbouring work-items read neighbours.
        const int row0 = get_group_id(1) * TILE;
        xs[lr][lc] = (t + lr < N && row0 + lc < D) ? x[(size_t)(t + lr) * D + row0 + lc] : 0.0f;
        gs[lr][lc] = (t + lr < N && col < C) ? g[(size_t)(t + lr) * C + col] : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TILE; ++k) acc = fma(xs[k][lr], gs[k][lc], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < D && col < C) dw[(size_t)row * C + col] = acc + l2 * w[(size_t)row * C + col];
}

__kernel void column_sums(const int N, const int C, __global const float* g, __global float* db) {
    const int col = get_global_id(0);
    if (col >= C) return;
    float s = 0.0f;
    for (int i = 0; i < N; ++i) s += g[(size_t)i * C + col];
    db[col] = s;
}

__kernel void sgd_momentum(const int count, __global float* p, __global const float* grad, __global float* v,
                           const float lr, const float mu) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float vi = mu * v[i] + grad[i];
    v[i] = vi;
    p[i] -= lr * vi;
}
