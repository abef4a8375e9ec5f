// GQA decode attention in f32, the way a course would write it: one CTA per q head (q head
// h reads KV head h / group), each warp runs an online softmax over keys warp, warp + nwarps,
// ..., each lane owns dims lane and lane + 32 (head_dim 64), scores are warp-summed with
// shfl.bfly, and the warps' (max, sum, acc) records are merged through dynamic shared memory.
// q: [n_q_heads, 64]; k, v: [n_kv_heads, seq_len, 64]; out: [n_q_heads, 64].
#include <math_constants.h>

#define HEAD_DIM 64
#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float warp_sum(float s)
{
    for (int offset = 16; offset > 0; offset >>= 1) {
        s += __shfl_xor_sync(FULL_MASK, s, offset);
    }
    return s;
}

// Dynamic shared memory: nwarps records of (m, l, acc[HEAD_DIM]) floats.
extern "C" __global__ void decode_attention_gqa(const float *q, const float *k, const float *v,
                                                float *out, int seq_len, int group, float scale)
{
    extern __shared__ float records[];
    int h = blockIdx.x;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int nwarps = blockDim.x >> 5;
    size_t kv_base = (size_t)(h / group) * seq_len * HEAD_DIM;
    float q0 = q[h * HEAD_DIM + lane] * scale;
    float q1 = q[h * HEAD_DIM + lane + 32] * scale;
    float m = -CUDART_INF_F, l = 0.0f, acc0 = 0.0f, acc1 = 0.0f;
    for (int j = warp; j < seq_len; j += nwarps) {
        const float *kj = k + kv_base + (size_t)j * HEAD_DIM;
        const float *vj = v + kv_base + (size_t)j * HEAD_DIM;
        float s = warp_sum(q0 * kj[lane] + q1 * kj[lane + 32]);
        float m_new = fmaxf(m, s);
        float rescale = __expf(m - m_new);       // exp(-inf) = 0 at the first key
        float p = __expf(s - m_new);
        l = l * rescale + p;
        acc0 = acc0 * rescale + p * vj[lane];
        acc1 = acc1 * rescale + p * vj[lane + 32];
        m = m_new;
    }
    float *rec = records + warp * (HEAD_DIM + 2);
    if (lane == 0) {
        rec[0] = m;
        rec[1] = l;
    }
    rec[2 + lane] = acc0;
    rec[2 + lane + 32] = acc1;
    __syncthreads();
    int d = threadIdx.x;
    if (d < HEAD_DIM) {
        float big = -CUDART_INF_F;
        for (int w = 0; w < nwarps; ++w) {
            big = fmaxf(big, records[w * (HEAD_DIM + 2)]);
        }
        float total = 0.0f, o = 0.0f;
        for (int w = 0; w < nwarps; ++w) {
            const float *r = records + w * (HEAD_DIM + 2);
            if (r[0] == -CUDART_INF_F) {
                continue;                        // a warp that saw no key
            }
            float c = __expf(r[0] - big);
            total += c * r[1];
            o += c * r[2 + d];
        }
        out[h * HEAD_DIM + d] = o / total;
    }
}
