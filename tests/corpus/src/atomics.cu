// Atomics on shared and global memory whose final values do not depend on the order the
// threads arrive in: add, min, max, and/or/xor, inc with wrap-around, exch and cas used so
// that only order-free quantities are written (sums of what was swapped, counts of wins).
// Float adds are the one exception: their rounding depends on the order (a tolerance).
#include <climits>
#include <cuda/atomic>

// One record per block: shared atomics of every kind, then thread 0 writes them out.
// ints[b * 8 + k]: add, min, max, and, or, xor, inc (wraps at 100), sub; hist[b * 16 + k].
extern "C" __global__ void shared_atomics(const int *in, const float *xf, int *ints,
                                          float *fsums, int *hist)
{
    __shared__ int s_add, s_min, s_max, s_sub;
    __shared__ unsigned s_and, s_or, s_xor, s_inc;
    __shared__ float s_fadd;
    __shared__ int s_hist[16];
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    if (t == 0) {
        s_add = 0; s_min = INT_MAX; s_max = INT_MIN; s_sub = 1000;
        s_and = 0xffffffffu; s_or = 0; s_xor = 0; s_inc = 0; s_fadd = 0.0f;
    }
    if (t < 16) {
        s_hist[t] = 0;
    }
    __syncthreads();
    int v = in[i];
    atomicAdd(&s_add, v);
    atomicMin(&s_min, v);
    atomicMax(&s_max, v);
    atomicAnd(&s_and, (unsigned)v | 0x0f0f0000u);
    atomicOr(&s_or, (unsigned)v & 0x00ffff00u);
    atomicXor(&s_xor, (unsigned)v);
    atomicInc(&s_inc, 99u);                     // every step is "+1, wrap past 99": order-free
    atomicSub(&s_sub, v & 7);
    atomicAdd(&s_fadd, xf[i]);
    atomicAdd(&s_hist[v & 15], 1);
    __syncthreads();
    if (t == 0) {
        int *o = ints + blockIdx.x * 8;
        o[0] = s_add; o[1] = s_min; o[2] = s_max; o[3] = (int)s_and;
        o[4] = (int)s_or; o[5] = (int)s_xor; o[6] = (int)s_inc; o[7] = s_sub;
        fsums[blockIdx.x] = s_fadd;
    }
    if (t < 16) {
        hist[blockIdx.x * 16 + t] = s_hist[t];
    }
}

// Global atomics. The ticket counter's result is used: every ticket must be drawn exactly
// once (seen[] all ones). Scoped forms (system, block, a libcu++ atomic_ref) and inline
// `red.global` (what an atomic with an unused result used to compile to) are here as well.
// counters: add, min, max, tickets, system add, atomic_ref add, red add, red max;
// bits: and, or, xor, exch; fsum: atomicAdd, red.global.add.f32.
extern "C" __global__ void global_atomics(const int *in, const float *xf, int *counters,
                                          unsigned *bits, unsigned long long *total,
                                          float *fsum, int *seen, int *per_block, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    int v = in[i];
    atomicAdd(&counters[0], v);
    atomicMin(&counters[1], v);
    atomicMax(&counters[2], v);
    int ticket = atomicAdd(&counters[3], 1);
    atomicAdd(&seen[ticket], 1);
    atomicAdd_system(&counters[4], v & 0xff);
    cuda::atomic_ref<int, cuda::thread_scope_device> ref(counters[5]);
    ref.fetch_add(3, cuda::memory_order_relaxed);
    size_t red_add = __cvta_generic_to_global(&counters[6]);
    size_t red_max = __cvta_generic_to_global(&counters[7]);
    asm volatile("red.global.add.u32 [%0], %1;" ::"l"(red_add), "r"(v) : "memory");
    asm volatile("red.global.max.s32 [%0], %1;" ::"l"(red_max), "r"(-v) : "memory");
    atomicAdd_block(&per_block[blockIdx.x], 1);  // only this block touches its word
    atomicAnd(&bits[0], ~(1u << (v & 31)));
    atomicOr(&bits[1], 1u << ((v >> 3) & 31));
    atomicXor(&bits[2], (unsigned)v * 2654435761u);
    atomicExch(&bits[3], 0x5a5a5a5au);           // every thread swaps in the same word
    atomicAdd(total, (unsigned long long)(unsigned)v * 4294967311ull);  // crosses 2^32
    atomicAdd(&fsum[0], xf[i]);
    size_t red_f = __cvta_generic_to_global(&fsum[1]);
    asm volatile("red.global.add.f32 [%0], %1;" ::"l"(red_f), "f"(xf[i]) : "memory");
}

// Spin-free float max by compare-and-swap on the bit pattern (floats >= 0 here).
__device__ void atomic_max_float(float *addr, float value)
{
    int *word = (int *)addr;
    int old = *word;
    while (__int_as_float(old) < value) {
        int assumed = old;
        old = atomicCAS(word, assumed, __float_as_int(value));
        if (old == assumed) {
            break;
        }
    }
}

// cas and exch. wins[b * 8 + s]: how many threads claimed slot s (exactly one each);
// swapped[b]: the sum of every value atomicExch returned plus the last one left (order-free);
// first[b]: how many threads won a 64-bit cas on a global flag (one; every thread swaps in
// the same word); fmax: a CAS-loop max.
extern "C" __global__ void cas_exch(const int *in, const float *xf, int *wins,
                                    unsigned long long *swapped,
                                    unsigned long long *flags, int *first, float *fmax)
{
    __shared__ int slot[8];
    __shared__ int last;
    __shared__ unsigned long long sum;
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    if (t < 8) {
        slot[t] = -1;
    }
    if (t == 0) {
        last = 7;
        sum = 0;
    }
    __syncthreads();
    int v = in[i];
    if (atomicCAS(&slot[t & 7], -1, t) == -1) {
        atomicAdd(&wins[blockIdx.x * 8 + (t & 7)], 1);
    }
    int previous = atomicExch(&last, v);
    atomicAdd(&sum, (unsigned long long)previous);
    if (atomicCAS(&flags[blockIdx.x], 0ull, 0x123456789abcdef0ull) == 0ull) {
        atomicAdd(&first[blockIdx.x], 1);
    }
    atomic_max_float(fmax, fabsf(xf[i]));
    __syncthreads();
    if (t == 0) {
        swapped[blockIdx.x] = sum + (unsigned long long)last;
    }
}
