// linear.cl — the linear classifier's products and the SGD update.
//
// Contract (row-major float32; x (N, D), w (D, C), b (C), g (N, C)):
//   matmul_bias:  scores (N, C) = x·w + b
//   matmul_tn_l2: dw (D, C)     = xᵀ·g + l2·w
//   column_sums:  db (C)        = Σ_i g[i, :]   (+ db when accumulate)
//   matmul_strided: c[m, n] = Σ_k a[m, k]·b[k, n] (+ bias[n]) (+ c[m, n] when accumulate), each
//                 operand given by an offset and a stride per index, so one kernel serves every
//                 product of the fused linear cross-entropy in both classifier layouts (and steps
//                 over the tiles filter_tiles left out of a filtered gradient)
//   filter_tiles: zeroes and flags the TILE×TILE tiles of a gradient below the filter's ε
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

__kernel void column_sums(const int N, const int C, __global const float* g, __global float* db, const int accumulate) {
    const int col = get_global_id(0);
    if (col >= C) return;
    float s = 0.0f;
    for (int i = 0; i < N; ++i) s += g[(size_t)i * C + col];
    db[col] = accumulate ? db[col] + s : s;
}

// matmul_strided: a work-group of TILE×TILE work-items computes an LX_EDGE×LX_EDGE tile of c, each
// work-item LX_WPT×LX_WPT entries a TILE apart (so its local-memory reads of a row of the tile are
// a TILE apart too, conflict-free). Per step of TILE along k, both operands' tiles go through local
// memory, each work-item loading LX_WPT values of each; the loads walk whichever index of an
// operand has stride 1 fastest, so neighbouring work-items read neighbouring addresses in either
// layout. Launched on (⌈n/LX_EDGE⌉·TILE, ⌈m/LX_EDGE⌉·TILE); work-items past the edges load zeros
// and store nothing.
#ifndef LX_WPT
#define LX_WPT 4
#endif
#define LX_EDGE (TILE * LX_WPT)

// Cut Cross-Entropy's gradient filter on a block's gradient g (rows × cols): each TILE×TILE tile
// whose every |entry| is below ε·scale (scale = 1/denominator[0] for mean, else 1) is set to zero
// and flagged in skip[(r / TILE)·⌈cols/TILE⌉ + c / TILE] (1 = left out), so the products below can
// step over it and ∂b sums its zeros. One work-group per tile.
__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void filter_tiles(const int rows, const int cols, __global float* g, const float eps, __global const float* denominator,
                  const int mean, __global int* skip) {
    __local int large;
    const int c = get_global_id(0), r = get_global_id(1);
    const int first = get_local_id(0) == 0 && get_local_id(1) == 0;
    if (first) large = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    const float threshold = eps * (mean ? (denominator[0] > 0.0f ? 1.0f / denominator[0] : 0.0f) : 1.0f);
    const int inside = r < rows && c < cols;
    if (inside && !(fabs(g[(size_t)r * cols + c]) < threshold)) atomic_or(&large, 1);
    barrier(CLK_LOCAL_MEM_FENCE);
    const int left_out = !large;
    if (left_out && inside) g[(size_t)r * cols + c] = 0.0f;
    if (first) skip[get_group_id(1) * get_num_groups(0) + get_group_id(0)] = left_out;
}

// Whether a product's step over k0..k0+TILE is all left-out tiles of the filtered gradient (so
// its contribution is zero): skip_mode 0 none; 1, g is b with k its row and n its column; 2, g is
// a with k its row and m its column (a = gᵀ); 3, g is a with m its row and k its column. The
// answer is the same for every work-item of a group.
inline int step_left_out(__global const int* skip, const int mode, const int flag_rows, const int flag_cols,
                         const int k0, const int m0, const int n0) {
    if (mode == 0) return 0;
    for (int e = 0; e < LX_WPT; ++e) {
        const int fr = mode == 3 ? m0 / TILE + e : k0 / TILE;
        const int fc = mode == 1 ? n0 / TILE + e : mode == 2 ? m0 / TILE + e : k0 / TILE;
        if (fr < flag_rows && fc < flag_cols && !skip[fr * flag_cols + fc]) return 0;
        if (mode == 3 ? fr >= flag_rows : fc >= flag_cols) break;
    }
    return 1;
}

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void matmul_strided(const int M, const int NC, const int K,
                    __global const float* a, const long a_off, const long a_rs, const long a_cs,
                    __global const float* b, const long b_off, const long b_rs, const long b_cs,
                    __global const float* bias, const int has_bias,
                    __global float* c, const long c_off, const long c_rs, const int accumulate,
                    __global const int* skip, const int skip_mode, const int flag_rows, const int flag_cols) {
    __local float as[TILE][LX_EDGE + 1], bs[TILE][LX_EDGE + 1];
    const int lx = get_local_id(0), ly = get_local_id(1), lid = ly * TILE + lx;
    const int n0 = get_group_id(0) * LX_EDGE, m0 = get_group_id(1) * LX_EDGE;
    float acc[LX_WPT][LX_WPT];
    for (int i = 0; i < LX_WPT; ++i) for (int j = 0; j < LX_WPT; ++j) acc[i][j] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        if (step_left_out(skip, skip_mode, flag_rows, flag_cols, k0, m0, n0)) continue;
        for (int e = 0; e < LX_WPT; ++e) {
            const int idx = lid + e * TILE * TILE;
            const int ak = a_cs == 1 ? idx % TILE : idx / LX_EDGE, am = a_cs == 1 ? idx / TILE : idx % LX_EDGE;
            as[ak][am] = (m0 + am < M && k0 + ak < K) ? a[a_off + (m0 + am) * a_rs + (k0 + ak) * a_cs] : 0.0f;
            const int bk = b_rs == 1 ? idx % TILE : idx / LX_EDGE, bn = b_rs == 1 ? idx / TILE : idx % LX_EDGE;
            bs[bk][bn] = (n0 + bn < NC && k0 + bk < K) ? b[b_off + (k0 + bk) * b_rs + (n0 + bn) * b_cs] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TILE; ++k) {
            float ar[LX_WPT], br[LX_WPT];
            for (int i = 0; i < LX_WPT; ++i) ar[i] = as[k][ly + i * TILE];
            for (int j = 0; j < LX_WPT; ++j) br[j] = bs[k][lx + j * TILE];
            for (int i = 0; i < LX_WPT; ++i) for (int j = 0; j < LX_WPT; ++j) acc[i][j] = fma(ar[i], br[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < LX_WPT; ++i) {
        const int m = m0 + ly + i * TILE;
        if (m >= M) break;
        for (int j = 0; j < LX_WPT; ++j) {
            const int n = n0 + lx + j * TILE;
            if (n >= NC) break;
            const long at = c_off + m * c_rs + n;
            const float v = acc[i][j] + (has_bias ? bias[n] : 0.0f);
            c[at] = accumulate ? c[at] + v : v;
        }
    }
}

__kernel void sgd_momentum(const int count, __global float* p, __global const float* grad, __global float* v,
                           const float lr, const float mu) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float vi = mu * v[i] + grad[i];
    v[i] = vi;
    p[i] -= lr * vi;
}
