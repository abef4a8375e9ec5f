// C++ names on purpose (no extern "C"): a namespace, a template kernel instantiated twice,
// and __noinline__ device functions, so the PTX has mangled .entry names, real .func bodies
// and call instructions, uniform and divergent, including one through a generic pointer into
// shared memory (cvta.shared).

namespace corpus {

// Hermite smooth step of x between e0 and e1 (returns a value: .func with a retval).
__device__ __noinline__ float smooth_step(float e0, float e1, float x)
{
    float t = fminf(fmaxf((x - e0) / (e1 - e0), 0.0f), 1.0f);
    return t * t * (3.0f - 2.0f * t);
}

// Sum of n ints behind a generic pointer: the caller passes shared memory.
__device__ __noinline__ int sum_generic(const int *p, int n)
{
    int s = 0;
    for (int k = 0; k < n; ++k) {
        s += p[k] * (k + 1);
    }
    return s;
}

// No return value; two stores through the pointer.
__device__ __noinline__ void write_pair(int *out, int a, int b)
{
    out[0] = a;
    out[1] = b;
}

// y[i] = the polynomial with coefficients 1, 2, ..., K at x[i], then smoothed; odd threads
// call smooth_step a second time (a divergent call).
template <int K>
__global__ void poly_smooth(const float *x, float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    float acc = 0.0f;
#pragma unroll
    for (int k = K; k >= 1; --k) {
        acc = acc * x[i] + (float)k;
    }
    float r = smooth_step(-2.0f, 6.0f, acc);
    if (threadIdx.x & 1) {
        r += smooth_step(0.0f, 1.0f, x[i]);
    }
    y[i] = r;
}

template __global__ void poly_smooth<3>(const float *, float *, int);
template __global__ void poly_smooth<5>(const float *, float *, int);

}  // namespace corpus

// Blocks of 64 threads; each thread sums 8 neighbours from shared memory and 8 ints of its
// aligned group in global memory through the same generic-pointer function (so it stays
// generic), and writes both sums with write_pair.
__global__ void shared_through_generic(const int *in, int *out)
{
    __shared__ int window[64 + 8];
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    window[t] = in[i];
    if (t < 8) {
        window[64 + t] = t;
    }
    __syncthreads();
    int from_shared = corpus::sum_generic(window + t, 8);
    int from_global = corpus::sum_generic(in + (i & ~7), 8);
    corpus::write_pair(out + 2 * i, from_shared, from_global);
}
