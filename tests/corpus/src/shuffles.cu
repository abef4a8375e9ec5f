// Warp shuffles: every mode, widths below 32, lanes and deltas out of range, per-lane
// deltas, float and 64-bit values, a partial mask, and the two classic warp collectives.
// Outputs are per thread, so every lane's result is compared, not only lane 0's.
#define FULL_MASK 0xffffffffu
#define MODES 16

// out[tid * MODES + k]: the lane's value after the k-th (mode, width, delta) shuffle.
extern "C" __global__ void shfl_modes(const int *in, int *out)
{
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x & 31;
    int v = in[tid];
    int *o = out + tid * MODES;
    o[0] = __shfl_down_sync(FULL_MASK, v, 1);
    o[1] = __shfl_down_sync(FULL_MASK, v, 5, 16);
    o[2] = __shfl_down_sync(FULL_MASK, v, 3, 8);
    o[3] = __shfl_down_sync(FULL_MASK, v, 40);           // delta past the warp: own value
    o[4] = __shfl_up_sync(FULL_MASK, v, 1);
    o[5] = __shfl_up_sync(FULL_MASK, v, 3, 16);
    o[6] = __shfl_up_sync(FULL_MASK, v, 2, 4);
    o[7] = __shfl_xor_sync(FULL_MASK, v, 1);
    o[8] = __shfl_xor_sync(FULL_MASK, v, 16);
    o[9] = __shfl_xor_sync(FULL_MASK, v, 6, 8);
    o[10] = __shfl_xor_sync(FULL_MASK, v, 20, 16);       // lane mask wider than the width
    o[11] = __shfl_sync(FULL_MASK, v, 7);
    o[12] = __shfl_sync(FULL_MASK, v, 37);               // source lane 37 wraps to 5
    o[13] = __shfl_sync(FULL_MASK, v, lane * 3 + 1, 16); // computed lane, wraps in its half
    o[14] = __shfl_sync(FULL_MASK, v, -1, 8);            // negative lane: last of the group
    o[15] = __shfl_down_sync(FULL_MASK, v, lane & 7);    // a different delta per lane
}

// Floats and 64-bit integers (two 32-bit shuffles each), and a shuffle by half a warp only.
extern "C" __global__ void shfl_wide_types(const float *xf, const long long *x64, float *of,
                                           long long *o64, int *ohalf)
{
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x & 31;
    float f = xf[tid];
    long long w = x64[tid];
    of[tid * 2 + 0] = __shfl_xor_sync(FULL_MASK, f, 3);
    of[tid * 2 + 1] = __shfl_up_sync(FULL_MASK, f, 4, 8);
    o64[tid * 2 + 0] = __shfl_down_sync(FULL_MASK, w, 2);
    o64[tid * 2 + 1] = __shfl_sync(FULL_MASK, w, 31 - lane);
    int r = -1;
    if (lane < 16) {
        r = __shfl_down_sync(0x0000ffffu, (int)w, 2, 16); // lanes 14, 15 keep their own value
    }
    ohalf[tid] = r;
}

// A butterfly sum (every lane ends with the warp's total) and an inclusive scan with shfl.up.
extern "C" __global__ void warp_sum_scan(const float *x, const int *xi, float *sums, int *scan)
{
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x & 31;
    float s = x[tid];
    for (int offset = 16; offset > 0; offset >>= 1) {
        s += __shfl_xor_sync(FULL_MASK, s, offset);
    }
    sums[tid] = s;
    int c = xi[tid];
    for (int d = 1; d < 32; d <<= 1) {
        int up = __shfl_up_sync(FULL_MASK, c, d);
        if (lane >= d) {
            c += up;
        }
    }
    scan[tid] = c;
}
