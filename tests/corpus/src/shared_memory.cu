// Shared memory: a dynamic `extern __shared__` buffer sized at launch, a static tile with a
// 2-D block, named barriers (bar.sync / bar.arrive with an id and a thread count) and the
// reducing barriers behind __syncthreads_count/_and/_or.

// One partial sum per block: a tree reduction over blockDim.x floats of dynamic shared
// memory, followed by an int array carved from the same buffer (counts of positives).
extern "C" __global__ void block_sum_dynamic(const float *x, float *sums, int *positives, int n)
{
    extern __shared__ float buf[];              // blockDim.x floats, then blockDim.x ints
    int *flags = (int *)(buf + blockDim.x);
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    float v = i < n ? x[i] : 0.0f;
    buf[t] = v;
    flags[t] = v > 0.0f;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (t < stride) {
            buf[t] += buf[t + stride];
            flags[t] += flags[t + stride];
        }
        __syncthreads();
    }
    if (t == 0) {
        sums[blockIdx.x] = buf[0];
        positives[blockIdx.x] = flags[0];
    }
}

#define TILE 32
#define ROWS 8

// out = in transposed (width x width, width a multiple of TILE), through a padded static
// tile; blocks of TILE x ROWS threads, each thread moving TILE / ROWS elements.
extern "C" __global__ void transpose_tile(const float *in, float *out, int width)
{
    __shared__ float tile[TILE][TILE + 1];      // +1: no bank conflicts on the column read
    int x = blockIdx.x * TILE + threadIdx.x;
    int y = blockIdx.y * TILE + threadIdx.y;
    for (int r = 0; r < TILE; r += ROWS) {
        tile[threadIdx.y + r][threadIdx.x] = in[(y + r) * width + x];
    }
    __syncthreads();
    x = blockIdx.y * TILE + threadIdx.x;
    y = blockIdx.x * TILE + threadIdx.y;
    for (int r = 0; r < TILE; r += ROWS) {
        out[(y + r) * width + x] = tile[threadIdx.x][threadIdx.y + r];
    }
}

// 128 threads: warps 0-1 and warps 2-3 each exchange through their own named barrier (1 and
// 2, 64 threads), then warps 0-1 produce for warps 2-3 through barrier 3 (arrive / sync).
extern "C" __global__ void named_barriers(const int *in, int *out)
{
    __shared__ int stage[128];
    __shared__ int handoff[64];
    int t = threadIdx.x;
    int group = t / 64;
    stage[t] = in[blockIdx.x * 128 + t] * 2;
    if (group == 0) {
        asm volatile("bar.sync 1, 64;" ::: "memory");
    } else {
        asm volatile("bar.sync 2, 64;" ::: "memory");
    }
    int r = stage[(t & ~63) | ((t + 1) & 63)];  // the next thread of the same group
    if (group == 0) {
        handoff[t] = r + 1;
        asm volatile("bar.arrive 3, 128;" ::: "memory");
    } else {
        asm volatile("bar.sync 3, 128;" ::: "memory");
        r += handoff[t - 64];
    }
    out[blockIdx.x * 128 + t] = r;
}

// Each thread's view of three block-wide votes taken by the barrier itself.
extern "C" __global__ void barrier_votes(const int *in, int *out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[i];
    int count = __syncthreads_count(v > 0);
    int all = __syncthreads_and(v > -50);
    int any = __syncthreads_or(v > 95);
    out[i * 3 + 0] = count;
    out[i * 3 + 1] = all;
    out[i * 3 + 2] = any;
}
