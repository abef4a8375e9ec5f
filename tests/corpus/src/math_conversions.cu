// Float math (fast and accurate exp, rsqrt, sqrt, division, min/max, fma, selp), integer
// arithmetic (mad.lo, mul.hi, mul.wide, mul24) and conversions between the integer and float
// types nvcc emits cvt for, with every rounding mode the intrinsics name.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

// Exactly rounded results, exact[i * 6 + k]: sqrtf, x / y, fmaxf, fminf, fmaf, a selp.
// Approximate ones: approx[i * 8 + k]: __expf, expf, rsqrtf, __fdividef, __logf, __sinf,
// __cosf, exp2f.
extern "C" __global__ void float_math(const float *x, const float *y, float *exact,
                                      float *approx, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    float a = x[i];
    float b = y[i];
    float *e = exact + i * 6;
    e[0] = sqrtf(fabsf(a));
    e[1] = a / b;
    e[2] = fmaxf(a, b);
    e[3] = fminf(a, b);
    e[4] = fmaf(a, b, 0.25f);
    e[5] = a > b ? a - b : 2.0f * b;
    float *p = approx + i * 8;
    p[0] = __expf(a);
    p[1] = expf(a);
    p[2] = rsqrtf(fabsf(b) + 0.5f);
    p[3] = __fdividef(a, b);
    p[4] = __logf(fabsf(a) + 1.0f);
    p[5] = __sinf(a);
    p[6] = __cosf(a);
    p[7] = exp2f(b);
}

// out32[i * 6 + k]: a * b + c, __mulhi, __umulhi, __mul24, a / c, a % c (c != 0);
// out64[i * 3 + k]: (long long)a * b (mul.wide.s32), unsigned mul.wide, __umul64hi.
extern "C" __global__ void int_math(const int *a, const int *b, const int *c, int *out32,
                                    long long *out64, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    int p = a[i], q = b[i], r = c[i];
    int *o = out32 + i * 6;
    o[0] = p * q + r;
    o[1] = __mulhi(p, q);
    o[2] = (int)__umulhi((unsigned)p, (unsigned)q);
    o[3] = __mul24(p, q);
    o[4] = p / r;
    o[5] = p % r;
    long long *w = out64 + i * 3;
    w[0] = (long long)p * q;
    w[1] = (long long)((unsigned long long)(unsigned)p * (unsigned)q);
    w[2] = (long long)__umul64hi((unsigned long long)p * 0x9e3779b97f4a7c15ull,
                                 (unsigned long long)q);
}

// Conversions. f[i] is in (-3000, 3000); d[i] a double; s[i] any int; w[i] any 64-bit int.
// to_i32[i * 10 + k]: (int)f, __float2int_rn/rd/ru, (unsigned)|f|*1e5, (int)d,
//   (signed char)s, (unsigned char)s, (short)s, (unsigned short)s.
// to_i64[i * 4 + k]: (long long)(f * 1e12), (unsigned long long)|f * 1e12|, (long long)d,
//   (long long)s.
// to_f32[i * 10 + k]: (float)s, (float)(unsigned)s, (float)w, (float)(unsigned long long)w,
//   (float)d, __int2float_rz(s), __saturatef(f / 3000), half and bfloat16 round trips,
//   (float)(signed char)s.
// to_f64[i * 4 + k]: (double)f, (double)s, (double)w, (double)(unsigned long long)w.
// halves[i * 3 + k]: the bits of __float2half_rn(f), __float2half_rz(f) and bf16(f).
extern "C" __global__ void conversions(const float *f, const double *d, const int *s,
                                       const long long *w, int *to_i32, long long *to_i64,
                                       float *to_f32, double *to_f64, unsigned short *halves,
                                       int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    float x = f[i];
    double y = d[i];
    int k = s[i];
    long long z = w[i];
    int *a = to_i32 + i * 10;
    a[0] = (int)x;
    a[1] = __float2int_rn(x);
    a[2] = __float2int_rd(x);
    a[3] = __float2int_ru(x);
    a[4] = (int)(unsigned)(fabsf(x) * 1e5f);
    a[5] = (int)y;
    a[6] = (signed char)k;
    a[7] = (unsigned char)k;
    a[8] = (short)k;
    a[9] = (unsigned short)k;
    long long *b = to_i64 + i * 4;
    b[0] = (long long)(x * 1e12f);
    b[1] = (long long)(unsigned long long)fabsf(x * 1e12f);
    b[2] = (long long)y;
    b[3] = (long long)k;
    float *c = to_f32 + i * 10;
    c[0] = (float)k;
    c[1] = (float)(unsigned)k;
    c[2] = (float)z;
    c[3] = (float)(unsigned long long)z;
    c[4] = (float)y;
    c[5] = __int2float_rz(k);
    c[6] = __saturatef(x / 3000.0f + 0.5f);
    c[7] = __half2float(__float2half_rn(x));
    c[8] = __bfloat162float(__float2bfloat16_rn(x));
    c[9] = (float)(signed char)k;
    double *e = to_f64 + i * 4;
    e[0] = (double)x;
    e[1] = (double)k;
    e[2] = (double)z;
    e[3] = (double)(unsigned long long)z;
    unsigned short *h = halves + i * 3;
    h[0] = __half_as_ushort(__float2half_rn(x));
    h[1] = __half_as_ushort(__float2half_rz(x));
    h[2] = __bfloat16_as_ushort(__float2bfloat16_rn(x));
}
