// Vector loads and stores (float4, int2, double2, uchar4), the read-only path (__ldg and
// `const __restrict__`, both ld.global.nc) and an indirect gather through it.

// y[i] = a * x[i] + b, four floats per thread, read through the read-only path.
extern "C" __global__ void scale_float4(const float4 *__restrict__ x, float4 *y, float a,
                                        float b, int n4)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n4) {
        float4 v = x[i];
        y[i] = make_float4(a * v.x + b, a * v.y + b, a * v.z + b, a * v.w + b);
    }
}

// out[i] = x[idx[i]]: both loads through __ldg.
extern "C" __global__ void gather_ldg(const float *x, const int *idx, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = __ldg(&x[__ldg(&idx[i])]);
    }
}

// Mixed widths: out[i] = (p.x + p.y, (int)(d.x * d.y), bytes summed, bytes packed reversed).
extern "C" __global__ void mixed_vectors(const int2 *pairs, const double2 *doubles,
                                         const uchar4 *bytes, int4 *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    int2 p = pairs[i];
    double2 d = __ldg(&doubles[i]);
    uchar4 c = bytes[i];
    int packed = (c.x << 24) | (c.y << 16) | (c.z << 8) | c.w;
    out[i] = make_int4(p.x + p.y, (int)(d.x * d.y), c.x + c.y + c.z + c.w, packed);
}
