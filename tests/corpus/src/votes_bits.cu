// Warp votes (ballot, any, all, activemask, match, redux) in full and partial warps, and the
// bit intrinsics (__popc, __clz, __brev, __ffs and their 64-bit forms, __byte_perm, funnel).
// Launched with 80 threads per block, so each block's last warp has 16 lanes.
#define VOTES 8

// out[tid * VOTES + k]: what lane tid saw from the k-th vote.
extern "C" __global__ void votes(const int *in, unsigned *out)
{
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lane = threadIdx.x & 31;
    int v = in[tid];
    unsigned active = __activemask();            // converged here: the lanes that exist
    unsigned *o = out + tid * VOTES;
    o[0] = active;
    o[1] = __ballot_sync(active, v > 0);
    o[2] = __any_sync(active, v > 90);
    o[3] = __all_sync(active, v > -100);
    unsigned odd = 0;
    if (lane & 1) {
        odd = __ballot_sync(0xaaaaaaaau & active, v & 1);  // only the odd lanes vote
    }
    o[4] = odd;
    o[5] = __popc(o[1]);
    o[6] = __match_any_sync(active, v & 3);      // lanes holding the same v & 3
    o[7] = __reduce_add_sync(active, (unsigned)(v & 0xff));
}

#define BITS 12

// out[i * BITS + k]: the k-th bit operation on in32[i] and in64[i] (zeros included).
extern "C" __global__ void bit_ops(const unsigned *in32, const unsigned long long *in64,
                                   unsigned *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    unsigned x = in32[i];
    unsigned long long y = in64[i];
    unsigned *o = out + i * BITS;
    o[0] = __popc(x);
    o[1] = __clz(x);
    o[2] = __brev(x);
    o[3] = __ffs(x);
    o[4] = __popcll(y);
    o[5] = __clzll(y);
    o[6] = __ffsll(y);
    o[7] = (unsigned)(__brevll(y) >> 32);
    o[8] = __byte_perm(x, (unsigned)y, 0x5140);
    o[9] = __funnelshift_l(x, (unsigned)(y >> 32), x & 31);
    o[10] = __funnelshift_rc(x, (unsigned)(y >> 32), (x >> 8) & 63); // shift clamped to 32
    o[11] = (x >> (y & 31)) | (x << (32 - (y & 31)));                   // a rotate
}
