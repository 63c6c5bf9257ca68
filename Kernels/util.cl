// util.cl — data movement for the backend.
//
// Contract:
//   copy_floats:   dst[0..count) = src[0..count), four floats per work-item (the bandwidth yardstick)
//   gather_rows:   dst (rows, D) row r = src row idx[r]
//   gather_labels: dst[r] = src[idx[r]]
//   count_correct: counter[0] += number of rows whose first maximal score is at their label

__kernel void copy_floats(const int count, __global const float* src, __global float* dst) {
    const int i = get_global_id(0);
    if (4 * i + 3 < count) {
        vstore4(vload4(i, src), i, dst);
    } else {
        for (int k = 4 * i; k < count; ++k) dst[k] = src[k];
    }
}

__kernel void gather_rows(const int rows, const int D, __global const int* idx, __global const float* src,
                          __global float* dst) {
    const int d = get_global_id(0), r = get_global_id(1);
    if (r >= rows || d >= D) return;
    dst[(size_t)r * D + d] = src[(size_t)idx[r] * D + d];
}

__kernel void gather_labels(const int n, __global const int* idx, __global const int* src, __global int* dst) {
    const int r = get_global_id(0);
    if (r < n) dst[r] = src[idx[r]];
}

__kernel void count_correct(const int N, const int C, __global const float* scores, __global const int* labels,
                            __global int* counter) {
    const int i = get_global_id(0);
    if (i >= N) return;
    __global const float* row = scores + (size_t)i * C;
    int best = 0;
    for (int j = 1; j < C; ++j) if (row[j] > row[best]) best = j;
    if (best == labels[i]) atomic_inc(counter);
}
